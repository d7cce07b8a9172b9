/**
 * The operator surfaces: the coverage-assertion API refuses what would widen or break its answer
 * (repeated or unknown parameters, dates the database cannot hold) with a 400 OperationOutcome and
 * throttles wrong tokens; secrets shorter than 32 characters stop the service at start-up; with
 * authentication on the playground is off unless asked for and /metrics can require a token; with
 * authentication off the service listens on loopback unless told otherwise.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app.js';
import { ConfigError, loadConfig, testConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/log.js';
import type { DecisionRecords } from '../../src/records/setup.js';
import { recordedApp } from '../helpers/recordedApp.js';
import { fixturePath } from '../helpers/fixtures.js';

const ROOT = join(import.meta.dirname, '..', '..');
const fixture = (path: string) => JSON.parse(readFileSync(fixturePath(path), 'utf8')) as { context: { patientId: string } } & Record<string, unknown>;
/** Two patients with a recorded decision each: a filter that is dropped would show the other one. */
const CAUDA = fixture('kp-wa-lumbar-mri/I.B-cauda-equina-saddle-numbness-urinary-retention.json');
const ACUTE = fixture('kp-wa-lumbar-mri/NI-uncomplicated-acute-low-back-pain.json');
const SIGN = '/cds-services/lumbar-mri-order-sign';
const ADMIN = 'operator-token-0123456789abcdef-0123456789';
const METRICS = 'metrics-token-0123456789abcdef-0123456789';

describe('the operator API (/coverage-assertions)', () => {
  let records: DecisionRecords;
  let app: ReturnType<typeof createApp>['app'];
  const logger = createLogger('silent');
  const get = (path: string, token = ADMIN) => request(app).get(path).set('Authorization', `Bearer ${token}`);

  beforeAll(async () => {
    ({ app, records } = await recordedApp(testConfig({ adminToken: ADMIN, adminFailuresPerMinute: 3 }), logger));
    expect((await request(app).post(SIGN).send(CAUDA)).status).toBe(200);
    expect((await request(app).post(SIGN).send(ACUTE)).status).toBe(200);
  });
  afterAll(async () => {
    await records.close();
  });

  it('lists one patient\'s records, and refuses a repeated patient rather than dropping the filter', async () => {
    const one = await get(`/coverage-assertions?patient=${CAUDA.context.patientId}`);
    expect(one.status).toBe(200);
    expect(one.body.items.length).toBeGreaterThan(0);
    expect(one.body.items.every((i: { call: { patientRef: string } }) => i.call.patientRef === `Patient/${CAUDA.context.patientId}`)).toBe(true);

    const both = await get(`/coverage-assertions?patient=${CAUDA.context.patientId}&patient=${ACUTE.context.patientId}`);
    expect(both.status).toBe(400);
    expect(both.body.resourceType).toBe('OperationOutcome');
    expect(both.body.issue[0].expression).toEqual(['patient']);
    expect(both.body.issue[0].diagnostics).toMatch(/once/);
  });

  it('refuses a misspelt parameter instead of listing everyone', async () => {
    const res = await get(`/coverage-assertions?patinet=${CAUDA.context.patientId}`);
    expect(res.status).toBe(400);
    expect(res.body.issue[0].expression).toEqual(['patinet']);
  });

  it('answers 400, never 500, to dates the database cannot hold, and accepts FHIR dates and instants', async () => {
    for (const from of ['275760-09-13', '+275760-09-13', '2024-13-01', '2024-02-30T25:00:00Z', 'yesterday', '']) {
      const res = await get(`/coverage-assertions?from=${encodeURIComponent(from)}`);
      if (from === '') {
        expect(res.status).toBe(400); // an empty value is not "no filter"
        continue;
      }
      expect(res.status, from).toBe(400);
      expect(res.body.issue[0].expression).toEqual(['from']);
    }
    for (const from of ['2000', '2000-01', '2000-01-01', '2000-01-01T00:00:00Z', '2000-01-01T00:00:00.123+01:00']) {
      const res = await get(`/coverage-assertions?from=${encodeURIComponent(from)}&to=2999-12-31`);
      expect(res.status, from).toBe(200);
      expect(res.body.total).toBeGreaterThanOrEqual(2);
    }
    expect((await get('/coverage-assertions?limit=0')).status).toBe(400);
    expect((await get('/coverage-assertions?limit=1001')).status).toBe(400);
    expect((await get('/coverage-assertions?limit=1')).body.total).toBe(1);
  });

  it('throttles wrong tokens per address: past the limit even the right token waits', async () => {
    const other = createApp(testConfig({ adminToken: ADMIN, adminFailuresPerMinute: 3 }), { logger, records: records.store }).app;
    const wrong = () => request(other).get('/coverage-assertions?limit=1').set('Authorization', 'Bearer not-the-operator-token-0123456789abc');
    for (let i = 0; i < 3; i++) expect((await wrong()).status).toBe(401);
    const throttled = await wrong();
    expect(throttled.status).toBe(429);
    expect(throttled.body.issue[0].code).toBe('throttled');
    expect((await request(other).get('/coverage-assertions?limit=1').set('Authorization', `Bearer ${ADMIN}`)).status).toBe(429);
  });
});

