/**
 * The service behind the CDS Hooks sandbox (standards/sandbox-quirks.md): CORS preflights, signed
 * discovery, hook and feedback calls (ES384, aud = the exact URL called, the sandbox's iss and jku),
 * the empty first call, repeated calls while the clinician changes the study or reason, loose Bundles,
 * no fhirAuthorization, and the FHIR calls the sandbox makes to `serve-fhir`.
 * Requests are the captured shapes in fixtures/sandbox/.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bundle, OperationOutcome, Resource } from 'fhir/r4.js';
import type { Express } from 'express';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app.js';
import { MemoryFeedbackSink } from '../../src/pipeline/events.js';
import { testConfig } from '../../src/config/config.js';
import { startFhirServer, type FhirInput, type FhirTestServer } from '../../tools/fhir-server/FhirTestServer.js';
import type { CdsCard } from '../../src/hooks/types.js';
import { AuthError, createClientAuthenticator } from '../../src/security/clientAuth.js';
import { createMemoryReplayCache } from '../../src/security/replayCache.js';
import { loadTrustedClients } from '../../src/security/trustedClients.js';
import { createClientAuth } from '../../src/security/setup.js';
import { buildScenario, type Scenario } from '../../scripts/fixtures/scenario.js';
import { refusalReason, unauthorizedOutcome, bearer, generateTestKey, jwksOf, signClientToken, type TestKey } from '../helpers/tokens.js';

const ROOT = join(import.meta.dirname, '..', '..');
const read = (path: string) => JSON.parse(readFileSync(join(ROOT, path), 'utf8')) as Record<string, any>;
const sandbox = (name: string) => read(`fixtures/sandbox/${name}.json`);

/** What the public sandbox puts in its tokens (cds-hooks/sandbox, src/retrieve-data-helpers/jwt-generator.js). */
const SANDBOX_ISS = 'https://sandbox.cds-hooks.org';
const SANDBOX_JKU = 'https://sandbox.cds-hooks.org/.well-known/jwks.json';
const SANDBOX_KID = '44823f3d-0b01-4a6c-a80e-b9d3e8a7226f';

const BASE = 'http://127.0.0.1:3000';
const SELECT = '/cds-services/lumbar-mri-order-select';
const SIGN = '/cds-services/lumbar-mri-order-sign';
const ORIGIN = 'https://sandbox.cds-hooks.org';
const silent = { warn: () => undefined };
const caudaScenario = (read('cds-services/kp-wa-lumbar-mri/scenarios/I.json').scenarios as Scenario[]).find(
  (s) => s.name === 'I.B-cauda-equina-saddle-numbness-urinary-retention',
) as Scenario;

/** Every resource of a hook request's prefetch, as the EHR's FHIR server holds them. */
function recordOf(body: { prefetch: Record<string, Resource | null> }): Resource[] {
  return Object.values(body.prefetch).flatMap((v) =>
    !v ? [] : v.resourceType === 'Bundle' ? ((v as Bundle).entry ?? []).map((e) => e.resource as Resource) : [v],
  );
}

