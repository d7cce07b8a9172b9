import type { Bundle, OperationOutcome, Resource } from 'fhir/r4.js';
import { PREFETCH, PREFETCH_TYPES } from '../hooks/discovery.js';
import type { HookRequest } from '../hooks/types.js';
import type { ValueSetIndex } from '../terminology/valueSets.js';
import { checkRequestLimits } from '../hooks/limits.js';
import { PatientRecord } from './PatientRecord.js';

export interface RecordAccessOptions {
  readonly valueSets: ValueSetIndex;
  /** Whether `fhirServer` may be contacted (allow-list of the authenticated client or configuration). */
  readonly fhirServerAllowed: (fhirServer: string) => boolean;
  readonly fhirTimeoutMs: number;
  /** Absolute time (ms since epoch) by which every FHIR call must be done. */
  readonly deadline: number;
  readonly maxPages: number;
  readonly maxResources: number;
  /** Largest FHIR server response read, in bytes (default 16 MiB): memory stays bounded whatever the server sends. */
  readonly maxResponseBytes?: number;
}

/** What could not be read, in words for a card: never the data itself. */
export interface RecordProblem {
  readonly key: string;
  readonly resourceTypes: readonly string[];
  readonly reason: string;
}

export interface LoadedRecord {
  readonly record: PatientRecord;
  readonly problems: readonly RecordProblem[];
  /** FHIR searches made against fhirServer (for metrics). */
  readonly fhirCalls: number;
  readonly fhirFailures: number;
}

class FetchProblem extends Error {}

/**
 * Prefetch first; for each missing prefetch key, the same search against `fhirServer` with the
 * `fhirAuthorization` bearer token, following `Bundle.link` next, each call with a timeout and all
 * of them within the request's deadline. A key the client answered with `null` means "no data".
 */
export async function loadRecord(req: HookRequest, opts: RecordAccessOptions): Promise<LoadedRecord> {
  const resources: Resource[] = [];
  const problems: RecordProblem[] = [];
  const missing: string[] = [];
  const prefetch = req.prefetch ?? {};
  for (const key of Object.keys(PREFETCH)) {
    if (!Object.hasOwn(prefetch, key)) {
      missing.push(key);
      continue;
    }
    const value = prefetch[key];
    if (value === null) continue;
    if (value.resourceType === 'OperationOutcome') {
      problems.push({ key, resourceTypes: PREFETCH_TYPES[key], reason: 'the EHR reported an error for this prefetch' });
      continue;
    }
    flatten(value, resources);
  }
  // Resources the client sent under prefetch keys we do not declare are still the patient's record.
  for (const [key, value] of Object.entries(prefetch)) {
    if (!Object.hasOwn(PREFETCH, key) && value && value.resourceType !== 'OperationOutcome') flatten(value, resources);
  }

  let fhirCalls = 0;
  let fhirFailures = 0;
  if (missing.length > 0) {
    const server = req.fhirServer;
    if (!server) {
      for (const key of missing) {
        // Resources already present through another key (e.g. a Bundle holding everything) are not missing.
        if (PREFETCH_TYPES[key].every((t) => resources.some((r) => r.resourceType === t))) continue;
        problems.push({ key, resourceTypes: PREFETCH_TYPES[key], reason: 'not in the prefetch and no fhirServer was given' });
      }
    } else if (!opts.fhirServerAllowed(server)) {
      for (const key of missing) {
        problems.push({ key, resourceTypes: PREFETCH_TYPES[key], reason: 'not in the prefetch, and the fhirServer is not on this service\'s allow-list (no connection was made)' });
      }
    } else {
      const token = req.fhirAuthorization?.access_token;
      const results = await Promise.all(
        missing.map(async (key) => {
          const query = fillTemplate(PREFETCH[key], req);
          if (!query) return { key, resources: [] as Resource[], calls: 0 };
          try {
            const r = await searchAll(server, query, token, opts, () => resources.length);
            return { key, resources: r.resources, calls: r.calls };
          } catch (err) {
            fhirFailures++;
            problems.push({ key, resourceTypes: PREFETCH_TYPES[key], reason: (err as Error).message });
            return { key, resources: [] as Resource[], calls: 1 };
          }
        }),
      );
      for (const r of results) {
        fhirCalls += r.calls;
        for (const resource of r.resources) resources.push(resource);
      }
    }
  }
  const unavailable = new Set(problems.flatMap((p) => p.resourceTypes));
  const patientResources = resources.slice(0, opts.maxResources);
  if (resources.length > opts.maxResources) {
    problems.push({ key: 'limit', resourceTypes: [], reason: `the record has more than ${opts.maxResources} resources; the rest were not read` });
  }
  return {
    record: new PatientRecord(req.context.patientId, patientResources, opts.valueSets, unavailable),
    problems,
    fhirCalls,
    fhirFailures,
  };
}

function flatten(value: Resource, out: Resource[] = []): Resource[] {
  if (value.resourceType !== 'Bundle') {
    out.push(value);
    return out;
  }
  // Loose clients send `entry` as an object; a loop, not a spread, for pages of any size.
  const entries: unknown = (value as Bundle).entry;
  for (const e of Array.isArray(entries) ? (entries as NonNullable<Bundle['entry']>) : []) {
    const r = e?.resource;
    if (!r || typeof r !== 'object' || typeof r.resourceType !== 'string') continue;
    if (e.search?.mode === 'outcome' || r.resourceType === 'OperationOutcome') continue;
    flatten(r, out);
  }
  return out;
}