describe('start-up configuration', () => {
  it('refuses an ADMIN_TOKEN, METRICS_TOKEN or DECISION_CACHE_KEY shorter than 32 characters', () => {
    expect(() => loadConfig({ ADMIN_TOKEN: 'x' })).toThrow(ConfigError);
    expect(() => loadConfig({ ADMIN_TOKEN: 'a'.repeat(31) })).toThrow(/ADMIN_TOKEN must be at least 32 characters/);
    expect(loadConfig({ ADMIN_TOKEN: 'a'.repeat(32) }).adminToken).toBe('a'.repeat(32));
    expect(() => loadConfig({ METRICS_TOKEN: 'short' })).toThrow(/METRICS_TOKEN/);
    expect(() => loadConfig({ DECISION_CACHE_KEY: 'short' })).toThrow(/DECISION_CACHE_KEY/);
  });

  it('requires DECISION_CACHE_KEY when the decision cache is shared in Redis', () => {
    expect(() => loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379' })).toThrow(/DECISION_CACHE_KEY/);
    expect(loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379', DECISION_CACHE_TTL_SECONDS: '0' }).redisUrl).toBeDefined();
    expect(loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379', DECISION_CACHE_KEY: 'k'.repeat(32) }).decisionCacheKey).toBe('k'.repeat(32));
  });

  it('listens on loopback with authentication off, on every interface with it on, and where HOST says', () => {
    expect(loadConfig({}).host).toBe('127.0.0.1');
    expect(loadConfig({ CDS_AUTH: 'required' }).host).toBe('0.0.0.0');
    expect(loadConfig({ HOST: '0.0.0.0' }).host).toBe('0.0.0.0');
    expect(loadConfig({ CDS_AUTH: 'required', HOST: '10.0.0.5' }).host).toBe('10.0.0.5');
  });

  it('turns the playground off with authentication on unless PLAYGROUND=on', () => {
    expect(loadConfig({}).playground).toBe(true);
    expect(loadConfig({ CDS_AUTH: 'required' }).playground).toBe(false);
    expect(loadConfig({ CDS_AUTH: 'required', PLAYGROUND: 'on' }).playground).toBe(true);
    expect(loadConfig({ PLAYGROUND: 'off' }).playground).toBe(false);
    expect(() => loadConfig({ PLAYGROUND: 'yes' })).toThrow(/PLAYGROUND must be "on" or "off"/);
  });

  it('the server stops with one line naming the setting, not a stack trace', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/server.ts')], {
      env: { ...process.env, ADMIN_TOKEN: 'x', PORT: '0', LOG_LEVEL: 'silent' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(run.status).toBe(1);
    expect(run.stderr.trim().split('\n')).toEqual(['lumbar-mri-cds: not started: ADMIN_TOKEN must be at least 32 characters (got 1); e.g. openssl rand -hex 32']);
  });
});

describe('the playground and /metrics with authentication on', () => {
  it('serves no playground unless enabled', async () => {
    const off = createApp(testConfig({ playground: false })).app;
    expect((await request(off).get('/playground/fixtures')).status).toBe(404);
    const on = createApp(testConfig({ playground: true })).app;
    expect((await request(on).get('/playground/fixtures')).status).toBe(200);
  });

  it('requires the metrics token when METRICS_TOKEN is set', async () => {
    const app = createApp(testConfig({ metricsToken: METRICS })).app;
    expect((await request(app).get('/metrics')).status).toBe(401);
    expect((await request(app).get('/metrics').set('Authorization', 'Bearer metrics-token-0123456789abcdef-wrong-00000')).status).toBe(401);
    const ok = await request(app).get('/metrics').set('Authorization', `Bearer ${METRICS}`);
    expect(ok.status).toBe(200);
    expect(ok.text).toContain('cds_hook_requests_total');
    const open = createApp(testConfig()).app;
    expect((await request(open).get('/metrics')).status).toBe(200);
  });
});
