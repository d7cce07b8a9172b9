import request from 'supertest';
import { beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app.js';
import { testConfig } from '../../src/config/config.js';
import { loadLibrary, type PolicyLibrary } from '../../src/library/library.js';
import { setupSharedState } from '../../src/http/sharedState.js';
import { createLogger } from '../../src/log.js';

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

describe('GET /health/live and /health/ready', () => {
  it('live answers 200 while ready answers 503 naming what is down; /health is readiness', async () => {
    const { app } = createApp(testConfig(), {
      library,
      readiness: [{ name: 'decision-records', check: async () => 'local record store not writable: SQLITE_FULL' }],
    });
    const live = await request(app).get('/health/live');
    expect(live.status).toBe(200);
    expect(live.body).toEqual({ status: 'ok' });
    for (const path of ['/health/ready', '/health']) {
      const ready = await request(app).get(path);
      expect(ready.status).toBe(503);
      expect(ready.body).toMatchObject({ status: 'unavailable', checks: { 'decision-records': 'local record store not writable: SQLITE_FULL' } });
    }
  });

  it('with REDIS_URL, readiness checks Redis: ok when it answers, named when it does not', async () => {
    const logger = createLogger('silent');
    const up = setupSharedState(testConfig({ redisUrl: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379' }), logger, `test-health-${Date.now()}`);
    const down = setupSharedState(testConfig({ redisUrl: 'redis://127.0.0.1:1' }), logger, 'test-health-down');
    try {
      const ok = await request(createApp(testConfig(), { library, readiness: up.readiness }).app).get('/health/ready');
      expect(ok.status).toBe(200);
      expect(ok.body.checks).toEqual({ redis: 'ok' });
      const bad = await request(createApp(testConfig(), { library, readiness: down.readiness }).app).get('/health/ready');
      expect(bad.status).toBe(503);
      expect(bad.body.checks.redis).toMatch(/^Redis not reachable: /);
    } finally {
      await up.close();
      await down.close();
    }
    // Without REDIS_URL there is nothing to check.
    expect(setupSharedState(testConfig(), logger).readiness).toEqual([]);
  });
});
