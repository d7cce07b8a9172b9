/**
 * `lumbar-mri-cds serve-fhir`: an in-memory FHIR R4 server on loopback, loaded from folders of
 * Synthea bundles, FHIR JSON, NDJSON or CDS Hooks request bodies. Point the CDS Hooks sandbox,
 * a request's `fhirServer`, or scripts/load-fixtures.ts at the printed base URL.
 */
import { startFhirServer, type FhirTestServer } from '../../tools/fhir-server/FhirTestServer.js';
import { loadFolder } from '../../tools/fhir-server/loadFolder.js';
import { listenErrorMessage } from '../listenError.js';

export interface ServeFhirOptions {
  readonly port: number;
  readonly host: string;
  readonly basePath: string;
  readonly pageSize: number;
  readonly token?: string;
  readonly ignoreUnknownParams?: boolean;
  /** Serve each fixture as of this day (YYYY-MM-DD): see loadFolder's `asOf`. */
  readonly asOf?: string;
}

export interface Output {
  out(line: string): void;
  err(line: string): void;
}

/**
 * Starts the server and loads each path; a file that cannot be read is reported, the rest load.
 * Resolves to undefined, after saying why in one line, when the port cannot be bound.
 */
export async function serveFhir(paths: readonly string[], opts: ServeFhirOptions, io: Output): Promise<FhirTestServer | undefined> {
  let server: FhirTestServer;
  try {
    server = await startFhirServer({
      port: opts.port,
      host: opts.host,
      basePath: opts.basePath,
      defaultPageSize: opts.pageSize,
      requiredBearerToken: opts.token,
      unknownSearchParams: opts.ignoreUnknownParams ? 'ignore' : 'error',
      // Listening at once (the port is taken and printed errors name it), answering 503 until loaded.
      loading: true,
    });
  } catch (err) {
    io.err(listenErrorMessage('serve-fhir', err, opts.host, opts.port));
    return undefined;
  }
  io.out(`FHIR server at ${server.baseUrl}: loading, answering 503 (Retry-After) until its data is in`);
  for (const path of paths) {
    const folder = await loadFolder(path, { asOf: opts.asOf });
    const result = await server.load(folder.resources);
    io.out(`${path}: ${result.loaded} resources from ${folder.files.length} files${opts.asOf ? ` (each case moved to ${opts.asOf})` : ''}`);
    for (const e of folder.errors) io.err(`  skipped ${e.file}: ${e.reason}`);
    for (const w of [...folder.warnings, ...result.warnings]) io.err(`  warning${w.source ? ` (${w.source})` : ''}: ${w.message}`);
  }
  server.ready();
  io.out(`FHIR server listening at ${server.baseUrl}`);
  return server;
}
