/**
 * The one seam between the shared SQL and a database driver: PGlite and `pg` each provide
 * an executor, and everything else (queries, row mapping, migrations) is shared.
 */
export interface QueryResult<R> {
  rows: R[];
  /** Rows returned or affected. */
  rowCount: number;
}

/** Runs statements inside one transaction. */
export interface SqlSession {
  /** One statement with `$n` parameters. */
  query<R>(text: string, params?: readonly unknown[]): Promise<QueryResult<R>>;
  /** A script of several statements, no parameters (simple query protocol). */
  exec(script: string): Promise<void>;
}

export interface SqlExecutor extends SqlSession {
  /** Runs `fn` in BEGIN … COMMIT, rolling back if it throws. */
  transaction<T>(fn: (tx: SqlSession) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
