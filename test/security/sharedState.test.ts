/**
 * State that cannot be forged or forgotten, against the Redis CI starts (TEST_REDIS_URL, default
 * redis://127.0.0.1:6379). Each test has its own key prefix, and "Redis restarted" is simulated by
 * deleting that prefix's keys (never FLUSHALL: the server is shared).
 *
 * - A decision-cache entry edited in Redis is a miss (counted), not a covered decision; entries hold
 *   no member id.
 * - A token issued before the replay cache lost its memory is refused; a fresh one passes.
 * - Redis unreachable: hook calls get 503 with an OperationOutcome, not 401.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app.js';
import { testConfig, type Config } from '../../src/config/config.js';
import { createLogger } from '../../src/log.js';
import { createClientAuth } from '../../src/security/setup.js';
import { setupSharedState, type SharedState } from '../../src/http/sharedState.js';
import { observedDecision } from '../support/outcome.js';
import { refusalReason, bearer, generateTestKey, jwksOf, signClientToken, TEST_ISS, type TestKey } from '../helpers/tokens.js';
import { fixturePath } from '../helpers/fixtures.js';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const ROOT = join(import.meta.dirname, '..', '..');
const fixture = (path: string) => JSON.parse(readFileSync(fixturePath(path), 'utf8'));
/** Not indicated (uncomplicated acute low back pain) on a KP WA commercial Coverage with a member id. */
const ACUTE = fixture('kp-wa-lumbar-mri/NI-uncomplicated-acute-low-back-pain.json');
const PUBLIC = 'http://127.0.0.1:3000';
const SIGN = '/cds-services/lumbar-mri-order-sign';
const SELECT = '/cds-services/lumbar-mri-order-select';
const KEY = 'decision-cache-key-for-tests-0123456789abcdef';
const logger = createLogger('silent');

const selectFrom = (sign: typeof ACUTE) => {
  const order = sign.context.draftOrders.entry[0].resource;
  return { ...sign, hook: 'order-select', hookInstance: '1f0e2d3c-4b5a-4697-8877-665544332211', context: { ...sign.context, selections: [`ServiceRequest/${order.id}`] } };
};

/** Deletes every key under `prefix`: what a Redis restart without persistence does to them. */
async function forget(redis: Redis, prefix: string): Promise<number> {
  let removed = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    cursor = next;
    if (keys.length) removed += await redis.del(...keys);
  } while (cursor !== '0');
  return removed;
}

/** The decision entries in Redis (their keys are digests), not the note beside them that a patient has some. */
async function entryKeys(redis: Redis, namespace: string): Promise<string[]> {
  return (await redis.keys(`${namespace}:decision:*`)).filter((k) => /:decision:[0-9a-f]{64}$/.test(k));
}

