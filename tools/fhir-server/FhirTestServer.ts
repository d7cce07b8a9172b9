/**
 * An in-memory FHIR R4 REST server on loopback, for tests and for integration teams.
 *
 * Built on medplum's `MemoryRepository` and `FhirRouter` (medplum 4.x; 5.x needs Node 22).
 * Search is answered here rather than by the router, because `MemoryRepository` leaves three
 * things a real server does: it adds no `self`/`next` links, it matches `patient=<bare id>`
 * against nothing (it compares `Patient/<id>` strings), and it answers an unknown parameter
 * with an empty Bundle instead of an error.
 *
 * @see https://hl7.org/fhir/R4/http.html
 * @see https://hl7.org/fhir/R4/search.html
 */
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  OperationOutcomeError,
  badRequest,
  evalFhirPath,
  generateId,
  getSearchParameters,
  getStatus,
  isResourceType,
  matchesSearchRequest,
  normalizeOperationOutcome,
  parseSearchRequest,
} from '@medplum/core';
import type { IncludeTarget, SearchRequest } from '@medplum/core';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';
import type { HttpMethod } from '@medplum/fhir-router';
import { ensureFhirDefinitions } from './definitions.js';
import type { Bundle, BundleEntry, BundleLink, CapabilityStatement, OperationOutcome, Resource } from './fhirTypes.js';
import { CORS_HEADERS, closeServer, listen, originOf, readBody, recordRequest, sendJson } from './httpUtil.js';
import type { RecordedRequest } from './httpUtil.js';
import { ResourceCollector, rewriteReferences } from './normalize.js';
import { PatientIndex } from './patientIndex.js';
import type { CollectWarning } from './normalize.js';

export type { RecordedRequest } from './httpUtil.js';
export type { CollectWarning } from './normalize.js';

/** What `load()` accepts: a resource, a Bundle, or a list of them (also checked at run time). */
export type FhirInput = Resource | readonly Resource[];

export interface FhirServerOptions {
  /** 0 (default) picks a free port. */
  readonly port?: number;
  /** Defaults to `127.0.0.1`; keep it on loopback. */
  readonly host?: string;
  /** Defaults to `/fhir`. */
  readonly basePath?: string;
  /** Page size when a search has no `_count` (default 50, as servers page by default). */
  readonly defaultPageSize?: number;
  /** Upper bound on `_count` (default 1000). */
  readonly maxPageSize?: number;
  /**
   * `error` (default) answers 400 for a search parameter the resource type does not define,
   * as HAPI does, so a client's typo shows; `ignore` drops it and goes on.
   */
  readonly unknownSearchParams?: 'error' | 'ignore';
  /** When set, every request except `metadata` and CORS preflight needs `Authorization: Bearer <token>`. */
  readonly requiredBearerToken?: string;
  /** Largest accepted request body, bytes (default 256 MiB: Synthea bundles are large). */
  readonly maxBodyBytes?: number;
  /** Loaded before the server starts listening. */
  readonly initialData?: FhirInput;
  /** Answer 503 (Retry-After) to everything until `ready()`: for a server that loads after it listens. */
  readonly loading?: boolean;
}

export interface LoadResult {
  /** How many resources were stored. */
  readonly loaded: number;
  /** `Type/id` of each stored resource, in load order. */
  readonly references: readonly string[];
  /** What could not be loaded or resolved; loading goes on past each. */
  readonly warnings: readonly CollectWarning[];
}

export interface FhirTestServer {
  /** e.g. `http://127.0.0.1:41234/fhir` (no trailing slash): pass it as `fhirServer`. */
  readonly baseUrl: string;
  readonly port: number;
  /** Every request received, oldest first (CORS preflights included). */
  readonly requests: readonly RecordedRequest[];
  /** The store behind the server, for direct reads in tests. */
  readonly repo: MemoryRepository;
  /**
   * Stores resources, keeping their ids. Bundle entries are unwrapped; `urn:uuid:` references
   * become `Type/id`; conditional references (`Practitioner?identifier=…`) are resolved by search.
   */
  load(input: FhirInput): Promise<LoadResult>;
  /** Ends the 503s of a server started with `loading`: its data is in. */
  ready(): void;
  /** Forgets the request log. */
  clearRequests(): void;
  /** Deletes all data and the request log. */
  reset(): void;
  close(): Promise<void>;
}

