/**
 * Cards in an EHR: the clinician sees order-select's cards while choosing the study, then signs.
 * By default order-sign repeats an order's cards only if its decision changed since order-select for
 * the same draft order (ORDER_SIGN_CARDS=changed); the CRD coverage-information system action is
 * always sent. Cards a clinician may override carry CDS Hooks 2.0 `overrideReasons`, and the reason
 * chosen comes back in feedback and is recorded with the decision.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app.js';
import { OVERRIDE_REASONS, OVERRIDE_REASON_SYSTEM } from '../../src/cards/overrideReasons.js';
import { testConfig, loadConfig } from '../../src/config/config.js';
import type { CdsCard, CdsResponse } from '../../src/hooks/types.js';
import { createLogger } from '../../src/log.js';
import type { DecisionRecords } from '../../src/records/setup.js';
import { recordedApp } from '../helpers/recordedApp.js';
import { observedDecision } from '../support/outcome.js';

type Json = Record<string, any>;
const KP = join(import.meta.dirname, '..', '..', 'cds-services', 'kp-wa-lumbar-mri', 'fixtures');
const SELECT = '/cds-services/lumbar-mri-order-select';
const SIGN = '/cds-services/lumbar-mri-order-sign';

const fixture = (name: string): Json => JSON.parse(readFileSync(join(KP, name), 'utf8')) as Json;
const orderOf = (req: Json): Json => req.context.draftOrders.entry[0].resource;
/** The order-select the EHR sent while the clinician chose this order. */
const selectFrom = (sign: Json): Json => ({
  ...structuredClone(sign),
  hook: 'order-select',
  hookInstance: crypto.randomUUID(),
  context: { ...structuredClone(sign.context), selections: [`ServiceRequest/${orderOf(sign).id}`] },
});
const cardsOf = (body: CdsResponse): CdsCard[] => [...body.cards];

describe('order-sign after order-select for the same draft order', () => {
  it('criteria met (I.B cauda equina): order-sign shows no card again, and still writes the coverage information', async () => {
    const { app } = createApp(testConfig());
    const sign = fixture('I.B-cauda-equina-saddle-numbness-urinary-retention.json');
    const selected = await request(app).post(SELECT).send(selectFrom(sign));
    expect(cardsOf(selected.body).some((c) => c.summary.startsWith('Criteria met'))).toBe(true);
    const signed = await request(app).post(SIGN).send(sign);
    expect(signed.status).toBe(200);
    expect(signed.body.cards).toEqual([]);
    expect(observedDecision(signed.body)).toMatchObject({ outcome: 'criteria-met', criterion: 'I.B' });
  });

  it('the decision changed between select and sign (the clinician changed the study): order-sign shows the new one', async () => {
    const { app } = createApp(testConfig());
    const sign = fixture('NI-uncomplicated-acute-low-back-pain.json');
    await request(app).post(SELECT).send(selectFrom(sign));
    const resigned = structuredClone(sign);
    orderOf(resigned).code = { coding: [{ system: 'http://www.ama-assn.org/go/cpt', code: '72158' }] };
    const signed = await request(app).post(SIGN).send(resigned);
    expect(cardsOf(signed.body).some((c) => (c.detail ?? '').includes('CPT 72158'))).toBe(true);
  });

  it('an order-sign with no order-select before it shows every card', async () => {
    const { app } = createApp(testConfig());
    const signed = await request(app).post(SIGN).send(fixture('NI-uncomplicated-acute-low-back-pain.json'));
    expect(cardsOf(signed.body).some((c) => c.summary.startsWith('Not indicated'))).toBe(true);
  });

  it('another draft order of the same patient is not taken for the one order-select showed', async () => {
    const { app } = createApp(testConfig());
    const sign = fixture('I.B-cauda-equina-saddle-numbness-urinary-retention.json');
    await request(app).post(SELECT).send(selectFrom(sign));
    const other = structuredClone(sign);
    orderOf(other).id = 'another-draft-order';
    const signed = await request(app).post(SIGN).send(other);
    expect(cardsOf(signed.body).some((c) => c.summary.startsWith('Criteria met'))).toBe(true);
  });

  it('ORDER_SIGN_CARDS=all shows every card at order-sign; anything else is refused at start-up', async () => {
    const config = loadConfig({ ORDER_SIGN_CARDS: 'all', LOG_LEVEL: 'silent', RECORD_DATA_DIR: 'memory://' });
    expect(config.orderSignCards).toBe('all');
    expect(loadConfig({}).orderSignCards).toBe('changed');
    expect(() => loadConfig({ ORDER_SIGN_CARDS: 'sometimes' })).toThrow(/ORDER_SIGN_CARDS must be "changed" or "all"/);
    const { app } = createApp(testConfig({ orderSignCards: 'all' }));
    const sign = fixture('I.B-cauda-equina-saddle-numbness-urinary-retention.json');
    await request(app).post(SELECT).send(selectFrom(sign));
    const signed = await request(app).post(SIGN).send(sign);
    expect(cardsOf(signed.body).some((c) => c.summary.startsWith('Criteria met'))).toBe(true);
  });
});

