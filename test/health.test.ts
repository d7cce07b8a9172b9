import request from 'supertest';
import { beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../src/app.js';
import { testConfig } from '../src/config/config.js';
import { loadLibrary, type PolicyLibrary } from '../src/library/library.js';

let library: PolicyLibrary;
beforeAll(() => {
  library = loadLibrary();
});

describe('GET /health (readiness)', () => {
  it('is ready with the policies loaded: count and ids', async () => {
    const { app } = createApp(testConfig(), { library });
    const res = await request(app).get('/health');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'ok', policyCount: library.policies.length });
    expect(res.body.policyCount).toBeGreaterThanOrEqual(3);
    expect(res.body.policies).toContain('kp-wa-lumbar-mri@2024-01-01');
    expect(res.body.policies).toHaveLength(res.body.policyCount);
  });

  it('answers 503 when no policy is loaded', async () => {
    const { app } = createApp(testConfig(), { library: { ...library, policies: [] } });
    const res = await request(app).get('/health');
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ status: 'unavailable', policyCount: 0, checks: { policies: 'no policy loaded' } });
  });

  it('answers 503 naming a dependency that is not ready, and 200 once it is', async () => {
    let storeUp = false;
    const { app } = createApp(testConfig(), {
      library,
      readiness: [{ name: 'decision-records', check: async () => (storeUp ? undefined : 'database not reachable') }],
    });
    const down = await request(app).get('/health');
    expect(down.status).toBe(503);
    expect(down.body.checks).toEqual({ 'decision-records': 'database not reachable' });
    storeUp = true;
    const up = await request(app).get('/health');
    expect(up.status).toBe(200);
    expect(up.body.checks).toEqual({ 'decision-records': 'ok' });
  });

  it('a check that throws makes the service unready instead of failing the request', async () => {
    const { app } = createApp(testConfig(), {
      library,
      readiness: [{ name: 'cache', check: async () => { throw new Error('redis: connection refused'); } }],
    });
    const res = await request(app).get('/health');
    expect(res.status).toBe(503);
    expect(res.body.checks.cache).toBe('redis: connection refused');
  });
});