describe('behind the CDS Hooks sandbox', () => {
  let key: TestKey;
  let fhir: FhirTestServer;
  let app: Express;
  let feedback: MemoryFeedbackSink;
  // The sandbox sends no date on the order, so the date of service is today: the I.B patient, dated today.
  const cauda = buildScenario({ ...caudaScenario, dateOfService: new Date().toISOString().slice(0, 10) }).request as Record<string, any>;

  /** A token as the sandbox signs it: ES384, its iss, kid and jku, aud = the exact URL called. */
  const token = async (path: string, aud = `${BASE}${path}`) =>
    bearer(await signClientToken(key, { iss: SANDBOX_ISS, aud, header: { jku: SANDBOX_JKU } }));
  const post = async (path: string, body: unknown) =>
    request(app).post(path).set('Origin', ORIGIN).set('Authorization', await token(path)).send(body as object);

  beforeAll(async () => {
    // The sandbox's key pair is not ours to sign with: the same kid and claims, a key of our own.
    key = await generateTestKey('ES384', SANDBOX_KID);
    fhir = await startFhirServer({ initialData: recordOf(cauda as never) as FhirInput });
    const dir = mkdtempSync(join(tmpdir(), 'sandbox-clients-'));
    const file = join(dir, 'trusted-clients.json');
    writeFileSync(file, JSON.stringify([{ iss: SANDBOX_ISS, jwks: jwksOf(key), jku_allowlist: [SANDBOX_JKU], fhir_servers: [fhir.baseUrl] }]));
    const config = testConfig({ publicBaseUrl: BASE, auth: 'required', trustedClientsFile: file });
    feedback = new MemoryFeedbackSink();
    app = createApp(config, { clientAuth: await createClientAuth(config, silent), feedback }).app;
  });
  afterAll(async () => {
    await fhir?.close();
  });

  describe('CORS', () => {
    it.each([
      [SELECT, 'POST', 'authorization,content-type'],
      [`${SELECT}/feedback`, 'POST', 'authorization,content-type'],
      ['/cds-services', 'GET', 'authorization'],
    ])('answers the preflight for %s (%s, %s) without authentication', async (path, method, headers) => {
      const res = await request(app)
        .options(path)
        .set('Origin', ORIGIN)
        .set('Access-Control-Request-Method', method)
        .set('Access-Control-Request-Headers', headers);
      expect(res.status).toBe(204);
      expect(res.headers['access-control-allow-origin']).toBe('*');
      const allowed = String(res.headers['access-control-allow-headers']).toLowerCase();
      for (const h of headers.split(',')) expect(allowed).toContain(h);
      expect(String(res.headers['access-control-allow-methods'])).toMatch(/GET.*POST.*OPTIONS|POST.*GET.*OPTIONS/);
    });

    it('sets Access-Control-Allow-Origin on the actual responses, errors included', async () => {
      const ok = await post(SELECT, sandbox('order-select-entering-tab'));
      expect(ok.headers['access-control-allow-origin']).toBe('*');
      const unauthorized = await request(app).post(SELECT).set('Origin', ORIGIN).send(sandbox('order-select-entering-tab'));
      expect(unauthorized.status).toBe(401);
      expect(unauthorized.headers['access-control-allow-origin']).toBe('*');
    });
  });

  describe('signed calls', () => {
    it('accepts signed discovery (the sandbox signs it too)', async () => {
      const res = await request(app).get('/cds-services').set('Origin', ORIGIN).set('Authorization', await token('/cds-services'));
      expect(res.status).toBe(200);
      expect(res.body.services.map((s: { id: string }) => s.id)).toEqual(['lumbar-mri-order-select', 'lumbar-mri-order-sign']);
    });

    it('accepts a hook call whose aud is the exact URL called', async () => {
      const res = await post(SELECT, sandbox('order-select-72148-low-back-pain'));
      expect(res.status).toBe(200);
    });

    it.each([
      ['localhost instead of 127.0.0.1', `http://localhost:3000${SELECT}`],
      ['another port', `http://127.0.0.1:3001${SELECT}`],
      ['the discovery URL', `${BASE}/cds-services`],
      ['the other service', `${BASE}${SIGN}`],
    ])('refuses a token whose aud names %s', async (_label, aud) => {
      const res = await request(app).post(SELECT).set('Authorization', await token(SELECT, aud)).send(sandbox('order-select-72148-low-back-pain'));
      expect(res.status).toBe(401);
      expect(res.body).toEqual(unauthorizedOutcome('bad-audience'));
    });

    it('refuses a replayed token and an unsigned call', async () => {
      const auth = await token(SELECT);
      const body = sandbox('order-select-72148-low-back-pain');
      expect((await request(app).post(SELECT).set('Authorization', auth).send(body)).status).toBe(200);
      const replay = await request(app).post(SELECT).set('Authorization', auth).send(body);
      expect(replay.status).toBe(401);
      expect(refusalReason(replay.body)).toBe('replayed-jti');
      expect((await request(app).post(SELECT).send(body)).status).toBe(401);
    });

    it('takes signed feedback on a suggestion the sandbox applied', async () => {
      const before = feedback.items.length;
      const res = await post(`${SELECT}/feedback`, {
        feedback: [{ card: '65ddb4bf-e309-4267-8009-4bd30f96edd8', outcome: 'accepted', acceptedSuggestions: [{ id: 'c1f2e3d4-0000-4000-8000-000000000001' }], outcomeTimestamp: '2024-06-12T17:20:05.113Z' }],
      });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ accepted: 1 });
      expect(feedback.items.slice(before)).toMatchObject([{ serviceId: 'lumbar-mri-order-select', iss: SANDBOX_ISS, feedback: { outcome: 'accepted' } }]);
    });
  });

  describe('what the PAMA Imaging tab sends', () => {
    it('answers the empty first call (code.coding [{}]) with no cards', async () => {
      const res = await post(SELECT, sandbox('order-select-entering-tab'));
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ cards: [] });
    });

    it('tolerates repeated calls while the clinician changes the study and the reason', async () => {
      const steps = ['order-select-entering-tab', 'order-select-72148-low-back-pain', 'order-select-72149-low-back-pain', 'order-select-72158-lumbar-radiculopathy', 'order-select-72148-low-back-pain', 'order-select-entering-tab'];
      const expectedCpt = [undefined, '72148', '72149', '72158', '72148', undefined];
      for (const [i, step] of steps.entries()) {
        const res = await post(SELECT, sandbox(step));
        expect(res.status, step).toBe(200);
        const cards = res.body.cards as CdsCard[];
        if (!expectedCpt[i]) {
          expect(cards, step).toEqual([]);
          continue;
        }
        // The sandbox's patient has no Coverage: the service says so, about the study now chosen.
        const noCoverage = cards.find((c) => c.summary.startsWith('No coverage decision'));
        expect(noCoverage?.detail, step).toContain(`CPT ${expectedCpt[i]}`);
        expect(res.body.systemActions, step).toBeUndefined();
      }
    });

    it('accepts the loose shapes: draftOrders without type, a plan-intent order with a reasonCode, no fhirAuthorization, no encounterId', async () => {
      const body = sandbox('order-select-72148-low-back-pain');
      expect(body.context.draftOrders.type).toBeUndefined();
      expect(body.fhirAuthorization).toBeUndefined();
      expect(body.context.encounterId).toBeUndefined();
      expect(body.context.draftOrders.entry[0].resource.reasonCode[0].coding[0].code).toBe('279039007');
      const res = await post(SELECT, body);
      expect(res.status).toBe(200);
      // The record is partly unreadable (the sandbox's fhirServer is not allowed): a card says what, not a 5xx.
      expect((res.body.cards as CdsCard[]).some((c) => /could not be read/.test(c.summary))).toBe(true);
    });

    it('answers the forced order-sign call, whose body says hook "order-select", with a 400 naming the hook', async () => {
      const res = await post(SIGN, sandbox('order-sign-forced-says-order-select'));
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject<OperationOutcome>({
        resourceType: 'OperationOutcome',
        issue: [{ severity: 'error', code: 'invalid', expression: ['hook'] }],
      });
    });

    it('decides from the FHIR server the sandbox points at, without a token, when the prefetch holds only what the sandbox returned', async () => {
      const body = sandbox('order-select-72148-low-back-pain');
      const patientId = cauda.context.patientId as string;
      body.fhirServer = fhir.baseUrl;
      body.context.patientId = patientId;
      body.context.draftOrders.entry[0].resource.subject = { reference: `Patient/${patientId}` };
      body.prefetch = { patient: cauda.prefetch.patient, conditions: { resourceType: 'Bundle', type: 'searchset', total: 0, entry: [] } };
      delete body.prefetch.conditions; // the sandbox leaves out a key whose search failed
      fhir.clearRequests();
      const res = await post(SELECT, body);
      expect(res.status).toBe(200);
      const cards = res.body.cards as CdsCard[];
      expect(cards.find((c) => c.indicator === 'info' && /I\.B/.test(`${c.summary} ${c.detail}`))).toBeDefined();
      expect(cards.some((c) => /could not be read/.test(c.summary))).toBe(false);
      const searched = fhir.requests.map((r) => r.path);
      expect(searched).toEqual(expect.arrayContaining(['/fhir/Coverage', '/fhir/Condition']));
      expect(fhir.requests.every((r) => !r.hasAuthorization)).toBe(true);
    });
  });
});

