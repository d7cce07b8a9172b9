/**
 * The prefetch fallback against FHIR servers that misbehave, on real loopback sockets
 * (tools/fhir-server/faults.ts): every fault ends in a 200 within the deadline, a card naming what
 * could not be read, and facts that are unknown rather than absent (no confident denial).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Bundle, Resource } from 'fhir/r4.js';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app.js';
import { testConfig, type Config } from '../../src/config/config.js';
import type { CdsCard } from '../../src/hooks/types.js';
import { startFaultServer, type FaultServer } from '../../tools/fhir-server/faults.js';
import { startFhirServer, type FhirTestServer } from '../../tools/fhir-server/FhirTestServer.js';
import { observedDecision } from '../support/outcome.js';
import { fixturePath } from '../helpers/fixtures.js';

const ROOT = join(import.meta.dirname, '..', '..');
const fixture = (path: string) => JSON.parse(readFileSync(fixturePath(path), 'utf8')) as { context: { patientId: string }; prefetch: Record<string, Resource | null> } & Record<string, unknown>;
/** Criteria met on a coded cauda equina diagnosis (a Condition). */
const CAUDA = fixture('medicare-advantage-lumbar-mri/IND.1.4-cauda-equina-syndrome.json');
/** Not indicated: uncomplicated acute low back pain (the episode is read from Conditions). */
const ACUTE = fixture('kp-wa-lumbar-mri/NI-uncomplicated-acute-low-back-pain.json');
const SIGN = '/cds-services/lumbar-mri-order-sign';
const TOKEN = 'ehr-access-token-7f3a9c';

const cardText = (body: { cards: CdsCard[] }): string => body.cards.map((c) => `${c.summary}\n${c.detail ?? ''}`).join('\n');

/** The fixture with one prefetch key left out, to be fetched from `fhirServer` with a token. */
function withoutPrefetch(body: ReturnType<typeof fixture>, server: string, ...keys: string[]): Record<string, unknown> {
  const prefetch = Object.fromEntries(Object.entries(body.prefetch).filter(([k]) => !keys.includes(k)));
  return { ...body, prefetch, fhirServer: server, fhirAuthorization: { access_token: TOKEN, token_type: 'Bearer', expires_in: 300, scope: 'patient/*.read', subject: 'lumbar-mri-cds' } };
}

function appFor(server: string, overrides: Partial<Config> = {}) {
  return createApp(testConfig({ fhirServerAllowlist: [server], fhirTimeoutMs: 300, requestDeadlineMs: 800, ...overrides })).app;
}

