import { createApp } from './app.js';
import { loadConfig } from './config/config.js';

/** `npm start`: the service with its built-in policies on PORT (default 3000). */
const config = loadConfig();
const { app, logger, library } = createApp(config);
if (config.auth === 'off') {
  logger.warn('CDS client authentication is OFF (CDS_AUTH=off): any caller can invoke the hooks. Set CDS_AUTH=required for production.');
}
const server = app.listen(config.port, config.host, () => {
  logger.info({ port: config.port, policies: library.policies.map((p) => `${p.policyId}@${p.version}`) }, 'lumbar-mri-cds listening');
});
const shutdown = (): void => {
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 5000).unref();
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
