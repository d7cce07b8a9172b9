/**
 * PAS claim state lives in the decision-record database: a claim submitted, the service restarted
 * on the same SQLite file, and `$inquire` answers the same ClaimResponse; with PostgreSQL, a claim
 * submitted on one instance is inquired (and updated) on another; a database left at migration
 * `0002-outbox` takes `0003-prior-auth` and keeps what it held.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Claim, Parameters, Questionnaire } from 'fhir/r4.js';
import { Migrator, type Kysely } from 'kysely';
import request from 'supertest';
import { afterAll, describe, expect, it } from 'vitest';
import { testConfig, type Config } from '../../src/config/config.js';
import { migrationProvider, MIGRATION_NAMES } from '../../src/store/migrations.js';
import { openPostgres, openSqlite } from '../../src/store/openRecordDatabase.js';
import type { RecordDatabase } from '../../src/store/recordSchema.js';
import { SqlDecisionRecordStore } from '../../src/store/sqlDecisionRecordStore.js';
import { createTestDatabase } from '../helpers/postgres.js';
import { recordedApp } from '../helpers/recordedApp.js';
import { hookCall } from '../store/fixtures.js';
import { answer, claimResponseOf, itemsOf, orderAuthored, pasFixture, withResponse, type PasBundle as Bundle } from './support.js';

const DOC_MA = 'medicare-advantage-lumbar-mri/IND.5-repeat-reason-undocumented.json';
const DENY_KP = 'kp-wa-lumbar-mri/I.A-stable-exam-no-red-flags-not-indicated.json';
const ASKED = ['new-or-worsening-symptoms', 'prior-indeterminate-finding', 'monitoring-need-established'];

type App = Awaited<ReturnType<typeof recordedApp>>['app'];
const submit = (app: App, body: unknown) => request(app).post('/fhir/Claim/$submit').set('content-type', 'application/fhir+json').send(JSON.stringify(body));
const inquire = (app: App, body: unknown) => request(app).post('/fhir/Claim/$inquire').set('content-type', 'application/fhir+json').send(JSON.stringify(body));
const inquired = (res: request.Response): Bundle => (res.body as Parameters).parameter![0]!.resource as Bundle;

function claimOf(bundle: Bundle): Claim {
  const c = bundle.entry![0]!.resource!;
  if (c.resourceType !== 'Claim') throw new Error('no claim');
  return c;
}

/** The documentation answered, sent as a PAS Claim Update naming the pended claim. */
async function claimUpdate(app: App, pended: Bundle): Promise<Bundle> {
  const url = /questionnaire (\S+) /.exec(itemsOf(pended)[0]!.notes[0]!)![1]!;
  const q = (await request(app).get(new URL(url).pathname)).body as Questionnaire;
  const linkIds = (q.item ?? []).flatMap((g) => g.item ?? []).map((i) => i.linkId).filter((l) => ASKED.includes(l));
  const update = withResponse(pasFixture(DOC_MA), answer(q, linkIds, true, 'qr-persist', orderAuthored(pasFixture(DOC_MA))));
  const claim = claimOf(update);
  claim.related = [{ claim: { identifier: claimOf(pasFixture(DOC_MA)).identifier![0] }, relationship: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/related-claim-relationship', code: 'prior' }] } }];
  claim.identifier = [{ system: 'urn:trnorg:9012345678', value: 'LMRI-persist-update' }];
  return update;
}

const dirs: string[] = [];
const drops: Array<() => Promise<void>> = [];
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'lumbar-pas-'));
  dirs.push(d);
  return d;
};
afterAll(async () => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  for (const drop of drops) await drop();
});

