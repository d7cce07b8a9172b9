import type { SqlExecutor } from './sql/executor.js';
import { appliedVersions, runMigrations, type AppliedMigration } from './sql/migrate.js';
import {
  DEFAULT_LIST_LIMIT,
  INSERT_FEEDBACK,
  INSERT_HOOK_CALLS,
  MAX_LIST_LIMIT,
  PURGE_OLDER_THAN,
  SELECT_ASSERTIONS,
  SELECT_BY_ASSERTION_ID,
  SELECT_FEEDBACK_FOR_CALL,
  feedbackParams,
  hookCallDoc,
  isoParam,
  mapAssertionRow,
  mapFeedbackRow,
} from './sql/queries.js';
import type {
  AssertionQuery,
  AssertionRecord,
  DecisionRecordStore,
  FeedbackRecord,
  HookCallRecord,
} from './types.js';

/**
 * The decision record store over any SQL executor. PGlite and PostgreSQL subclasses only say
 * how to open a connection; queries, mapping and migrations are the same for both.
 */
export abstract class SqlDecisionRecordStore implements DecisionRecordStore {
  private db?: SqlExecutor;
  private opening?: Promise<SqlExecutor>;
  /** Migrations applied by the last `init()`; empty when the schema was already current. */
  lastMigrations: AppliedMigration[] = [];

  /** Opens the driver; called once, by the first `init()`. */
  protected abstract open(): Promise<SqlExecutor>;

  async init(): Promise<void> {
    // Concurrent init() calls share one open.
    this.opening ??= this.open();
    try {
      this.db = await this.opening;
    } catch (err) {
      this.opening = undefined;
      throw err;
    }
    this.lastMigrations = await runMigrations(this.db);
  }

  /** Versions recorded in `schema_migrations`. */
  async schemaVersions(): Promise<number[]> {
    return appliedVersions(this.conn());
  }

  async saveHookCall(r: HookCallRecord): Promise<void> {
    await this.saveHookCalls([r]);
  }

  /** Several hook calls in one statement; all or none (one statement is atomic). */
  async saveHookCalls(records: readonly HookCallRecord[]): Promise<void> {
    if (records.length === 0) return;
    await this.conn().query(INSERT_HOOK_CALLS, [JSON.stringify(records.map(hookCallDoc))]);
  }

  async saveFeedback(f: FeedbackRecord): Promise<void> {
    await this.conn().query(INSERT_FEEDBACK, feedbackParams(f));
  }

  async findByAssertionId(id: string): Promise<(AssertionRecord & { feedback: FeedbackRecord[] }) | undefined> {
    const db = this.conn();
    const { rows } = await db.query<unknown>(SELECT_BY_ASSERTION_ID, [id]);
    if (rows.length === 0) return undefined;
    const { call, order } = mapAssertionRow(rows[0]);
    const fb = await db.query<unknown>(SELECT_FEEDBACK_FOR_CALL, [call.id]);
    return { call, order, feedback: fb.rows.map(mapFeedbackRow) };
  }

  async listAssertions(q: AssertionQuery): Promise<AssertionRecord[]> {
    const wanted = q.limit !== undefined && Number.isFinite(q.limit) ? Math.trunc(q.limit) : DEFAULT_LIST_LIMIT;
    const limit = Math.min(Math.max(wanted, 1), MAX_LIST_LIMIT);
    const { rows } = await this.conn().query<unknown>(SELECT_ASSERTIONS, [
      q.patient ?? null,
      q.from === undefined ? null : isoParam(q.from, 'from'),
      q.to === undefined ? null : isoParam(q.to, 'to'),
      limit,
    ]);
    return rows.map(mapAssertionRow);
  }

  async purgeOlderThan(cutoffIso: string): Promise<number> {
    const { rows } = await this.conn().query<{ removed: number | string }>(PURGE_OLDER_THAN, [
      isoParam(cutoffIso, 'cutoff'),
    ]);
    return Number(rows[0]?.removed ?? 0);
  }

  async close(): Promise<void> {
    const opening = this.opening;
    this.opening = undefined;
    this.db = undefined;
    if (opening) await (await opening).close();
  }

  private conn(): SqlExecutor {
    if (!this.db) throw new Error('Decision record store is not initialised: call init() first');
    return this.db;
  }
}
