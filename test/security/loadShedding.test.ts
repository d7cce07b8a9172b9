/**
 * Bounded under load: past its thresholds the service refuses at once with 503 and Retry-After
 * (counted in /metrics) instead of queueing; failed authentications are throttled per address before
 * the next token is verified; an allow-listed jku that never answers holds a caller only for the
 * JWKS timeout.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app.js';
import { testConfig, type Config } from '../../src/config/config.js';
import { startFaultServer, type FaultServer } from '../../tools/fhir-server/faults.js';
import { createClientAuth } from '../../src/security/setup.js';
import { captureLogger } from '../helpers/logs.js';
import { refusalReason, bearer, forgeToken, generateTestKey, jwksOf, signClientToken, TEST_ISS, type TestKey } from '../helpers/tokens.js';

const ROOT = join(import.meta.dirname, '..', '..');
/** Criteria met (cauda equina), with its whole record in the prefetch. */
const CAUDA = JSON.parse(readFileSync(join(ROOT, 'cds-services/kp-wa-lumbar-mri/fixtures/I.B-cauda-equina-saddle-numbness-urinary-retention.json'), 'utf8')) as Record<string, unknown>;
const SIGN = '/cds-services/lumbar-mri-order-sign';
const BASE = 'http://127.0.0.1:3000';

const shedCount = async (app: Parameters<typeof request>[0], reason: string): Promise<number> =>
  Number(new RegExp(`cds_requests_shed_total\\{reason="${reason}"\\} (\\d+)`).exec((await request(app).get('/metrics')).text)?.[1]);

describe('load shedding', () => {
  let slow: FaultServer;
  beforeAll(async () => {
    slow = await startFaultServer({ mode: 'slow', delayMs: 1500 });
  });
  afterAll(() => slow.close());

  it('past MAX_IN_FLIGHT calls in progress, the next call gets 503 with Retry-After at once, and calls pass again after', async () => {
    const app = createApp(testConfig({ maxInFlight: 2, maxEventLoopDelayMs: 0, fhirServerAllowlist: [slow.baseUrl], fhirTimeoutMs: 1200, requestDeadlineMs: 1200 })).app;
    // Two calls held open by a slow FHIR server (their record is fetched, not prefetched).
    const held = [1, 2].map(() => request(app).post(SIGN).send({ ...CAUDA, prefetch: {}, fhirServer: slow.baseUrl }).then((r) => r));
    await new Promise((r) => setTimeout(r, 300));
    const shed = await request(app).post(SIGN).send(CAUDA);
    expect(shed.status).toBe(503);
    expect(shed.headers['retry-after']).toBe('1');
    expect(shed.body.resourceType).toBe('OperationOutcome');
    expect(shed.body.issue[0].code).toBe('transient');
    expect((await Promise.all(held)).map((r) => r.status)).toEqual([200, 200]);
    expect((await request(app).post(SIGN).send(CAUDA)).status).toBe(200);
    expect(await shedCount(app, 'in-flight')).toBe(1);
  });

  it('while the event loop lags past MAX_EVENT_LOOP_DELAY_MS, calls get 503; once it recovers they pass', async () => {
    const app = createApp(testConfig({ maxInFlight: 0, maxEventLoopDelayMs: 100 })).app;
    expect((await request(app).post(SIGN).send(CAUDA)).status).toBe(200);
    // Saturate the CPU: three 700 ms stretches with only a tick between them.
    for (let i = 0; i < 3; i++) {
      const until = performance.now() + 700;
      while (performance.now() < until) Math.sqrt(Math.random());
      await new Promise((r) => setTimeout(r, 0));
    }
    const shed = await request(app).post(SIGN).send(CAUDA);
    expect(shed.status).toBe(503);
    expect(shed.headers['retry-after']).toBe('1');
    expect(await shedCount(app, 'event-loop-delay')).toBe(1);
    await new Promise((r) => setTimeout(r, 2000));
    expect((await request(app).post(SIGN).send(CAUDA)).status).toBe(200);
  });
});

