import type { Logger } from 'pino';
import { PgliteDecisionRecordStore } from './pgliteDecisionRecordStore.js';
import { PostgresDecisionRecordStore } from './postgresDecisionRecordStore.js';
import type { SqlDecisionRecordStore } from './sqlDecisionRecordStore.js';

export interface DecisionRecordStoreConfig {
  /** DATABASE_URL: when set, records go to PostgreSQL (shared by all instances). */
  databaseUrl?: string;
  /** Folder for the embedded database when no DATABASE_URL; `memory://` for a throwaway one. */
  dataDir?: string;
  logger?: Pick<Logger, 'warn'>;
}

/** Default embedded data folder, relative to the working directory. */
export const DEFAULT_RECORD_DATA_DIR = '.data/records';

/**
 * PostgreSQL when `databaseUrl` is set, else embedded PGlite in `dataDir`. The store is not yet
 * opened: call `init()` (which also runs migrations) before use.
 */
export function createDecisionRecordStore(config: DecisionRecordStoreConfig): SqlDecisionRecordStore {
  if (config.databaseUrl) {
    return new PostgresDecisionRecordStore({ connectionString: config.databaseUrl, logger: config.logger });
  }
  return new PgliteDecisionRecordStore(config.dataDir ?? DEFAULT_RECORD_DATA_DIR);
}
