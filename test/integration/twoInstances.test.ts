/**
 * Two service instances behind one public URL, sharing one PostgreSQL (decision records) and one
 * Redis (jti replay cache, decision cache), as the docker-compose `two-instances` profile runs them.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app.js';
import { testConfig, type Config } from '../../src/config/config.js';
import { createLogger } from '../../src/log.js';
import { setupDecisionRecords, type DecisionRecords } from '../../src/records/setup.js';
import { createClientAuth } from '../../src/security/setup.js';
import { setupSharedState, type SharedState } from '../../src/http/sharedState.js';
import { createTestDatabase } from '../helpers/postgres.js';
import { refusalReason, bearer, generateTestKey, jwksOf, signClientToken, TEST_ISS, type TestKey } from '../helpers/tokens.js';
import { observedDecision } from '../support/outcome.js';

const ROOT = join(import.meta.dirname, '..', '..');
const CAUDA = JSON.parse(readFileSync(join(ROOT, 'cds-services/kp-wa-lumbar-mri/fixtures/I.B-cauda-equina-saddle-numbness-urinary-retention.json'), 'utf8'));
const PUBLIC = 'https://cds.example.org';
const SIGN = '/cds-services/lumbar-mri-order-sign';
const SELECT = '/cds-services/lumbar-mri-order-select';
const ADMIN = 'two-instance-operator-token';

interface Instance {
  readonly url: string;
  readonly server: Server;
  readonly records: DecisionRecords;
  readonly shared: SharedState;
}

describe('two instances sharing PostgreSQL and Redis', () => {
  let db: { url: string; drop: () => Promise<void> };
  let key: TestKey;
  let a: Instance;
  let b: Instance;
  const logger = createLogger('silent');
  const namespace = `test-${randomBytes(6).toString('hex')}`;

  async function start(config: Config): Promise<Instance> {
    const records = await setupDecisionRecords(config, logger);
    const shared = setupSharedState(config, logger, namespace);
    const clientAuth = await createClientAuth(config, logger, { replayCache: shared.replayCache });
    const { app } = createApp(config, { logger, clientAuth, decisionCache: shared.decisionCache, recorder: records.recorder, records: records.store });
    const server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, records, shared };
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    key = await generateTestKey('ES384');
    const clientsFile = join(tmpdir(), `trusted-clients-${namespace}.json`);
    writeFileSync(clientsFile, JSON.stringify([{ iss: TEST_ISS, jwks: jwksOf(key), fhir_servers: ['https://ehr.example.org/fhir'] }]));
    const config = testConfig({
      auth: 'required',
      trustedClientsFile: clientsFile,
      publicBaseUrl: PUBLIC,
      databaseUrl: db.url,
      redisUrl: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
      adminToken: ADMIN,
    });
    a = await start(config);
    b = await start(config);
  });

  afterAll(async () => {
    for (const i of [a, b]) {
      if (!i) continue;
      await new Promise((resolve) => i.server.close(resolve));
      await i.records.close();
      await i.shared.close();
    }
    await db?.drop();
  });

  const token = (path: string) => signClientToken(key, { aud: `${PUBLIC}${path}` });

  it('refuses on instance B a token already used on instance A', async () => {
    const t = await token(SIGN);
    const first = await request(a.url).post(SIGN).set('Authorization', bearer(t)).send(CAUDA);
    expect(first.status).toBe(200);
    const replay = await request(b.url).post(SIGN).set('Authorization', bearer(t)).send(CAUDA);
    expect(replay.status).toBe(401);
    expect(refusalReason(replay.body)).toBe('replayed-jti');
  });

  it('answers an order-sign on B from the decision order-select computed on A', async () => {
    const order = CAUDA.context.draftOrders.entry[0].resource;
    const select = { ...CAUDA, hook: 'order-select', hookInstance: '7e0b2c1a-5d6f-4a3b-8c9d-0e1f2a3b4c5d', context: { ...CAUDA.context, selections: [`ServiceRequest/${order.id}`] } };
    const selected = await request(a.url).post(SELECT).set('Authorization', bearer(await token(SELECT))).send(select);
    expect(selected.status).toBe(200);
    const hitsBefore = await cacheHits(b.url);
    const signed = await request(b.url).post(SIGN).set('Authorization', bearer(await token(SIGN))).send({ ...CAUDA, hookInstance: '8f1c3d2b-6e7a-4b4c-9d0e-1f2a3b4c5d6e' });
    expect(signed.status).toBe(200);
    expect(observedDecision(signed.body)).toMatchObject({ outcome: 'criteria-met', criterion: 'I.B' });
    expect(await cacheHits(b.url)).toBe(hitsBefore + 1);
  });

  it('lists the decision records of both instances from either one', async () => {
    const onA = await request(a.url).post(SIGN).set('Authorization', bearer(await token(SIGN))).send({ ...CAUDA, hookInstance: '9a2d4e3c-7f8b-4c5d-8e1f-2a3b4c5d6e7f' });
    const onB = await request(b.url).post(SIGN).set('Authorization', bearer(await token(SIGN))).send({ ...CAUDA, hookInstance: 'ab3e5f4d-8a9c-4d6e-9f2a-3b4c5d6e7f80' });
    const ids = [onA, onB].map((r) => observedDecision(r.body).extension!.extension!.find((e) => e.url === 'coverage-assertion-id')!.valueString!);
    expect(await a.records.log.flush(5_000)).toBe(0);
    expect(await b.records.log.flush(5_000)).toBe(0);
    const listed = await request(a.url).get(`/coverage-assertions?patient=${CAUDA.context.patientId}&limit=100`).set('Authorization', `Bearer ${ADMIN}`);
    expect(listed.status).toBe(200);
    const found = listed.body.items.map((i: { order: { coverageAssertionId: string } }) => i.order.coverageAssertionId);
    expect(found).toEqual(expect.arrayContaining(ids));
    const fromB = await request(b.url).get(`/coverage-assertions/${ids[0]}`).set('Authorization', `Bearer ${ADMIN}`);
    expect(fromB.status).toBe(200);
  });
});

async function cacheHits(url: string): Promise<number> {
  const res = await request(url).get('/metrics');
  const m = /cds_decision_cache_lookups_total\{result="hit"\} (\d+)/.exec(res.text);
  return m ? Number(m[1]) : 0;
}
