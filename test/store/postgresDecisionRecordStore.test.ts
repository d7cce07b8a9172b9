/**
 * Runs against the PostgreSQL that CI starts (TEST_POSTGRES_URL, default
 * postgres://postgres@127.0.0.1:5432/postgres). Each run creates its own databases and drops them.
 * Nothing is skipped: if PostgreSQL is down these tests fail, saying so.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createDecisionRecordStore } from '../../src/store/createDecisionRecordStore.js';
import { PostgresDecisionRecordStore } from '../../src/store/postgresDecisionRecordStore.js';
import { decisionRecordStoreContract } from './decisionRecordStoreContract.js';
import { hookCall } from './fixtures.js';

const ADMIN_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
  } catch (err) {
    throw new Error(
      `PostgreSQL is not reachable at ${ADMIN_URL} (${err instanceof Error ? err.message : String(err)}). ` +
        'Start it (pg_ctlcluster <version> main start) or set TEST_POSTGRES_URL.',
    );
  }
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Creates `lumbar_cds_test_<random>` and returns its URL. */
async function createTestDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `lumbar_cds_test_${randomBytes(6).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () => admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  };
}

decisionRecordStoreContract('PostgreSQL', async () => {
  const db = await createTestDatabase();
  return {
    open: () => new PostgresDecisionRecordStore({ connectionString: db.url }),
    cleanup: db.drop,
  };
});

describe('PostgresDecisionRecordStore', () => {
  const drops: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const drop of drops) await drop();
  });

  it('two instances starting together apply each migration once', async () => {
    const db = await createTestDatabase();
    drops.push(db.drop);
    const a = createDecisionRecordStore({ databaseUrl: db.url });
    const b = createDecisionRecordStore({ databaseUrl: db.url });
    expect(a).toBeInstanceOf(PostgresDecisionRecordStore);
    try {
      await Promise.all([a.init(), b.init()]);
      const applied = [a.lastMigrations, b.lastMigrations].map((m) => m.map((x) => x.version));
      expect(applied).toContainEqual([1]);
      expect(applied).toContainEqual([]);
      expect(await a.schemaVersions()).toEqual([1]);
      // Records written by one instance are read by the other.
      const r = hookCall();
      await a.saveHookCall(r);
      expect((await b.findByAssertionId(r.orders[0].coverageAssertionId!))?.call).toEqual(r);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('an unreachable database fails init() within the connection timeout', async () => {
    const store = new PostgresDecisionRecordStore({
      connectionString: 'postgres://postgres@127.0.0.1:1/none',
      pool: { connectionTimeoutMillis: 1_000 },
    });
    const started = Date.now();
    await expect(store.init()).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(3_000);
    await store.close();
  });
});
