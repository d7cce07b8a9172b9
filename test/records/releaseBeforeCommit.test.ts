/**
 * While a decision's record waits for its commit (the embedded store commits the records of one turn
 * of the event loop together), the request holds nothing of the patient's record: under load every
 * request of the turn waits there, and what they held was copied by each garbage collection
 * (docs/performance.md). Here the commit is held open, the garbage collector runs, and the draft
 * order each decision read must be gone.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app.js';
import { testConfig } from '../../src/config/config.js';
import type { DecisionRecorder } from '../../src/records/eventRecorder.js';

const ROOT = join(import.meta.dirname, '..', '..');
const CAUDA = JSON.parse(readFileSync(join(ROOT, 'cds-services/kp-wa-lumbar-mri/fixtures/I.B-cauda-equina-saddle-numbness-urinary-retention.json'), 'utf8'));
const SIGN = '/cds-services/lumbar-mri-order-sign';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

describe('a request waiting for its record to commit', () => {
  it('no longer holds the request body, the record or the facts', async () => {
    const orders: WeakRef<object>[] = [];
    const commits: Array<() => void> = [];
    let recorded!: () => void;
    const allRecorded = new Promise<void>((resolve) => (recorded = resolve));
    const calls = 4;
    // A store whose commit waits until the test lets it go; it keeps nothing of the event.
    const recorder: DecisionRecorder = {
      recordHook: () =>
        new Promise<void>((resolve) => {
          commits.push(resolve);
          if (commits.length === calls) recorded();
        }),
      recordFeedback: () => Promise.resolve(),
    };
    const { app } = createApp(testConfig(), {
      recorder,
      observers: [{ onHook: (e) => e.outcome.decisions.forEach((d) => orders.push(new WeakRef(d.order))) }],
    });
    const answers = Array.from({ length: calls }, (_, i) =>
      request(app)
        .post(SIGN)
        .send({ ...CAUDA, hookInstance: `${CAUDA.hookInstance.slice(0, -2)}${i}0` })
        .then((r) => r),
    );
    await allRecorded;
    expect(orders).toHaveLength(calls);
    // A WeakRef keeps its target until the end of the job that made it: collect on a later turn.
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    expect(orders.filter((o) => o.deref() !== undefined)).toHaveLength(0);
    for (const commit of commits) commit();
    for (const res of await Promise.all(answers)) expect(res.status).toBe(200);
  });
});
