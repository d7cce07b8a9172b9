import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MIGRATION_NAMES } from '../../src/store/migrations.js';
import { IN_MEMORY, openSqlite, RECORD_FILE, RecordStoreOpenError } from '../../src/store/openRecordDatabase.js';
import { SqlDecisionRecordStore } from '../../src/store/sqlDecisionRecordStore.js';
import { decisionRecordStoreContract } from './decisionRecordStoreContract.js';
import { hookCall } from './fixtures.js';

decisionRecordStoreContract('SQLite (in memory)', async () => ({ open: () => openSqlite(IN_MEMORY) }));

const ROOT = join(import.meta.dirname, '..', '..');
const dirs: string[] = [];
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'lumbar-records-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** `npm start` as a child, stopped as soon as it is listening: what an operator sees at start-up. */
function startService(dataDir: string): { status: number | null; stderr: string } {
  const res = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/server.ts')], {
    cwd: ROOT,
    env: { ...process.env, RECORD_DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', DATABASE_URL: '' },
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { status: res.status, stderr: res.stderr.trim() };
}

describe('SQLite record store on disk', () => {
  it('keeps records across a restart and does not re-run migrations', async () => {
    const dataDir = join(tempDir(), 'nested', 'records'); // created on open
    const first = await openSqlite(dataDir);
    expect(first.applied).toEqual([...MIGRATION_NAMES]);
    const r = hookCall();
    await new SqlDecisionRecordStore(first.db).saveHookCall(r);
    await first.close();

    const second = await openSqlite(dataDir);
    expect(second.applied).toEqual([]);
    expect((await new SqlDecisionRecordStore(second.db).findByAssertionId(r.orders[0].coverageAssertionId!))?.call).toEqual(r);
    await second.close();
  });

  it('runs in WAL mode', async () => {
    const dataDir = tempDir();
    const handle = await openSqlite(dataDir);
    const { rows } = await (await import('kysely')).sql<{ journal_mode: string }>`PRAGMA journal_mode`.execute(handle.db);
    expect(rows[0].journal_mode).toBe('wal');
    await handle.close();
  });

  it('refuses a second service on the same folder with one line naming the file', async () => {
    const dataDir = tempDir();
    const held = await openSqlite(dataDir);
    try {
      const second = startService(dataDir);
      expect(second.status).toBe(1);
      expect(second.stderr.split('\n')).toHaveLength(1);
      expect(second.stderr).toContain(join(dataDir, RECORD_FILE));
      expect(second.stderr).toMatch(/in use by another process.*RECORD_DATA_DIR/);
      // The same refusal in process, as an error an embedding program can catch.
      await expect(openSqlite(dataDir, 100)).rejects.toBeInstanceOf(RecordStoreOpenError);
    } finally {
      await held.close();
    }
    // Once the holder is gone (closed, or killed: the OS drops its lock), the folder opens again.
    const again = await openSqlite(dataDir);
    await again.close();
  });

  it('a file that is not a database stops start-up with one line naming the folder and the fix, no dump', () => {
    const dataDir = tempDir();
    writeFileSync(join(dataDir, RECORD_FILE), Buffer.alloc(8192, 0x5a));
    const res = startService(dataDir);
    expect(res.status).toBe(1);
    expect(res.stderr.split('\n')).toHaveLength(1);
    expect(res.stderr).toContain(`move the folder ${dataDir} aside`);
    expect(res.stderr).toMatch(/SQLITE_NOTADB/);
    expect(res.stderr.length).toBeLessThan(400);
  });

  it('a folder that cannot be written says so and what to do', async () => {
    const parent = tempDir();
    const dataDir = join(parent, 'records');
    writeFileSync(dataDir, 'a file where the folder should be');
    const err = await openSqlite(dataDir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RecordStoreOpenError);
    expect(String((err as Error).message)).toMatch(new RegExp(`Cannot open the decision record store in ${dataDir} .*set RECORD_DATA_DIR to a writable folder`));
  });
});
