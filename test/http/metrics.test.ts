import { readFileSync } from 'node:fs';
import request from 'supertest';
import { beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app.js';
import { testConfig } from '../../src/config/config.js';
import { loadLibrary, type PolicyLibrary } from '../../src/library/library.js';
import { createMetrics } from '../../src/http/metrics.js';

let library: PolicyLibrary;
beforeAll(() => {
  library = loadLibrary();
});

const fixture = (path: string): object => JSON.parse(readFileSync(path, 'utf8')) as object;

/** The value of one series in Prometheus text, or undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('GET /metrics', () => {
  it('counts hook calls by service, status and outcome, with latency and decisions by policy', async () => {
    const { app } = createApp(testConfig(), { library });
    const met = fixture('cds-services/kp-wa-lumbar-mri/fixtures/I.B-cauda-equina-saddle-numbness-urinary-retention.json');
    const ni = fixture('cds-services/kp-wa-lumbar-mri/fixtures/NI-uncomplicated-acute-low-back-pain.json');
    await request(app).post('/cds-services/lumbar-mri-order-sign').send(met).expect(200);
    await request(app).post('/cds-services/lumbar-mri-order-sign').send(met).expect(200);
    await request(app).post('/cds-services/lumbar-mri-order-sign').send(ni).expect(200);
    await request(app).post('/cds-services/lumbar-mri-order-sign').set('content-type', 'application/json').send('{"hook":').expect(400);
    await request(app).post('/cds-services/no-such-service').send(met).expect(404);
    await request(app).post('/cds-services/another-unknown').send(met).expect(404);

    const res = await request(app).get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = res.text;
    expect(sample(text, 'cds_hook_requests_total{service="lumbar-mri-order-sign",status="200",outcome="criteria-met"}')).toBe(2);
    expect(sample(text, 'cds_hook_requests_total{service="lumbar-mri-order-sign",status="200",outcome="not-indicated"}')).toBe(1);
    expect(sample(text, 'cds_hook_requests_total{service="lumbar-mri-order-sign",status="400",outcome="error"}')).toBe(1);
    // Unknown service ids share one label value: callers cannot create series at will.
    expect(sample(text, 'cds_hook_requests_total{service="unknown",status="404",outcome="error"}')).toBe(2);
    expect(text).not.toContain('no-such-service');
    expect(sample(text, 'cds_hook_duration_seconds_count{service="lumbar-mri-order-sign"}')).toBe(3);
    expect(sample(text, 'cds_order_decisions_total{policy="kp-wa-lumbar-mri",outcome="criteria-met"}')).toBe(2);
    // Patient ids never become labels.
    expect(text).not.toMatch(/pat-[0-9a-f]{16}/);
  });

  it('exposes the decision cache counters the cache reports to', async () => {
    const metrics = createMetrics();
    const { app } = createApp(testConfig(), { library, metrics });
    let text = (await request(app).get('/metrics')).text;
    expect(sample(text, 'cds_decision_cache_lookups_total{result="hit"}')).toBe(0);
    metrics.cacheHit();
    metrics.cacheHit();
    metrics.cacheMiss();
    text = (await request(app).get('/metrics')).text;
    expect(sample(text, 'cds_decision_cache_lookups_total{result="hit"}')).toBe(2);
    expect(sample(text, 'cds_decision_cache_lookups_total{result="miss"}')).toBe(1);
  });

  it('gives every app its own registry (no collisions, no shared counts)', async () => {
    const a = createApp(testConfig(), { library });
    const b = createApp(testConfig(), { library });
    await request(a.app).post('/cds-services/lumbar-mri-order-sign').send(fixture('cds-services/kp-wa-lumbar-mri/fixtures/NI-uncomplicated-acute-low-back-pain.json')).expect(200);
    const textB = (await request(b.app).get('/metrics')).text;
    expect(sample(textB, 'cds_hook_requests_total{service="lumbar-mri-order-sign",status="200",outcome="not-indicated"}')).toBeUndefined();
  });

  it('adds process metrics only when asked', async () => {
    expect(await createMetrics().render().then((r) => r.body)).not.toContain('process_cpu_user_seconds_total');
    expect(await createMetrics({ processMetrics: true }).render().then((r) => r.body)).toContain('process_cpu_user_seconds_total');
  });
});
