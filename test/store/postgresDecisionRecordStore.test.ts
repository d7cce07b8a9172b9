/**
 * Runs against the PostgreSQL that CI starts (TEST_POSTGRES_URL, default
 * postgres://postgres@127.0.0.1:5432/postgres). Each run creates its own databases and drops them.
 * Nothing is skipped: if PostgreSQL is down these tests fail, saying so.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { MIGRATION_NAMES } from '../../src/store/migrations.js';
import { openPostgres } from '../../src/store/openRecordDatabase.js';
import { SqlDecisionRecordStore } from '../../src/store/sqlDecisionRecordStore.js';
import { decisionRecordStoreContract } from './decisionRecordStoreContract.js';
import { hookCall } from './fixtures.js';
import { createTestDatabase } from '../helpers/postgres.js';

decisionRecordStoreContract('PostgreSQL', async () => {
  const db = await createTestDatabase();
  return {
    async open() {
      const handle = openPostgres(db.url);
      await handle.migrate();
      return handle;
    },
    cleanup: db.drop,
  };
});

describe('PostgreSQL record store', () => {
  const drops: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const drop of drops) await drop();
  });

  it('two instances starting together apply each migration once and share records', async () => {
    const db = await createTestDatabase();
    drops.push(db.drop);
    const a = openPostgres(db.url);
    const b = openPostgres(db.url);
    try {
      const applied = await Promise.all([a.migrate(), b.migrate()]);
      expect(applied).toContainEqual([...MIGRATION_NAMES]);
      expect(applied).toContainEqual([]);
      const r = hookCall();
      await new SqlDecisionRecordStore(a.db).saveHookCall(r);
      expect((await new SqlDecisionRecordStore(b.db).findByAssertionId(r.orders[0].coverageAssertionId!))?.call).toEqual(r);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('adopts a database made by the earlier hand-written migrator (same tables)', async () => {
    const db = await createTestDatabase();
    drops.push(db.drop);
    const first = openPostgres(db.url);
    await first.migrate();
    const r = hookCall();
    await new SqlDecisionRecordStore(first.db).saveHookCall(r);
    // Forget Kysely's bookkeeping, as a database migrated before it had none.
    await first.db.schema.dropTable('kysely_migration').execute();
    await first.db.schema.dropTable('kysely_migration_lock').execute();
    await first.close();
    const again = openPostgres(db.url);
    try {
      expect(await again.migrate()).toEqual([...MIGRATION_NAMES]);
      expect((await new SqlDecisionRecordStore(again.db).findByAssertionId(r.orders[0].coverageAssertionId!))?.call).toEqual(r);
    } finally {
      await again.close();
    }
  });

  it('an unreachable database fails within the connection timeout, without having blocked the open', async () => {
    const handle = openPostgres('postgres://postgres@127.0.0.1:1/none', { pool: { connectionTimeoutMillis: 1_000 } });
    const started = Date.now();
    await expect(handle.migrate()).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(3_000);
    await handle.close();
  });
});
