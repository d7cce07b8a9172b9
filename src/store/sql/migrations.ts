/**
 * Versioned schema migrations, held as TypeScript strings so they ship with `tsc` output
 * (tsc does not copy .sql files into dist/). Append new versions; never edit an applied one.
 * The same text runs on PostgreSQL and on PGlite, so keep to plain PostgreSQL 15+ SQL.
 */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'init',
    sql: `
CREATE TABLE hook_calls (
  id            text PRIMARY KEY,
  received_at   timestamptz NOT NULL,
  service_id    text NOT NULL,
  hook          text NOT NULL,
  hook_instance text NOT NULL,
  client_iss    text,
  patient_ref   text NOT NULL,
  card_uuids    jsonb NOT NULL DEFAULT '[]'::jsonb,
  duration_ms   double precision NOT NULL
);
CREATE INDEX hook_calls_received_at_idx ON hook_calls (received_at);
CREATE INDEX hook_calls_patient_idx ON hook_calls (patient_ref, received_at);

CREATE TABLE order_decisions (
  call_id               text NOT NULL REFERENCES hook_calls (id) ON DELETE CASCADE,
  ordinal               integer NOT NULL,
  order_ref             text NOT NULL,
  billing_code          text,
  outcome               text NOT NULL,
  policy_id             text,
  policy_version        text,
  criteria_path         jsonb NOT NULL DEFAULT '[]'::jsonb,
  evidence              jsonb NOT NULL DEFAULT '[]'::jsonb,
  missing               jsonb NOT NULL DEFAULT '[]'::jsonb,
  suggestions           jsonb NOT NULL DEFAULT '[]'::jsonb,
  coverage_ref          text,
  coverage_assertion_id text,
  satisfied_pa_id       text,
  PRIMARY KEY (call_id, ordinal)
);
-- Not UNIQUE: an id reissued by a buggy caller must not make the whole call unrecordable.
CREATE INDEX order_decisions_assertion_idx ON order_decisions (coverage_assertion_id)
  WHERE coverage_assertion_id IS NOT NULL;

CREATE TABLE feedback (
  id                   text PRIMARY KEY,
  received_at          timestamptz NOT NULL,
  service_id           text NOT NULL,
  card_uuid            text NOT NULL,
  outcome              text NOT NULL,
  accepted_suggestions jsonb NOT NULL DEFAULT '[]'::jsonb,
  override_reason      text,
  client_iss           text
);
CREATE INDEX feedback_card_idx ON feedback (card_uuid);
CREATE INDEX feedback_received_at_idx ON feedback (received_at);
`,
  },
];
