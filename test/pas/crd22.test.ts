/**
 * CRD 2.2 readiness, 2.0.1 staying the default: `davinci-crd.version` in discovery, honoured from
 * `davinci-crd.requestedVersion`; `expiry-date` on approvals; `indeterminate`/`technical` when the
 * FHIR server holding the Coverage is down; the 2.2 reason codes where routing fails; and a
 * "what-if" call (`unsolicited-determ: false`) that issues no authorization number.
 */
import type { Bundle, Coverage, Extension, FhirResource } from 'fhir/r4.js';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app.js';
import { testConfig } from '../../src/config/config.js';
import { startFaultServer, type FaultServer } from '../../tools/fhir-server/faults.js';
import type { CdsResponse } from '../../src/hooks/types.js';
import { AUTHORIZATION_VALID_DAYS } from '../../src/decision/authorizationNumber.js';
import { observedDecision } from '../support/outcome.js';
import { hookFixture } from './support.js';

const SIGN = '/cds-services/lumbar-mri-order-sign';
const APPROVE = 'medicare-advantage-lumbar-mri/IND.1.4-cauda-equina-syndrome.json';
const NOW = new Date('2026-03-02T15:00:00Z');
const { app } = createApp(testConfig(), { now: () => NOW });

type HookBody = Record<string, unknown> & { prefetch: Record<string, FhirResource | null>; extension?: Record<string, unknown> };
const body = (path = APPROVE, extension?: Record<string, unknown>): HookBody => ({ ...(hookFixture(path) as HookBody), ...(extension ? { extension } : {}) });
const V22 = { 'davinci-crd.requestedVersion': '2.2' };

/** The coverage-information sub-extensions of the (only) system action, by url. */
function info(res: { body: CdsResponse }): Map<string, Extension> {
  const ext = observedDecision(res.body).extension;
  return new Map((ext?.extension ?? []).map((e) => [e.url, e]));
}

function coverageBundle(b: HookBody): Bundle<FhirResource> {
  const bundle = b.prefetch.coverage;
  if (bundle?.resourceType !== 'Bundle') throw new Error('no coverage bundle');
  return bundle as Bundle<FhirResource>;
}

function coverageEntries(b: HookBody): Coverage[] {
  return (coverageBundle(b).entry ?? []).map((e) => e.resource).filter((r): r is Coverage => r?.resourceType === 'Coverage');
}

