/**
 * Opening the record databases: the local SQLite file (always: the embedded store, or the outbox in
 * front of PostgreSQL) and PostgreSQL when DATABASE_URL is set. Both are migrated by Kysely's
 * Migrator. Failures to open the local file become one line naming the file or folder and the fix.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import { migrationProvider } from './migrations.js';
import type { RecordDatabase, RecordDialect } from './recordSchema.js';

/** `dataDir` value for a throwaway in-memory database (tests). */
export const IN_MEMORY = 'memory://';
/** The SQLite file inside RECORD_DATA_DIR. */
export const RECORD_FILE = 'records.sqlite';

export interface RecordDatabaseHandle {
  readonly db: Kysely<RecordDatabase>;
  /** The SQLite connection itself, for the outbox's synchronous statements (SQLite only). */
  readonly sqlite?: Database.Database;
  readonly dialect: RecordDialect;
  /** Names of the migrations this open applied (empty when the schema was current). */
  readonly applied: readonly string[];
  close(): Promise<void>;
}

/** Start-up failure of the record store, already worded for an operator: one line, no stack. */
export class RecordStoreOpenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RecordStoreOpenError';
  }
}

const codeOf = (err: unknown): string =>
  typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : '';
const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err)).split('\n')[0];

/** Says what is wrong with the local file and what to do, in one line. */
function explain(err: unknown, dir: string, file: string): RecordStoreOpenError {
  const code = codeOf(err);
  const what = `${code || 'error'}: ${messageOf(err)}`;
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return new RecordStoreOpenError(
      `Decision record store ${file} is in use by another process: run one service per RECORD_DATA_DIR ` +
        '(give each instance its own folder; share records between instances with DATABASE_URL)',
    );
  }
  if (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')) {
    return new RecordStoreOpenError(
      `Decision record store ${file} cannot be read (${what}): move the folder ${dir} aside (it may hold ` +
        'records not yet delivered) or set RECORD_DATA_DIR to another folder, then start again',
    );
  }
  return new RecordStoreOpenError(
    `Cannot open the decision record store in ${dir} (${what}): make the folder writable by this user ` +
      'or set RECORD_DATA_DIR to a writable folder',
  );
}

async function migrate(db: Kysely<RecordDatabase>, dialect: RecordDialect): Promise<string[]> {
  const { error, results } = await new Migrator({ db, provider: migrationProvider(dialect) }).migrateToLatest();
  if (error) throw error;
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/**
 * Opens (creating if needed) `<dataDir>/records.sqlite` in WAL mode and takes an exclusive lock
 * on it for the life of the process: a second process on the same folder is refused at start-up
 * (the OS drops the lock when a process dies, even by SIGKILL, so nothing stale is left behind).
 * @param busyTimeoutMs - how long to wait for another process to let go (a rolling restart).
 */
export async function openSqlite(dataDir: string, busyTimeoutMs = 2_000): Promise<RecordDatabaseHandle> {
  const memory = dataDir.startsWith(IN_MEMORY);
  const dir = resolve(dataDir);
  const file = memory ? ':memory:' : join(dir, RECORD_FILE);
  let sqlite: Database.Database | undefined;
  try {
    if (!memory) mkdirSync(dir, { recursive: true });
    sqlite = new Database(file, { timeout: busyTimeoutMs });
    sqlite.pragma('locking_mode = EXCLUSIVE');
    sqlite.pragma('journal_mode = WAL');
    // NORMAL: a commit is in the OS once the call returns, so it survives the process being killed
    // (not a power cut: FULL would fsync every commit).
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('foreign_keys = ON');
    // The first write takes the exclusive lock, held until close.
    sqlite.exec('BEGIN EXCLUSIVE; COMMIT');
  } catch (err) {
    sqlite?.close();
    throw explain(err, dir, file);
  }
  const db = new Kysely<RecordDatabase>({ dialect: new SqliteDialect({ database: sqlite }) });
  let applied: string[];
  try {
    applied = await migrate(db, 'sqlite');
  } catch (err) {
    await db.destroy();
    throw explain(err, dir, file);
  }
  return { db, sqlite, dialect: 'sqlite', applied, close: () => db.destroy() };
}

export interface PostgresOptions {
  /** Overrides of the pool defaults (tests shorten the timeouts). */
  readonly pool?: Omit<pg.PoolConfig, 'connectionString'>;
  /** An idle connection lost (PostgreSQL restarted, network cut): logged, never a crash. */
  readonly onIdleError?: (err: Error) => void;
}

/**
 * A Kysely over a `pg` pool for DATABASE_URL. Opening does not connect: `migrate()` does, so a
 * service can start while PostgreSQL is away and deliver its records when it returns.
 */
export function openPostgres(url: string, options: PostgresOptions = {}): RecordDatabaseHandle & {
  migrate(): Promise<string[]>;
} {
  const pool = new pg.Pool({
    max: 4,
    // Bounded waits, so a stalled or unreachable database fails a write instead of hanging it.
    connectionTimeoutMillis: 3_000,
    query_timeout: 10_000,
    idleTimeoutMillis: 30_000,
    ...options.pool,
    connectionString: url,
  });
  pool.on('error', (err) => options.onIdleError?.(err));
  // A checked-out client whose connection drops between two queries emits 'error' with no listener
  // (Kysely holds it, pg leaves that to the holder): the next query fails anyway, so only keep the
  // event from crashing the process.
  pool.on('connect', (client) => client.on('error', () => undefined));
  const db = new Kysely<RecordDatabase>({ dialect: new PostgresDialect({ pool }) });
  const applied: string[] = [];
  return {
    db,
    dialect: 'postgres',
    applied,
    async migrate() {
      const names = await migrate(db, 'postgres');
      applied.push(...names);
      return names;
    },
    close: () => db.destroy(),
  };
}
