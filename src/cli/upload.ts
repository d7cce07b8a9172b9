/**
 * `lumbar-mri-cds upload`: loads fixture files into a FHIR server (HAPI in docker-compose, or
 * serve-fhir), one transaction Bundle per file. Entries are `PUT <Type>/<id>` so the server keeps
 * the ids the files (and hook requests built from them) use; Synthea's urn:uuid references are
 * rewritten to `Type/id` first, so every server resolves them the same way.
 */
import type { Bundle, Resource } from 'fhir/r4.js';
import { loadFolder } from '../../tools/fhir-server/loadFolder.js';
import { withReferencedPractitioners } from '../../tools/fhir-server/references.js';
import type { InputError } from './evaluate.js';
import { inputFiles } from './evaluate.js';

export interface UploadOptions {
  /** FHIR base URL, e.g. http://hapi:8080/fhir */
  readonly fhirServer: string;
  /** How long to wait for the server to answer `metadata` (it may still be starting). */
  readonly waitMs?: number;
  /** Paths skipped: scenario definitions are not FHIR. */
  readonly exclude?: (file: string) => boolean;
}

export interface UploadReport {
  readonly files: number;
  readonly resources: number;
  readonly errors: readonly InputError[];
}

const RETRY_MS = 2000;

/** Polls `<base>/metadata` until the server answers 200 or the wait is over. */
export async function waitForFhirServer(base: string, waitMs: number): Promise<void> {
  const until = Date.now() + waitMs;
  let last = '';
  for (;;) {
    try {
      const res = await fetch(`${base}/metadata`, { headers: { accept: 'application/fhir+json' }, signal: AbortSignal.timeout(10_000) });
      await res.body?.cancel().catch(() => undefined);
      if (res.ok) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() + RETRY_MS > until) throw new Error(`${base}/metadata did not answer within ${waitMs} ms (${last})`);
    await new Promise((r) => setTimeout(r, RETRY_MS));
  }
}

export function transactionOf(resources: readonly Resource[]): Bundle {
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: resources.map((resource) => ({ resource, request: { method: 'PUT' as const, url: `${resource.resourceType}/${resource.id}` } })),
  };
}

export async function uploadFixtures(paths: readonly string[], opts: UploadOptions): Promise<UploadReport> {
  const base = opts.fhirServer.replace(/\/+$/, '');
  await waitForFhirServer(base, opts.waitMs ?? 0);
  const listed = await inputFiles(paths);
  const files = listed.files.filter((f) => !(opts.exclude?.(f) ?? false));
  const errors: InputError[] = [...listed.errors];
  let resources = 0;
  for (const file of files) {
    const load = await loadFolder(file);
    errors.push(...load.errors);
    if (load.resources.length === 0) continue;
    try {
      const res = await fetch(base, {
        method: 'POST',
        headers: { 'content-type': 'application/fhir+json', accept: 'application/fhir+json' },
        // HAPI refuses dangling references: the clinicians the fixtures name go in with them.
        body: JSON.stringify(transactionOf(withReferencedPractitioners(load.resources) as Resource[])),
        signal: AbortSignal.timeout(60_000),
      });
      const text = await res.text();
      if (!res.ok) {
        errors.push({ file, reason: `the FHIR server answered HTTP ${res.status}: ${text.slice(0, 300)}` });
        continue;
      }
      resources += load.resources.length;
    } catch (err) {
      errors.push({ file, reason: `upload failed: ${(err as Error).message}` });
    }
  }
  return { files: files.length, resources, errors };
}
