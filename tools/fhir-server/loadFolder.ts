/**
 * Reads test data from disk: FHIR Bundles and resources (`.json`), bulk-data NDJSON (`.ndjson`),
 * and CDS Hooks request bodies, whose `prefetch` and `context.draftOrders` hold the patient's
 * record as the EHR sent it. One bad file is reported, not thrown, and the rest still load.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import type { Resource } from './fhirTypes.js';
import { ResourceCollector, looksLikeResource } from './normalize.js';
import { daysBetween } from '../../src/fhir/dates.js';
import { caseDateOfService, shiftAllDates } from './shiftDates.js';
import type { CollectWarning } from './normalize.js';

export type LoadedFileKind = 'bundle' | 'resource' | 'cds-hooks-request' | 'ndjson';

export interface LoadedFile {
  readonly file: string;
  readonly kind: LoadedFileKind;
  /** Resources taken from the file. */
  readonly resources: number;
}

export interface LoadFileError {
  readonly file: string;
  readonly reason: string;
}

export interface FolderLoad {
  /** Ready to store: ids assigned, `urn:uuid:` references rewritten to `Type/id` (across files). */
  readonly resources: Resource[];
  readonly files: readonly LoadedFile[];
  /** Files that could not be read or understood. */
  readonly errors: readonly LoadFileError[];
  /** Resource-level problems (unknown types, unresolved references), by file. */
  readonly warnings: readonly CollectWarning[];
}

export interface LoadFolderOptions {
  /** Descend into sub-folders (default true). */
  readonly recursive?: boolean;
  /**
   * Serve each CDS Hooks request file as of this day (YYYY-MM-DD): all its dates move by the days
   * from its draft order's date of service to this one. Other files keep their dates.
   */
  readonly asOf?: string;
}

/**
 * Reads a folder (or one file) of FHIR JSON and CDS Hooks requests.
 * @param path - a folder or a single `.json` / `.ndjson` file.
 * @returns the resources to pass to `FhirTestServer.load()`, and per-file results.
 * @example
 *   const { resources, errors } = await loadFolder('fixtures/synthea');
 *   await server.load(resources);
 */
export async function loadFolder(path: string, options: LoadFolderOptions = {}): Promise<FolderLoad> {
  const errors: LoadFileError[] = [];
  const files: LoadedFile[] = [];
  const collector = new ResourceCollector();

  let paths: string[];
  try {
    paths = (await stat(path)).isDirectory() ? await listDataFiles(path, options.recursive ?? true) : [path];
  } catch (err) {
    return { resources: [], files, errors: [{ file: path, reason: reasonOf(err) }], warnings: [] };
  }

  for (const file of paths) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      errors.push({ file, reason: reasonOf(err) });
      continue;
    }
    if (extname(file).toLowerCase() === '.ndjson') {
      files.push(readNdjson(file, text, collector, errors));
      continue;
    }
    let json: unknown;
    try {
      json = JSON.parse(text.replace(/^\uFEFF/, '')) as unknown;
    } catch (err) {
      errors.push({ file, reason: `invalid JSON: ${reasonOf(err)}` });
      continue;
    }
    const loaded = addJson(file, options.asOf ? asOf(json, options.asOf) : json, collector);
    if (typeof loaded === 'string') {
      errors.push({ file, reason: loaded });
    } else {
      files.push(loaded);
    }
  }
  const resources = collector.finish();
  return { resources, files, errors, warnings: collector.warnings };
}

/** A CDS Hooks request moved to `day`; anything else (no draft order with a date) as it is. */
function asOf(json: unknown, day: string): unknown {
  if (!isCdsHooksRequest(json)) return json;
  const dos = caseDateOfService(json);
  return dos ? shiftAllDates(json, daysBetween(dos, day)) : json;
}

/** @returns what was taken from the file, or why nothing could be. */
function addJson(file: string, json: unknown, collector: ResourceCollector): LoadedFile | string {
  if (isCdsHooksRequest(json)) {
    let count = 0;
    for (const [key, value] of Object.entries(json.prefetch ?? {})) {
      // A prefetch key the EHR could not fill is null: nothing to load.
      if (value !== null && value !== undefined) {
        count += collector.add(value, `${file}#prefetch.${key}`);
      }
    }
    const draftOrders = json.context.draftOrders;
    if (draftOrders !== null && draftOrders !== undefined) {
      count += collector.add(draftOrders, `${file}#context.draftOrders`);
    }
    return { file, kind: 'cds-hooks-request', resources: count };
  }
  if (Array.isArray(json) || looksLikeResource(json)) {
    const count = collector.add(json, file);
    const kind: LoadedFileKind = looksLikeResource(json) && json.resourceType === 'Bundle' ? 'bundle' : 'resource';
    return { file, kind, resources: count };
  }
  return 'neither a FHIR resource (resourceType) nor a CDS Hooks request (hook and context)';
}

function readNdjson(file: string, text: string, collector: ResourceCollector, errors: LoadFileError[]): LoadedFile {
  let count = 0;
  text.split(/\r?\n/).forEach((line, index) => {
    if (line.trim() === '') {
      return;
    }
    try {
      count += collector.add(JSON.parse(line) as unknown, `${file}:${index + 1}`);
    } catch (err) {
      errors.push({ file: `${file}:${index + 1}`, reason: `invalid JSON: ${reasonOf(err)}` });
    }
  });
  return { file, kind: 'ndjson', resources: count };
}

interface CdsHooksRequestLike {
  hook: string;
  context: { draftOrders?: unknown };
  prefetch?: Record<string, unknown>;
}

/** https://cds-hooks.hl7.org/2.0/#http-request_1: `hook` and `context` are required. */
function isCdsHooksRequest(json: unknown): json is CdsHooksRequestLike {
  if (typeof json !== 'object' || json === null) {
    return false;
  }
  const value = json as Record<string, unknown>;
  return (
    typeof value.hook === 'string' &&
    typeof value.context === 'object' &&
    value.context !== null &&
    (value.prefetch === undefined || (typeof value.prefetch === 'object' && value.prefetch !== null))
  );
}

/** `.json` and `.ndjson` files, sorted so loads are repeatable; dot-files are skipped. */
export async function listDataFiles(dir: string, recursive: boolean): Promise<string[]> {
  const out: string[] = [];
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => a.name.localeCompare(b.name));
  for (const entry of entries) {
    const full = join(dir, entry.name);
    if (basename(entry.name).startsWith('.')) {
      continue;
    }
    if (entry.isDirectory()) {
      if (recursive) {
        out.push(...(await listDataFiles(full, recursive)));
      }
    } else if (/\.(nd)?json$/i.test(entry.name)) {
      out.push(full);
    }
  }
  return out;
}

function reasonOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
