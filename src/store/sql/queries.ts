/**
 * The SQL text and row mapping shared by the PGlite and PostgreSQL stores. Parameters are
 * passed as text (JSON for jsonb, ISO strings for timestamptz) and cast in SQL, and results
 * come back as text or JSON, so both drivers see the same values whatever their type parsers.
 */
import { z } from 'zod';
import type { FeedbackRecord, HookCallRecord, OrderDecisionRecord } from '../types.js';

/** timestamptz -> ISO 8601 UTC with milliseconds, formatted by the database so drivers agree. */
const isoOf = (col: string): string => `to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/** One call's columns with its orders aggregated as camelCase JSON (nulls stripped = optional fields absent). */
const CALL_COLUMNS = `
  c.id, ${isoOf('c.received_at')} AS received_at, c.service_id, c.hook, c.hook_instance,
  c.client_iss, c.patient_ref, c.card_uuids, c.duration_ms,
  (SELECT coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
      'orderRef', o2.order_ref, 'billingCode', o2.billing_code, 'outcome', o2.outcome,
      'policyId', o2.policy_id, 'policyVersion', o2.policy_version,
      'criteriaPath', o2.criteria_path, 'evidence', o2.evidence, 'missing', o2.missing,
      'suggestions', o2.suggestions, 'coverageRef', o2.coverage_ref,
      'coverageAssertionId', o2.coverage_assertion_id, 'satisfiedPaId', o2.satisfied_pa_id
    )) ORDER BY o2.ordinal), '[]'::jsonb)
   FROM order_decisions o2 WHERE o2.call_id = c.id) AS orders`;

/**
 * Many hook calls in one statement (the embedded database pays per statement): $1 is a JSON array
 * of the documents `hookCallDoc` makes. Idempotent: a call already recorded (same id) is skipped,
 * and its orders are inserted only when the call row is new.
 */
export const INSERT_HOOK_CALLS = `
WITH input AS (
  SELECT c.doc FROM jsonb_array_elements($1::jsonb) AS c(doc)
), calls AS (
  INSERT INTO hook_calls (id, received_at, service_id, hook, hook_instance, client_iss, patient_ref, card_uuids, duration_ms)
  SELECT doc->>'id', (doc->>'receivedAt')::timestamptz, doc->>'serviceId', doc->>'hook', doc->>'hookInstance',
    doc->>'clientIss', doc->>'patientRef', coalesce(doc->'cardUuids', '[]'::jsonb), (doc->>'durationMs')::double precision
  FROM input
  ON CONFLICT (id) DO NOTHING
  RETURNING id
)
INSERT INTO order_decisions (call_id, ordinal, order_ref, billing_code, outcome, policy_id, policy_version,
  criteria_path, evidence, missing, suggestions, coverage_ref, coverage_assertion_id, satisfied_pa_id)
SELECT calls.id, (o.n - 1)::integer, o.doc->>'orderRef', o.doc->>'billingCode', o.doc->>'outcome',
  o.doc->>'policyId', o.doc->>'policyVersion',
  coalesce(o.doc->'criteriaPath', '[]'::jsonb), coalesce(o.doc->'evidence', '[]'::jsonb),
  coalesce(o.doc->'missing', '[]'::jsonb), coalesce(o.doc->'suggestions', '[]'::jsonb),
  o.doc->>'coverageRef', o.doc->>'coverageAssertionId', o.doc->>'satisfiedPaId'
FROM calls
JOIN input ON input.doc->>'id' = calls.id
CROSS JOIN jsonb_array_elements(input.doc->'orders') WITH ORDINALITY AS o(doc, n)`;

export const INSERT_FEEDBACK = `
INSERT INTO feedback (id, received_at, service_id, card_uuid, outcome, accepted_suggestions, override_reason, client_iss)
VALUES ($1, $2::timestamptz, $3, $4, $5, $6::jsonb, $7, $8)
ON CONFLICT (id) DO NOTHING`;

/** Newest call carrying the assertion id; `match_ordinal` says which of its orders. */
export const SELECT_BY_ASSERTION_ID = `
SELECT ${CALL_COLUMNS}, o.ordinal AS match_ordinal
FROM order_decisions o JOIN hook_calls c ON c.id = o.call_id
WHERE o.coverage_assertion_id = $1
ORDER BY c.received_at DESC, c.id
LIMIT 1`;

/** Feedback on any card returned by the call. */
export const SELECT_FEEDBACK_FOR_CALL = `
SELECT f.id, ${isoOf('f.received_at')} AS received_at, f.service_id, f.card_uuid, f.outcome,
  f.accepted_suggestions, f.override_reason, f.client_iss
FROM feedback f
WHERE f.card_uuid IN (SELECT jsonb_array_elements_text(c.card_uuids) FROM hook_calls c WHERE c.id = $1)
ORDER BY f.received_at, f.id`;

/** $1 patient ref, $2 from (inclusive), $3 to (exclusive), $4 limit; null = no filter. */
export const SELECT_ASSERTIONS = `
SELECT ${CALL_COLUMNS}, o.ordinal AS match_ordinal
FROM order_decisions o JOIN hook_calls c ON c.id = o.call_id
WHERE o.coverage_assertion_id IS NOT NULL
  AND ($1::text IS NULL OR c.patient_ref = $1::text)
  AND ($2::timestamptz IS NULL OR c.received_at >= $2::timestamptz)
  AND ($3::timestamptz IS NULL OR c.received_at < $3::timestamptz)
