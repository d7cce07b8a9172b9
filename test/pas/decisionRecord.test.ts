/**
 * Each `Claim/$submit` is a decision record in the store (through its public interface), tied to
 * the CRD coverage-assertion-id the order carried from the hook, so the operator API shows the
 * hook's decision and the prior authorization that followed it.
 */
import type { ServiceRequest } from 'fhir/r4.js';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type createApp } from '../../src/http/app.js';
import { testConfig } from '../../src/config/config.js';
import type { CdsResponse } from '../../src/hooks/types.js';
import { createLogger } from '../../src/log.js';
import type { DecisionRecords } from '../../src/records/setup.js';
import { recordedApp } from '../helpers/recordedApp.js';
import { observedDecision } from '../support/outcome.js';
import { hookFixture, itemsOf, pasFixture, type PasBundle } from './support.js';

const PATH = 'kp-wa-lumbar-mri/I.B-cauda-equina-saddle-numbness-urinary-retention.json';
const ADMIN = 'operator-token-pas-records-0123456789abcdef';

describe('PAS submissions as decision records', () => {
  let records: DecisionRecords;
  let app: ReturnType<typeof createApp>['app'];
  const logger = createLogger('silent');

  beforeAll(async () => {
    ({ app, records } = await recordedApp(testConfig({ adminToken: ADMIN }), logger));
  });
  afterAll(async () => {
    await records.close();
  });

  it('the order signed with its coverage information, then submitted: both decisions under the assertion id', async () => {
    const hook = hookFixture(PATH) as { context: { patientId: string } };
    const signed = await request(app).post('/cds-services/lumbar-mri-order-sign').send(hook);
    const seen = observedDecision(signed.body as CdsResponse);
    const assertionId = seen.extension!.extension!.find((e) => e.url === 'coverage-assertion-id')!.valueString!;
    const paId = seen.extension!.extension!.find((e) => e.url === 'satisfied-pa-id')!.valueString!;

    // The EHR keeps the order the system action updated, extension included, and sends it in the PAS Bundle.
    const action = (signed.body as CdsResponse).systemActions![0]!;
    const updated = action.type === 'update' ? (action.resource as ServiceRequest) : undefined;
    const bundle: PasBundle = pasFixture(PATH);
    const entry = bundle.entry!.find((e) => e.resource?.resourceType === 'ServiceRequest')!;
    entry.resource = { ...updated!, status: 'active', intent: 'order' };
    const submitted = await request(app).post('/fhir/Claim/$submit').set('content-type', 'application/fhir+json').send(JSON.stringify(bundle));
    expect(itemsOf(submitted.body as PasBundle)[0]).toMatchObject({ code: 'A1', number: paId });

    const found = await request(app).get(`/coverage-assertions/${assertionId}`).set('Authorization', `Bearer ${ADMIN}`);
    expect(found.status).toBe(200);
    expect(found.body.call).toMatchObject({ hook: 'Claim/$submit', serviceId: 'prior-authorization-standard', patientRef: `Patient/${hook.context.patientId}` });
    expect(found.body.order).toMatchObject({ outcome: 'A1', billingCode: '72148', satisfiedPaId: paId, policyId: 'kp-wa-lumbar-mri', criteriaPath: ['I.B'] });

    const listed = await request(app).get(`/coverage-assertions?patient=${hook.context.patientId}`).set('Authorization', `Bearer ${ADMIN}`);
    expect(listed.body.items.map((i: { call: { hook: string } }) => i.call.hook).sort()).toEqual(['Claim/$submit', 'order-sign']);
  });
});
