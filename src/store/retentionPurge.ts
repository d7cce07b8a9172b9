import type { Logger } from 'pino';
import type { DecisionRecordStore } from './types.js';

export interface RetentionPurgeOptions {
  /** RECORD_RETENTION_DAYS. 0 or less keeps records forever (no purge). */
  retentionDays: number;
  /** Time between purges. Default one hour. */
  intervalMs?: number;
  logger: Pick<Logger, 'info' | 'error'>;
  /** Clock, for tests. */
  now?: () => Date;
}

const DAY_MS = 86_400_000;

/**
 * Deletes decision records older than the retention period, once at start and then every
 * `intervalMs`. Failures are logged and retried at the next tick. The timer does not keep the
 * process alive.
 * @returns a function that stops the purge and resolves once a purge in progress has finished.
 */
export function startRetentionPurge(
  store: Pick<DecisionRecordStore, 'purgeOlderThan'>,
  options: RetentionPurgeOptions,
): () => Promise<void> {
  const { retentionDays, logger } = options;
  if (!(retentionDays > 0)) {
    logger.info({ retentionDays }, 'decision record retention purge disabled');
    return async () => undefined;
  }
  const intervalMs = options.intervalMs ?? 3_600_000;
  const now = options.now ?? (() => new Date());
  let running: Promise<void> | undefined;
  let stopped = false;

  const purge = (): void => {
    if (running || stopped) return; // a slow purge is not stacked on itself
    const cutoff = new Date(now().getTime() - retentionDays * DAY_MS).toISOString();
    running = store
      .purgeOlderThan(cutoff)
      .then(
        (removed) => {
          if (removed > 0) logger.info({ removed, cutoff, retentionDays }, 'decision records purged');
        },
        (err: unknown) => {
          logger.error({ err: err instanceof Error ? err.message : String(err), cutoff }, 'decision record purge failed');
        },
      )
      .finally(() => {
        running = undefined;
      });
  };

  const timer = setInterval(purge, intervalMs);
  timer.unref();
  purge();
  return async () => {
    stopped = true;
    clearInterval(timer);
    await running;
  };
}
