import express, { type Express } from 'express';
import request from 'supertest';
import { beforeAll, describe, expect, it } from 'vitest';
import { createClientAuthenticator } from '../../src/security/clientAuth.js';
import { expectedAudience, requireClientAuth, type ClientAuthMiddlewareOptions } from '../../src/security/middleware.js';
import { errorHandler } from '../../src/http/errorHandler.js';
import { createMemoryReplayCache } from '../../src/security/replayCache.js';
import { captureLogger } from '../helpers/logs.js';
import { refusalReason, unauthorizedOutcome, bearer, generateTestKey, jwksOf, signClientToken, TEST_ISS, type TestKey } from '../helpers/tokens.js';

const BASE = 'https://cds.example.org/base';


function makeApp(key: TestKey, opts: Partial<ClientAuthMiddlewareOptions> & Pick<ClientAuthMiddlewareOptions, 'logger'>): Express {
  const auth = createClientAuthenticator({
    clients: [{ iss: TEST_ISS, jwks: jwksOf(key) as never, jkuAllowlist: [], fhirServers: ['https://ehr.example.org/fhir'] }],
    replayCache: createMemoryReplayCache(),
  });
  const app = express();
  app.use(express.json());
  const guard = requireClientAuth(auth, { mode: 'required', publicBaseUrl: BASE, ...opts });
  const echo = (_req: express.Request, res: express.Response) => res.json({ client: res.locals.client ?? null });
  app.get('/cds-services', guard, echo);
  app.post('/cds-services/:id', guard, echo);
  app.post('/cds-services/:id/feedback', guard, echo);
  app.use(errorHandler('100kb', captureLogger().logger));
  return app;
}

describe('requireClientAuth', () => {
  let key: TestKey;
  beforeAll(async () => {
    key = await generateTestKey('ES384');
  });

  it('sets res.locals.client for a token whose aud is the called URL', async () => {
    const { logger } = captureLogger();
    const app = makeApp(key, { logger });
    const token = await signClientToken(key, { aud: `${BASE}/cds-services/lumbar-mri`, jti: 'j-1' });
    const res = await request(app).post('/cds-services/lumbar-mri').set('Authorization', bearer(token)).send({});
    expect(res.status).toBe(200);
    expect(res.body.client).toMatchObject({ iss: TEST_ISS, jti: 'j-1', fhirServers: ['https://ehr.example.org/fhir'] });
  });

  it('computes aud for discovery and feedback, ignoring the query string', async () => {
    const { logger } = captureLogger();
    const app = makeApp(key, { logger });
    const d = await signClientToken(key, { aud: `${BASE}/cds-services` });
    expect((await request(app).get('/cds-services?x=1').set('Authorization', bearer(d))).status).toBe(200);
    const f = await signClientToken(key, { aud: `${BASE}/cds-services/lumbar-mri/feedback` });
    expect((await request(app).post('/cds-services/lumbar-mri/feedback').set('Authorization', bearer(f)).send({})).status).toBe(200);
  });

  it('tolerates a trailing slash in publicBaseUrl', async () => {
    const { logger } = captureLogger();
    const app = makeApp(key, { logger, publicBaseUrl: `${BASE}/` });
    const t = await signClientToken(key, { aud: `${BASE}/cds-services/lumbar-mri` });
    expect((await request(app).post('/cds-services/lumbar-mri').set('Authorization', bearer(t)).send({})).status).toBe(200);
    expect(expectedAudience('https://h//', '/cds-services/x?y')).toBe('https://h/cds-services/x');
  });

  it('answers 401 with only the machine reason, and logs iss/jti/reason but never the token', async () => {
    const { logger, lines } = captureLogger();
    const app = makeApp(key, { logger });
    const token = await signClientToken(key, { aud: `${BASE}/cds-services/other`, jti: 'jti-log' });
    const res = await request(app).post('/cds-services/lumbar-mri').set('Authorization', bearer(token)).send({});
    expect(res.status).toBe(401);
    expect(res.headers['content-type']).toMatch(/application\/json/);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(res.body).toEqual(unauthorizedOutcome('bad-audience'));
    expect(res.text).not.toContain(token);
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0] as string) as Record<string, unknown>;
    expect(line).toMatchObject({ reason: 'bad-audience', iss: TEST_ISS, jti: 'jti-log', path: '/cds-services/lumbar-mri' });
    const [, payload, sig] = token.split('.');
    expect(lines[0]).not.toContain(payload as string);
    expect(lines[0]).not.toContain(sig as string);
  });

  it('a token for localhost on a service that is 127.0.0.1 (or the reverse): the log names the expected and the received aud', async () => {
    const { logger, lines } = captureLogger();
    const app = makeApp(key, { logger, publicBaseUrl: 'http://127.0.0.1:3000' });
    const token = await signClientToken(key, { aud: 'http://localhost:3000/cds-services/lumbar-mri' });
    const res = await request(app).post('/cds-services/lumbar-mri').set('Authorization', bearer(token)).send({});
    expect(res.body).toEqual(unauthorizedOutcome('bad-audience'));
    const line = JSON.parse(lines[0] as string) as Record<string, unknown>;
    expect(line).toMatchObject({ aud: 'http://127.0.0.1:3000/cds-services/lumbar-mri', receivedAud: ['http://localhost:3000/cds-services/lumbar-mri'] });
    expect(line.msg).toBe(
      "CDS client authentication failed: bad-audience: the token's aud is http://localhost:3000/cds-services/lumbar-mri, this endpoint expects http://127.0.0.1:3000/cds-services/lumbar-mri (PUBLIC_BASE_URL must be the base the client calls)",
    );
  });

  it('answers 401 missing-token without a header', async () => {
    const { logger } = captureLogger();
    const res = await request(makeApp(key, { logger })).post('/cds-services/lumbar-mri').send({});
    expect(res.status).toBe(401);
    expect(res.body).toEqual(unauthorizedOutcome('missing-token'));
  });

  it('refuses a replayed token with 401 replayed-jti', async () => {
    const { logger } = captureLogger();
    const app = makeApp(key, { logger });
    const t = await signClientToken(key, { aud: `${BASE}/cds-services/lumbar-mri` });
    expect((await request(app).post('/cds-services/lumbar-mri').set('Authorization', bearer(t)).send({})).status).toBe(200);
    const again = await request(app).post('/cds-services/lumbar-mri').set('Authorization', bearer(t)).send({});
    expect(again.status).toBe(401);
    expect(refusalReason(again.body)).toBe('replayed-jti');
  });

  it("mode 'off' passes through and sets no client", async () => {
    const { logger, lines } = captureLogger();
    const app = makeApp(key, { logger, mode: 'off' });
    const res = await request(app).post('/cds-services/lumbar-mri').send({});
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ client: null });
    expect(lines).toHaveLength(0);
  });

  it('passes non-auth errors to the Express error handler', async () => {
    const { logger } = captureLogger();
    const app = express();
    app.post(
      '/cds-services/x',
      requireClientAuth({ authenticate: () => Promise.reject(new Error('boom')) }, { mode: 'required', publicBaseUrl: BASE, logger }),
      (_req, res) => res.json({}),
    );
    app.use((err: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(500).json({ handled: err.message });
    });
    const res = await request(app).post('/cds-services/x');
    expect(res.status).toBe(500);
    expect(res.body).toEqual({ handled: 'boom' });
  });
});