describe('PAS claims persist (SQLite, the embedded store)', () => {
  it('submit, restart on the same file: $inquire answers the same ClaimResponse; a Claim Update after the restart continues the claim', async () => {
    const config: Config = testConfig({ recordDataDir: tempDir() });
    const first = await recordedApp(config);
    const pended = await submit(first.app, pasFixture(DOC_MA));
    expect(itemsOf(pended.body as Bundle)[0]!.code).toBe('A4');
    const denied = await submit(first.app, pasFixture(DENY_KP));
    await first.records.close();

    const second = await recordedApp(config);
    try {
      const again = await inquire(second.app, pasFixture(DOC_MA));
      expect(again.status).toBe(200);
      expect(claimResponseOf(inquired(again))).toEqual(claimResponseOf(pended.body as Bundle));
      expect(claimResponseOf(inquired(await inquire(second.app, pasFixture(DENY_KP))))).toEqual(claimResponseOf(denied.body as Bundle));

      const approved = await submit(second.app, await claimUpdate(second.app, pended.body as Bundle));
      expect(itemsOf(approved.body as Bundle)[0]!.code).toBe('A1');
      const latest = claimResponseOf(inquired(await inquire(second.app, pasFixture(DOC_MA))));
      expect(latest).toEqual(claimResponseOf(approved.body as Bundle));
    } finally {
      await second.records.close();
    }
  });

  it('the stored ClaimResponse holds no patient resource, and the patient only by reference', async () => {
    const config: Config = testConfig({ recordDataDir: tempDir() });
    const { app, records } = await recordedApp(config);
    const body = pasFixture(DENY_KP);
    claimOf(body).patient = { ...claimOf(body).patient, display: 'Jane Q. Patient' };
    await submit(app, body);
    await records.close();
    const handle = await openSqlite(config.recordDataDir);
    try {
      const rows = await handle.db.selectFrom('prior_auth_claims').select(['claim_response']).execute();
      expect(rows).toHaveLength(1);
      const column = rows[0]!.claim_response;
      const stored = typeof column === 'string' ? column : JSON.stringify(column);
      expect(stored).toContain('"resourceType":"ClaimResponse"');
      expect(stored).not.toContain('Jane');
      expect(stored).not.toContain('"resourceType":"Patient"');
      expect(stored).not.toContain('birthDate');
    } finally {
      await handle.close();
    }
  });

  it('the retention purge takes a claim with its call record (RECORD_RETENTION_DAYS)', async () => {
    const { app, records } = await recordedApp(testConfig({ recordDataDir: tempDir() }));
    try {
      await submit(app, pasFixture(DENY_KP));
      expect(await records.priorAuth.determinations()).toHaveLength(1);
      expect(await records.store.purgeOlderThan(new Date(Date.now() + 60_000).toISOString())).toBe(1);
      expect(await records.priorAuth.determinations()).toHaveLength(0);
      expect((await inquire(app, pasFixture(DENY_KP))).body.parameter ?? []).toHaveLength(0);
    } finally {
      await records.close();
    }
  });
});

describe('PAS claims persist (PostgreSQL, several instances)', () => {
  it('submitted on one instance, inquired and updated on another, and still there after both restart', async () => {
    const db = await createTestDatabase();
    drops.push(db.drop);
    const configA = testConfig({ databaseUrl: db.url, recordDataDir: tempDir() });
    const configB = testConfig({ databaseUrl: db.url, recordDataDir: tempDir() });
    const a = await recordedApp(configA);
    const b = await recordedApp(configB);
    let pendedResponse;
    let approvedResponse;
    try {
      const pended = await submit(a.app, pasFixture(DOC_MA));
      expect(pended.status).toBe(200);
      pendedResponse = claimResponseOf(pended.body as Bundle);
      // Straight to PostgreSQL: the other instance sees it at once, no outbox delivery to wait for.
      expect(claimResponseOf(inquired(await inquire(b.app, pasFixture(DOC_MA))))).toEqual(pendedResponse);
      const approved = await submit(b.app, await claimUpdate(b.app, pended.body as Bundle));
      approvedResponse = claimResponseOf(approved.body as Bundle);
      expect(itemsOf(approved.body as Bundle)[0]!.code).toBe('A1');
      expect(claimResponseOf(inquired(await inquire(a.app, pasFixture(DOC_MA))))).toEqual(approvedResponse);
    } finally {
      await a.records.close();
      await b.records.close();
    }
    const c = await recordedApp(testConfig({ databaseUrl: db.url, recordDataDir: tempDir() }));
    try {
      expect(claimResponseOf(inquired(await inquire(c.app, pasFixture(DOC_MA))))).toEqual(approvedResponse);
    } finally {
      await c.records.close();
    }
  });

  it('PostgreSQL unreachable: $submit, $inquire and the report answer 503 OperationOutcome, never 200 without the record, never 500', async () => {
    const ADMIN = 'operator-token-pas-persist-0123456789abcdef';
    const { app, records } = await recordedApp(testConfig({ adminToken: ADMIN, databaseUrl: 'postgres://postgres@127.0.0.1:1/none', recordDataDir: tempDir() }));
    try {
      const res = await submit(app, pasFixture(DENY_KP));
      expect(res.status).toBe(503);
      expect(res.body.resourceType).toBe('OperationOutcome');
      const asked = await inquire(app, pasFixture(DENY_KP));
      expect(asked.status).toBe(503);
      expect(asked.body.resourceType).toBe('OperationOutcome');
      const report = await request(app).get('/prior-authorization-report').set('authorization', `Bearer ${ADMIN}`);
      expect(report.status).toBe(503);
      expect(report.body.resourceType).toBe('OperationOutcome');
    } finally {
      await records.close(100);
    }
  });
});

