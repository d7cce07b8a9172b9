import type { Bundle, OperationOutcome, Resource } from 'fhir/r4.js';
import { PREFETCH, PREFETCH_TYPES } from '../hooks/discovery.js';
import type { HookRequest } from '../hooks/types.js';
import type { ValueSetIndex } from '../terminology/valueSets.js';
import { checkRequestLimits } from '../hooks/limits.js';
import { isUnderFhirBase } from '../fhir/fhirBase.js';
import { boundedGet, ReadProblem, type ByteBudget } from './boundedGet.js';
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
  /** All FHIR replies of the request together, decompressed (default 16 MiB). */
  readonly maxRecordBytes?: number;
  /** FHIR calls of the request, every search and page together (default 60). */
  readonly maxCalls?: number;
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
  for (const key of Object.keys(prefetch)) {
    const value = prefetch[key];
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
      const maxRecordBytes = opts.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
      const budget: FetchBudget = { bytes: { remaining: maxRecordBytes, limit: maxRecordBytes }, calls: 0, maxCalls: opts.maxCalls ?? DEFAULT_MAX_CALLS };
      const results = await Promise.all(
        missing.map(async (key) => {
          const query = fillTemplate(PREFETCH[key], req);
          if (!query) return { key, resources: [] as Resource[], calls: 0 };
          try {
            const r = await searchAll(server, query, token, opts, budget, () => resources.length);
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
  // Copied only when cut: the record copies what it keeps anyway.
  const patientResources = resources.length > opts.maxResources ? resources.slice(0, opts.maxResources) : resources;
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

/** What one request may still spend on FHIR calls, shared by its searches (they run in parallel). */
interface FetchBudget {
  readonly bytes: ByteBudget;
  calls: number;
  readonly maxCalls: number;
}

async function searchAll(
  base: string,
  query: string,
  token: string | undefined,
  opts: RecordAccessOptions,
  budget: FetchBudget,
  loaded: () => number,
): Promise<{ resources: Resource[]; calls: number }> {
  let url: string | undefined = `${base.replace(/\/+$/, '')}/${query}`;
  const resources: Resource[] = [];
  let calls = 0;
  while (url) {
    // Follow `next` only under the fhirServer's base: the token must never travel to another host or path.
    if (!isUnderFhirBase(url, base)) throw new FetchProblem('the FHIR server pointed outside its base URL (another host or path); not followed');
    // A search that still has pages past the cap is incomplete: unknown, not "all there is".
    if (calls >= opts.maxPages) throw new FetchProblem(`the FHIR server has more than ${opts.maxPages} pages for this search; not read`);
    if (budget.calls >= budget.maxCalls) throw new FetchProblem(`this request made ${budget.maxCalls} FHIR calls already; the rest were not read`);
    const remaining = opts.deadline - Date.now();
    if (remaining <= 0) throw new FetchProblem('the request deadline passed before the FHIR server answered');
    calls++;
    budget.calls++;
    const body = await getJson(url, token, Math.min(opts.fhirTimeoutMs, remaining), opts.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES, budget.bytes);
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
const DEFAULT_MAX_RECORD_BYTES = 16 * 1024 * 1024;
const DEFAULT_MAX_CALLS = 60;
const FETCHED_SHAPE_LIMITS = {
  maxResources: Number.POSITIVE_INFINITY,
  maxStringLength: Number.POSITIVE_INFINITY,
  maxDraftOrders: Number.POSITIVE_INFINITY,
  maxJsonDepth: 64,
  maxBundleDepth: 3,
};

async function getJson(url: string, token: string | undefined, timeoutMs: number, maxBytes: number, budget: ByteBudget): Promise<Resource> {
  const started = Date.now();
  let text: string;
  try {
    text = await boundedGet(url, {
      headers: { accept: 'application/fhir+json, application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      timeoutMs,
      maxBytes,
      budget,
    });
  } catch (err) {
    if (err instanceof ReadProblem) throw new FetchProblem(err.message);
    throw err;
  }
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
  // Parsing counts against the call's time too: an answer complete only after it is not used.
  if (Date.now() - started > timeoutMs) throw new FetchProblem(`the FHIR server did not answer within ${timeoutMs} ms`);
  return json as Resource;
}
