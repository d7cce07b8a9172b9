/**
 * Client authentication wired into the service as server.ts wires it (createClientAuth + createApp):
 * discovery open, hooks and feedback guarded, the client's own FHIR server allow-list, the
 * per-client rate limit, and no token in the logs.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OperationOutcome } from 'fhir/r4.js';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app.js';
import { testConfig, type Config } from '../../src/config/config.js';
import { startFaultServer, type FaultServer } from '../../tools/fhir-server/faults.js';
import { createClientAuth } from '../../src/security/setup.js';
import { TrustedClientsError } from '../../src/security/trustedClients.js';
import { observedDecision } from '../support/outcome.js';
import { captureLogger } from '../helpers/logs.js';
import { refusalReason, unauthorizedOutcome, bearer, generateTestKey, jwksOf, signClientToken, TEST_ISS, type TestKey } from '../helpers/tokens.js';

const ROOT = join(import.meta.dirname, '..', '..');
const CAUDA = JSON.parse(readFileSync(join(ROOT, 'cds-services/kp-wa-lumbar-mri/fixtures/I.B-cauda-equina-saddle-numbness-urinary-retention.json'), 'utf8')) as Record<string, unknown> & { prefetch: Record<string, unknown> };
const BASE = 'http://127.0.0.1:3000';
const SIGN = '/cds-services/lumbar-mri-order-sign';
const OTHER_ISS = 'https://other-ehr.example.org';


describe('createClientAuth', () => {
  it('is off (no guard) only when CDS_AUTH=off', async () => {
    expect(await createClientAuth({ auth: 'off', publicBaseUrl: BASE }, captureLogger('debug').logger)).toBeUndefined();
  });

  it('refuses to start with CDS_AUTH=required and no trusted clients file', async () => {
    await expect(createClientAuth({ auth: 'required', publicBaseUrl: BASE }, captureLogger('debug').logger)).rejects.toThrow(/CDS_TRUSTED_CLIENTS/);
  });

  it('refuses to start with an invalid trusted clients file, saying what is wrong', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'clients-'));
    const file = join(dir, 'clients.json');
    writeFileSync(file, JSON.stringify([{ iss: 'https://ehr.example.org', fhir_servers: [] }]));
    await expect(createClientAuth({ auth: 'required', publicBaseUrl: BASE, trustedClientsFile: file }, captureLogger('debug').logger)).rejects.toThrow(TrustedClientsError);
    await expect(createClientAuth({ auth: 'required', publicBaseUrl: BASE, trustedClientsFile: file }, captureLogger('debug').logger)).rejects.toThrow(/exactly one of "jwks_uri" or "jwks"/);
  });
});

describe('the service with CDS_AUTH=required', () => {
  let key: TestKey;
  let otherKey: TestKey;
  let ours: FaultServer;
  let notOurs: FaultServer;
  let file: string;

  beforeAll(async () => {
    key = await generateTestKey('ES384');
    otherKey = await generateTestKey('RS384');
    ours = await startFaultServer({ mode: 'ok' });
    notOurs = await startFaultServer({ mode: 'ok' });
    file = join(mkdtempSync(join(tmpdir(), 'clients-')), 'trusted-clients.json');
    writeFileSync(
      file,
      JSON.stringify([
        { iss: TEST_ISS, jwks: jwksOf(key), fhir_servers: [ours.baseUrl], label: 'Test EHR' },
        { iss: OTHER_ISS, jwks: jwksOf(otherKey), fhir_servers: [] },
      ]),
    );
  });
  afterAll(async () => {
    await ours.close();
    await notOurs.close();
  });

  async function service(overrides: Partial<Config> = {}) {
    const config = testConfig({ auth: 'required', trustedClientsFile: file, publicBaseUrl: BASE, ...overrides });
    const { logger, lines } = captureLogger('debug');
    const clientAuth = await createClientAuth(config, logger);
    const { app } = createApp(config, { clientAuth, logger });
    return { app, lines };
  }
  const tokenFor = (k: TestKey, path: string, iss = TEST_ISS) => signClientToken(k, { iss, aud: `${BASE}${path}` });

  it('keeps discovery and health open', async () => {
    const { app } = await service();
    expect((await request(app).get('/cds-services')).status).toBe(200);
    expect((await request(app).get('/health')).status).toBe(200);
  });

  it('answers 401 with a JSON reason to a hook or feedback call without a token', async () => {
    const { app } = await service();
    const hook = await request(app).post(SIGN).send(CAUDA);
    expect(hook.status).toBe(401);
    expect(hook.body).toEqual(unauthorizedOutcome('missing-token'));
    expect(hook.headers['www-authenticate']).toMatch(/^Bearer/);
    const feedback = await request(app).post(`${SIGN}/feedback`).send({ feedback: [] });
    expect(feedback.status).toBe(401);
    expect(refusalReason(feedback.body)).toBe('missing-token');
  });

  it('decides for a trusted client, and refuses the same token twice', async () => {
    const { app } = await service();
    const token = await tokenFor(key, SIGN);
    const first = await request(app).post(SIGN).set('Authorization', bearer(token)).send(CAUDA);
    expect(first.status).toBe(200);
    expect(observedDecision(first.body)).toMatchObject({ outcome: 'criteria-met', criterion: 'I.B' });
    const replay = await request(app).post(SIGN).set('Authorization', bearer(token)).send(CAUDA);
    expect(replay.status).toBe(401);
    expect(refusalReason(replay.body)).toBe('replayed-jti');
  });

  it('refuses a token made for another endpoint (aud) or signed by an unknown key', async () => {
    const { app } = await service();
    const wrongAud = await tokenFor(key, '/cds-services/lumbar-mri-order-select');
    expect(refusalReason((await request(app).post(SIGN).set('Authorization', bearer(wrongAud)).send(CAUDA)).body)).toBe('bad-audience');
    const stranger = await generateTestKey('ES384', key.kid);
    const forged = await tokenFor(stranger, SIGN);
    expect(refusalReason((await request(app).post(SIGN).set('Authorization', bearer(forged)).send(CAUDA)).body)).toBe('bad-signature');
  });

  it("contacts only the authenticated client's own FHIR servers, not the configuration's allow-list", async () => {
    const { app } = await service({ fhirServerAllowlist: [notOurs.baseUrl] });
    const { conditions, ...prefetch } = CAUDA.prefetch;
    void conditions;
    const body = (server: string) => ({ ...CAUDA, prefetch, fhirServer: server, fhirAuthorization: { access_token: 'ehr-token', token_type: 'Bearer', expires_in: 60, scope: 'patient/*.read', subject: 's' } });

    const allowed = await request(app).post(SIGN).set('Authorization', bearer(await tokenFor(key, SIGN))).send(body(ours.baseUrl));
    expect(allowed.status).toBe(200);
    expect(ours.requests.some((r) => r.path === '/fhir/Condition' && r.authorization === 'Bearer ehr-token')).toBe(true);

    const refused = await request(app).post(SIGN).set('Authorization', bearer(await tokenFor(key, SIGN))).send(body(notOurs.baseUrl));
    expect(refused.status).toBe(200);
    expect(notOurs.requests).toHaveLength(0);
    expect(JSON.stringify(refused.body.cards)).toMatch(/not on this service's allow-list \(no connection was made\)/);
    // The diagnoses were not read: whatever the outcome, it is not a confident denial.
    expect(observedDecision(refused.body).outcome).not.toBe('not-indicated');
  });

  it('rate-limits each client by its iss with a 429 OperationOutcome, leaving other clients alone', async () => {
    const { app } = await service({ rateLimitPerMinute: 2 });
    for (let i = 0; i < 2; i++) {
      expect((await request(app).post(SIGN).set('Authorization', bearer(await tokenFor(key, SIGN))).send(CAUDA)).status).toBe(200);
    }
    const limited = await request(app).post(SIGN).set('Authorization', bearer(await tokenFor(key, SIGN))).send(CAUDA);
    expect(limited.status).toBe(429);
    expect(limited.body).toMatchObject<Partial<OperationOutcome>>({ resourceType: 'OperationOutcome', issue: [expect.objectContaining({ code: 'throttled' })] });
    const other = await request(app).post(SIGN).set('Authorization', bearer(await tokenFor(otherKey, SIGN, OTHER_ISS))).send(CAUDA);
    expect(other.status).toBe(200);
  });

  it('never writes a token to the logs, on success or failure', async () => {
    const { app, lines } = await service();
    const good = await tokenFor(key, SIGN);
    const badAud = await tokenFor(key, '/elsewhere');
    const ehrToken = 'ehr-secret-token-for-fhir-9d2e';
    await request(app).post(SIGN).set('Authorization', bearer(good)).send({ ...CAUDA, fhirServer: ours.baseUrl, fhirAuthorization: { access_token: ehrToken, token_type: 'Bearer', expires_in: 60, scope: 'patient/*.read', subject: 's' } });
    await request(app).post(SIGN).set('Authorization', bearer(badAud)).send(CAUDA);
    const log = lines.join('');
    expect(log).toMatch(/client-auth-failed/);
    expect(log).toMatch(/"iss":"https:\/\/ehr.example.org\/cds-client"/);
    for (const secret of [good, badAud, good.split('.')[2], badAud.split('.')[2], ehrToken]) expect(log).not.toContain(secret);
  });
});
