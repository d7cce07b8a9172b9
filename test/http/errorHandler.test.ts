import request from 'supertest';
import { beforeAll, describe, expect, it } from 'vitest';
import { testConfig } from '../../src/config/config.js';
import { createApp } from '../../src/http/app.js';
import { loadLibrary, type PolicyLibrary } from '../../src/library/library.js';
import { captureLogger } from '../helpers/logs.js';
import { refusalReason } from '../helpers/tokens.js';

const SIGN = '/cds-services/lumbar-mri-order-sign';

let library: PolicyLibrary;
beforeAll(() => {
  library = loadLibrary();
});

/** Every refusal is a FHIR OperationOutcome with one error issue. */
function expectOutcome(body: unknown, code: string): void {
  expect(body).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code, diagnostics: expect.any(String) }] });
}

describe('the error handler at the edge', () => {
  it('answers a 401 (operator token missing) as an OperationOutcome with the challenge header and the reason', async () => {
    const { app } = createApp(testConfig({ metricsToken: 'a-metrics-token-of-some-length' }), { library });
    const res = await request(app).get('/metrics');
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer');
    expectOutcome(res.body, 'login');
    expect(refusalReason(res.body)).toBe('metrics token required');
    // The right token passes the same door.
    expect((await request(app).get('/metrics').set('Authorization', 'Bearer a-metrics-token-of-some-length')).status).toBe(200);
  });

  it('answers 404 for an unknown route and for an unknown CDS service, each as an OperationOutcome', async () => {
    const { app } = createApp(testConfig(), { library });
    const route = await request(app).get('/no-such-route');
    expect(route.status).toBe(404);
    expectOutcome(route.body, 'not-found');
    const service = await request(app).post('/cds-services/no-such-service').send({});
    expect(service.status).toBe(404);
    expectOutcome(service.body, 'not-found');
    expect(service.body.issue[0].diagnostics).toMatch(/No CDS service "no-such-service"/);
  });

  it('answers 413 for a body over the limit and 415 for a body that is not JSON, and logs the rejection without the body', async () => {
    const { logger, lines } = captureLogger('warn');
    const { app } = createApp(testConfig({ bodyLimit: '1kb' }), { library, logger });
    const large = await request(app).post(SIGN).set('Content-Type', 'application/json').send(JSON.stringify({ hook: 'order-sign', pad: 'x'.repeat(4096) }));
    expect(large.status).toBe(413);
    expectOutcome(large.body, 'too-costly');
    expect(large.body.issue[0].diagnostics).toContain('1kb');
    const form = await request(app).post(SIGN).set('Content-Type', 'text/plain').send('hook=order-sign');
    expect(form.status).toBe(415);
    expectOutcome(form.body, 'not-supported');
    const rejected = lines.map((l) => JSON.parse(l) as { msg: string; status?: number; code?: string }).filter((l) => l.msg === 'request rejected');
    expect(rejected.map((l) => [l.status, l.code])).toEqual([
      [413, 'entity.too.large'],
      [415, 'not-supported'],
    ]);
    expect(lines.join('\n')).not.toContain('xxxx');
  });

  it('answers 400 for a body that is not JSON and 429 past the rate limit, with Retry-After headers where they belong', async () => {
    const { app } = createApp(testConfig({ rateLimitPerMinute: 1 }), { library });
    const broken = await request(app).post(SIGN).set('Content-Type', 'application/json').send('{"hook":');
    expect(broken.status).toBe(400);
    expectOutcome(broken.body, 'invalid');
    const throttled = await request(app).post(SIGN).set('Content-Type', 'application/json').send('{}');
    expect(throttled.status).toBe(429);
    expectOutcome(throttled.body, 'throttled');
  });
});
