/**
 * Writes decision records into the embedded SQLite store by group commit: the records appended in
 * one turn of the event loop go in one transaction, through statements Kysely compiles once and
 * better-sqlite3 runs synchronously. A Kysely transaction per record (three async inserts, each
 * prepared anew) cost more than the decision itself; see docs/performance.md.
 */
import { isDeepStrictEqual } from 'node:util';
import type Database from 'better-sqlite3';
import type { Kysely } from 'kysely';
import type { RecordDatabase } from './recordSchema.js';
import { callRows, feedbackRows, isoParam } from './sqlDecisionRecordStore.js';
import type { DecisionRecordStore, FeedbackRecord, HookCallRecord, OrderDecisionRecord } from './types.js';

type Param = string | number | null;

/**
 * One record's statement parameters, in the column order of the rows callRows / feedbackRows build
 * (the order the statements were compiled in): built straight from the record, with no row object
 * in between, on the request path.
 */
function callParams(r: HookCallRecord): Param[] {
  return [r.id, isoParam(r.receivedAt, 'receivedAt'), r.serviceId, r.hook, r.hookInstance, r.clientIss ?? null, r.patientRef, JSON.stringify(r.cardUuids), r.durationMs];
}

function orderParams(callId: string, o: OrderDecisionRecord, ordinal: number): Param[] {
  return [
    callId,
    ordinal,
    o.orderRef,
    o.billingCode ?? null,
    o.outcome,
    o.policyId ?? null,
    o.policyVersion ?? null,
    JSON.stringify(o.criteriaPath),
    JSON.stringify(o.evidence),
    JSON.stringify(o.missing),
    JSON.stringify(o.suggestions),
    o.coverageRef ?? null,
    o.coverageAssertionId ?? null,
    o.satisfiedPaId ?? null,
  ];
}

function feedbackParams(f: FeedbackRecord): Param[] {
  return [f.id, isoParam(f.receivedAt, 'receivedAt'), f.serviceId, f.cardUuid, f.outcome, JSON.stringify(f.acceptedSuggestions), f.overrideReason ?? null, f.clientIss ?? null];
}

/** Records with every field set to a value of its own, to check the parameters against callRows / feedbackRows. */
const TEMPLATE_CALL: HookCallRecord = {
  id: 'id',
  receivedAt: '2000-01-01T00:00:00.000Z',
  serviceId: 'service',
  hook: 'hook',
  hookInstance: 'instance',
  clientIss: 'iss',
  patientRef: 'Patient/p',
  orders: [
    {
      orderRef: 'ServiceRequest/o',
      billingCode: 'cpt',
      outcome: 'outcome',
      policyId: 'policy',
      policyVersion: 'version',
      criteriaPath: ['path'],
      evidence: ['evidence'],
      missing: ['missing'],
      suggestions: ['suggestion'],
      coverageRef: 'Coverage/c',
      coverageAssertionId: 'assertion',
      satisfiedPaId: 'pa',
    },
  ],
  cardUuids: ['card'],
  durationMs: 1.5,
};
const TEMPLATE_FEEDBACK: FeedbackRecord = {
  id: 'id',
  receivedAt: '2000-01-01T00:00:00.000Z',
  serviceId: 'service',
  cardUuid: 'card',
  outcome: 'outcome',
  acceptedSuggestions: ['suggestion'],
  overrideReason: 'reason',
  clientIss: 'iss',
};

interface Pending {
  /** Per hook call: its hook_calls parameters, then one order_decisions parameter list per order. */
  readonly calls: readonly (readonly Param[][])[];
  readonly feedback: readonly Param[][];
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

export class SqliteRecordWriter implements Pick<DecisionRecordStore, 'saveBatch'> {
  private readonly call: Database.Statement;
  private readonly order: Database.Statement;
  private readonly feedback: Database.Statement;
  private readonly writeAll: (batch: readonly Pending[]) => void;
  private queue: Pending[] = [];
  private scheduled = false;

  constructor(db: Kysely<RecordDatabase>, private readonly sqlite: Database.Database) {
    // The statements are compiled from the rows callRows / feedbackRows build, and the parameters
    // bound must be those rows' values in the same order: checked here once, on every field.
    const [template] = callRows([TEMPLATE_CALL]);
    const [fbTemplate] = feedbackRows([TEMPLATE_FEEDBACK]);
    const same =
      isDeepStrictEqual(Object.values(template.call), callParams(TEMPLATE_CALL)) &&
      isDeepStrictEqual(Object.values(template.orders[0]), orderParams(TEMPLATE_CALL.id, TEMPLATE_CALL.orders[0], 0)) &&
      isDeepStrictEqual(Object.values(fbTemplate), feedbackParams(TEMPLATE_FEEDBACK));
    if (!same) throw new Error('SqliteRecordWriter: its statement parameters no longer match the rows of callRows / feedbackRows');
    const prepare = (q: { compile(): { sql: string } }): Database.Statement => sqlite.prepare(q.compile().sql);
    this.call = prepare(db.insertInto('hook_calls').values(template.call).onConflict((oc) => oc.column('id').doNothing()));
    this.order = prepare(db.insertInto('order_decisions').values(template.orders[0]).onConflict((oc) => oc.columns(['call_id', 'ordinal']).doNothing()));
    this.feedback = prepare(db.insertInto('feedback').values(fbTemplate).onConflict((oc) => oc.column('id').doNothing()));
    this.writeAll = sqlite.transaction((batch: readonly Pending[]) => {
      for (const p of batch) this.write(p);
    });
  }

  /** Resolves once the records are committed (with the others of this turn); checks them first, alone. */
  saveBatch(calls: readonly HookCallRecord[], feedback: readonly FeedbackRecord[]): Promise<void> {
    let callStatements: Param[][][];
    let feedbackStatements: Param[][];
    try {
      callStatements = calls.map((r) => [callParams(r), ...r.orders.map((o, ordinal) => orderParams(r.id, o, ordinal))]);
      feedbackStatements = feedback.map(feedbackParams);
    } catch (err) {
      return Promise.reject(err);
    }
    if (callStatements.length === 0 && feedbackStatements.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.queue.push({ calls: callStatements, feedback: feedbackStatements, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.commit());
      }
    });
  }

  private commit(): void {
    // A Kysely transaction open on the same connection (the retention purge) would take these
    // records into its own commit, or its rollback: wait until it ends.
    if (this.sqlite.open && this.sqlite.inTransaction) {
      setTimeout(() => this.commit(), 1);
      return;
    }
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    try {
      this.writeAll(batch);
      for (const p of batch) p.resolve();
    } catch {
      // One record's failure must not fail the others: each alone, in its own transaction.
      for (const p of batch) {
        try {
          this.writeAll([p]);
          p.resolve();
        } catch (err) {
          p.reject(err);
        }
      }
    }
  }

  private write(p: Pending): void {
    for (const statements of p.calls) {
      this.call.run(statements[0]);
      for (let i = 1; i < statements.length; i++) this.order.run(statements[i]);
    }
    for (const f of p.feedback) this.feedback.run(f);
  }
}
