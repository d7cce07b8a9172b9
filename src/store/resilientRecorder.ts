import type { Logger } from 'pino';
import type { DecisionRecordStore, FeedbackRecord, HookCallRecord } from './types.js';

export type RecorderLogger = Pick<Logger, 'info' | 'warn' | 'error'>;

export interface ResilientRecorderOptions {
  logger: RecorderLogger;
  /** Longest a single write may take before it counts as failed; also the most `record()` can take. Default 1000. */
  timeoutMs?: number;
  /** Records kept for retry; beyond it the oldest is dropped (and logged). Default 1000. */
  maxQueue?: number;
  /** First retry delay; doubles per consecutive failure. Default 250. */
  retryBaseMs?: number;
  /** Ceiling of the retry delay. Default 30000. */
  retryMaxMs?: number;
}

export interface RecorderStats {
  /** Records stored (first try or retry). */
  written: number;
  /** Write attempts that failed or timed out. */
  failed: number;
  /** Write attempts made from the retry queue. */
  retried: number;
  /** Records given up: queue overflow, or rejected by the store as invalid. */
  dropped: number;
  /** Records waiting in the retry queue now. */
  queued: number;
}

type Item =
  | { kind: 'call'; record: HookCallRecord }
  | { kind: 'feedback'; record: FeedbackRecord };

class WriteTimeoutError extends Error {
  constructor(ms: number) {
    super(`decision record write timed out after ${ms} ms`);
    this.name = 'WriteTimeoutError';
  }
}

/**
 * Errors a retry cannot fix: bad input (RangeError from the store's checks) or PostgreSQL data
 * exceptions / constraint violations (SQLSTATE classes 22 and 23). Retrying those would block the queue.
 */
function isPermanent(err: unknown): boolean {
  if (err instanceof RangeError) return true;
  const code = typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : '';
  return /^2[23][0-9A-Z]{3}$/.test(code);
}

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** Ids only in logs: never resource contents. */
const ids = (item: Item) =>
  item.kind === 'call'
    ? { kind: item.kind, recordId: item.record.id, hookInstance: item.record.hookInstance }
    : { kind: item.kind, recordId: item.record.id, cardUuid: item.record.cardUuid };

/**
 * Writes decision records without letting the record database slow down or fail a hook response.
 * Each write is bounded by `timeoutMs`; a failed write goes to a bounded in-memory queue retried
 * with exponential backoff. Writes are idempotent on the record id, so retrying a write that timed
 * out but did land is harmless. Every loss is counted and logged.
 */
export class ResilientRecorder {
  private readonly logger: RecorderLogger;
  private readonly timeoutMs: number;
  private readonly maxQueue: number;
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;
  private readonly queue: Item[] = [];
  private readonly inflight = new Set<Promise<void>>();
  private readonly counters = { written: 0, failed: 0, retried: 0, dropped: 0 };
  private consecutiveFailures = 0;
  private retryTimer?: NodeJS.Timeout;
  private draining?: Promise<void>;
  private retrying?: Item;
  private closed = false;

  constructor(
    private readonly store: Pick<DecisionRecordStore, 'saveHookCall' | 'saveFeedback'>,
    options: ResilientRecorderOptions,
  ) {
    this.logger = options.logger;
    this.timeoutMs = options.timeoutMs ?? 1_000;
    this.maxQueue = Math.max(1, options.maxQueue ?? 1_000);
    this.retryBaseMs = options.retryBaseMs ?? 250;
    this.retryMaxMs = options.retryMaxMs ?? 30_000;
  }

  /**
   * Records a hook call. Never rejects, and settles within `timeoutMs` (written, or queued for
   * retry), so the caller may await it or not.
   */
  record(call: HookCallRecord): Promise<void> {
    return this.submit({ kind: 'call', record: call });
  }

  /** Records a feedback item; same guarantees as {@link record}. */
  recordFeedback(feedback: FeedbackRecord): Promise<void> {
    return this.submit({ kind: 'feedback', record: feedback });
  }

  stats(): RecorderStats {
    return { ...this.counters, queued: this.queue.length };
  }

  /** Waits for writes in flight, then tries the whole queue once now. For shutdown and tests. */
  async flush(): Promise<RecorderStats> {
    await Promise.allSettled([...this.inflight]);
    if (this.draining) await this.draining;
    if (this.queue.length > 0) {
      this.clearTimer();
      await this.drain();
    }
    return this.stats();
  }

