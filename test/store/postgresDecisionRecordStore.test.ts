/**
 * Runs against the PostgreSQL that CI starts (TEST_POSTGRES_URL, default
 * postgres://postgres@127.0.0.1:5432/postgres). Each run creates its own databases and drops them.
 * Nothing is skipped: if PostgreSQL is down these tests fail, saying so.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createDecisionRecordStore } from '../../src/store/createDecisionRecordStore.js';
import { PostgresDecisionRecordStore } from '../../src/store/postgresDecisionRecordStore.js';
import { decisionRecordStoreContract } from './decisionRecordStoreContract.js';
import { hookCall } from './fixtures.js';
import { createTestDatabase } from '../helpers/postgres.js';

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

  it('writes a batch of hook calls in one statement, each with its orders', async () => {
    const db = await createTestDatabase();
    drops.push(db.drop);
    const store = createDecisionRecordStore({ databaseUrl: db.url });
    try {
      await store.init();
      const calls = [hookCall(), hookCall({ orders: [] }), hookCall()];
      await store.saveHookCalls(calls);
      await store.saveHookCalls(calls); // idempotent
      for (const c of [calls[0], calls[2]]) expect((await store.findByAssertionId(c.orders[0].coverageAssertionId!))?.call).toEqual(c);
      expect(await store.listAssertions({ patient: 'Patient/p-1', limit: 100 })).toHaveLength(2);
    } finally {
      await store.close();
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