/** Search result parameters (https://hl7.org/fhir/R4/search.html#return) handled or tolerated here. */
const RESULT_PARAMS = new Set([
  '_count',
  '_offset',
  '_sort',
  '_summary',
  '_total',
  '_include',
  '_revinclude',
  '_elements',
  '_format',
  '_pretty',
  '_contained',
  '_containedType',
]);

/** Parameters medplum's `parseSearchRequest` understands; the rest of RESULT_PARAMS are dropped. */
const PARSED_RESULT_PARAMS = new Set(['_count', '_offset', '_sort', '_summary', '_total', '_include', '_revinclude']);

type Params = [string, string][];

/** Starts the server; resolve it before use and `close()` it after. */
export async function startFhirServer(options: FhirServerOptions = {}): Promise<FhirTestServer> {
  ensureFhirDefinitions();
  const host = options.host ?? '127.0.0.1';
  const basePath = '/' + (options.basePath ?? '/fhir').replace(/^\/+|\/+$/g, '');
  const defaultPageSize = options.defaultPageSize ?? 50;
  const maxPageSize = options.maxPageSize ?? 1000;
  const unknownParams = options.unknownSearchParams ?? 'error';
  const maxBodyBytes = options.maxBodyBytes ?? 256 * 1024 * 1024;

  const repo = new MemoryRepository();
  const index = new PatientIndex();
  let loading = options.loading ?? false;
  const router = new FhirRouter();
  const requests: RecordedRequest[] = [];
  // fullUrl -> Type/id across loads, so a later bundle may point at an earlier one's urn:uuid.
  const fullUrlMap = new Map<string, string>();
  let baseUrl = '';

  async function load(input: FhirInput): Promise<LoadResult> {
    const collector = new ResourceCollector(fullUrlMap);
    const items: readonly Resource[] = Array.isArray(input) ? input : [input];
    for (let i = 0; i < items.length; i++) {
      collector.add(items[i], 'load()');
      await yieldNow(i);
    }
    const resources = collector.finish();
    return store(resources, [...collector.warnings]);
  }

  /** Saves resources with their ids, then resolves conditional references among all stored data. */
  async function store(resources: Resource[], warnings: CollectWarning[]): Promise<LoadResult> {
    const saved: Resource[] = [];
    for (const resource of resources) {
      const stored = await repo.updateResource(resource);
      saved.push(stored);
      index.add(stored);
      await yieldNow(saved.length);
    }
    const conditional = new Map<string, string | undefined>();
    for (const resource of saved) {
      rewriteReferences(resource, (reference) => {
        if (/^[A-Z][A-Za-z]+\?/.test(reference)) {
          conditional.set(reference, undefined);
        }
        return undefined;
      });
    }
    for (const reference of conditional.keys()) {
      const request = parseSearchRequest(reference);
      // A full scan of the type per reference is what made large loads slow: the identifier index answers.
      const ids = index.byIdentifier(request) ?? (await repo.searchResources(request)).map((r) => r.id);
      if (ids.length === 1) {
        conditional.set(reference, `${request.resourceType}/${ids[0]}`);
      } else {
        warnings.push({
          message: `conditional reference "${reference}" matched ${ids.length} resources, kept as is`,
        });
      }
    }
    for (let i = 0; i < saved.length; i++) {
      if (rewriteReferences(saved[i], (reference) => conditional.get(reference)) > 0) {
        saved[i] = await repo.updateResource(saved[i]);
        index.add(saved[i]);
      }
      await yieldNow(i);
    }
    return { loaded: saved.length, references: saved.map((r) => `${r.resourceType}/${r.id}`), warnings };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase();
    let bodyText: string | undefined;
    try {
      const hasBody = method !== 'GET' && method !== 'OPTIONS' && method !== 'HEAD';
      bodyText = hasBody ? await readBody(req, maxBodyBytes) : undefined;
    } catch (err) {
      requests.push(recordRequest(req, undefined));
      sendJson(res, 413, badRequest(String((err as Error).message)));
      return;
    }
    requests.push(recordRequest(req, bodyText));

    if (method === 'OPTIONS') {
      res.writeHead(204, CORS_HEADERS);
      res.end();
      return;
    }
    if (loading) {
      sendJson(res, 503, {
        resourceType: 'OperationOutcome',
        issue: [{ severity: 'error', code: 'transient', details: { text: 'loading data: try again shortly' } }],
      } satisfies OperationOutcome, { 'Retry-After': '1' });
      return;
    }
    const url = new URL(req.url ?? '/', 'http://loopback');
    if (url.pathname !== basePath && !url.pathname.startsWith(basePath + '/')) {
      sendJson(res, 404, {
        resourceType: 'OperationOutcome',
        issue: [{ severity: 'error', code: 'not-found', details: { text: `not under the FHIR base ${basePath}` } }],
      } satisfies OperationOutcome);
      return;
    }
    const rel = url.pathname.slice(basePath.length).replace(/^\/+|\/+$/g, '');

    if (method === 'GET' && rel === 'metadata') {
      sendJson(res, 200, capabilityStatement(baseUrl));
      return;
    }
    const token = options.requiredBearerToken;
    if (token !== undefined && req.headers.authorization !== `Bearer ${token}`) {
      sendJson(res, 401, unauthorized(req.headers.authorization === undefined), {
        'WWW-Authenticate': 'Bearer',
      });
      return;
    }

    try {
      await dispatch(method, rel, url, bodyText, req, res);
    } catch (err) {
      const outcome = normalizeOperationOutcome(err);
      sendJson(res, statusOf(outcome), outcome);
    }
  }

  /** Search and Bundle uploads are answered here; every other interaction goes to medplum's router. */
  async function dispatch(
    method: string,
    rel: string,
    url: URL,
    bodyText: string | undefined,
    req: IncomingMessage,
    res: ServerResponse
  ): Promise<void> {
    const segments = rel === '' ? [] : rel.split('/');
    const queryParams: Params = [...url.searchParams];
    if (method === 'GET' && segments.length === 1 && isSearchable(segments[0])) {
      sendJson(res, 200, await search(segments[0], queryParams));
      return;
    }
    if (method === 'POST' && segments.length === 2 && segments[1] === '_search') {
      // The CDS Hooks sandbox prefetches with this form (x-www-form-urlencoded body); parameters
      // may sit in the URL and the body, and some clients leave out the content type.
      const formParams: Params =
        bodyText && !/json/i.test(req.headers['content-type'] ?? '') ? [...new URLSearchParams(bodyText)] : [];
      sendJson(res, 200, await search(segments[0], [...queryParams, ...formParams]));
      return;
    }
    const body = parseBody(bodyText, req.headers['content-type']);
    if (method === 'POST' && segments.length === 0 && isLoadableBundle(body)) {
      sendJson(res, 200, await ingestBundle(body));
      return;
    }
    const { status, resource } = await routeToMedplum(method, rel + url.search, body, req, res);
    if (method !== 'GET' && method !== 'HEAD') followWrite(method, segments, status, resource);
  }

  /**
   * Keeps the index in step with a write through the router: a create, update or patch of one
   * resource is filed, a delete unfiled; any other write (a batch, a conditional write) it cannot
   * follow, and from then on searches go to the repository.
   */
  function followWrite(method: string, segments: string[], status: number, resource: Resource | undefined): void {
    const single = segments.length === 1 || segments.length === 2;
    if (status >= 300 || !single) {
      if (status < 300) index.markStale();
      return;
    }
    if (method === 'DELETE' && segments.length === 2) {
      index.remove(segments[0], segments[1]);
    } else if (resource?.resourceType === segments[0] && resource.id) {
      index.add(resource);
    } else {
      index.markStale();
    }
  }

  async function routeToMedplum(
    method: string,
    relUrl: string,
    body: unknown,
    req: IncomingMessage,
    res: ServerResponse
  ): Promise<{ status: number; resource: Resource | undefined }> {
    const [outcome, resource] = await router.handleRequest(
      // medplum 4 wants `url` (relative, with query) and throws if `pathname` is set.
      { method: method as HttpMethod, url: relUrl, pathname: '', body, params: {}, query: {}, headers: req.headers },
      repo
    );
    const status = getStatus(outcome);
    const headers: Record<string, string> = {};
    if (resource?.id && resource.meta?.versionId && resource.resourceType !== 'Bundle') {
      headers.ETag = `W/"${resource.meta.versionId}"`;
      if (status === 201) {
        headers.Location = `${baseUrl}/${resource.resourceType}/${resource.id}/_history/${resource.meta.versionId}`;
      }
    }
    sendJson(res, status, resource ?? outcome, headers);
    return { status, resource };
  }

  /** Transaction/batch Bundles of creates and updates (what Synthea writes) are stored keeping ids. */
  async function ingestBundle(bundle: Bundle): Promise<Bundle> {
    const collector = new ResourceCollector(fullUrlMap);
    collector.add(bundle, 'POST');
    const result = await store(collector.finish(), [...collector.warnings]);
    return {
      resourceType: 'Bundle',
      id: generateId(),
      type: bundle.type === 'transaction' ? 'transaction-response' : 'batch-response',
      entry: result.references.map((reference) => ({
        response: { status: '201 Created', location: reference },
      })),
    };
  }

  async function search(resourceType: string, params: Params): Promise<Bundle> {
    const { query, echo } = normalizeSearchParams(resourceType, params, baseUrl, unknownParams);
    const request = parseSearchRequest(resourceType as Resource['resourceType'], query);
    const offset = Math.max(0, request.offset ?? 0);
    const count = Math.min(maxPageSize, Math.max(0, request.count ?? defaultPageSize));
    const { matches, total } = await searchPage(request, offset, count);
    const included = await findIncludes(matches, request.include ?? [], request.revInclude ?? []);

    const link: BundleLink[] = [{ relation: 'self', url: searchUrl(resourceType, echo, count, offset) }];
    if (count > 0) {
      link.push({ relation: 'first', url: searchUrl(resourceType, echo, count, 0) });
      if (offset + count < total) {
        link.push({ relation: 'next', url: searchUrl(resourceType, echo, count, offset + count) });
      }
      if (offset > 0) {
        link.push({ relation: 'previous', url: searchUrl(resourceType, echo, count, Math.max(0, offset - count)) });
      }
    }
    const entry: BundleEntry[] = [
      ...matches.map((resource) => entryOf(resource, 'match')),
      ...included.map((resource) => entryOf(resource, 'include')),
    ];
    return {
      resourceType: 'Bundle',
      id: generateId(),
      meta: { lastUpdated: new Date().toISOString() },
      type: 'searchset',
      total,
      link,
      ...(entry.length > 0 ? { entry } : {}),
    };
  }

  /** One page of matches: from the patient index when it can answer, else from the repository. */
  async function searchPage(request: SearchRequest, offset: number, count: number): Promise<{ matches: Resource[]; total: number }> {
    const indexed = index.search(request);
    if (indexed) {
      const read = (ids: string[]) => Promise.all(ids.map((id) => repo.readResource(request.resourceType, id)));
      if (indexed.rest.length === 0) {
        return { matches: await read(indexed.ids.slice(offset, offset + count)), total: indexed.ids.length };
      }
      // The index answered its filter; the others are checked on this patient's resources only.
      const rest = { ...request, filters: indexed.rest };
      const all = (await read(indexed.ids)).filter((r) => matchesSearchRequest(r, rest));
      return { matches: all.slice(offset, offset + count), total: all.length };
    }
    const page = await repo.search({ ...request, offset, count, include: undefined, revInclude: undefined });
    const matches: Resource[] = [];
    for (const e of page.entry ?? []) {
      if (e.resource) {
        matches.push(e.resource);
      }
    }
    return { matches, total: page.total ?? matches.length };
  }

  function entryOf(resource: Resource, mode: 'match' | 'include'): BundleEntry {
    return { fullUrl: `${baseUrl}/${resource.resourceType}/${resource.id}`, resource, search: { mode } };
  }

  function searchUrl(resourceType: string, echo: Params, count: number, offset: number): string {
    const params = new URLSearchParams(echo);
    params.set('_count', String(count));
    if (offset > 0) {
      params.set('_offset', String(offset));
    }
    return `${baseUrl}/${resourceType}?${params.toString()}`;
  }

  /** `_include` and `_revinclude` (one level; `:iterate` is not followed). */
  async function findIncludes(
    matches: Resource[],
    include: IncludeTarget[],
    revInclude: IncludeTarget[]
  ): Promise<Resource[]> {
    const seen = new Set(matches.map((r) => `${r.resourceType}/${r.id}`));
    const found: Resource[] = [];
    const add = (r: Resource): void => {
      const key = `${r.resourceType}/${r.id}`;
      if (!seen.has(key)) {
        seen.add(key);
        found.push(r);
      }
    };
    for (const target of include) {
      const expression = getSearchParameters(target.resourceType)?.[target.searchParam]?.expression;
      if (!expression) {
        const name = `${target.resourceType}:${target.searchParam}`;
        throw new OperationOutcomeError(badRequest(`unknown _include ${name}`, '_include'));
      }
      for (const resource of matches.filter((r) => r.resourceType === target.resourceType)) {
        for (const value of evalFhirPath(expression, resource)) {
          const reference = (value as { reference?: unknown } | undefined)?.reference;
          const [type, id] = typeof reference === 'string' ? reference.split('/') : [];
          if (!type || !id || (target.targetType && type !== target.targetType)) {
            continue;
          }
          try {
            add(await repo.readResource(type, id));
          } catch {
            // A dangling reference is not an error in search: the target is simply not included.
          }
        }
      }
    }
    for (const target of revInclude) {
      for (const resource of matches) {
        const request: SearchRequest = parseSearchRequest(target.resourceType as Resource['resourceType'], {
          [target.searchParam]: `${resource.resourceType}/${resource.id}`,
        });
        for (const r of await repo.searchResources(request)) {
          add(r);
        }
      }
    }
    return found;
  }

  function isSearchable(segment: string): boolean {
    return segment !== 'metadata' && !segment.startsWith('$') && !segment.startsWith('_');
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) {
        sendJson(res, 500, normalizeOperationOutcome(err));
      } else {
        res.destroy();
      }
    });
  });

  if (options.initialData) {
    await load(options.initialData);
  }
  const port = await listen(server, options.port ?? 0, host);
  baseUrl = `${originOf(host, port)}${basePath}`;

  return {
    baseUrl,
    port,
    requests,
    repo,
    load,
    ready: () => {
      loading = false;
    },
    clearRequests: () => {
      requests.length = 0;
    },
    reset: () => {
      repo.clear();
      index.clear();
      fullUrlMap.clear();
      requests.length = 0;
    },
    close: () => closeServer(server),
  };
}