async function metric(app: Parameters<typeof request>[0], name: string): Promise<number> {
  const text = (await request(app).get('/metrics')).text;
  const m = new RegExp(`^${name.replace(/[{}"=]/g, '\\$&')} (\\d+)`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

describe('shared state in Redis', () => {
  let redis: Redis;
  let key: TestKey;
  let clientsFile: string;
  const states: SharedState[] = [];

  beforeAll(async () => {
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    key = await generateTestKey('ES384');
    clientsFile = join(tmpdir(), `trusted-clients-${randomBytes(6).toString('hex')}.json`);
    writeFileSync(clientsFile, JSON.stringify([{ iss: TEST_ISS, jwks: jwksOf(key), fhir_servers: [] }]));
  });
  afterAll(async () => {
    for (const s of states) await s.close();
    redis?.disconnect();
  });

  async function service(overrides: Partial<Config> = {}) {
    const namespace = `lumbar-cds-test:${randomBytes(6).toString('hex')}`;
    const config = testConfig({ redisUrl: REDIS_URL, decisionCacheKey: KEY, publicBaseUrl: PUBLIC, ...overrides });
    const shared = setupSharedState(config, logger, namespace);
    states.push(shared);
    const clientAuth = config.auth === 'required' ? await createClientAuth(config, logger, { replayCache: shared.replayCache }) : undefined;
    const { app } = createApp(config, { logger, clientAuth, decisionCache: shared.decisionCache });
    return { app, namespace };
  }

  it('an entry edited in Redis to read "criteria met" is a miss, counted, and the order is still not indicated', async () => {
    const { app, namespace } = await service();
    expect((await request(app).post(SELECT).send(selectFrom(ACUTE))).status).toBe(200);
    const [entryKey] = await entryKeys(redis, namespace);
    expect(entryKey).toBeDefined();
    const stored = (await redis.get(entryKey as string)) as string;
    // No member id, subscriber or beneficiary of the Coverage in the entry.
    const coverage = ACUTE.prefetch.coverage.entry[0].resource;
    expect(coverage.subscriberId).toBeTruthy();
    expect(stored).not.toContain(coverage.subscriberId);
    expect(stored).toContain('not-indicated');

    const forged = stored.replaceAll('"not-indicated"', '"criteria-met"');
    expect(forged).not.toBe(stored);
    await redis.set(entryKey as string, forged, 'KEEPTTL');
    const rejectedBefore = await metric(app, 'cds_decision_cache_rejected_total');
    const signed = await request(app).post(SIGN).send(ACUTE);
    expect(signed.status).toBe(200);
    const decision = observedDecision(signed.body);
    expect(decision.outcome).toBe('not-indicated');
    expect(decision.extension?.extension?.some((e) => e.url === 'satisfied-pa-id')).toBe(false);
    expect(await metric(app, 'cds_decision_cache_rejected_total')).toBe(rejectedBefore + 1);
    expect(await metric(app, 'cds_decision_cache_lookups_total{result="hit"}')).toBe(0);
  });

  it('an untouched entry is a hit, and an entry copied under another key is a miss', async () => {
    const { app, namespace } = await service();
    expect((await request(app).post(SELECT).send(selectFrom(ACUTE))).status).toBe(200);
    expect((await request(app).post(SIGN).send(ACUTE)).status).toBe(200);
    expect(await metric(app, 'cds_decision_cache_lookups_total{result="hit"}')).toBe(1);

    // The same entry, moved to the key of another order (its MAC names the key it was written for).
    const [entryKey] = await entryKeys(redis, namespace);
    const stored = (await redis.get(entryKey as string)) as string;
    const other = structuredClone(ACUTE);
    other.context.draftOrders.entry[0].resource.occurrenceDateTime = '2024-06-20';
    expect((await request(app).post(SELECT).send(selectFrom(other))).status).toBe(200);
    const keys = await entryKeys(redis, namespace);
    const otherKey = keys.find((k) => k !== entryKey) as string;
    await redis.set(otherKey, stored, 'KEEPTTL');
    expect((await request(app).post(SIGN).send(other)).status).toBe(200);
    expect(await metric(app, 'cds_decision_cache_rejected_total')).toBe(1);
  });

  it('notes beside the entries, for no less long and without the patient id, that a patient has some; a note Redis lost is a miss', async () => {
    const { app, namespace } = await service();
    expect((await request(app).post(SELECT).send(selectFrom(ACUTE))).status).toBe(200);
    const [entryKey] = await entryKeys(redis, namespace);
    const notes = await redis.keys(`${namespace}:decision:patient:*`);
    expect(notes).toHaveLength(1);
    expect(notes[0]).not.toContain(ACUTE.context.patientId);
    // Noted after the entry with the same time to live: it expires no sooner (absolute times, in ms).
    const [entryExpires, noteExpires] = await Promise.all([redis.call('PEXPIRETIME', entryKey as string), redis.call('PEXPIRETIME', notes[0] as string)]);
    expect(Number(noteExpires)).toBeGreaterThanOrEqual(Number(entryExpires));
    expect(Number(noteExpires)).toBeLessThanOrEqual(Date.now() + 600_000);

    // Without the note, order-sign looks nothing up: a miss, the order decided again (the same).
    await redis.del(notes[0] as string);
    const signed = await request(app).post(SIGN).send(ACUTE);
    expect(observedDecision(signed.body).outcome).toBe('not-indicated');
    expect(await metric(app, 'cds_decision_cache_lookups_total{result="hit"}')).toBe(0);
    expect(await metric(app, 'cds_decision_cache_lookups_total{result="miss"}')).toBe(1);
    // order-select notes it again.
    expect((await request(app).post(SELECT).send(selectFrom(ACUTE))).status).toBe(200);
    expect((await request(app).post(SIGN).send(ACUTE)).status).toBe(200);
    expect(await metric(app, 'cds_decision_cache_lookups_total{result="hit"}')).toBe(1);
  });

  it('refuses a token issued before Redis lost its keys (it may have been used), and accepts a new one', async () => {
    const { app, namespace } = await service({ auth: 'required', trustedClientsFile: clientsFile });
    const used = await signClientToken(key, { aud: `${PUBLIC}${SIGN}` });
    expect((await request(app).post(SIGN).set('Authorization', bearer(used)).send(ACUTE)).status).toBe(200);
    const replayed = await request(app).post(SIGN).set('Authorization', bearer(used)).send(ACUTE);
    expect(refusalReason(replayed.body)).toBe('replayed-jti');

    await new Promise((r) => setTimeout(r, 1100)); // iat has one-second resolution
    expect(await forget(redis, `${namespace}:`)).toBeGreaterThan(0);
    const afterRestart = await request(app).post(SIGN).set('Authorization', bearer(used)).send(ACUTE);
    expect(afterRestart.status).toBe(401);
    expect(refusalReason(afterRestart.body)).toBe('issued-before-replay-cache');

    const fresh = await signClientToken(key, { aud: `${PUBLIC}${SIGN}` });
    expect((await request(app).post(SIGN).set('Authorization', bearer(fresh)).send(ACUTE)).status).toBe(200);
    expect(refusalReason((await request(app).post(SIGN).set('Authorization', bearer(fresh)).send(ACUTE)).body)).toBe('replayed-jti');
  });

  it('with Redis unreachable, a hook call gets 503 and an OperationOutcome, not 401', async () => {
    // A port that was free a moment ago: nothing listens there.
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const { app } = await service({ auth: 'required', trustedClientsFile: clientsFile, redisUrl: `redis://127.0.0.1:${port}` });
    const res = await request(app).post(SIGN).set('Authorization', bearer(await signClientToken(key, { aud: `${PUBLIC}${SIGN}` }))).send(ACUTE);
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('5');
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect(res.body.issue[0].code).toBe('transient');
    expect(res.body.issue[0].diagnostics).toMatch(/replay cache is unavailable/);
  });
});