describe('failed authentication', () => {
  let key: TestKey;
  let file: string;
  let hanging: Server;
  let hangingUrl: string;

  beforeAll(async () => {
    key = await generateTestKey('ES384');
    // A key server on the allow-list that accepts the connection and never answers.
    hanging = createServer(() => undefined);
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    hangingUrl = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}/jwks.json`;
    file = join(mkdtempSync(join(tmpdir(), 'clients-')), 'trusted-clients.json');
    writeFileSync(
      file,
      JSON.stringify([
        { iss: TEST_ISS, jwks: jwksOf(key), fhir_servers: [] },
        { iss: 'https://hanging-keys.example.org', jwks_uri: hangingUrl, fhir_servers: [] },
      ]),
    );
  });
  afterAll(async () => {
    hanging.closeAllConnections();
    await new Promise((r) => hanging.close(r));
  });

  async function service(overrides: Partial<Config> = {}) {
    const config = testConfig({ auth: 'required', trustedClientsFile: file, publicBaseUrl: BASE, ...overrides });
    const { logger, lines } = captureLogger('info');
    const { app } = createApp(config, { clientAuth: await createClientAuth(config, logger), logger });
    return { app, lines };
  }

  it('past AUTH_FAILURES_PER_MINUTE failures from one address, its calls get 429 without their token being checked or logged', async () => {
    const { app, lines } = await service({ authFailuresPerMinute: 5 });
    const good = await signClientToken(key, { aud: `${BASE}${SIGN}` });
    expect((await request(app).post(SIGN).set('Authorization', bearer(good)).send(CAUDA)).status).toBe(200);
    const forged = forgeToken({ alg: 'ES384', typ: 'JWT', kid: key.kid }, { iss: TEST_ISS, aud: `${BASE}${SIGN}` }, 'c2lnbmF0dXJl');
    for (let i = 0; i < 5; i++) expect((await request(app).post(SIGN).set('Authorization', bearer(forged)).send(CAUDA)).status).toBe(401);
    const warnings = lines.filter((l) => l.includes('client-auth-failed')).length;
    expect(warnings).toBe(5);
    const throttled = await request(app).post(SIGN).set('Authorization', bearer(forged)).send(CAUDA);
    expect(throttled.status).toBe(429);
    expect(throttled.body.issue[0].code).toBe('throttled');
    // Refused before verification: nothing more logged, and even a valid token waits out the window.
    const fresh = await signClientToken(key, { aud: `${BASE}${SIGN}` });
    expect((await request(app).post(SIGN).set('Authorization', bearer(fresh)).send(CAUDA)).status).toBe(429);
    expect(lines.filter((l) => l.includes('client-auth-failed')).length).toBe(warnings);
  });

  it('successful calls are not counted against the address', async () => {
    const { app } = await service({ authFailuresPerMinute: 2 });
    for (let i = 0; i < 4; i++) {
      const token = await signClientToken(key, { aud: `${BASE}${SIGN}` });
      expect((await request(app).post(SIGN).set('Authorization', bearer(token)).send(CAUDA)).status).toBe(200);
    }
  });

  it('an allow-listed key server that hangs holds the caller for the JWKS timeout, then 401 jwks-unavailable', async () => {
    const { app } = await service({ jwksTimeoutMs: 500 });
    const other = await generateTestKey('ES384');
    const token = await signClientToken(other, { iss: 'https://hanging-keys.example.org', aud: `${BASE}${SIGN}` });
    const started = performance.now();
    const res = await request(app).post(SIGN).set('Authorization', bearer(token)).send(CAUDA);
    const ms = performance.now() - started;
    expect(res.status).toBe(401);
    expect(refusalReason(res.body)).toBe('jwks-unavailable');
    // Wide margin (shared machine): bounded by the 500 ms timeout, not by the server (which never answers).
    expect(ms).toBeLessThan(3000);
  });
});