ORDER BY c.received_at DESC, c.id, o.ordinal
LIMIT $4::integer`;

/** Orders go with their call (ON DELETE CASCADE). */
export const PURGE_OLDER_THAN = `
WITH calls AS (DELETE FROM hook_calls WHERE received_at < $1::timestamptz RETURNING 1),
     fb AS (DELETE FROM feedback WHERE received_at < $1::timestamptz RETURNING 1)
SELECT ((SELECT count(*) FROM calls) + (SELECT count(*) FROM fb))::integer AS removed`;

// --- parameters ---------------------------------------------------------------------------

/** Only the known fields go to the database, so a caller cannot smuggle resource contents in. */
function orderDoc(o: OrderDecisionRecord): OrderDecisionRecord {
  return {
    orderRef: o.orderRef,
    billingCode: o.billingCode,
    outcome: o.outcome,
    policyId: o.policyId,
    policyVersion: o.policyVersion,
    criteriaPath: o.criteriaPath,
    evidence: o.evidence,
    missing: o.missing,
    suggestions: o.suggestions,
    coverageRef: o.coverageRef,
    coverageAssertionId: o.coverageAssertionId,
    satisfiedPaId: o.satisfiedPaId,
  };
}

/** One hook call as a document for INSERT_HOOK_CALLS, checked like hookCallParams. */
export function hookCallDoc(r: HookCallRecord): Record<string, unknown> {
  return {
    id: r.id,
    receivedAt: isoParam(r.receivedAt, 'receivedAt'),
    serviceId: r.serviceId,
    hook: r.hook,
    hookInstance: r.hookInstance,
    clientIss: r.clientIss ?? null,
    patientRef: r.patientRef,
    cardUuids: r.cardUuids,
    durationMs: r.durationMs,
    orders: r.orders.map(orderDoc),
  };
}

export function feedbackParams(f: FeedbackRecord): unknown[] {
  return [
    f.id,
    isoParam(f.receivedAt, 'receivedAt'),
    f.serviceId,
    f.cardUuid,
    f.outcome,
    JSON.stringify(f.acceptedSuggestions),
    f.overrideReason ?? null,
    f.clientIss ?? null,
  ];
}

/** Rejects what PostgreSQL would misread (a bare date is midnight local server time, for example). */
export function isoParam(value: string, field: string): string {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/.test(value) || Number.isNaN(Date.parse(value))) {
    throw new RangeError(`${field} must be an ISO 8601 instant with a time zone, got ${JSON.stringify(value)}`);
  }
  return value;
}

export const MAX_LIST_LIMIT = 1000;
export const DEFAULT_LIST_LIMIT = 100;

// --- rows ---------------------------------------------------------------------------------

/** Drivers may hand jsonb back parsed or as text; accept both. */
const json = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => (typeof v === 'string' ? JSON.parse(v) : v), schema);
const strings = z.array(z.string());
const optional = z
  .string()
  .nullish()
  .transform((v) => v ?? undefined);

const orderSchema = z.object({
  orderRef: z.string(),
  billingCode: z.string().optional(),
  outcome: z.string(),
  policyId: z.string().optional(),
  policyVersion: z.string().optional(),
  criteriaPath: strings,
  evidence: strings,
  missing: strings,
  suggestions: strings,
  coverageRef: z.string().optional(),
  coverageAssertionId: z.string().optional(),
  satisfiedPaId: z.string().optional(),
});

const callRowSchema = z.object({
  id: z.string(),
  received_at: z.string(),
  service_id: z.string(),
  hook: z.string(),
  hook_instance: z.string(),
  client_iss: optional,
  patient_ref: z.string(),
  card_uuids: json(strings),
  duration_ms: z.coerce.number(),
  orders: json(z.array(orderSchema)),
  match_ordinal: z.coerce.number().int().optional(),
});

const feedbackRowSchema = z.object({
  id: z.string(),
  received_at: z.string(),
  service_id: z.string(),
  card_uuid: z.string(),
  outcome: z.string(),
  accepted_suggestions: json(strings),
  override_reason: optional,
  client_iss: optional,
});

/** Drops keys whose value is undefined so records compare equal to what was saved. */
function compact<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

export function mapCallRow(row: unknown): { call: HookCallRecord; matchOrdinal?: number } {
  const r = callRowSchema.parse(row);
  const call: HookCallRecord = compact({
    id: r.id,
    receivedAt: r.received_at,
    serviceId: r.service_id,
    hook: r.hook,
    hookInstance: r.hook_instance,
    clientIss: r.client_iss,
    patientRef: r.patient_ref,
    orders: r.orders.map((o) => compact(o)),
    cardUuids: r.card_uuids,
    durationMs: r.duration_ms,
  });
  return { call, matchOrdinal: r.match_ordinal };
}

/** A call row selected for one of its orders -> that call and that order. */
export function mapAssertionRow(row: unknown): { call: HookCallRecord; order: OrderDecisionRecord } {
  const { call, matchOrdinal } = mapCallRow(row);
  const order = matchOrdinal === undefined ? undefined : call.orders[matchOrdinal];
  if (!order) throw new Error(`Decision record ${call.id}: order #${matchOrdinal} not found in its call`);
  return { call, order };
}

export function mapFeedbackRow(row: unknown): FeedbackRecord {
  const r = feedbackRowSchema.parse(row);
  return compact({
    id: r.id,
    receivedAt: r.received_at,
    serviceId: r.service_id,
    cardUuid: r.card_uuid,
    outcome: r.outcome,
    acceptedSuggestions: r.accepted_suggestions,
    overrideReason: r.override_reason,
    clientIss: r.client_iss,
  });
}
