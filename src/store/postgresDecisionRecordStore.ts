import pg from 'pg';
import type { Logger } from 'pino';
import type { SqlExecutor, SqlSession } from './sql/executor.js';
import { SqlDecisionRecordStore } from './sqlDecisionRecordStore.js';

export interface PostgresStoreOptions {
  /** `postgres://user@host:5432/db` (DATABASE_URL). */
  connectionString: string;
  /** Overrides of the pool defaults below. */
  pool?: Omit<pg.PoolConfig, 'connectionString'>;
  logger?: Pick<Logger, 'warn'>;
}

function session(db: pg.Pool | pg.PoolClient): SqlSession {
  return {
    async query<R>(text: string, params?: readonly unknown[]) {
      const res = await db.query(text, params ? [...params] : undefined);
      return { rows: res.rows as R[], rowCount: res.rowCount ?? res.rows.length };
    },
    async exec(script: string) {
      // No parameters: pg uses the simple query protocol, which accepts several statements.
      await db.query(script);
    },
  };
}

/** PostgreSQL through a `pg` pool, for several instances sharing one record database. */
export class PostgresDecisionRecordStore extends SqlDecisionRecordStore {
  constructor(private readonly options: PostgresStoreOptions) {
    super();
  }

  protected async open(): Promise<SqlExecutor> {
    const pool = new pg.Pool({
      max: 10,
      // Bounded waits, so an unreachable database fails a write instead of hanging it.
      connectionTimeoutMillis: 5_000,
      idleTimeoutMillis: 30_000,
      query_timeout: 15_000,
      ...this.options.pool,
      connectionString: this.options.connectionString,
    });
    // An idle client losing its connection emits 'error' on the pool; unhandled, it would crash the process.
    pool.on('error', (err) => this.options.logger?.warn({ err: err.message }, 'decision record pool: idle client error'));
    return {
      ...session(pool),
      async transaction(fn) {
        const client = await pool.connect();
        try {
          await client.query('BEGIN');
          const out = await fn(session(client));
          await client.query('COMMIT');
          client.release();
          return out;
        } catch (err) {
          await client.query('ROLLBACK').catch(() => undefined);
          // Passing the error discards the connection rather than reusing a possibly broken one.
          client.release(err instanceof Error ? err : true);
          throw err;
        }
      },
      close: () => pool.end(),
    };
  }
}
