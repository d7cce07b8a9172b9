import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { testConfig } from '../../src/config/config.js';
import { parseHookRequest } from '../../src/hooks/schema.js';
import type { HookRequest } from '../../src/hooks/types.js';
import { loadLibrary, type PolicyLibrary } from '../../src/library/library.js';
import { hookContextFromConfig } from '../../src/pipeline/context.js';
import { decideOrders, loadPatientRecord, ordersInScope, respond, type OrderInScope } from '../../src/pipeline/runHook.js';

const FIXTURE = join(import.meta.dirname, '..', '..', 'cds-services', 'kp-wa-lumbar-mri', 'fixtures', 'I.B-cauda-equina-saddle-numbness-urinary-retention.json');
const TODAY = '2025-06-01';

let library: PolicyLibrary;
let req: HookRequest;
beforeAll(() => {
  library = loadLibrary();
  req = parseHookRequest(JSON.parse(readFileSync(FIXTURE, 'utf8')), 'order-sign');
});

/** A copy of the order whose date the service cannot read: reading it throws, as a hostile getter would. */
function unreadable(o: OrderInScope): OrderInScope {
  const order = { ...o.order };
  Object.defineProperty(order, 'occurrenceDateTime', {
    enumerable: true,
    get() {
      throw new TypeError('occurrence unreadable');
    },
  });
  return { order, ref: 'ServiceRequest/unreadable', cpt: o.cpt };
}

describe('decideOrders, the pipeline step that decides each order', () => {
  it('fails the order that throws alone: the other is decided, the failure is named with its order', async () => {
    const ctx = hookContextFromConfig(testConfig(), library);
    const [order] = ordersInScope(req);
    const loaded = await loadPatientRecord(req, ctx);
    const decided = await decideOrders(req, [unreadable(order), order], loaded, ctx, TODAY);
    expect(decided.decisions.map((d) => [d.orderRef, d.outcome])).toEqual([[order.ref, 'criteria-met']]);
    expect(decided.orderErrors).toEqual([{ order: 'ServiceRequest/unreadable', error: expect.stringMatching(/^TypeError: occurrence unreadable/) }]);
    expect(decided.unfinishedOrders).toEqual([]);
    // respond says so on a card, beside the decided order's own cards.
    const outcome = await respond(req, ctx, loaded, decided, TODAY);
    const summaries = outcome.response.cards.map((c) => c.summary);
    expect(summaries.some((s) => /could not be completed/i.test(s))).toBe(true);
    expect(summaries.some((s) => s.startsWith('Criteria met'))).toBe(true);
  });

  it('leaves every order unfinished, not failed, when the evaluation budget is spent', async () => {
    const ctx = { ...hookContextFromConfig(testConfig(), library), evaluationBudgetMs: 0 };
    const orders = ordersInScope(req);
    const decided = await decideOrders(req, orders, await loadPatientRecord(req, ctx), ctx, TODAY);
    expect(decided.decisions).toEqual([]);
    expect(decided.unfinishedOrders).toEqual(orders.map((o) => o.ref));
    expect(decided.orderErrors).toEqual([]);
  });
});
