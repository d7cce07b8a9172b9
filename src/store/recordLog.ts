/**
 * The two ways a decision record is kept before its answer goes out (README "Decision records"):
 * straight into the embedded SQLite store, or, with PostgreSQL, into a local SQLite outbox that a
 * single deliverer empties into PostgreSQL in answer order, in batches, whatever the outage.
 */
import type Database from 'better-sqlite3';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { RecordDatabase } from './recordSchema.js';
import type { DecisionRecordStore, FeedbackRecord, HookCallRecord, RecordItem, RecordLog, RecordLogStats } from './types.js';

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err)).split('\n')[0];

/** The embedded store is the store of record: a write that returned is on disk. */
export class EmbeddedRecordLog implements RecordLog {
  private delivered = 0;
  private localWriteFailures = 0;
  private lastError?: string;

  constructor(private readonly store: Pick<DecisionRecordStore, 'saveBatch'>) {}

  async append(item: RecordItem): Promise<void> {
    try {
      await (item.kind === 'call' ? this.store.saveBatch([item.record], []) : this.store.saveBatch([], [item.record]));
      this.delivered++;
      this.lastError = undefined;
    } catch (err) {
      this.localWriteFailures++;
      this.lastError = messageOf(err);
      throw err;
    }
  }

  pending(): number {
    return 0;
  }

  stats(): RecordLogStats {
    return { delivered: this.delivered, pending: 0, deliveryFailures: 0, lastError: this.lastError, localWriteFailures: this.localWriteFailures };
  }

  async flush(): Promise<number> {
    return 0;
  }

  async close(): Promise<void> {}
}

interface OutboxRow {
  readonly seq: number;
  readonly kind: string;
  readonly body: string;
}

/**
 * The outbox table through prepared statements that Kysely compiles once and better-sqlite3 runs
 * synchronously: an append is on disk when it returns, and the deliverer never queues behind the
 * request path for Kysely's single SQLite connection (whose async lock a busy request path starves).
 */
class LocalOutbox {
  private readonly insert: Database.Statement;
  private readonly oldest: Database.Statement;
  private readonly remove: Database.Statement;
  private readonly size: Database.Statement;
  private readonly refuse: Database.Statement;

  constructor(db: Kysely<RecordDatabase>, sqlite: Database.Database) {
    const prepare = (q: { compile(): { sql: string } }): Database.Statement => sqlite.prepare(q.compile().sql);
    this.insert = prepare(db.insertInto('outbox').values({ kind: 'call', body: '' }));
    this.oldest = prepare(db.selectFrom('outbox').select(['seq', 'kind', 'body']).orderBy('seq').limit(0));
    this.remove = prepare(db.deleteFrom('outbox').where('seq', '<=', 0));
    this.size = prepare(db.selectFrom('outbox').select((eb) => eb.fn.countAll<number>().as('n')));
    this.refuse = prepare(db.insertInto('outbox_refused').values({ seq: 0, kind: 'call', body: '', error: '' }));
  }

  append(kind: RecordItem['kind'], body: string): void {
    this.insert.run(kind, body);
  }

  peek(limit: number): OutboxRow[] {
    return this.oldest.all(limit).map((r) => outboxRow.parse(r));
  }

  /** Deletes every record up to and including `seq`. */
  ack(seq: number): void {
    this.remove.run(seq);
  }

  count(): number {
    return Number(outboxCount.parse(this.size.get()).n);
  }

  setAside(seq: number, kind: string, body: string, error: string): void {
    this.refuse.run(seq, kind, body, error);
  }
}

const outboxRow = z.object({ seq: z.number(), kind: z.string(), body: z.string() });
const outboxCount = z.object({ n: z.coerce.number() });

export interface RecordOutboxOptions {
  readonly logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** Records per delivery (one PostgreSQL transaction). Default 500. */
  readonly batchSize?: number;
  /** First retry delay after a failed delivery; doubles per failure up to `retryMaxMs`. Default 100. */
  readonly retryBaseMs?: number;
  /** Default 2000: short, so delivery resumes within seconds of PostgreSQL returning. */
  readonly retryMaxMs?: number;
  /** Runs before the first delivery and after each failure until it succeeds (schema migration). */
  readonly prepareTarget?: () => Promise<unknown>;
}

/** SQLSTATE classes 22 (data exception) and 23 (constraint): resending the same record cannot help. */
function isPermanent(err: unknown): boolean {
  if (err instanceof RangeError) return true;
  const code = typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : '';
  return /^2[23][0-9A-Z]{3}$/.test(code);
}

/**
 * Local-first delivery to PostgreSQL. `append` writes the record to the outbox table of the local
 * SQLite file (durable once it returns, even against SIGKILL); one loop sends the oldest waiting
 * records to PostgreSQL in one transaction and deletes them locally once committed. A crash between
 * the two resends them, which is harmless: the store is idempotent on record ids. While the loop is
 * busy new records pile up and go in the next batch, so delivery keeps up with any request rate the
 * database can absorb; after an outage the backlog drains at `batchSize` records per round trip.
 */
export class RecordOutbox implements RecordLog {
  private readonly batchSize: number;
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;
  private waiting = 0;
  private delivered = 0;
  private deliveryFailures = 0;
  private localWriteFailures = 0;
  private consecutiveFailures = 0;
  private lastError?: string;
  private lastFailureLog = 0;
  private prepared = false;
  private stopped = false;
  private loop?: Promise<void>;
  /** Wakes the idle loop when a record arrives. */
  private wakeIdle?: () => void;
  /** Cuts a back-off short (flush, close): new records alone must not make it retry a dead database faster. */
  private wake?: () => void;

