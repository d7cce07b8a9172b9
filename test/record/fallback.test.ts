/**
 * The prefetch fallback against a real FHIR REST server on loopback (medplum's in-memory repository
 * behind node:http), not a mocked fetch.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Bundle, Resource } from 'fhir/r4.js';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app.js';
import { testConfig } from '../../src/config/config.js';
import { startFhirServer, type FhirTestServer } from '../../tools/fhir-server/FhirTestServer.js';
import { observedDecision } from '../support/outcome.js';

const ROOT = join(import.meta.dirname, '..', '..');
const CAUDA = JSON.parse(readFileSync(join(ROOT, 'cds-services/kp-wa-lumbar-mri/fixtures/I.B-cauda-equina-saddle-numbness-urinary-retention.json'), 'utf8'));
const SIGN = '/cds-services/lumbar-mri-order-sign';

/** Every resource of the fixture's prefetch, as the EHR's FHIR server would hold them. */
function recordOf(body: { prefetch: Record<string, Resource | null> }): Resource[] {
  const out: Resource[] = [];
  for (const v of Object.values(body.prefetch)) {
    if (!v) continue;
    if (v.resourceType === 'Bundle') out.push(...((v as Bundle).entry ?? []).map((e) => e.resource as Resource));
    else out.push(v);
  }
  return out;
}

describe('prefetch fallback to the EHR FHIR server', () => {
  let fhir: FhirTestServer;
  beforeAll(async () => {
    fhir = await startFhirServer({ defaultPageSize: 2, unknownSearchParams: 'ignore' });
    const patient = `Patient/${CAUDA.context.patientId}`;
    // Vital signs over the past week: more Observations than one page holds.
    const vitals = [36.8, 37.1, 37.0, 36.9].map((value, i) => ({
      resourceType: 'Observation',
      id: `temp-${i}`,
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '8310-5', display: 'Body temperature' }] },
      subject: { reference: patient },
      effectiveDateTime: `2024-06-0${i + 5}T08:00:00-08:00`,
      valueQuantity: { value, unit: 'Cel', system: 'http://unitsofmeasure.org', code: 'Cel' },
    }));
    await fhir.load([...recordOf(CAUDA), ...vitals] as never);
  });
  afterAll(async () => {
    await fhir.close();
  });

  it('fetches every missing prefetch key with the bearer token, following next links, and decides the same', async () => {
    const { app } = createApp(testConfig({ fhirServerAllowlist: [fhir.baseUrl] }));
    fhir.clearRequests();
    const body = { ...CAUDA, prefetch: undefined, fhirServer: fhir.baseUrl, fhirAuthorization: { access_token: 'ehr-token-123', token_type: 'Bearer', expires_in: 30, scope: 'patient/*.read', subject: 'lumbar-mri-cds' } };
    const res = await request(app).post(SIGN).send(body);
    expect(res.status).toBe(200);
    expect(observedDecision(res.body)).toMatchObject({ outcome: 'criteria-met', criterion: 'I.B' });
    const urls = fhir.requests.map((r) => r.url);
    expect(urls.some((u) => u.startsWith('/fhir/Condition?patient='))).toBe(true);
    expect(urls.some((u) => u.startsWith('/fhir/Coverage?patient='))).toBe(true);
    // Pages of 2: the two Conditions plus more Observations needed `next` to be followed.
    expect(urls.some((u) => u.includes('_offset='))).toBe(true);
    expect(fhir.requests.every((r) => r.authorization === 'Bearer ehr-token-123')).toBe(true);
    // No card about unreadable data: everything was found.
    expect(JSON.stringify(res.body.cards)).not.toMatch(/could not be read/);
  });

  it('uses prefetch where given and fetches only the missing keys', async () => {
    const { app } = createApp(testConfig({ fhirServerAllowlist: [fhir.baseUrl] }));
    fhir.clearRequests();
    const { conditions, ...rest } = CAUDA.prefetch;
    void conditions;
    const res = await request(app).post(SIGN).send({ ...CAUDA, prefetch: rest, fhirServer: fhir.baseUrl });
    expect(res.status).toBe(200);
    expect(observedDecision(res.body).outcome).toBe('criteria-met');
    const types = new Set(fhir.requests.map((r) => r.path.split('/')[2]));
    expect([...types]).toEqual(['Condition']);
  });

  it('says in a card what could not be read when there is neither prefetch nor fhirServer', async () => {
    const { app } = createApp(testConfig());
    const res = await request(app).post(SIGN).send({ ...CAUDA, prefetch: { patient: CAUDA.prefetch.patient } });
    expect(res.status).toBe(200);
    const text = JSON.stringify(res.body.cards);
    expect(text).toMatch(/could not be read/);
    expect(text).toMatch(/Condition/);
    // Without the coverage there is no coverage decision.
    expect(observedDecision(res.body).outcome).toBe('no-coverage');
  });

  it('makes no connection to a fhirServer that is not on the allow-list', async () => {
    const { app } = createApp(testConfig({ fhirServerAllowlist: ['https://ehr.example.org/fhir'] }));
    fhir.clearRequests();
    const res = await request(app).post(SIGN).send({ ...CAUDA, prefetch: undefined, fhirServer: fhir.baseUrl });
    expect(res.status).toBe(200);
    expect(fhir.requests).toHaveLength(0);
    expect(JSON.stringify(res.body.cards)).toMatch(/allow-list/);
  });
});
