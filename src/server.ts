import { createApp } from './http/app.js';
import { shownDecisionsIn } from './decision/shownDecisions.js';
import { ConfigError, loadConfig, type Config } from './config/config.js';
import { loadLibrary, type PolicyLibrary } from './library/library.js';
import { PolicyLoadError } from './config/loadError.js';
import { createLogger } from './log.js';
import { listenErrorMessage } from './listenError.js';
import { createMetrics } from './http/metrics.js';
import { registerRecordMetrics } from './records/recordMetrics.js';
import { setupDecisionRecords } from './records/setup.js';
import { createClientAuth } from './security/setup.js';
import { setupSharedState } from './http/sharedState.js';
import { RecordStoreOpenError } from './store/openRecordDatabase.js';
import { setFlagsFromString } from 'node:v8';

// The old generation grows to 1.5x what survived its last full collection, not V8's default of up
// to 4x: under load the service's heap then stays under 200 MB (258 -> 158 MB peak RSS in the bench,
// same CPU per request; docs/performance.md). A flag given on node's command line wins.
if (!process.execArgv.some((a) => a.startsWith('--heap-growing-percent') || a.startsWith('--heap_growing_percent'))) setFlagsFromString('--heap-growing-percent=50');

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
let library: PolicyLibrary;
try {
  library = loadLibrary(config.policyDir, config.routingFile);
} catch (err) {
  // Broken policy data (POLICY_DIR, ROUTING_FILE): one line naming the file and the field, no stack.
  if (!(err instanceof PolicyLoadError)) throw err;
  process.stderr.write(`lumbar-mri-cds: not started: policy data: ${err.summary}\n`);
  process.exit(1);
}
const logger = createLogger(config.logLevel);
const records = await setupDecisionRecords(config, logger).catch((err: unknown) => {
  // A store that cannot be opened is one line saying what to do, never a stack or a dump.
  if (err instanceof RecordStoreOpenError) {
    process.stderr.write(`lumbar-mri-cds: ${err.message}\n`);
    process.exit(1);
  }
  throw err;
});
const shared = setupSharedState(config, logger);
const clientAuth = await createClientAuth(config, logger, { replayCache: shared.replayCache });
const metrics = createMetrics({ processMetrics: true });
registerRecordMetrics(metrics.registry, records.log);
const { app } = createApp(config, {
  library,
  logger,
  metrics,
  recorder: records.recorder,
  records: records.store,
  priorAuth: records.priorAuth,
  readiness: [records.readiness, ...shared.readiness],
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
  logger.info({ port: config.port, sharedState: shared.backend, records: config.databaseUrl ? 'postgresql (local outbox first)' : 'embedded (SQLite)', policies: library.policies.map((p) => `${p.policyId}@${p.version}`) }, 'lumbar-mri-cds listening');
});

const DRAIN_MS = config.shutdownTimeoutMs;
let stopping = false;
/**
 * SIGTERM/SIGINT: stop accepting connections, let the requests in flight finish (each keeps its
 * record before answering), then deliver what waits in the outbox for up to the rest of SHUTDOWN_TIMEOUT_MS.
 * What is still undelivered stays in the local file and goes out at the next start.
 */
const shutdown = (signal: string): void => {
  if (stopping) return;
  stopping = true;
  const deadline = Date.now() + DRAIN_MS;
  logger.info({ signal, pending: records.log.pending() }, 'shutting down: draining requests in flight');
  let exiting = false;
  const exit = (): void => {
    if (exiting) return;
    exiting = true;
    void Promise.allSettled([records.close(Math.max(500, deadline - Date.now())), shared.close()]).finally(() => process.exit(0));
  };
  server.close(exit);
  // Keep-alive connections idle between requests are closed now; busy ones when their answer is sent.
  server.closeIdleConnections();
  setTimeout(() => {
    server.closeAllConnections();
    exit();
  }, Math.max(0, deadline - Date.now() - 1_000)).unref();
  setTimeout(() => process.exit(0), DRAIN_MS + 2_000).unref();
};
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
