import { mkdir } from 'node:fs/promises';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import type { SqlExecutor, SqlSession } from './sql/executor.js';
import { SqlDecisionRecordStore } from './sqlDecisionRecordStore.js';

/** `dataDir` value for a throwaway in-memory database (tests). */
export const IN_MEMORY = 'memory://';

function session(db: PGlite | Transaction): SqlSession {
  return {
    async query<R>(text: string, params?: readonly unknown[]) {
      const res = await db.query<R>(text, params ? [...params] : undefined);
      return { rows: res.rows, rowCount: res.affectedRows ?? res.rows.length };
    },
    async exec(script: string) {
      await db.exec(script);
    },
  };
}

/**
 * Embedded PostgreSQL (PGlite, WASM) for a single instance without a database server.
 * PGlite runs one query at a time in-process; fine for the record write rate of one instance.
 */
export class PgliteDecisionRecordStore extends SqlDecisionRecordStore {
  /** @param dataDir - folder for the database files, or {@link IN_MEMORY}. */
  constructor(readonly dataDir: string) {
    super();
  }

  protected async open(): Promise<SqlExecutor> {
    if (!this.dataDir.startsWith('memory://')) await mkdir(this.dataDir, { recursive: true });
    const db = await PGlite.create(this.dataDir);
    return {
      ...session(db),
      transaction: (fn) => db.transaction((tx) => fn(session(tx))),
      close: () => db.close(),
    };
  }
}
