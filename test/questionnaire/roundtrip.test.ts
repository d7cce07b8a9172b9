/**
 * The DTR round trip through the HTTP API: documentation missing -> fetch the questionnaire named in
 * coverage-information -> answer it -> the same order again, with the answers in the prefetch or
 * attached to the order (supportingInfo).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Bundle, Questionnaire, QuestionnaireResponse, QuestionnaireResponseItem, ServiceRequest } from 'fhir/r4.js';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app.js';
import { testConfig } from '../../src/config/config.js';
import type { CdsResponse } from '../../src/hooks/types.js';
import { observedDecision } from '../support/outcome.js';

const ROOT = join(import.meta.dirname, '..', '..');
const FIXTURE = join(ROOT, 'cds-services', 'medicare-advantage-lumbar-mri', 'fixtures', 'IND.5-repeat-reason-undocumented.json');

interface HookBody {
  context: { draftOrders: Bundle };
  prefetch: Record<string, unknown>;
}

const { app } = createApp(testConfig());
const sign = (body: unknown) => request(app).post('/cds-services/lumbar-mri-order-sign').send(body as object);
const load = (): HookBody => JSON.parse(readFileSync(FIXTURE, 'utf8')) as HookBody;
const orderOf = (body: HookBody) => body.context.draftOrders.entry![0].resource as ServiceRequest;

/** The first request: documentation missing, and the questionnaire it names, fetched through the app. */
async function start(): Promise<{ questionnaire: Questionnaire; missing: string[]; body: CdsResponse }> {
  const res = await sign(load());
  expect(res.status).toBe(200);
  const seen = observedDecision(res.body);
  expect(seen.outcome).toBe('documentation-missing');
  expect(seen.questionnaire).toMatch(/\/fhir\/Questionnaire\/medicare-advantage-lumbar-mri-/);
  const got = await request(app).get(new URL(seen.questionnaire!).pathname);
  expect(got.status).toBe(200);
  const questionnaire = got.body as Questionnaire;
  expect(questionnaire.url).toBe(seen.questionnaire);
  // The items the documentation card asks for, found in the questionnaire by their words.
  const card = (res.body as CdsResponse).cards.find((c) => c.summary.startsWith('Documentation needed'));
  const asked = (questionnaire.item ?? []).flatMap((g) => g.item ?? []).filter((i) => i.text && card?.detail?.includes(i.text));
  return { questionnaire, missing: asked.map((i) => i.linkId), body: res.body as CdsResponse };
}

/** A completed response answering `answers` (linkId -> answer), grouped as the questionnaire is. */
function respond(q: Questionnaire, answers: Record<string, Omit<QuestionnaireResponseItem, 'linkId'>['answer']>, id = 'qr-dtr-1'): QuestionnaireResponse {
  const item = (q.item ?? [])
    .map((g) => ({ linkId: g.linkId, item: (g.item ?? []).filter((i) => answers[i.linkId]).map((i) => ({ linkId: i.linkId, text: i.text, answer: answers[i.linkId] })) }))
    .filter((g) => g.item.length > 0);
  const extra = Object.keys(answers)
    .filter((k) => !(q.item ?? []).some((g) => (g.item ?? []).some((i) => i.linkId === k)))
    .map((linkId) => ({ linkId, answer: answers[linkId] }));
  return { resourceType: 'QuestionnaireResponse', id, questionnaire: q.url, status: 'completed', authored: '2025-11-05T08:00:00-08:00', item: [...item, ...extra] };
}

const all = (codes: readonly string[], value: boolean) => Object.fromEntries(codes.map((c) => [c, [{ valueBoolean: value }]]));

function inPrefetch(qr: QuestionnaireResponse): HookBody {
  const body = load();
  body.prefetch.questionnaireResponses = { resourceType: 'Bundle', type: 'searchset', entry: [{ resource: qr }] };
  return body;
}

