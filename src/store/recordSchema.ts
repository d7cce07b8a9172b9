/**
 * The decision-record tables as Kysely sees them, one schema for SQLite and PostgreSQL. Column
 * types differ by dialect on the way out (PostgreSQL returns Date for timestamptz and parsed jsonb;
 * SQLite returns the ISO text and JSON text stored), so selected values are parsed by the row
 * schemas in sqlDecisionRecordStore.ts; on the way in both take ISO strings and JSON text.
 */
import type { ColumnType, Generated } from 'kysely';

/** ISO 8601 UTC instant in, Date (PostgreSQL) or the same text (SQLite) out. */
type Instant = ColumnType<Date | string, string, string>;
/** JSON text in, parsed JSON (PostgreSQL jsonb) or the same text (SQLite) out. */
type Json = ColumnType<unknown, string, string>;

export interface HookCallsTable {
  id: string;
  received_at: Instant;
  service_id: string;
  hook: string;
  hook_instance: string;
  client_iss: string | null;
  patient_ref: string;
  card_uuids: Json;
  duration_ms: number;
}

export interface OrderDecisionsTable {
  call_id: string;
  ordinal: number;
  order_ref: string;
  billing_code: string | null;
  outcome: string;
  policy_id: string | null;
  policy_version: string | null;
  criteria_path: Json;
  evidence: Json;
  missing: Json;
  suggestions: Json;
  coverage_ref: string | null;
  coverage_assertion_id: string | null;
  satisfied_pa_id: string | null;
}

export interface FeedbackTable {
  id: string;
  received_at: Instant;
  service_id: string;
  card_uuid: string;
  outcome: string;
  accepted_suggestions: Json;
  override_reason: string | null;
  client_iss: string | null;
}

/** One row per `Claim/$submit` call (hook_calls.hook `Claim/$submit`). */
export interface PriorAuthClaimsTable {
  call_id: string;
  claim_key: string;
  priority: 'standard' | 'expedited';
  /** The ClaimResponse answered, as JSON. */
  claim_response: Json;
}

/** Local SQLite only: records answered but not yet delivered to PostgreSQL, in answer order. */
export interface OutboxTable {
  seq: Generated<number>;
  kind: 'call' | 'feedback';
  /** The record as JSON. */
  body: string;
}

export interface OutboxRefusedTable {
  seq: number;
  kind: 'call' | 'feedback';
  body: string;
  error: string;
}

export interface RecordDatabase {
  hook_calls: HookCallsTable;
  order_decisions: OrderDecisionsTable;
  feedback: FeedbackTable;
  prior_auth_claims: PriorAuthClaimsTable;
  outbox: OutboxTable;
  outbox_refused: OutboxRefusedTable;
}

export type RecordDialect = 'sqlite' | 'postgres';
