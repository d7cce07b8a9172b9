import type { HookObserver } from '../pipeline/events.js';
import type { Config } from '../config/config.js';
import type { Logger } from '../log.js';
import { createDecisionRecordStore } from '../store/createDecisionRecordStore.js';
import { BatchingRecordWriter } from '../store/batchingWriter.js';
import { ResilientRecorder } from '../store/resilientRecorder.js';
import { startRetentionPurge } from '../store/retentionPurge.js';
import type { DecisionRecordStore } from '../store/types.js';
import { recordingObserver } from './recordingObserver.js';

export interface DecisionRecords {
  readonly store: DecisionRecordStore;
  readonly recorder: ResilientRecorder;
  readonly observer: HookObserver;
  close(): Promise<void>;
}

/**
 * Decision records for the running service: PostgreSQL when DATABASE_URL is set, else the embedded
 * database in RECORD_DATA_DIR; migrations at start-up; purge after RECORD_RETENTION_DAYS.
 */
export async function setupDecisionRecords(config: Config, logger: Logger): Promise<DecisionRecords> {
  const store = createDecisionRecordStore({ databaseUrl: config.databaseUrl, dataDir: config.recordDataDir, logger });
  await store.init();
  const recorder = new ResilientRecorder(new BatchingRecordWriter(store), { logger });
  const stopPurge = startRetentionPurge(store, { retentionDays: config.recordRetentionDays, logger });
  return {
    store,
    recorder,
    observer: recordingObserver(recorder),
    async close() {
      await stopPurge();
      await recorder.close();
      await store.close();
    },
  };
}
