/**
 * Runs the in-memory FHIR server for integration work, loaded from folders of Synthea bundles,
 * FHIR JSON or CDS Hooks request bodies:
 *
 *   npx tsx src/fhir-server/cli.ts --port 8091 fixtures/ path/to/synthea/fhir
 *
 * then point the CDS Hooks sandbox (or the service's `fhirServer`) at the printed base URL.
 */
import { Command, InvalidArgumentError } from 'commander';
import { startFhirServer } from './FhirTestServer.js';
import { loadFolder } from './loadFolder.js';

function integer(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) {
    throw new InvalidArgumentError('not a non-negative integer');
  }
  return n;
}

const program = new Command()
  .name('fhir-test-server')
  .description('In-memory FHIR R4 server on loopback, loaded from JSON folders')
  .argument('[paths...]', 'folders or files to load (.json, .ndjson)')
  .option('-p, --port <port>', 'port (0 = any free port)', integer, 8091)
  .option('--host <host>', 'address to bind', '127.0.0.1')
  .option('--base-path <path>', 'FHIR base path', '/fhir')
  .option('--page-size <n>', 'default page size when _count is absent', integer, 50)
  .option('--token <token>', 'require Authorization: Bearer <token>')
  .option('--ignore-unknown-params', 'ignore unknown search parameters instead of answering 400')
  .parse();

const opts = program.opts<{
  port: number;
  host: string;
  basePath: string;
  pageSize: number;
  token?: string;
  ignoreUnknownParams?: boolean;
}>();

const server = await startFhirServer({
  port: opts.port,
  host: opts.host,
  basePath: opts.basePath,
  defaultPageSize: opts.pageSize,
  requiredBearerToken: opts.token,
  unknownSearchParams: opts.ignoreUnknownParams ? 'ignore' : 'error',
});
for (const path of program.args) {
  const folder = await loadFolder(path);
  const result = await server.load(folder.resources);
  console.log(`${path}: ${result.loaded} resources from ${folder.files.length} files`);
  for (const e of folder.errors) {
    console.error(`  skipped ${e.file}: ${e.reason}`);
  }
  for (const w of [...folder.warnings, ...result.warnings]) {
    console.warn(`  warning${w.source ? ` (${w.source})` : ''}: ${w.message}`);
  }
}
console.log(`FHIR server listening at ${server.baseUrl}`);

const stop = (): void => {
  server.close().then(
    () => process.exit(0),
    () => process.exit(1)
  );
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