describe('CRD 2.2 readiness', () => {
  it('discovery declares davinci-crd.version and the unsolicited-determ option', async () => {
    const res = await request(app).get('/cds-services');
    for (const s of res.body.services) {
      expect(s.extension['davinci-crd.version']).toEqual(['2.0', '2.2']);
      expect(s.extension['davinci-crd.configuration-options'].map((o: { code: string }) => o.code)).toContain('unsolicited-determ');
    }
  });

  it('2.0.1 by default: an approval carries satisfied-pa-id and no expiry-date', async () => {
    const got = info(await request(app).post(SIGN).send(body()));
    expect(got.get('pa-needed')?.valueCode).toBe('satisfied');
    expect(got.get('satisfied-pa-id')?.valueString).toMatch(/^PA-/);
    expect(got.has('expiry-date')).toBe(false);
  });

  it('2.2 requested: the approval carries its expiry-date', async () => {
    const got = info(await request(app).post(SIGN).send(body(APPROVE, V22)));
    const expiry = new Date(Date.parse('2026-03-02T00:00:00Z') + (AUTHORIZATION_VALID_DAYS - 1) * 86_400_000).toISOString().slice(0, 10);
    expect(got.get('expiry-date')?.valueDate).toBe(expiry);
    expect(got.get('date')?.valueDate).toBe('2026-03-02');
  });

  it('a what-if call (unsolicited-determ false): criteria met, but no authorization number and pa-needed auth-needed', async () => {
    const res = await request(app).post(SIGN).send(body(APPROVE, { 'davinci-crd.configuration': { 'unsolicited-determ': false } }));
    const got = info(res);
    expect(got.get('covered')?.valueCode).toBe('covered');
    expect(got.get('pa-needed')?.valueCode).toBe('auth-needed');
    expect(got.has('satisfied-pa-id')).toBe(false);
    expect(got.get('reason')?.valueCodeableConcept?.text).toMatch(/criterion IND\.1\.4/);
  });

  describe('routing failures answered with the 2.2 reason codes (2.0.1: no coverage information, as before)', () => {
    it('no Coverage in the record: coverage-not-found, on the Coverage the order names', async () => {
      const b = body(APPROVE, V22);
      b.prefetch.coverage = { resourceType: 'Bundle', type: 'searchset', entry: [] };
      const got = info(await request(app).post(SIGN).send(b));
      expect(got.get('covered')?.valueCode).toBe('not-covered');
      expect(got.get('reason')?.valueCodeableConcept?.coding?.[0]).toMatchObject({ system: 'http://hl7.org/fhir/us/davinci-crd/CodeSystem/temp', code: 'coverage-not-found' });
      expect(got.get('coverage')?.valueReference?.reference).toMatch(/^Coverage\//);
      const old = b;
      delete old.extension;
      expect(observedDecision((await request(app).post(SIGN).send(old)).body).outcome).toBe('no-coverage');
    });

    it('a cancelled Coverage: no-active-coverage', async () => {
      const b = body(APPROVE, V22);
      for (const c of coverageEntries(b)) c.status = 'cancelled';
      const got = info(await request(app).post(SIGN).send(b));
      expect(got.get('covered')?.valueCode).toBe('not-covered');
      expect(got.get('reason')?.valueCodeableConcept?.coding?.[0]?.code).toBe('no-active-coverage');
    });

    it("another payer's active Coverage: no-member-found", async () => {
      const b = body(APPROVE, V22);
      for (const c of coverageEntries(b)) {
        c.payor = [{ display: 'Acme Regional Health Plan' }];
        delete c.type;
      }
      // The payer's Organization goes too, so nothing names a payer this service knows.
      const bundle = coverageBundle(b);
      bundle.entry = (bundle.entry ?? []).filter((e) => e.resource?.resourceType === 'Coverage');
      const got = info(await request(app).post(SIGN).send(b));
      expect(got.get('reason')?.valueCodeableConcept?.coding?.[0]?.code).toBe('no-member-found');
    });
  });

  describe('the FHIR server holding the Coverage is down', () => {
    let fault: FaultServer;
    beforeAll(async () => {
      fault = await startFaultServer({ mode: 'status500' });
    });
    afterAll(async () => {
      await fault.close();
    });

    it('2.2: coverage information indeterminate with reason technical; 2.0.1: a card and no coverage information', async () => {
      const down = createApp(testConfig({ fhirServerAllowlist: [fault.baseUrl], fhirTimeoutMs: 300, requestDeadlineMs: 800 }), { now: () => NOW }).app;
      const b = body(APPROVE, V22);
      delete b.prefetch.coverage;
      Object.assign(b, { fhirServer: fault.baseUrl, fhirAuthorization: { access_token: 'ehr-token-22', token_type: 'Bearer', expires_in: 300, scope: 'patient/*.read', subject: 'lumbar-mri-cds' } });
      const res = await request(down).post(SIGN).send(b);
      expect(res.status).toBe(200);
      const got = info(res);
      expect(got.get('covered')?.valueCode).toBe('indeterminate');
      expect(got.get('pa-needed')?.valueCode).toBe('indeterminate');
      expect(got.get('reason')?.valueCodeableConcept?.coding?.[0]?.code).toBe('technical');

      delete b.extension;
      const old = await request(down).post(SIGN).send(b);
      expect(observedDecision(old.body).outcome).toBe('no-coverage');
      expect((old.body as CdsResponse).cards.map((c) => c.detail ?? '').join(' ')).toMatch(/Coverage/);
    });
  });
});
