/**
 * What the CDS Hooks sandbox's PAMA Imaging tab reads (standards/sandbox-quirks.md items 8 and 9):
 * the Argonaut `pama-rating` extension on every ServiceRequest a suggestion writes (clicking a
 * suggestion without one throws in the page), and the response-level `extension.systemActions` whose
 * first rating coding the "PAMA Rating" box shows. Requests are fixture patients sent as the
 * sandbox's order-select (one selected draft order).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Extension, ServiceRequest } from 'fhir/r4.js';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app.js';
import { PAMA_CONSULT_ID_URL, PAMA_RATING_SYSTEM, PAMA_RATING_URL, VERDICT_SYSTEM } from '../../src/cards/pamaRating.js';
import { testConfig } from '../../src/config/config.js';
import type { CdsAction, CdsCard, CdsResponse } from '../../src/hooks/types.js';
import { fixturePath } from '../helpers/fixtures.js';

const ROOT = join(import.meta.dirname, '..', '..');
const { app } = createApp(testConfig());

interface HookBody {
  hook: string;
  context: { selections?: string[]; draftOrders: { entry: { resource: ServiceRequest }[] } };
}

/** A fixture patient's request as the sandbox's PAMA tab sends it: order-select, the order selected, the study `cpt`. */
function asSandboxSelect(fixture: string, cpt?: string): HookBody {
  const body = JSON.parse(readFileSync(fixturePath(fixture), 'utf8')) as HookBody;
  const order = body.context.draftOrders.entry[0]!.resource;
  if (cpt) order.code = { coding: [{ system: 'http://www.ama-assn.org/go/cpt', code: cpt }] };
  return { ...body, hook: 'order-select', context: { ...body.context, selections: [`ServiceRequest/${order.id}`] } };
}

async function select(body: HookBody): Promise<CdsResponse> {
  const res = await request(app).post('/cds-services/lumbar-mri-order-select').send(body);
  expect(res.status).toBe(200);
  return res.body as CdsResponse;
}

/** As the sandbox reads a rating: the first coding code of the pama-rating extension. */
function sandboxRating(resource: { extension?: Extension[] }): string | undefined {
  return resource.extension?.find((e) => e.url === PAMA_RATING_URL)?.valueCodeableConcept?.coding?.[0]?.code;
}

function ratedOrder(response: CdsResponse): ServiceRequest {
  const actions = (response.extension?.systemActions ?? []) as CdsAction[];
  expect(actions).toHaveLength(1);
  const [action] = actions;
  if (action?.type !== 'update' || action.resource.resourceType !== 'ServiceRequest') throw new Error('expected an update of a ServiceRequest');
  return action.resource;
}

describe('the PAMA rating the sandbox shows', () => {
  it('criteria met (I.B cauda equina): "appropriate", on the very order sent, changed only by the rating', async () => {
    const body = asSandboxSelect('kp-wa-lumbar-mri/I.B-cauda-equina-saddle-numbness-urinary-retention.json');
    const order = ratedOrder(await select(body));
    expect(sandboxRating(order)).toBe('appropriate');
    const rating = order.extension?.find((e) => e.url === PAMA_RATING_URL)?.valueCodeableConcept;
    expect(rating?.coding).toEqual([
      { system: PAMA_RATING_SYSTEM, code: 'appropriate' },
      { system: VERDICT_SYSTEM, code: 'criteria-met', display: 'Criteria met' },
    ]);
    expect(order.extension?.find((e) => e.url === PAMA_CONSULT_ID_URL)?.valueUri).toMatch(/^urn:uuid:[0-9a-f-]{36}$/);
    const { extension: _rating, ...rest } = order;
    expect(rest).toEqual(body.context.draftOrders.entry[0]!.resource);
  });

  it('not indicated (I.A stable exam, no red flags): "not-appropriate"', async () => {
    const order = ratedOrder(await select(asSandboxSelect('kp-wa-lumbar-mri/I.A-stable-exam-no-red-flags-not-indicated.json')));
    expect(sandboxRating(order)).toBe('not-appropriate');
  });

  it('documentation missing (I.0 undated cauda equina): no Argonaut code applies, so the box shows the verdict', async () => {
    const order = ratedOrder(await select(asSandboxSelect('kp-wa-lumbar-mri/I.0-onset-undated-cauda-equina-missing-doc.json')));
    expect(sandboxRating(order)).toBe('documentation-missing');
    const codings = order.extension?.find((e) => e.url === PAMA_RATING_URL)?.valueCodeableConcept?.coding ?? [];
    expect(codings.some((c) => c.system === PAMA_RATING_SYSTEM)).toBe(false);
  });

  it('the sandbox patient without coverage: "no-criteria-apply"', async () => {
    const body = JSON.parse(readFileSync(join(ROOT, 'fixtures/sandbox/order-select-72148-low-back-pain.json'), 'utf8')) as HookBody;
    expect(sandboxRating(ratedOrder(await select(body)))).toBe('no-criteria-apply');
  });

  it('no rating while the clinician is still choosing the study (code.coding [{}])', async () => {
    const body = JSON.parse(readFileSync(join(ROOT, 'fixtures/sandbox/order-select-entering-tab.json'), 'utf8')) as HookBody;
    expect((await select(body)).extension).toBeUndefined();
  });

  it('every ServiceRequest a suggestion writes carries a rating, so clicking it works in the sandbox', async () => {
    // Cauda equina ordered with contrast (72149): the policy names MRI without contrast (72148).
    const response = await select(asSandboxSelect('kp-wa-lumbar-mri/I.B-cauda-equina-saddle-numbness-urinary-retention.json', '72149'));
    const suggestions = (response.cards as CdsCard[]).flatMap((c) => c.suggestions ?? []);
    const change = suggestions.find((s) => s.label.includes('CPT 72148'));
    expect(change).toBeDefined();
    const written = suggestions.flatMap((s) => s.actions ?? []).filter((a) => a.type !== 'delete' && a.resource.resourceType === 'ServiceRequest');
    expect(written.length).toBeGreaterThan(0);
    for (const a of written) {
      if (a.type === 'delete') continue;
      expect(sandboxRating(a.resource as ServiceRequest)).toBe('appropriate');
    }
    const update = change?.actions?.find((a) => a.type === 'update');
    expect(update?.type === 'update' ? (update.resource as ServiceRequest).code?.coding?.[0]?.code : undefined).toBe('72148');
  });
});
