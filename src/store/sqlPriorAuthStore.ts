/**
 * PAS claims in the decision-record database (SQLite or PostgreSQL, the same queries): each
 * `Claim/$submit` is a hook-call record (its items as order decisions, tied to the CRD
 * coverage-assertion-id) plus a `prior_auth_claims` row with the claim key and the ClaimResponse
 * answered, written together in one transaction straight to the store of record, so `$inquire` on
 * any instance sees a submission as soon as it is answered.
 */
import type { ClaimResponse } from 'fhir/r4.js';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import { priorAuthCallRecord } from './priorAuthCallRecord.js';
import type { PriorAuthDetermination, PriorAuthQuery, PriorAuthRecord, PriorAuthStore, StoredClaimResponse } from '../pas/store.js';
import type { RecordDatabase } from './recordSchema.js';
import { callRows, insertRecordRows, instant, isoParam, optional } from './sqlDecisionRecordStore.js';

/** jsonb comes back parsed from PostgreSQL, as text from SQLite. */
const json = z.preprocess((v) => (typeof v === 'string' ? JSON.parse(v) : v), z.looseObject({ resourceType: z.literal('ClaimResponse') }));

/** Written only by `save` from a typed ClaimResponse; the schema checks it is one. */
function isClaimResponse(v: { resourceType: string }): v is ClaimResponse {
  return v.resourceType === 'ClaimResponse';
}

const latestRow = z.object({ claim_key: z.string(), received_at: instant, claim_response: json });

const determinationRow = z.object({
  hook: z.string(),
  patient_ref: z.string(),
  received_at: instant,
  duration_ms: z.coerce.number(),
  order_ref: z.string(),
  billing_code: z.string(),
  outcome: z.string(),
  satisfied_pa_id: optional,
  priority: z.enum(['standard', 'expedited']).nullish(),
});

const REVIEW_ACTIONS = ['A1', 'A3', 'A4'] as const;
const isReviewAction = (x: string): x is (typeof REVIEW_ACTIONS)[number] => (REVIEW_ACTIONS as readonly string[]).includes(x);

export interface SqlPriorAuthStoreOptions {
  /** Resolves once the database's schema is current (PostgreSQL is migrated when first reached). */
  readonly ready?: () => Promise<unknown>;
}

export class SqlPriorAuthStore implements PriorAuthStore {
  constructor(
    private readonly db: Kysely<RecordDatabase>,
    private readonly options: SqlPriorAuthStoreOptions = {},
  ) {}

  /** The call, its items and the claim row: all or none. Idempotent on the record id. */
  async save(r: PriorAuthRecord): Promise<void> {
    const rows = callRows([priorAuthCallRecord(r)]);
    await this.options.ready?.();
    await this.db.transaction().execute(async (trx) => {
      await insertRecordRows(trx, rows, []);
      await trx
        .insertInto('prior_auth_claims')
        .values({ call_id: r.id, claim_key: r.claimKey, priority: r.priority, claim_response: JSON.stringify(r.claimResponse) })
        .onConflict((oc) => oc.column('call_id').doNothing())
        .execute();
    });
  }

  async latest(claimKey: string): Promise<StoredClaimResponse | undefined> {
    await this.options.ready?.();
    const row = await this.db
      .selectFrom('prior_auth_claims as p')
      .innerJoin('hook_calls as c', 'c.id', 'p.call_id')
      .select(['p.claim_key', 'p.claim_response', 'c.received_at'])
      .where('p.claim_key', '=', claimKey)
      .orderBy('c.received_at', 'desc')
      .orderBy('c.id', 'desc')
      .limit(1)
      .executeTakeFirst();
    if (!row) return undefined;
    const parsed = latestRow.parse(row);
    const claimResponse = parsed.claim_response;
    if (!isClaimResponse(claimResponse)) return undefined;
    return { claimKey: parsed.claim_key, receivedAt: parsed.received_at, claimResponse };
  }

  /**
   * PAS items reviewed (A1, A3, A4) and order-sign orders that issued an authorization
   * (`satisfied_pa_id`), on a billing code, oldest first.
   */
  async determinations(q: PriorAuthQuery = {}): Promise<readonly PriorAuthDetermination[]> {
    await this.options.ready?.();
    let query = this.db
      .selectFrom('order_decisions as o')
      .innerJoin('hook_calls as c', 'c.id', 'o.call_id')
      .leftJoin('prior_auth_claims as p', 'p.call_id', 'c.id')
      .select(['c.hook', 'c.patient_ref', 'c.received_at', 'c.duration_ms', 'o.order_ref', 'o.billing_code', 'o.outcome', 'o.satisfied_pa_id', 'p.priority'])
      .where('o.billing_code', 'is not', null)
      .where((eb) =>
        eb.or([
          eb.and([eb('c.hook', '=', 'Claim/$submit'), eb('o.outcome', 'in', [...REVIEW_ACTIONS])]),
          eb.and([eb('c.hook', '=', 'order-sign'), eb('o.satisfied_pa_id', 'is not', null)]),
        ]),
      );
    if (q.to !== undefined) query = query.where('c.received_at', '<', isoParam(q.to, 'to'));
    const rows = await query.orderBy('c.received_at').orderBy('c.id').orderBy('o.ordinal').execute();
    return rows.flatMap((raw) => {
      const r = determinationRow.parse(raw);
      const pas = r.hook === 'Claim/$submit';
      const action = pas ? r.outcome : 'A1';
      if (!isReviewAction(action)) return [];
      return [
        {
          source: pas ? ('Claim/$submit' as const) : ('order-sign' as const),
          patientRef: r.patient_ref,
          orderRef: r.order_ref,
          billingCode: r.billing_code,
          ...(pas ? { priority: r.priority ?? 'standard' } : {}),
          receivedAt: r.received_at,
          // The record keeps the answer's duration: decided when answered.
          decidedAt: new Date(Date.parse(r.received_at) + r.duration_ms).toISOString(),
          reviewAction: action,
          ...(r.satisfied_pa_id ? { authorizationNumber: r.satisfied_pa_id } : {}),
        },
      ];
    });
  }
}
