import { createApp } from './app.js';
import { shownDecisionsIn } from './decision/shownDecisions.js';
import { ConfigError, loadConfig, type Config } from './config/config.js';
import { createLogger } from './log.js';
import { listenErrorMessage } from './listenError.js';
import { createMetrics } from './metrics.js';
import { setupDecisionRecords } from './records/setup.js';
import { createClientAuth } from './security/setup.js';
import { setupSharedState } from './sharedState.js';

/** `npm start`: the service with its built-in policies on PORT (default 3000). */
let config: Config;
try {
  config = loadConfig();
} catch (err) {
  // A wrong setting is the operator's to fix: one line saying which, no stack trace.
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`lumbar-mri-cds: not started: ${err.message}\n`);
  process.exit(1);
}
const logger = createLogger(config.logLevel);
const records = await setupDecisionRecords(config, logger);
const shared = setupSharedState(config, logger);
const clientAuth = await createClientAuth(config, logger, { replayCache: shared.replayCache });
const { app, library } = createApp(config, {
  logger,
  metrics: createMetrics({ processMetrics: true }),
  observers: [records.observer],
  records: records.store,
  clientAuth,
  decisionCache: shared.decisionCache,
  // The same shared store, so order-sign on one instance knows what order-select showed on another.
  shownDecisions: shared.decisionCache ? shownDecisionsIn(shared.decisionCache) : undefined,
});
if (config.auth === 'off') {
  logger.warn(
    { auth: 'off', fhirServerAllowlist: config.fhirServerAllowlist },
    'SECURITY WARNING: CDS client authentication is OFF (CDS_AUTH=off, the default for local testing): ANY caller can invoke the hooks and feedback. Never expose this to a network; set CDS_AUTH=required and CDS_TRUSTED_CLIENTS for any deployment (README "Security").',
  );
}
// Express 5 hands a listen error (a busy port) to this callback.
const server = app.listen(config.port, config.host, (err?: Error) => {
  if (err) {
    process.stderr.write(`${listenErrorMessage('lumbar-mri-cds', err, config.host, config.port)}\n`);
    void Promise.allSettled([records.close(), shared.close()]).finally(() => process.exit(1));
    setTimeout(() => process.exit(1), 2000).unref();
    return;
  }
  logger.info({ port: config.port, sharedState: shared.backend, records: config.databaseUrl ? 'postgresql' : 'embedded', policies: library.policies.map((p) => `${p.policyId}@${p.version}`) }, 'lumbar-mri-cds listening');
});
const shutdown = (): void => {
  server.close(() => {
    void Promise.allSettled([records.close(), shared.close()]).finally(() => process.exit(0));
  });
  setTimeout(() => process.exit(0), 5000).unref();
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
