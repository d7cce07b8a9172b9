/**
 * Test helper: the app with decision records as the service wires them (record before answer), for
 * tests that read records back through the operator API.
 */
import { createApp, type AppDeps } from '../../src/http/app.js';
import type { Config } from '../../src/config/config.js';
import { createLogger, type Logger } from '../../src/log.js';
import { setupDecisionRecords, type DecisionRecords } from '../../src/records/setup.js';

export async function recordedApp(
  config: Config,
  logger: Logger = createLogger('silent'),
  deps: Omit<AppDeps, 'logger' | 'recorder' | 'records' | 'priorAuth'> = {},
): Promise<{ app: ReturnType<typeof createApp>['app']; records: DecisionRecords }> {
  const records = await setupDecisionRecords(config, logger);
  const { app } = createApp(config, { ...deps, logger, recorder: records.recorder, records: records.store, priorAuth: records.priorAuth });
  return { app, records };
}
