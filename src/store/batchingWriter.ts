import type { FeedbackRecord, HookCallRecord } from './types.js';

export interface BatchStore {
  saveHookCalls(records: readonly HookCallRecord[]): Promise<void>;
  saveHookCall(record: HookCallRecord): Promise<void>;
  saveFeedback(f: FeedbackRecord): Promise<void>;
}

interface Pending {
  readonly record: HookCallRecord;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

/**
 * Groups the hook calls that arrive within `windowMs` (or `maxBatch` of them) into one write: the
 * embedded database pays mostly per statement, so under load this cuts the cost of keeping every
 * decision. Each caller's promise settles with its batch, so the ResilientRecorder in front keeps
 * its timeout, retry and loss accounting per record (writes are idempotent on the record id).
 */
export class BatchingRecordWriter {
  private pending: Pending[] = [];
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly store: BatchStore,
    private readonly windowMs = 10,
    private readonly maxBatch = 100,
  ) {}

  saveHookCall(record: HookCallRecord): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ record, resolve, reject });
      if (this.pending.length >= this.maxBatch) this.flushNow();
      else this.timer ??= setTimeout(() => this.flushNow(), this.windowMs);
    });
  }

  saveFeedback(f: FeedbackRecord): Promise<void> {
    return this.store.saveFeedback(f);
  }

  private flushNow(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    Promise.resolve()
      .then(() => this.store.saveHookCalls(batch.map((p) => p.record)))
      .then(
        () => batch.forEach((p) => p.resolve()),
        // One bad record must not sink the others: on failure each is written alone, settling its own promise.
        () =>
          batch.forEach((p) => {
            Promise.resolve()
              .then(() => this.store.saveHookCall(p.record))
              .then(p.resolve, p.reject);
          }),
      );
  }
}