/** Fills the prefetch tokens; undefined when a token cannot be filled (that query is skipped). */
export function fillTemplate(template: string, req: HookRequest): string | undefined {
  const user = req.context.userId;
  const values: Record<string, string | undefined> = {
    'context.patientId': req.context.patientId,
    'context.userId': user,
    'context.encounterId': req.context.encounterId,
    userPractitionerId: user.startsWith('Practitioner/') ? user.slice('Practitioner/'.length) : undefined,
    userPractitionerRoleId: user.startsWith('PractitionerRole/') ? user.slice('PractitionerRole/'.length) : undefined,
  };
  // A user who is a PractitionerRole: read that role instead of searching by practitioner.
  if (template.startsWith('PractitionerRole?practitioner=') && values.userPractitionerRoleId) {
    return `PractitionerRole?_id=${encodeURIComponent(values.userPractitionerRoleId)}`;
  }
  let ok = true;
  const out = template.replace(/\{\{\s*([A-Za-z.]+)\s*\}\}/g, (_, name: string) => {
    const v = values[name];
    if (v === undefined) ok = false;
    return encodeURIComponent(v ?? '');
  });
  return ok ? out : undefined;
}

async function searchAll(
  base: string,
  query: string,
  token: string | undefined,
  opts: RecordAccessOptions,
  loaded: () => number,
): Promise<{ resources: Resource[]; calls: number }> {
  const origin = new URL(base).origin;
  let url: string | undefined = `${base.replace(/\/+$/, '')}/${query}`;
  const resources: Resource[] = [];
  let calls = 0;
  while (url && calls < opts.maxPages) {
    // Follow `next` only on the same server: the token must never travel elsewhere.
    if (new URL(url).origin !== origin) throw new FetchProblem('the FHIR server pointed to another host; not followed');
    const remaining = opts.deadline - Date.now();
    if (remaining <= 0) throw new FetchProblem('the request deadline passed before the FHIR server answered');
    calls++;
    const body = await getJson(url, token, Math.min(opts.fhirTimeoutMs, remaining), opts.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES);
    if (body.resourceType === 'OperationOutcome') {
      throw new FetchProblem(`the FHIR server answered with an OperationOutcome: ${(body as OperationOutcome).issue?.[0]?.diagnostics ?? 'error'}`);
    }
    flatten(body, resources);
    if (resources.length + loaded() > opts.maxResources) break;
    const links: unknown = body.resourceType === 'Bundle' ? (body as Bundle).link : undefined;
    const next = Array.isArray(links) ? (links as NonNullable<Bundle['link']>).find((l) => l?.relation === 'next')?.url : undefined;
    url = typeof next === 'string' && URL.canParse(next) ? next : undefined;
  }
  return { resources, calls };
}

const DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024;
const FETCHED_SHAPE_LIMITS = {
  maxResources: Number.POSITIVE_INFINITY,
  maxStringLength: Number.POSITIVE_INFINITY,
  maxDraftOrders: Number.POSITIVE_INFINITY,
  maxJsonDepth: 64,
  maxBundleDepth: 3,
};

async function getJson(url: string, token: string | undefined, timeoutMs: number, maxBytes: number): Promise<Resource> {
  let res: Response;
  try {
    res = await fetch(url, {
      headers: { accept: 'application/fhir+json, application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      redirect: 'error',
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    const e = err as Error;
    if (e.name === 'TimeoutError' || e.name === 'AbortError') throw new FetchProblem(`the FHIR server did not answer within ${timeoutMs} ms`);
    throw new FetchProblem('the FHIR server could not be reached (connection failed or redirected)');
  }
  if (!res.ok) {
    await res.body?.cancel().catch(() => undefined);
    throw new FetchProblem(`the FHIR server answered HTTP ${res.status}`);
  }
  const text = await readCapped(res, maxBytes, timeoutMs);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new FetchProblem('the FHIR server answered with invalid JSON');
  }
  if (!json || typeof json !== 'object' || typeof (json as Resource).resourceType !== 'string') {
    throw new FetchProblem('the FHIR server answered with something that is not a FHIR resource');
  }
  try {
    // The same shape limits as a request: the record's readers recurse into Bundles and items.
    checkRequestLimits(json, FETCHED_SHAPE_LIMITS);
  } catch (err) {
    throw new FetchProblem(`the FHIR server's answer is nested too deeply (${(err as Error).message})`);
  }
  return json as Resource;
}

/** The body as text, refusing more than `maxBytes` (read as it streams: a huge reply is cut off, not buffered). */
async function readCapped(res: Response, maxBytes: number, timeoutMs: number): Promise<string> {
  const declared = Number(res.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) {
    await res.body?.cancel().catch(() => undefined);
    throw new FetchProblem(`the FHIR server's answer is larger than ${maxBytes} bytes; not read`);
  }
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        await reader.cancel().catch(() => undefined);
        throw new FetchProblem(`the FHIR server's answer is larger than ${maxBytes} bytes; not read`);
      }
      chunks.push(value);
    }
  } catch (err) {
    if (err instanceof FetchProblem) throw err;
    const e = err as Error;
    if (e.name === 'TimeoutError' || e.name === 'AbortError') throw new FetchProblem(`the FHIR server did not answer within ${timeoutMs} ms`);
    throw new FetchProblem('the FHIR server closed the connection before its answer was complete');
  }
  return Buffer.concat(chunks).toString('utf8');
}
