import type { Config } from '../config/config.js';
import type { ReadinessCheck } from '../store/types.js';
import type { Logger } from '../log.js';
import { openPostgres, openSqlite } from '../store/openRecordDatabase.js';
import { EmbeddedRecordLog, RecordOutbox } from '../store/recordLog.js';
import { startRetentionPurge } from '../store/retentionPurge.js';
import { SqlDecisionRecordStore } from '../store/sqlDecisionRecordStore.js';
import { SqlPriorAuthStore } from '../store/sqlPriorAuthStore.js';
import { SqliteRecordWriter } from '../store/sqliteRecordWriter.js';
import type { PriorAuthStore } from '../pas/store.js';
import type { DecisionRecordStore, RecordLog } from '../store/types.js';
import { eventRecorder, type DecisionRecorder } from './eventRecorder.js';

export interface DecisionRecords {
  /** The store of record: the operator API reads it. */
  readonly store: DecisionRecordStore;
  /** PAS claims, in the same database as the store of record (`$inquire`, the CMS-0057-F report). */
  readonly priorAuth: PriorAuthStore;
  /** Where each record goes before its answer is sent. */
  readonly log: RecordLog;
  /** Hook and feedback events to records, for `AppDeps.recorder`. */
  readonly recorder: DecisionRecorder;
  /** Local store writable; outbox backlog under `recordOutboxReadyMax`. */
  readonly readiness: ReadinessCheck;
  /** Waits up to `timeoutMs` for the outbox to drain, then stops; what is left stays on disk. */
  close(timeoutMs?: number): Promise<void>;
}

/**
 * Decision records for the running service. Always a local SQLite file in RECORD_DATA_DIR: the
 * store itself, or with DATABASE_URL the outbox in front of PostgreSQL (PAS claims go to
 * PostgreSQL directly). Migrations at start-up
 * (PostgreSQL's when it is first reached, so the service starts during a database outage); purge
 * after RECORD_RETENTION_DAYS.
 */
export async function setupDecisionRecords(config: Config, logger: Logger): Promise<DecisionRecords> {
  const local = await openSqlite(config.recordDataDir);
  const remote = config.databaseUrl
    ? openPostgres(config.databaseUrl, { onIdleError: (err) => logger.warn({ err: err.message }, 'decision records: PostgreSQL connection lost') })
    : undefined;
  const store = new SqlDecisionRecordStore((remote ?? local).db);
  // PostgreSQL is migrated once, when first reached, by whichever needs it first (outbox or PAS).
  let migrated: Promise<unknown> | undefined;
  const migrateRemote = async (): Promise<unknown> => {
    if (!remote) return undefined;
    migrated ??= remote.migrate().catch((err: unknown) => {
      migrated = undefined; // tried again next time
      throw err;
    });
    return migrated;
  };
  // PAS claims skip the outbox: `$inquire` on any instance must see a claim once it is answered.
  const priorAuth = new SqlPriorAuthStore((remote ?? local).db, { ready: migrateRemote });
  let stopPurge: () => Promise<void> = async () => undefined;
  const purge = (): void => {
    stopPurge = startRetentionPurge(store, { retentionDays: config.recordRetentionDays, logger });
  };
  // PostgreSQL is migrated (and then purged) once reached, which may be after start-up.
  const log: RecordLog = remote
    ? RecordOutbox.start(local, store, { logger, prepareTarget: () => migrateRemote().then(purge) })
    : new EmbeddedRecordLog(local.sqlite ? new SqliteRecordWriter(local.db, local.sqlite) : store);
  if (!remote) purge();
  return {
    store,
    priorAuth,
    log,
    recorder: eventRecorder(log),
    readiness: {
      name: 'decision-records',
      async check() {
        const { pending, lastError } = log.stats();
        if (lastError?.startsWith('local') || (!remote && lastError)) return `local record store not writable: ${lastError}`;
        if (pending >= config.recordOutboxReadyMax) {
          return `${pending} decision records waiting for PostgreSQL (ready below ${config.recordOutboxReadyMax})${lastError ? `; ${lastError}` : ''}`;
        }
        return undefined;
      },
    },
    async close(timeoutMs = 5_000) {
      await stopPurge();
      stopPurge = async () => undefined;
      const left = await log.flush(timeoutMs);
      if (left > 0) logger.warn({ pending: left }, 'decision records not yet delivered at shutdown: kept in the local outbox');
      await log.close();
      await remote?.close();
      await local.close();
    },
  };
}