  private constructor(
    private readonly local: LocalOutbox,
    private readonly target: DecisionRecordStore,
    private readonly options: RecordOutboxOptions,
  ) {
    this.batchSize = options.batchSize ?? 500;
    this.retryBaseMs = options.retryBaseMs ?? 100;
    this.retryMaxMs = options.retryMaxMs ?? 2_000;
  }

  /** Counts what an earlier run left in the outbox and starts delivering it. */
  static start(
    local: { readonly db: Kysely<RecordDatabase>; readonly sqlite?: Database.Database },
    target: DecisionRecordStore,
    options: RecordOutboxOptions,
  ): RecordOutbox {
    if (!local.sqlite) throw new Error('The record outbox needs the local SQLite database');
    const outbox = new RecordOutbox(new LocalOutbox(local.db, local.sqlite), target, options);
    outbox.waiting = outbox.local.count();
    if (outbox.waiting > 0) options.logger.info({ pending: outbox.waiting }, 'decision records left by the last run: delivering');
    outbox.loop = outbox.run();
    return outbox;
  }

  async append(item: RecordItem): Promise<void> {
    try {
      this.local.append(item.kind, JSON.stringify(item.record));
    } catch (err) {
      this.localWriteFailures++;
      this.lastError = `local outbox: ${messageOf(err)}`;
      throw err;
    }
    this.waiting++;
    this.wakeIdle?.();
  }

  pending(): number {
    return this.waiting;
  }

  stats(): RecordLogStats {
    return {
      delivered: this.delivered,
      pending: this.waiting,
      deliveryFailures: this.deliveryFailures,
      lastError: this.lastError,
      localWriteFailures: this.localWriteFailures,
    };
  }

  async flush(timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (this.waiting > 0 && Date.now() < deadline && !this.stopped) {
      this.wake?.(); // cut a back-off short
      await sleep(Math.min(20, Math.max(1, deadline - Date.now())));
    }
    return this.waiting;
  }

  /** Stops delivering after the batch in flight; what is left stays in the outbox for the next start. */
  async close(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
    if (this.waiting > 0) {
      this.options.logger.warn({ pending: this.waiting }, 'decision records kept in the local outbox: delivered at the next start');
    }
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      // The target is prepared (migrated) at start, so its schema exists before the first record.
      if (this.waiting === 0 && this.prepared) {
        await this.pause(Infinity, true);
        continue;
      }
      try {
        if (!this.prepared) {
          await this.options.prepareTarget?.();
          this.prepared = true;
        }
        if (this.waiting > 0) await this.deliverBatch();
        if (this.consecutiveFailures > 0) {
          this.options.logger.info({ delivered: this.delivered, pending: this.waiting }, 'decision record delivery resumed');
        }
        this.consecutiveFailures = 0;
        this.lastError = undefined;
      } catch (err) {
        this.deliveryFailures++;
        this.consecutiveFailures++;
        this.lastError = `PostgreSQL: ${messageOf(err)}`;
        const now = Date.now();
        // One line when it starts failing, then one every 30 s: an outage must not flood the log.
        if (this.consecutiveFailures === 1 || now - this.lastFailureLog > 30_000) {
          this.lastFailureLog = now;
          this.options.logger.warn({ err: this.lastError, pending: this.waiting }, 'decision record delivery failed; records kept in the local outbox');
        }
        await this.pause(Math.min(this.retryBaseMs * 2 ** Math.min(this.consecutiveFailures - 1, 20), this.retryMaxMs));
      }
    }
  }

  private async deliverBatch(): Promise<void> {
    const rows = this.local.peek(this.batchSize);
    if (rows.length === 0) {
      this.waiting = 0;
      return;
    }
    const items = rows.map((r) => ({ seq: r.seq, item: parseItem(r.kind, r.body) }));
    try {
      await this.send(items.map((i) => i.item));
    } catch (err) {
      if (!isPermanent(err)) throw err;
      // One record the database refuses must not hold up the others: send them one by one and
      // set aside (locally, never deleted) the ones refused.
      for (const { seq, item } of items) {
        try {
          await this.send([item]);
        } catch (one) {
          if (!isPermanent(one)) throw one;
          await this.setAside(seq, item, one);
        }
      }
    }
    const last = rows[rows.length - 1].seq;
    this.local.ack(last);
    this.waiting = Math.max(0, this.waiting - rows.length);
    this.delivered += rows.length;
  }

  private send(items: readonly RecordItem[]): Promise<void> {
    const calls: HookCallRecord[] = [];
    const feedback: FeedbackRecord[] = [];
    for (const i of items) {
      if (i.kind === 'call') calls.push(i.record);
      else feedback.push(i.record);
    }
    return this.target.saveBatch(calls, feedback);
  }

  private async setAside(seq: number, item: RecordItem, err: unknown): Promise<void> {
    this.options.logger.error({ seq, kind: item.kind, recordId: item.record.id, err: messageOf(err) }, 'decision record refused by PostgreSQL; kept in outbox_refused');
    this.local.setAside(seq, item.kind, JSON.stringify(item.record), messageOf(err));
  }

  private pause(ms: number, idle = false): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = Number.isFinite(ms) ? setTimeout(() => done(), ms) : undefined;
      const done = (): void => {
        if (timer) clearTimeout(timer);
        this.wake = undefined;
        this.wakeIdle = undefined;
        resolve();
      };
      this.wake = done;
      if (idle) this.wakeIdle = done;
    });
  }
}

function parseItem(kind: string, body: string): RecordItem {
  // The outbox holds only what append() wrote from typed records.
  return kind === 'feedback' ? { kind: 'feedback', record: JSON.parse(body) as FeedbackRecord } : { kind: 'call', record: JSON.parse(body) as HookCallRecord };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