describe('FHIR server faults', () => {
  let fault: FaultServer;
  let elsewhere: FaultServer;
  beforeAll(async () => {
    fault = await startFaultServer({ mode: 'ok' });
    elsewhere = await startFaultServer({ mode: 'ok' });
  });
  afterAll(async () => {
    await fault.close();
    await elsewhere.close();
  });

  it('a slow server: answers within the deadline, names what could not be read, and does not deny on the missing diagnoses', async () => {
    fault.configure({ mode: 'slow', delayMs: 5000 });
    const app = appFor(fault.baseUrl);
    const complete = observedDecision((await request(app).post(SIGN).send(CAUDA)).body);
    expect(complete.outcome).toBe('criteria-met');

    const started = Date.now();
    const res = await request(app).post(SIGN).send(withoutPrefetch(CAUDA, fault.baseUrl, 'conditions'));
    const elapsed = Date.now() - started;
    expect(res.status).toBe(200);
    expect(elapsed).toBeLessThan(5000); // the 5 s reply was not waited for
    const text = cardText(res.body);
    expect(text).toMatch(/could not be read/);
    expect(text).toMatch(/Condition: the FHIR server did not answer within 300 ms/);
    const seen = observedDecision(res.body);
    expect(seen.outcome).not.toBe('not-indicated');
    expect(seen.outcome).toBe('physician-review');
    expect(seen.extension?.extension?.find((e) => e.url === 'reason')?.valueCodeableConcept?.text).toMatch(/could not be read \(Condition\)/);
  });

  it('a slow server: a case that would be denied on a complete record goes to review instead', async () => {
    fault.configure({ mode: 'slow', delayMs: 5000 });
    const app = appFor(fault.baseUrl);
    expect(observedDecision((await request(app).post(SIGN).send(ACUTE)).body).outcome).toBe('not-indicated');
    const res = await request(app).post(SIGN).send(withoutPrefetch(ACUTE, fault.baseUrl, 'conditions'));
    expect(res.status).toBe(200);
    expect(observedDecision(res.body).outcome).toBe('physician-review');
  });

  it('no prefetch at all and a slow server: a card for every key, no coverage decision, within the deadline', async () => {
    fault.configure({ mode: 'slow', delayMs: 5000 });
    const res = await request(appFor(fault.baseUrl)).post(SIGN).send(withoutPrefetch(CAUDA, fault.baseUrl, ...Object.keys(CAUDA.prefetch)));
    expect(res.status).toBe(200);
    const text = cardText(res.body);
    for (const type of ['Patient', 'Coverage', 'Condition', 'Observation', 'Procedure']) expect(text).toContain(type);
    expect(observedDecision(res.body).outcome).toBe('no-coverage');
  });

  const cases: { mode: 'status500' | 'invalidJson' | 'dropConnection'; reason: RegExp }[] = [
    { mode: 'status500', reason: /answered HTTP 500/ },
    { mode: 'invalidJson', reason: /invalid JSON/ },
    { mode: 'dropConnection', reason: /could not be reached/ },
  ];
  for (const { mode, reason } of cases) {
    it(`${mode}: a 200 with a card naming the fault, and no denial`, async () => {
      fault.configure({ mode, delayMs: 0 });
      const res = await request(appFor(fault.baseUrl)).post(SIGN).send(withoutPrefetch(ACUTE, fault.baseUrl, 'conditions'));
      expect(res.status).toBe(200);
      expect(cardText(res.body)).toMatch(reason);
      expect(observedDecision(res.body).outcome).toBe('physician-review');
    });
  }

  it('a huge Bundle: reading stops at the response size limit, with a card', async () => {
    fault.configure({ mode: 'hugeBundle', delayMs: 0, hugeBundleBytes: 4 * 1024 * 1024 });
    const res = await request(appFor(fault.baseUrl, { maxFhirResponseBytes: 1024 * 1024, fhirTimeoutMs: 2000, requestDeadlineMs: 3000 }))
      .post(SIGN)
      .send(withoutPrefetch(ACUTE, fault.baseUrl, 'observations'));
    expect(res.status).toBe(200);
    expect(cardText(res.body)).toMatch(/Observation: the FHIR server's answer is larger than 1048576 bytes/);
  });

  it('a redirect to another host is not followed: the other host never sees a request or the token', async () => {
    fault.configure({ mode: 'redirect', delayMs: 0, location: `${elsewhere.baseUrl}/Condition?patient=x` });
    const before = elsewhere.requests.length;
    const sent = fault.requests.length;
    const res = await request(appFor(fault.baseUrl)).post(SIGN).send(withoutPrefetch(ACUTE, fault.baseUrl, 'conditions'));
    expect(res.status).toBe(200);
    expect(cardText(res.body)).toMatch(/Condition: the FHIR server could not be reached \(connection failed or redirected\)/);
    expect(elsewhere.requests.length).toBe(before);
    // The token went to the fhirServer, and only there.
    expect(fault.requests.slice(sent).map((r) => r.authorization)).toEqual([`Bearer ${TOKEN}`]);
  });

  it('a next link to another host is not followed and the token is not sent there', async () => {
    const page: Bundle = {
      resourceType: 'Bundle',
      type: 'searchset',
      link: [{ relation: 'next', url: `${elsewhere.baseUrl}/Condition?patient=x&page=2` }],
      entry: [],
    };
    fault.configure({ mode: 'ok', delayMs: 0, body: page });
    const before = elsewhere.requests.length;
    const res = await request(appFor(fault.baseUrl)).post(SIGN).send(withoutPrefetch(ACUTE, fault.baseUrl, 'conditions'));
    expect(res.status).toBe(200);
    expect(cardText(res.body)).toMatch(/pointed outside its base URL \(another host or path\); not followed/);
    expect(elsewhere.requests.length).toBe(before);
  });

  it('a fhirServer off the allow-list gets no connection, and a card says so', async () => {
    fault.configure({ mode: 'ok', delayMs: 0, body: undefined });
    const sent = fault.requests.length;
    const res = await request(appFor('https://ehr.example.org/fhir')).post(SIGN).send(withoutPrefetch(ACUTE, fault.baseUrl, 'conditions'));
    expect(res.status).toBe(200);
    expect(cardText(res.body)).toMatch(/not on this service's allow-list \(no connection was made\)/);
    expect(fault.requests.length).toBe(sent);
  });
});

describe('paging across pages of a real FHIR server', () => {
  let fhir: FhirTestServer;
  beforeAll(async () => {
    fhir = await startFhirServer({ defaultPageSize: 1, unknownSearchParams: 'ignore' });
    const resources: Resource[] = [];
    for (const v of Object.values(CAUDA.prefetch)) {
      if (!v) continue;
      if (v.resourceType === 'Bundle') resources.push(...((v as Bundle).entry ?? []).map((e) => e.resource as Resource));
      else resources.push(v);
    }
    await fhir.load(resources as never);
  });
  afterAll(async () => {
    await fhir.close();
  });

  it('follows next links one resource a page, sends the token on each, and decides as with prefetch', async () => {
    fhir.clearRequests();
    const res = await request(appFor(fhir.baseUrl, { fhirTimeoutMs: 2000, requestDeadlineMs: 8000, maxFhirPages: 50 }))
      .post(SIGN)
      .send(withoutPrefetch(CAUDA, fhir.baseUrl, ...Object.keys(CAUDA.prefetch)));
    expect(res.status).toBe(200);
    expect(observedDecision(res.body).outcome).toBe('criteria-met');
    const conditionPages = fhir.requests.filter((r) => r.path.endsWith('/Condition'));
    expect(conditionPages.length).toBeGreaterThan(1);
    expect(fhir.requests.every((r) => r.authorization === `Bearer ${TOKEN}`)).toBe(true);
  });
});
