/**
 * Versioned schema migrations run by Kysely's Migrator at start-up (several PostgreSQL instances
 * starting together are serialised by its lock table). One list for both dialects: only column
 * types differ (timestamptz and jsonb on PostgreSQL, ISO text and JSON text on SQLite). Append new
 * versions; never edit an applied one. `ifNotExists` lets a database created by the earlier
 * hand-written migrator (same tables, same types) be adopted as it is.
 */
import { sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import type { RecordDialect } from './recordSchema.js';

function init(dialect: RecordDialect): Migration {
  const instant = dialect === 'postgres' ? 'timestamptz' : 'text';
  const json = dialect === 'postgres' ? 'jsonb' : 'text';
  const real = dialect === 'postgres' ? 'double precision' : 'real';
  const emptyList = dialect === 'postgres' ? sql`'[]'::jsonb` : sql`'[]'`;
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('hook_calls')
        .ifNotExists()
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('received_at', sql.raw(instant), (c) => c.notNull())
        .addColumn('service_id', 'text', (c) => c.notNull())
        .addColumn('hook', 'text', (c) => c.notNull())
        .addColumn('hook_instance', 'text', (c) => c.notNull())
        .addColumn('client_iss', 'text')
        .addColumn('patient_ref', 'text', (c) => c.notNull())
        .addColumn('card_uuids', sql.raw(json), (c) => c.notNull().defaultTo(emptyList))
        .addColumn('duration_ms', sql.raw(real), (c) => c.notNull())
        .execute();
      await db.schema.createIndex('hook_calls_received_at_idx').ifNotExists().on('hook_calls').column('received_at').execute();
      await db.schema.createIndex('hook_calls_patient_idx').ifNotExists().on('hook_calls').columns(['patient_ref', 'received_at']).execute();

      let orders = db.schema
        .createTable('order_decisions')
        .ifNotExists()
        .addColumn('call_id', 'text', (c) => c.notNull().references('hook_calls.id').onDelete('cascade'))
        .addColumn('ordinal', 'integer', (c) => c.notNull())
        .addColumn('order_ref', 'text', (c) => c.notNull())
        .addColumn('billing_code', 'text')
        .addColumn('outcome', 'text', (c) => c.notNull())
        .addColumn('policy_id', 'text')
        .addColumn('policy_version', 'text');
      for (const col of ['criteria_path', 'evidence', 'missing', 'suggestions']) {
        orders = orders.addColumn(col, sql.raw(json), (c) => c.notNull().defaultTo(emptyList));
      }
      await orders
        .addColumn('coverage_ref', 'text')
        .addColumn('coverage_assertion_id', 'text')
        .addColumn('satisfied_pa_id', 'text')
        .addPrimaryKeyConstraint('order_decisions_pkey', ['call_id', 'ordinal'])
        .execute();
      // Not UNIQUE: an id reissued by a buggy caller must not make the whole call unrecordable.
      await db.schema
        .createIndex('order_decisions_assertion_idx')
        .ifNotExists()
        .on('order_decisions')
        .column('coverage_assertion_id')
        .where(sql.ref('coverage_assertion_id'), 'is not', null)
        .execute();

      await db.schema
        .createTable('feedback')
        .ifNotExists()
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('received_at', sql.raw(instant), (c) => c.notNull())
        .addColumn('service_id', 'text', (c) => c.notNull())
        .addColumn('card_uuid', 'text', (c) => c.notNull())
        .addColumn('outcome', 'text', (c) => c.notNull())
        .addColumn('accepted_suggestions', sql.raw(json), (c) => c.notNull().defaultTo(emptyList))
        .addColumn('override_reason', 'text')
        .addColumn('client_iss', 'text')
        .execute();
      await db.schema.createIndex('feedback_card_idx').ifNotExists().on('feedback').column('card_uuid').execute();
      await db.schema.createIndex('feedback_received_at_idx').ifNotExists().on('feedback').column('received_at').execute();
    },
  };
}

/** The local outbox exists in every SQLite file (empty unless DATABASE_URL is set); PostgreSQL has none. */
function outbox(dialect: RecordDialect): Migration {
  return {
    async up(db: Kysely<unknown>) {
      if (dialect !== 'sqlite') return;
      await db.schema
        .createTable('outbox')
        .ifNotExists()
        .addColumn('seq', 'integer', (c) => c.primaryKey().autoIncrement())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('body', 'text', (c) => c.notNull())
        .execute();
      // Records PostgreSQL refused as invalid: kept here (never deleted) for an operator to look at.
      await db.schema
        .createTable('outbox_refused')
        .ifNotExists()
        .addColumn('seq', 'integer', (c) => c.primaryKey())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('body', 'text', (c) => c.notNull())
        .addColumn('error', 'text', (c) => c.notNull())
        .execute();
    },
  };
}

/**
 * PAS claims: per `Claim/$submit` record (a hook_calls row, its items in order_decisions), the claim
 * key `$inquire` looks it up by, the priority the report splits on, and the ClaimResponse answered.
 * Purged with its call (retention).
 */
function priorAuth(dialect: RecordDialect): Migration {
  const json = dialect === 'postgres' ? 'jsonb' : 'text';
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('prior_auth_claims')
        .ifNotExists()
        .addColumn('call_id', 'text', (c) => c.primaryKey().references('hook_calls.id').onDelete('cascade'))
        .addColumn('claim_key', 'text', (c) => c.notNull())
        .addColumn('priority', 'text', (c) => c.notNull())
        .addColumn('claim_response', sql.raw(json), (c) => c.notNull())
        .execute();
      await db.schema.createIndex('prior_auth_claims_key_idx').ifNotExists().on('prior_auth_claims').column('claim_key').execute();
    },
  };
}

/** Migration names, in order: what `kysely_migration` records. */
export const MIGRATION_NAMES = ['0001-init', '0002-outbox', '0003-prior-auth'] as const;

export function migrationProvider(dialect: RecordDialect): MigrationProvider {
  const list = [init(dialect), outbox(dialect), priorAuth(dialect)];
  return {
    async getMigrations() {
      return Object.fromEntries(MIGRATION_NAMES.map((name, i) => [name, list[i]]));
    },
  };
}