/** Migrates to 0002-outbox only, as a database made before PAS claims were stored. */
async function migrateTo0002(db: Kysely<RecordDatabase>, dialect: 'sqlite' | 'postgres'): Promise<void> {
  const { error } = await new Migrator({ db, provider: migrationProvider(dialect) }).migrateTo('0002-outbox');
  if (error) throw error;
}

describe('migration 0003-prior-auth from a database at 0002-outbox', () => {
  it('SQLite: applies cleanly, keeps the records, and stores claims after', async () => {
    const dir = tempDir();
    // A bare Kysely over the file: openSqlite would migrate it to the latest.
    const Database = (await import('better-sqlite3')).default;
    const { Kysely: K, SqliteDialect } = await import('kysely');
    const old = new K<RecordDatabase>({ dialect: new SqliteDialect({ database: new Database(join(dir, 'records.sqlite')) }) });
    await migrateTo0002(old, 'sqlite');
    const r = hookCall();
    await new SqlDecisionRecordStore(old).saveHookCall(r);
    await old.destroy();

    const opened = await openSqlite(dir);
    expect(opened.applied).toEqual(['0003-prior-auth']);
    expect((await new SqlDecisionRecordStore(opened.db).findByAssertionId(r.orders[0]!.coverageAssertionId!))?.call).toEqual(r);
    await opened.close();
    const { app, records } = await recordedApp(testConfig({ recordDataDir: dir }));
    try {
      const denied = await submit(app, pasFixture(DENY_KP));
      expect(claimResponseOf(inquired(await inquire(app, pasFixture(DENY_KP))))).toEqual(claimResponseOf(denied.body as Bundle));
    } finally {
      await records.close();
    }
  });

  it('PostgreSQL: applies cleanly, keeps the records, and stores claims after', async () => {
    const db = await createTestDatabase();
    drops.push(db.drop);
    const old = openPostgres(db.url);
    await migrateTo0002(old.db, 'postgres');
    const r = hookCall();
    await new SqlDecisionRecordStore(old.db).saveHookCall(r);
    await old.close();

    const again = openPostgres(db.url);
    expect(await again.migrate()).toEqual([MIGRATION_NAMES[2]]);
    expect((await new SqlDecisionRecordStore(again.db).findByAssertionId(r.orders[0]!.coverageAssertionId!))?.call).toEqual(r);
    await again.close();
    const { app, records } = await recordedApp(testConfig({ databaseUrl: db.url, recordDataDir: tempDir() }));
    try {
      const denied = await submit(app, pasFixture(DENY_KP));
      expect(claimResponseOf(inquired(await inquire(app, pasFixture(DENY_KP))))).toEqual(claimResponseOf(denied.body as Bundle));
    } finally {
      await records.close();
    }
  });
});
