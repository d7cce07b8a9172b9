import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app.js';
import { testConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/log.js';
import type { DecisionRecords } from '../../src/records/setup.js';
import { recordedApp } from '../helpers/recordedApp.js';
import { observedDecision } from '../support/outcome.js';

const ROOT = join(import.meta.dirname, '..', '..');
const CAUDA = JSON.parse(readFileSync(join(ROOT, 'cds-services/kp-wa-lumbar-mri/fixtures/I.B-cauda-equina-saddle-numbness-urinary-retention.json'), 'utf8'));
const SIGN = '/cds-services/lumbar-mri-order-sign';
const ADMIN = 'operator-secret-token-0123456789';

describe('decision records and the operator API', () => {
  let records: DecisionRecords;
  let app: ReturnType<typeof createApp>['app'];
  const logger = createLogger('silent');

  beforeAll(async () => {
    ({ app, records } = await recordedApp(testConfig({ adminToken: ADMIN }), logger));
  });
  afterAll(async () => {
    await records.close();
  });

  it('records each order-sign decision and returns it by coverage-assertion-id', async () => {
    const res = await request(app).post(SIGN).send(CAUDA);
    expect(res.status).toBe(200);
    const ext = observedDecision(res.body).extension!;
    const assertionId = ext.extension!.find((e) => e.url === 'coverage-assertion-id')!.valueString!;
    const paId = ext.extension!.find((e) => e.url === 'satisfied-pa-id')!.valueString!;

    const found = await request(app).get(`/coverage-assertions/${assertionId}`).set('Authorization', `Bearer ${ADMIN}`);
    expect(found.status).toBe(200);
    expect(found.body.call).toMatchObject({ serviceId: 'lumbar-mri-order-sign', hook: 'order-sign', hookInstance: CAUDA.hookInstance, patientRef: `Patient/${CAUDA.context.patientId}` });
    expect(found.body.order).toMatchObject({
      outcome: 'criteria-met',
      policyId: 'kp-wa-lumbar-mri',
      policyVersion: '2024-01-01',
      billingCode: '72148',
      coverageAssertionId: assertionId,
      satisfiedPaId: paId,
    });
    expect(found.body.order.criteriaPath).toContain('I.B');
    expect(found.body.order.evidence.length).toBeGreaterThan(0);
    // Nothing but ids and references: no names, no birth date.
    const text = JSON.stringify(found.body);
    expect(text).not.toContain(CAUDA.prefetch.patient.birthDate);
    expect(text).not.toContain(CAUDA.prefetch.patient.name[0].family);

    const list = await request(app).get(`/coverage-assertions?patient=${CAUDA.context.patientId}`).set('Authorization', `Bearer ${ADMIN}`);
    expect(list.status).toBe(200);
    expect(list.body.items.map((i: { order: { coverageAssertionId: string } }) => i.order.coverageAssertionId)).toContain(assertionId);
  });

  it('attaches feedback to the card it answers', async () => {
    const res = await request(app).post(SIGN).send({ ...CAUDA, hookInstance: '0b7c3a7e-2a37-4f61-9d8c-0d3b5f9e2c11' });
    const card = res.body.cards[0].uuid as string;
    const assertionId = observedDecision(res.body).extension!.extension!.find((e) => e.url === 'coverage-assertion-id')!.valueString!;
    const fb = await request(app)
      .post(`${SIGN}/feedback`)
      .send({ feedback: [{ card, outcome: 'overridden', overrideReason: { reason: { system: 'http://example.org/reasons', code: 'patient-declined', display: 'Patient declined' } }, outcomeTimestamp: '2024-06-12T11:00:00Z' }] });
    expect(fb.status).toBe(200);
    const found = await request(app).get(`/coverage-assertions/${assertionId}`).set('Authorization', `Bearer ${ADMIN}`);
    expect(found.body.feedback).toEqual([expect.objectContaining({ cardUuid: card, outcome: 'overridden', overrideReason: 'patient-declined' })]);
  });

  it('requires the operator token, not a CDS client token', async () => {
    expect((await request(app).get('/coverage-assertions/anything')).status).toBe(401);
    expect((await request(app).get('/coverage-assertions/anything').set('Authorization', 'Bearer eyJhbGciOiJFUzM4NCJ9.e30.sig')).status).toBe(401);
  });

  it('answers 404 for an assertion that is not there and 400 for a bad date', async () => {
    const missing = await request(app).get('/coverage-assertions/no-such-id').set('Authorization', `Bearer ${ADMIN}`);
    expect(missing.status).toBe(404);
    const bad = await request(app).get('/coverage-assertions?from=notadate').set('Authorization', `Bearer ${ADMIN}`);
    expect(bad.status).toBe(400);
  });

  it('is disabled without ADMIN_TOKEN', async () => {
    const other = createApp(testConfig(), { logger, records: records.store }).app;
    expect((await request(other).get('/coverage-assertions/x').set('Authorization', 'Bearer ')).status).toBe(403);
  });
});
