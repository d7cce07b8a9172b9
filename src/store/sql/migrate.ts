import type { SqlExecutor } from './executor.js';
import { MIGRATIONS, type Migration } from './migrations.js';

/** Arbitrary constant; serialises migrations when several instances start against one database. */
const MIGRATION_LOCK_ID = 7_340_117;

const CREATE_SCHEMA_MIGRATIONS = `
CREATE TABLE IF NOT EXISTS schema_migrations (
  version    integer PRIMARY KEY,
  name       text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
)`;

export interface AppliedMigration {
  version: number;
  name: string;
}

/**
 * Applies the migrations not yet recorded in `schema_migrations`, in version order, all in one
 * transaction under an advisory lock, so a failed migration leaves the schema as it was and two
 * instances starting together do not both apply it.
 * @returns the migrations applied by this call (empty when the schema is current).
 */
export async function runMigrations(
  db: SqlExecutor,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<AppliedMigration[]> {
  const ordered = [...migrations].sort((a, b) => a.version - b.version);
  ordered.forEach((m, i) => {
    if (!Number.isInteger(m.version) || m.version <= 0 || (i > 0 && ordered[i - 1].version === m.version)) {
      throw new Error(`Invalid migration list: version ${m.version} (${m.name}) must be a unique positive integer`);
    }
  });
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_ID]);
    await tx.exec(CREATE_SCHEMA_MIGRATIONS);
    const { rows } = await tx.query<{ version: number }>('SELECT version FROM schema_migrations');
    const done = new Set(rows.map((r) => Number(r.version)));
    const applied: AppliedMigration[] = [];
    for (const m of ordered) {
      if (done.has(m.version)) continue;
      await tx.exec(m.sql);
      await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      applied.push({ version: m.version, name: m.name });
    }
    return applied;
  });
}

/** Versions recorded in `schema_migrations`, ascending. */
export async function appliedVersions(db: SqlExecutor): Promise<number[]> {
  const { rows } = await db.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
  return rows.map((r) => Number(r.version));
}