describe('documentation questionnaire round trip (DTR)', () => {
  it('the documentation card asks for items the questionnaire holds', async () => {
    const { missing } = await start();
    expect(missing.sort()).toEqual(['monitoring-need-established', 'new-or-worsening-symptoms', 'prior-indeterminate-finding']);
  });

  it('answered true in the prefetch: criteria met (IND.5)', async () => {
    const { questionnaire, missing } = await start();
    const res = await sign(inPrefetch(respond(questionnaire, all(missing, true))));
    expect(res.status).toBe(200);
    expect(observedDecision(res.body)).toMatchObject({ outcome: 'criteria-met', criterion: 'IND.5' });
    expect(JSON.stringify(res.body.cards)).toContain('QuestionnaireResponse/qr-dtr-1');
  });

  it('answered true in a response the order references from supportingInfo (another draftOrders entry): criteria met', async () => {
    const { questionnaire, missing } = await start();
    const body = load();
    const qr = respond(questionnaire, all(missing, true), 'qr-attached');
    orderOf(body).supportingInfo = [{ reference: 'QuestionnaireResponse/qr-attached' }];
    body.context.draftOrders.entry!.push({ fullUrl: 'urn:uuid:0f0e5b1c-3f0e-4a53-9d42-1b8d0f6e2a11', resource: qr });
    const res = await sign(body);
    expect(res.status).toBe(200);
    expect(observedDecision(res.body)).toMatchObject({ outcome: 'criteria-met', criterion: 'IND.5' });
  });

  it('answered true in a response contained in the order: criteria met', async () => {
    const { questionnaire, missing } = await start();
    const body = load();
    const order = orderOf(body);
    order.contained = [respond(questionnaire, all(missing, true), 'answers')];
    order.supportingInfo = [{ reference: '#answers' }];
    const res = await sign(body);
    expect(observedDecision(res.body)).toMatchObject({ outcome: 'criteria-met', criterion: 'IND.5' });
  });

  it('answered false (each documented absent): not indicated', async () => {
    const { questionnaire, missing } = await start();
    const res = await sign(inPrefetch(respond(questionnaire, all(missing, false))));
    expect(res.status).toBe(200);
    expect(observedDecision(res.body).outcome).toBe('not-indicated');
  });

  it('answers of the wrong type or for unknown items: an info card names them, 200, and they are ignored', async () => {
    const { questionnaire, missing } = await start();
    const [first, second] = missing;
    const qr = respond(questionnaire, { [first]: [{ valueString: 'yes' }], [second]: [{ valueInteger: 1 }], 'favourite-colour': [{ valueBoolean: true }] });
    const res = await sign(inPrefetch(qr));
    expect(res.status).toBe(200);
    expect(observedDecision(res.body).outcome).toBe('documentation-missing');
    const card = (res.body as CdsResponse).cards.find((c) => c.summary.startsWith('Questionnaire answers that could not be used'));
    expect(card?.indicator).toBe('info');
    expect(card?.detail).toContain(`**${first}** (QuestionnaireResponse/qr-dtr-1) could not be used: answered with valueString`);
    expect(card?.detail).toContain(`**${second}** (QuestionnaireResponse/qr-dtr-1) could not be used: answered with valueInteger`);
    expect(card?.detail).toContain('**favourite-colour** (QuestionnaireResponse/qr-dtr-1) could not be used: not an item of the documentation questionnaire');
  });

  it('malformed answers (non-array items, null answers) never fail the request', async () => {
    const { questionnaire } = await start();
    const qr = { ...respond(questionnaire, {}), item: [{ linkId: 'new-or-worsening-symptoms', answer: [null, 'x'] }, null, { item: 'nope' }] };
    const res = await sign(inPrefetch(qr as unknown as QuestionnaireResponse));
    expect(res.status).toBe(200);
    expect(observedDecision(res.body).outcome).toBe('documentation-missing');
  });

  it("another form's response in the prefetch is read only for our codes, and its other items raise no card", async () => {
    const body = load();
    const other: QuestionnaireResponse = {
      resourceType: 'QuestionnaireResponse',
      id: 'phq-9',
      questionnaire: 'http://loinc.org/q/44249-1',
      status: 'completed',
      authored: '2025-11-04T08:00:00-08:00',
      item: [{ linkId: '44250-9', answer: [{ valueString: 'Several days' }] }, { linkId: 'new-or-worsening-symptoms', answer: [{ valueBoolean: true }] }],
    };
    body.prefetch.questionnaireResponses = { resourceType: 'Bundle', type: 'searchset', entry: [{ resource: other }] };
    const res = await sign(body);
    expect(observedDecision(res.body)).toMatchObject({ outcome: 'criteria-met', criterion: 'IND.5' });
    expect(JSON.stringify(res.body.cards)).not.toContain('could not be used');
  });
});