/**
 * Every so many resources a long load lets the event loop run, so requests meanwhile get their 503
 * (Retry-After) at once instead of waiting for the whole data set.
 */
async function yieldNow(done: number): Promise<void> {
  if (done % 1000 === 999) await new Promise((resolve) => setImmediate(resolve));
}

/**
 * Checks search parameters against the resource type's definitions and rewrites reference
 * values the way FHIR servers read them: `patient=123` means `Patient/123`
 * (https://hl7.org/fhir/R4/search.html#reference), `subject:Patient=123` likewise, and an
 * absolute URL on this server is its relative form.
 * @returns the query for medplum, and the parameters to echo in `self`/`next` links.
 */
function normalizeSearchParams(
  resourceType: string,
  params: Params,
  baseUrl: string,
  unknownParams: 'error' | 'ignore'
): { query: Record<string, string[]>; echo: Params } {
  if (!isResourceType(resourceType)) {
    throw new OperationOutcomeError(badRequest(`unknown resource type "${resourceType}"`));
  }
  const definitions = getSearchParameters(resourceType) ?? {};
  const query: Record<string, string[]> = {};
  const echo: Params = [];
  for (const [key, rawValue] of params) {
    if (RESULT_PARAMS.has(key)) {
      if ((key === '_count' || key === '_offset') && !/^\d+$/.test(rawValue)) {
        throw new OperationOutcomeError(badRequest(`${key} must be a non-negative integer, got "${rawValue}"`, key));
      }
      if (PARSED_RESULT_PARAMS.has(key)) {
        (query[key] ??= []).push(rawValue);
      }
      if (key !== '_count' && key !== '_offset') {
        echo.push([key, rawValue]);
      }
      continue;
    }
    const [code, modifier] = key.split(':', 2);
    if (code.includes('.') || code === '_has') {
      throw new OperationOutcomeError(badRequest(`chained search "${key}" is not supported by this test server`, key));
    }
    const definition = definitions[code];
    if (!definition) {
      if (unknownParams === 'ignore') {
        continue;
      }
      throw new OperationOutcomeError(
        badRequest(
          `unknown search parameter "${code}" for ${resourceType}; ` +
            `known: ${Object.keys(definitions).sort().join(', ')}`,
          code
        )
      );
    }
    let value = rawValue;
    let outKey = key;
    const typeModifier = modifier && isResourceType(modifier) ? modifier : undefined;
    // Only plain and `:Type` reference values name a resource; `:missing=true` and the like do not.
    if (definition.type === 'reference' && (modifier === undefined || typeModifier)) {
      if (typeModifier) {
        outKey = code;
      }
      value = rawValue
        .split(',')
        .flatMap((v) => referenceValues(v, typeModifier ? [typeModifier] : (definition.target ?? []), baseUrl))
        .join(',');
    }
    (query[outKey] ??= []).push(value);
    echo.push([key, rawValue]);
  }
  return { query, echo };
}

