/**
 * Writes decision records into the embedded SQLite store by group commit: the records appended in
 * one turn of the event loop go in one transaction, through statements Kysely compiles once and
 * better-sqlite3 runs synchronously. A Kysely transaction per record (three async inserts, each
 * prepared anew) cost more than the decision itself; see docs/performance.md.
 */
import type Database from 'better-sqlite3';
import type { Kysely } from 'kysely';
import type { RecordDatabase } from './recordSchema.js';
import { callRows, feedbackRows } from './sqlDecisionRecordStore.js';
import type { DecisionRecordStore, FeedbackRecord, HookCallRecord } from './types.js';

type Row = Readonly<Record<string, string | number | null>>;

/** A prepared INSERT … ON CONFLICT DO NOTHING, its parameters named in the compiled order. */
interface Insert {
  readonly statement: Database.Statement;
  readonly columns: readonly string[];
}

interface Pending {
  readonly calls: ReturnType<typeof callRows>;
  readonly feedback: ReturnType<typeof feedbackRows>;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

export class SqliteRecordWriter implements Pick<DecisionRecordStore, 'saveBatch'> {
  private readonly call: Insert;
  private readonly order: Insert;
  private readonly feedback: Insert;
  private readonly writeAll: (batch: readonly Pending[]) => void;
  private queue: Pending[] = [];
  private scheduled = false;

  constructor(db: Kysely<RecordDatabase>, private readonly sqlite: Database.Database) {
    // Template rows in the shape callRows / feedbackRows build, so the columns match theirs.
    const [template] = callRows([{ id: '', receivedAt: '2000-01-01T00:00:00Z', serviceId: '', hook: '', hookInstance: '', patientRef: '', orders: [{ orderRef: '', outcome: '', criteriaPath: [], evidence: [], missing: [], suggestions: [] }], cardUuids: [], durationMs: 0 }]);
    const [fbTemplate] = feedbackRows([{ id: '', receivedAt: '2000-01-01T00:00:00Z', serviceId: '', cardUuid: '', outcome: '', acceptedSuggestions: [] }]);
    const prepare = (q: { compile(): { sql: string } }, row: Row): Insert => ({ statement: sqlite.prepare(q.compile().sql), columns: Object.keys(row) });
    this.call = prepare(db.insertInto('hook_calls').values(template.call).onConflict((oc) => oc.column('id').doNothing()), template.call);
    this.order = prepare(
      db.insertInto('order_decisions').values(template.orders[0]).onConflict((oc) => oc.columns(['call_id', 'ordinal']).doNothing()),
      template.orders[0],
    );
    this.feedback = prepare(db.insertInto('feedback').values(fbTemplate).onConflict((oc) => oc.column('id').doNothing()), fbTemplate);
    this.writeAll = sqlite.transaction((batch: readonly Pending[]) => {
      for (const p of batch) this.write(p);
    });
  }

  /** Resolves once the records are committed (with the others of this turn); checks them first, alone. */
  saveBatch(calls: readonly HookCallRecord[], feedback: readonly FeedbackRecord[]): Promise<void> {
    let rows: Pick<Pending, 'calls' | 'feedback'>;
    try {
      rows = { calls: callRows(calls), feedback: feedbackRows(feedback) };
    } catch (err) {
      return Promise.reject(err);
    }
    if (rows.calls.length === 0 && rows.feedback.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.queue.push({ ...rows, resolve, reject });
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
    const run = (insert: Insert, row: Row): void => void insert.statement.run(insert.columns.map((c) => row[c]));
    for (const r of p.calls) {
      run(this.call, r.call);
      for (const o of r.orders) run(this.order, o);
    }
    for (const f of p.feedback) run(this.feedback, f);
  }
}