  /** Flushes, then stops retrying; what is still queued is logged as lost. */
  async close(): Promise<RecorderStats> {
    const stats = await this.flush();
    this.closed = true;
    this.clearTimer();
    if (this.queue.length > 0) {
      this.logger.error({ queued: this.queue.length }, 'decision recorder closed with records not written');
    }
    return stats;
  }

  private submit(item: Item): Promise<void> {
    try {
      // While the queue holds records the store is known to be failing: queue behind them
      // (keeps order, and does not pile hung writes onto a dead database).
      if (this.queue.length > 0 || this.closed) {
        this.enqueue(item);
        return Promise.resolve();
      }
      const attempt = this.write(item).then(
        () => {
          this.counters.written++;
        },
        (err: unknown) => {
          this.counters.failed++;
          if (isPermanent(err)) {
            this.drop(item, 'rejected by store', err);
          } else {
            this.logger.warn({ ...ids(item), err: message(err) }, 'decision record write failed; queued for retry');
            this.enqueue(item);
          }
        },
      );
      this.inflight.add(attempt);
      void attempt.finally(() => this.inflight.delete(attempt));
      return attempt;
    } catch (err) {
      // Defensive: nothing above should throw, but the hook path must never see it if it does.
      this.logger.error({ err: message(err) }, 'decision recorder internal error');
      return Promise.resolve();
    }
  }

  private write(item: Item): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new WriteTimeoutError(this.timeoutMs)), this.timeoutMs);
    });
    // Promise.resolve().then() also catches a store that throws synchronously.
    const save = Promise.resolve().then(() =>
      item.kind === 'call' ? this.store.saveHookCall(item.record) : this.store.saveFeedback(item.record),
    );
    return Promise.race([save, timeout]).finally(() => clearTimeout(timer));
  }

  private enqueue(item: Item): void {
    if (this.queue.length >= this.maxQueue) {
      // Drop the oldest, unless it is the one being retried right now.
      const victim = this.queue[0] === this.retrying && this.queue.length > 1 ? 1 : 0;
      const [old] = this.queue.splice(victim, 1);
      if (old) this.drop(old, 'retry queue full', undefined);
    }
    this.queue.push(item);
    if (!this.closed) this.scheduleRetry();
  }

  private drop(item: Item, reason: string, err: unknown): void {
    this.counters.dropped++;
    this.logger.error(
      { ...ids(item), reason, err: err === undefined ? undefined : message(err), dropped: this.counters.dropped },
      'decision record dropped',
    );
  }

  private scheduleRetry(): void {
    if (this.retryTimer || this.draining) return;
    const exp = this.retryBaseMs * 2 ** Math.min(this.consecutiveFailures, 30);
    // Jitter spreads the retries of several instances after a shared outage.
    const delay = Math.min(exp, this.retryMaxMs) * (0.8 + Math.random() * 0.2);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.drain();
    }, delay);
    this.retryTimer.unref();
  }

  private clearTimer(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  /** Writes the queue oldest first; stops at the first transient failure and backs off. */
  private drain(): Promise<void> {
    this.draining ??= (async () => {
      let wrote = 0;
      while (this.queue.length > 0) {
        const item = this.queue[0];
        this.retrying = item;
        this.counters.retried++;
        try {
          await this.write(item);
          this.counters.written++;
          wrote++;
          this.consecutiveFailures = 0;
          this.remove(item);
        } catch (err) {
          this.counters.failed++;
          if (isPermanent(err)) {
            this.remove(item);
            this.drop(item, 'rejected by store', err);
            continue;
          }
          this.consecutiveFailures++;
          this.logger.warn(
            { ...ids(item), err: message(err), queued: this.queue.length, consecutiveFailures: this.consecutiveFailures },
            'decision record retry failed',
          );
          break;
        } finally {
          this.retrying = undefined;
        }
      }
      if (this.queue.length === 0 && wrote > 0) {
        this.logger.info({ ...this.stats() }, 'decision record retry queue drained');
      }
    })().finally(() => {
      this.draining = undefined;
      if (this.queue.length > 0 && !this.closed) this.scheduleRetry();
    });
    return this.draining;
  }

  private remove(item: Item): void {
    const i = this.queue.indexOf(item);
    if (i >= 0) this.queue.splice(i, 1);
  }
}