/** The `Type/id` forms a reference search value stands for. */
function referenceValues(value: string, targets: readonly string[], baseUrl: string): string[] {
  if (value.startsWith(baseUrl + '/')) {
    return [value.slice(baseUrl.length + 1)];
  }
  if (value.includes('/') || value.includes(':') || targets.length === 0) {
    return [value];
  }
  return targets.map((t) => `${t}/${value}`);
}

function parseBody(text: string | undefined, contentType: string | undefined): unknown {
  if (text === undefined || text.trim() === '') {
    return undefined;
  }
  if (contentType?.includes('x-www-form-urlencoded')) {
    return Object.fromEntries(new URLSearchParams(text));
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new OperationOutcomeError(badRequest(`request body is not valid JSON: ${(err as Error).message}`));
  }
}

function isLoadableBundle(body: unknown): body is Bundle {
  const bundle = body as Bundle | undefined;
  if (bundle?.resourceType !== 'Bundle' || (bundle.type !== 'transaction' && bundle.type !== 'batch')) {
    return false;
  }
  // Only creates and updates with a resource are ours; reads, deletes and conditional
  // writes go to medplum's batch processor.
  return (bundle.entry ?? []).every(
    (e) =>
      e.resource !== undefined &&
      (e.request?.method === 'POST' || (e.request?.method === 'PUT' && !e.request.url.includes('?')))
  );
}

