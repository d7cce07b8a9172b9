/** Storage: decision records (audit trail for CRD disputes) and shared key-value caches. */
export type {
  AssertionQuery,
  AssertionRecord,
  DecisionRecordStore,
  FeedbackRecord,
  HookCallRecord,
  OrderDecisionRecord,
  RecordItem,
  RecordLog,
  RecordLogStats,
} from './types.js';
export { SqlDecisionRecordStore } from './sqlDecisionRecordStore.js';
export { SqliteRecordWriter } from './sqliteRecordWriter.js';
export { IN_MEMORY, RECORD_FILE, RecordStoreOpenError, openPostgres, openSqlite, type RecordDatabaseHandle } from './openRecordDatabase.js';
export { EmbeddedRecordLog, RecordOutbox, type RecordOutboxOptions } from './recordLog.js';
export { startRetentionPurge, type RetentionPurgeOptions } from './retentionPurge.js';
export {
  CacheFullError,
  createSharedCache,
  MemorySharedCache,
  RedisSharedCache,
  type MemorySharedCacheOptions,
  type RedisSharedCacheOptions,
  type SharedCache,
  type SharedCacheConfig,
} from './kv.js';
