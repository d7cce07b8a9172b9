/**
 * The embedded store's writer (group commit): records appended in one turn are written together; each is
 * committed before its promise resolves; a bad record fails alone; an open Kysely transaction on
 * the same connection (the retention purge) never carries them.
 */
import type Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { IN_MEMORY, openSqlite } from '../../src/store/openRecordDatabase.js';
import { SqlDecisionRecordStore } from '../../src/store/sqlDecisionRecordStore.js';
import { SqliteRecordWriter } from '../../src/store/sqliteRecordWriter.js';
import { feedback, hookCall, orderRecord } from './fixtures.js';

async function open() {
  const handle = await openSqlite(IN_MEMORY);
  if (!handle.sqlite) throw new Error('SQLite handle without its connection');
  return { handle, store: new SqlDecisionRecordStore(handle.db), writer: new SqliteRecordWriter(handle.db, handle.sqlite), sqlite: handle.sqlite };
}

describe('SqliteRecordWriter', () => {
  it('commits the records of one turn together, each readable when its promise resolves', async () => {
    const { handle, store, writer, sqlite } = await open();
    const calls = Array.from({ length: 5 }, (_, i) => hookCall({ patientRef: `Patient/w-${i}`, orders: [orderRecord(), orderRecord({ orderRef: 'ServiceRequest/sr-2' })] }));
    const before = sqlite.prepare('select total_changes() as n').get() as { n: number };
    await Promise.all([...calls.map((c) => writer.saveBatch([c], [])), writer.saveBatch([], [feedback()])]);
    const after = sqlite.prepare('select total_changes() as n').get() as { n: number };
    expect(after.n - before.n).toBe(5 + 10 + 1);
    for (const c of calls) {
      const listed = await store.listAssertions({ patient: c.patientRef });
      expect(listed.map((a) => a.order.orderRef).sort()).toEqual(['ServiceRequest/sr-1', 'ServiceRequest/sr-2']);
      expect(listed[0].call).toEqual(c);
    }
    await handle.close();
  });

  it('is idempotent on the record id', async () => {
    const { handle, store, writer } = await open();
    const c = hookCall({ patientRef: 'Patient/same' });
    await writer.saveBatch([c], []);
    await writer.saveBatch([c], []);
    expect(await store.listAssertions({ patient: 'Patient/same' })).toHaveLength(1);
    await handle.close();
  });

  it('a record that cannot be stored fails alone; the others of its turn are kept', async () => {
    const { handle, store, writer } = await open();
    const good = hookCall({ patientRef: 'Patient/good' });
    const bad = hookCall({ patientRef: 'Patient/bad', receivedAt: '2024-06-01' });
    const results = await Promise.allSettled([writer.saveBatch([good], []), writer.saveBatch([bad], [])]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected']);
    expect(await store.listAssertions({ patient: 'Patient/good' })).toHaveLength(1);
    expect(await store.listAssertions({ patient: 'Patient/bad' })).toHaveLength(0);
    await handle.close();
  });

  it('waits for a Kysely transaction on the same connection, so its rollback cannot take the records', async () => {
    const { handle, store, writer } = await open();
    const c = hookCall({ patientRef: 'Patient/after-rollback' });
    let written: Promise<void> | undefined;
    await handle.db
      .transaction()
      .execute(async (trx) => {
        await trx.deleteFrom('feedback').execute();
        written = writer.saveBatch([c], []);
        await new Promise((r) => setTimeout(r, 20));
        throw new Error('rolled back');
      })
      .catch(() => undefined);
    await written;
    expect(await store.listAssertions({ patient: 'Patient/after-rollback' })).toHaveLength(1);
    await handle.close();
  });

  it('rejects when the database is closed (the caller answers 503)', async () => {
    const { handle, writer } = await open();
    await handle.close();
    await expect(writer.saveBatch([hookCall()], [])).rejects.toThrow(/not open/);
  });
});

describe('SqliteRecordWriter rows', () => {
  /** Every row of the three record tables, in insertion order. */
  const dump = (sqlite: Database.Database): unknown[] =>
    ['hook_calls', 'order_decisions', 'feedback'].map((t) => sqlite.prepare(`select * from ${t} order by rowid`).all());

  it('stores the same rows as the Kysely store for the same records, optional fields set or not', async () => {
    const calls = [
      hookCall({ orders: [orderRecord({ satisfiedPaId: 'pa-1', suggestions: ['s-1', 's-2'], missing: ['m-1'] }), orderRecord({ orderRef: 'ServiceRequest/sr-2', billingCode: undefined, policyId: undefined, policyVersion: undefined, coverageRef: undefined, coverageAssertionId: undefined })] }),
      hookCall({ clientIss: undefined, orders: [], cardUuids: [], receivedAt: '2024-06-01T12:00:00+02:00', durationMs: 0.25 }),
    ];
    const fb = [feedback({ overrideReason: 'patient-declined', clientIss: 'https://ehr.example.org' }), feedback({ acceptedSuggestions: [], receivedAt: '2024-06-01T10:05:00Z' })];
    const viaWriter = await open();
    await viaWriter.writer.saveBatch(calls, fb);
    const viaKysely = await open();
    await viaKysely.store.saveBatch(calls, fb);
    const rows = dump(viaWriter.sqlite);
    expect(rows).toEqual(dump(viaKysely.sqlite));
    expect(rows.map((t) => (t as unknown[]).length)).toEqual([2, 2, 2]);
    await viaWriter.handle.close();
    await viaKysely.handle.close();
  });
});