/** HTTP status for a thrown outcome; an unexpected error must not come back as 200. */
function statusOf(outcome: OperationOutcome): number {
  const status = getStatus(outcome);
  return status === 200 ? 500 : status;
}

function unauthorized(missing: boolean): OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    issue: [
      {
        severity: 'error',
        code: 'login',
        details: { text: missing ? 'Authorization required' : 'Invalid bearer token' },
      },
    ],
  };
}

/** A small CapabilityStatement: every resource type with read and search, and its search parameters. */
function capabilityStatement(baseUrl: string): CapabilityStatement {
  const resourceTypes = Object.keys(getAllSearchableTypes()).sort();
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: new Date().toISOString(),
    kind: 'instance',
    software: { name: 'lumbar-mri-cds FhirTestServer' },
    implementation: { description: 'In-memory FHIR R4 test server', url: baseUrl },
    fhirVersion: '4.0.1',
    format: ['json'],
    rest: [
      {
        mode: 'server',
        interaction: [{ code: 'transaction' }, { code: 'batch' }],
        resource: resourceTypes.map((type) => ({
          type: type as Resource['resourceType'],
          interaction: [{ code: 'read' }, { code: 'search-type' }, { code: 'create' }, { code: 'update' }],
          searchParam: Object.values(getSearchParameters(type) ?? {}).map((sp) => ({
            name: sp.code ?? sp.name ?? '',
            type: sp.type,
          })),
        })),
      },
    ],
  };
}

function getAllSearchableTypes(): Record<string, true> {
  const types: Record<string, true> = {};
  for (const type of RESOURCE_TYPES_FOR_METADATA) {
    if (getSearchParameters(type)) {
      types[type] = true;
    }
  }
  return types;
}

/** The types this project reads; listing all ~150 R4 types would only make the statement long. */
const RESOURCE_TYPES_FOR_METADATA = [
  'Patient',
  'Practitioner',
  'PractitionerRole',
  'Organization',
  'Encounter',
  'Coverage',
  'Condition',
  'Observation',
  'Procedure',
  'MedicationRequest',
  'MedicationStatement',
  'ServiceRequest',
  'DiagnosticReport',
  'ImagingStudy',
  'QuestionnaireResponse',
  'DocumentReference',
  'AllergyIntolerance',
  'Immunization',
  'CarePlan',
  'Claim',
  'ExplanationOfBenefit',
  'Provenance',
  'Device',
  'Location',
];