describe('overrideReasons', () => {
  const logger = createLogger('silent');
  let records: DecisionRecords;
  const ADMIN = 'override-reasons-operator-token-0123456789';
  let app: ReturnType<typeof createApp>['app'];

  beforeAll(async () => {
    ({ app, records } = await recordedApp(testConfig({ adminToken: ADMIN }), logger));
  });
  afterAll(async () => {
    await records.close();
  });

  it('not indicated (I.A stable exam): the verdict card offers the override reasons; a criteria-met card offers none', async () => {
    const notIndicated = await request(app).post(SIGN).send(fixture('I.A-stable-exam-no-red-flags-not-indicated.json'));
    const verdict = cardsOf(notIndicated.body).find((c) => c.summary.startsWith('Not indicated'));
    expect(verdict?.overrideReasons).toEqual(OVERRIDE_REASONS);
    for (const r of OVERRIDE_REASONS) expect(r).toMatchObject({ system: OVERRIDE_REASON_SYSTEM, code: expect.any(String), display: expect.any(String) });
    const met = await request(app).post(SIGN).send(fixture('I.B-cauda-equina-saddle-numbness-urinary-retention.json'));
    const metCard = cardsOf(met.body).find((c) => c.summary.startsWith('Criteria met'));
    expect(metCard).toBeDefined();
    expect(metCard?.overrideReasons).toBeUndefined();
  });

  it('documentation missing (I.0): the card asking for documentation offers them too', async () => {
    const res = await request(app).post(SIGN).send(fixture('I.0-onset-undated-cauda-equina-missing-doc.json'));
    expect(observedDecision(res.body).outcome).toBe('documentation-missing');
    const warning = cardsOf(res.body).find((c) => c.indicator === 'warning');
    expect(warning?.overrideReasons?.map((r) => r.code)).toContain('documented-elsewhere');
  });

  it('the reason the clinician picked comes back in feedback and is recorded with the decision', async () => {
    const res = await request(app).post(SIGN).send({ ...fixture('I.A-stable-exam-no-red-flags-not-indicated.json'), hookInstance: crypto.randomUUID() });
    const card = cardsOf(res.body).find((c) => c.overrideReasons)!;
    const assertionId = observedDecision(res.body).extension!.extension!.find((e) => e.url === 'coverage-assertion-id')!.valueString!;
    const chosen = card.overrideReasons![2]!;
    const fb = await request(app)
      .post(`${SIGN}/feedback`)
      .send({ feedback: [{ card: card.uuid, outcome: 'overridden', overrideReason: { reason: chosen, userComment: 'Worsening despite therapy' }, outcomeTimestamp: new Date().toISOString() }] });
    expect(fb.status).toBe(200);
    const found = await request(app).get(`/coverage-assertions/${assertionId}`).set('Authorization', `Bearer ${ADMIN}`);
    expect(found.body.feedback).toEqual([expect.objectContaining({ cardUuid: card.uuid, outcome: 'overridden', overrideReason: chosen.code })]);
  });
});
