/**
 * The decision record store over Kysely, the same queries on SQLite and PostgreSQL. Values go in
 * as ISO text and JSON text; what comes out is parsed by zod row schemas, so both drivers give
 * the same records whatever their type parsers.
 */
import type { Kysely, Transaction } from 'kysely';
import { z } from 'zod';
import type { RecordDatabase } from './recordSchema.js';
import type {
  AssertionQuery,
  AssertionRecord,
  DecisionRecordStore,
  FeedbackRecord,
  HookCallRecord,
  OrderDecisionRecord,
} from './types.js';

export const MAX_LIST_LIMIT = 1000;
export const DEFAULT_LIST_LIMIT = 100;
/** Rows per INSERT: well under SQLite's 32,766 and PostgreSQL's 65,535 bound parameters. */
const CHUNK = 200;

/** Rejects what a database would misread (a bare date is midnight in the server's zone, for example). */
export function isoParam(value: string, field: string): string {
  const time = Date.parse(value);
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/.test(value) || Number.isNaN(time)) {
    throw new RangeError(`${field} must be an ISO 8601 instant with a time zone, got ${JSON.stringify(value)}`);
  }
  // One UTC form, so SQLite's text comparison orders instants as PostgreSQL's timestamptz does
  // (from the time parsed above: the string is parsed once).
  return new Date(time).toISOString();
}

// --- rows ---------------------------------------------------------------------------------

export const instant = z.union([z.date(), z.string()]).transform((v) => new Date(v).toISOString());
/** jsonb comes back parsed from PostgreSQL, as text from SQLite. */
const strings = z.preprocess((v) => (typeof v === 'string' ? JSON.parse(v) : v), z.array(z.string()));
export const optional = z
  .string()
  .nullish()
  .transform((v) => v ?? undefined);

const callRow = z.object({
  id: z.string(),
  received_at: instant,
  service_id: z.string(),
  hook: z.string(),
  hook_instance: z.string(),
  client_iss: optional,
  patient_ref: z.string(),
  card_uuids: strings,
  duration_ms: z.coerce.number(),
});

const orderRow = z.object({
  call_id: z.string(),
  ordinal: z.coerce.number().int(),
  order_ref: z.string(),
  billing_code: optional,
  outcome: z.string(),
  policy_id: optional,
  policy_version: optional,
  criteria_path: strings,
  evidence: strings,
  missing: strings,
  suggestions: strings,
  coverage_ref: optional,
  coverage_assertion_id: optional,
  satisfied_pa_id: optional,
});

const feedbackRow = z.object({
  id: z.string(),
  received_at: instant,
  service_id: z.string(),
  card_uuid: z.string(),
  outcome: z.string(),
  accepted_suggestions: strings,
  override_reason: optional,
  client_iss: optional,
});

/** Drops keys whose value is undefined so records compare equal to what was saved. */
function compact<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

function toOrder(r: z.infer<typeof orderRow>): OrderDecisionRecord {
  return compact({
    orderRef: r.order_ref,
    billingCode: r.billing_code,
    outcome: r.outcome,
    policyId: r.policy_id,
    policyVersion: r.policy_version,
    criteriaPath: r.criteria_path,
    evidence: r.evidence,
    missing: r.missing,
    suggestions: r.suggestions,
    coverageRef: r.coverage_ref,
    coverageAssertionId: r.coverage_assertion_id,
    satisfiedPaId: r.satisfied_pa_id,
  });
}

function toFeedback(r: z.infer<typeof feedbackRow>): FeedbackRecord {
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

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK));
  return out;
}

/** Checks every record before any is written, so a batch either goes in whole or not at all. */
export function callRows(calls: readonly HookCallRecord[]) {
  return calls.map((r) => ({
    call: {
      id: r.id,
      received_at: isoParam(r.receivedAt, 'receivedAt'),
      service_id: r.serviceId,
      hook: r.hook,
      hook_instance: r.hookInstance,
      client_iss: r.clientIss ?? null,
      patient_ref: r.patientRef,
      card_uuids: JSON.stringify(r.cardUuids),
      duration_ms: r.durationMs,
    },
    // Only the declared fields go to the database, so a caller cannot smuggle resource contents in.
    orders: r.orders.map((o, ordinal) => ({
      call_id: r.id,
      ordinal,
      order_ref: o.orderRef,
      billing_code: o.billingCode ?? null,
      outcome: o.outcome,
      policy_id: o.policyId ?? null,
      policy_version: o.policyVersion ?? null,
      criteria_path: JSON.stringify(o.criteriaPath),
      evidence: JSON.stringify(o.evidence),
      missing: JSON.stringify(o.missing),
      suggestions: JSON.stringify(o.suggestions),
      coverage_ref: o.coverageRef ?? null,
      coverage_assertion_id: o.coverageAssertionId ?? null,
      satisfied_pa_id: o.satisfiedPaId ?? null,
    })),
  }));
}

export function feedbackRows(feedback: readonly FeedbackRecord[]) {
  return feedback.map((f) => ({
    id: f.id,
    received_at: isoParam(f.receivedAt, 'receivedAt'),
    service_id: f.serviceId,
    card_uuid: f.cardUuid,
    outcome: f.outcome,
    accepted_suggestions: JSON.stringify(f.acceptedSuggestions),
    override_reason: f.overrideReason ?? null,
    client_iss: f.clientIss ?? null,
  }));
}