describe('serve-fhir answers the sandbox FHIR calls', () => {
  let fhir: FhirTestServer;
  const patient = { resourceType: 'Patient', id: 'pat-lbp-1', gender: 'male', birthDate: '1979-03-14' } as const;
  const condition = {
    resourceType: 'Condition',
    id: 'cond-lbp-1',
    clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] },
    code: { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'M54.50', display: 'Low back pain, unspecified' }] },
    subject: { reference: 'Patient/pat-lbp-1' },
  } as const;
  beforeAll(async () => {
    fhir = await startFhirServer({ initialData: [patient, condition] as unknown as FhirInput });
  });
  afterAll(async () => {
    await fhir?.close();
  });

  it('answers the preflight of POST _search', async () => {
    const res = await fetch(`${fhir.baseUrl}/Condition/_search`, {
      method: 'OPTIONS',
      headers: { Origin: ORIGIN, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization,content-type' },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-methods')).toContain('POST');
  });

  it('answers the prefetch as the sandbox sends it (POST _search, form body) with CORS', async () => {
    const res = await fetch(`${fhir.baseUrl}/Condition/_search`, {
      method: 'POST',
      headers: { Origin: ORIGIN, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/fhir+json' },
      body: 'patient=pat-lbp-1',
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    const bundle = (await res.json()) as Bundle;
    expect(bundle).toMatchObject({ resourceType: 'Bundle', type: 'searchset', total: 1 });
    expect(bundle.entry?.[0]?.resource?.id).toBe('cond-lbp-1');
  });

  it('answers the patient read with CORS', async () => {
    const res = await fetch(`${fhir.baseUrl}/Patient/pat-lbp-1`, { headers: { Origin: ORIGIN } });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(((await res.json()) as Resource).id).toBe('pat-lbp-1');
  });
});

describe('docs/sandbox-trusted-clients.json (the public sandbox, test only)', () => {
  it('is a valid trusted-clients file pinning the sandbox key, so its jku is never fetched', async () => {
    const clients = await loadTrustedClients(join(ROOT, 'docs', 'sandbox-trusted-clients.json'));
    expect(clients).toHaveLength(1);
    expect(clients[0]).toMatchObject({ iss: SANDBOX_ISS, jkuAllowlist: [SANDBOX_JKU] });
    expect(clients[0].label).toMatch(/TEST ONLY/);
    expect(clients[0].jwks?.keys.map((k) => [k.kid, k.alg, k.crv])).toEqual([[SANDBOX_KID, 'ES384', 'P-384']]);
    // A token with the sandbox's header but another key: verified against the pinned key (offline), and refused.
    const impostor = await generateTestKey('ES384', SANDBOX_KID);
    const authenticator = createClientAuthenticator({ clients, replayCache: createMemoryReplayCache() });
    const aud = `${BASE}${SELECT}`;
    const forged = await signClientToken(impostor, { iss: SANDBOX_ISS, aud, header: { jku: SANDBOX_JKU } });
    const failure = await authenticator.authenticate(bearer(forged), aud).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(AuthError);
    expect((failure as AuthError).reason).toBe('bad-signature');
  });
});
