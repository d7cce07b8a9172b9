/** Storage: decision records (audit trail for CRD disputes) and shared key-value caches. */
export type {
  AssertionQuery,
  AssertionRecord,
  DecisionRecordStore,
  FeedbackRecord,
  HookCallRecord,
  OrderDecisionRecord,
} from './types.js';
export { SqlDecisionRecordStore } from './sqlDecisionRecordStore.js';
export { PgliteDecisionRecordStore, IN_MEMORY } from './pgliteDecisionRecordStore.js';
export { PostgresDecisionRecordStore, type PostgresStoreOptions } from './postgresDecisionRecordStore.js';
export {
  createDecisionRecordStore,
  DEFAULT_RECORD_DATA_DIR,
  type DecisionRecordStoreConfig,
} from './createDecisionRecordStore.js';
export {
  ResilientRecorder,
  type RecorderLogger,
  type RecorderStats,
  type ResilientRecorderOptions,
} from './resilientRecorder.js';
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