/** Inserts checked rows inside the caller's transaction; rows already there (same ids) are left as they are. */
export async function insertRecordRows(
  trx: Transaction<RecordDatabase>,
  rows: ReturnType<typeof callRows>,
  fb: ReturnType<typeof feedbackRows>,
): Promise<void> {
  for (const part of chunks(rows.map((r) => r.call))) {
    await trx.insertInto('hook_calls').values(part).onConflict((oc) => oc.column('id').doNothing()).execute();
  }
  for (const part of chunks(rows.flatMap((r) => r.orders))) {
    await trx
      .insertInto('order_decisions')
      .values(part)
      .onConflict((oc) => oc.columns(['call_id', 'ordinal']).doNothing())
      .execute();
  }
  for (const part of chunks(fb)) {
    await trx.insertInto('feedback').values(part).onConflict((oc) => oc.column('id').doNothing()).execute();
  }
}

export class SqlDecisionRecordStore implements DecisionRecordStore {
  constructor(private readonly db: Kysely<RecordDatabase>) {}

  saveHookCall(r: HookCallRecord): Promise<void> {
    return this.saveBatch([r], []);
  }

  saveFeedback(f: FeedbackRecord): Promise<void> {
    return this.saveBatch([], [f]);
  }

  /** Hook calls and feedback in one transaction: all or none. Idempotent on the record ids. */
  async saveBatch(calls: readonly HookCallRecord[], feedback: readonly FeedbackRecord[]): Promise<void> {
    const rows = callRows(calls);
    const fb = feedbackRows(feedback);
    if (rows.length === 0 && fb.length === 0) return;
    await this.db.transaction().execute(async (trx) => {
      await insertRecordRows(trx, rows, fb);
    });
  }

  async findByAssertionId(id: string): Promise<(AssertionRecord & { feedback: FeedbackRecord[] }) | undefined> {
    const hit = await this.db
      .selectFrom('order_decisions as o')
      .innerJoin('hook_calls as c', 'c.id', 'o.call_id')
      .select(['o.call_id', 'o.ordinal'])
      .where('o.coverage_assertion_id', '=', id)
      .orderBy('c.received_at', 'desc')
      .orderBy('c.id')
      .limit(1)
      .executeTakeFirst();
    if (!hit) return undefined;
    const [found] = await this.assertions([{ callId: hit.call_id, ordinal: Number(hit.ordinal) }]);
    const feedback = found.call.cardUuids.length
      ? await this.db
          .selectFrom('feedback')
          .selectAll()
          .where('card_uuid', 'in', found.call.cardUuids)
          .orderBy('received_at')
          .orderBy('id')
          .execute()
      : [];
    return { ...found, feedback: feedback.map((r) => toFeedback(feedbackRow.parse(r))) };
  }

  async listAssertions(q: AssertionQuery): Promise<AssertionRecord[]> {
    const wanted = q.limit !== undefined && Number.isFinite(q.limit) ? Math.trunc(q.limit) : DEFAULT_LIST_LIMIT;
    const limit = Math.min(Math.max(wanted, 1), MAX_LIST_LIMIT);
    let query = this.db
      .selectFrom('order_decisions as o')
      .innerJoin('hook_calls as c', 'c.id', 'o.call_id')
      .select(['o.call_id', 'o.ordinal'])
      .where('o.coverage_assertion_id', 'is not', null);
    if (q.patient !== undefined) query = query.where('c.patient_ref', '=', q.patient);
    if (q.from !== undefined) query = query.where('c.received_at', '>=', isoParam(q.from, 'from'));
    if (q.to !== undefined) query = query.where('c.received_at', '<', isoParam(q.to, 'to'));
    const hits = await query.orderBy('c.received_at', 'desc').orderBy('c.id').orderBy('o.ordinal').limit(limit).execute();
    return this.assertions(hits.map((h) => ({ callId: h.call_id, ordinal: Number(h.ordinal) })));
  }

  /** Loads the calls (with all their orders) behind (call, order) hits, keeping the hits' order. */
  private async assertions(hits: readonly { callId: string; ordinal: number }[]): Promise<AssertionRecord[]> {
    if (hits.length === 0) return [];
    const ids = [...new Set(hits.map((h) => h.callId))];
    const [calls, orders] = await Promise.all([
      this.db.selectFrom('hook_calls').selectAll().where('id', 'in', ids).execute(),
      this.db.selectFrom('order_decisions').selectAll().where('call_id', 'in', ids).orderBy('call_id').orderBy('ordinal').execute(),
    ]);
    const ordersOf = new Map<string, OrderDecisionRecord[]>();
    for (const row of orders) {
      const o = orderRow.parse(row);
      const list = ordersOf.get(o.call_id) ?? [];
      list[o.ordinal] = toOrder(o);
      ordersOf.set(o.call_id, list);
    }
    const byId = new Map<string, HookCallRecord>();
    for (const row of calls) {
      const c = callRow.parse(row);
      byId.set(
        c.id,
        compact({
          id: c.id,
          receivedAt: c.received_at,
          serviceId: c.service_id,
          hook: c.hook,
          hookInstance: c.hook_instance,
          clientIss: c.client_iss,
          patientRef: c.patient_ref,
          orders: (ordersOf.get(c.id) ?? []).filter(Boolean),
          cardUuids: c.card_uuids,
          durationMs: c.duration_ms,
        }),
      );
    }
    return hits.flatMap((h) => {
      const call = byId.get(h.callId);
      const order = call?.orders[h.ordinal];
      return call && order ? [{ call, order }] : [];
    });
  }

  async purgeOlderThan(cutoffIso: string): Promise<number> {
    const cutoff = isoParam(cutoffIso, 'cutoff');
    return this.db.transaction().execute(async (trx) => {
      // Orders go with their call (ON DELETE CASCADE on both dialects).
      const calls = await trx.deleteFrom('hook_calls').where('received_at', '<', cutoff).executeTakeFirst();
      const fb = await trx.deleteFrom('feedback').where('received_at', '<', cutoff).executeTakeFirst();
      return Number(calls.numDeletedRows) + Number(fb.numDeletedRows);
    });
  }
}
