/**
 * `lumbar-mri-cds evaluate`: files of FHIR data or hook requests -> the service's decision per
 * patient. Every input becomes an order-sign request and goes through the service's own pipeline
 * (runHook), so the CLI and the service cannot disagree.
 */
import { readFile, stat } from 'node:fs/promises';
import { extname } from 'node:path';
import type { Coverage, Resource, ServiceRequest } from 'fhir/r4.js';
import { missingItem } from '../cards/wording.js';
import { hookContextFromConfig } from '../pipeline/context.js';
import { loadConfig } from '../config/config.js';
import { lumbarMriCode } from '../decision/decideOrder.js';
import { toDay } from '../fhir/dates.js';
import { listDataFiles, loadFolder } from '../fhir-server/loadFolder.js';
import { ResourceCollector, looksLikeResource } from '../fhir-server/normalize.js';
import { HttpError } from '../hooks/errors.js';
import { runHook, type HookContext } from '../pipeline/runHook.js';
import { parseHookRequest } from '../hooks/schema.js';
import type { CdsCard, HookName, HookRequest } from '../hooks/types.js';
import type { PolicyLibrary } from '../library/library.js';
import { Router } from '../routing/routing.js';
import { buildOrderSignRequest, patientsIn, withOrderOptions, type OrderOptions } from './hookRequest.js';

export interface EvaluateOptions extends OrderOptions {
  /** Evaluate against this policy whatever the coverage says (routing bypassed). */
  readonly policyId?: string;
}

/** One evaluated order, in the words the service's cards use. */
export interface EvaluationRow {
  readonly file: string;
  readonly patientId: string;
  readonly orderRef: string;
  readonly cpt: string;
  readonly dateOfService: string;
  readonly outcome: string;
  /** `policyId@version`, when one applied. */
  readonly policy?: string;
  readonly coverage?: string;
  /** The criterion that decided, by the policy's outline number. */
  readonly criterion?: string;
  /** Documentation missing: the items of the shortest path to approval. */
  readonly missing: readonly string[];
  /** Alternatives the cards suggest (labels). */
  readonly suggestions: readonly string[];
  /** Cards about the record itself (what could not be read). */
  readonly notes: readonly string[];
}

export interface InputError {
  readonly file: string;
  readonly reason: string;
}

export interface EvaluationReport {
  readonly files: number;
  readonly rows: readonly EvaluationRow[];
  readonly errors: readonly InputError[];
}

/** The `.json` / `.ndjson` files under each path (a path that cannot be listed is an error). */
export async function inputFiles(paths: readonly string[]): Promise<{ files: string[]; errors: InputError[] }> {
  const files: string[] = [];
  const errors: InputError[] = [];
  for (const path of paths) {
    try {
      files.push(...((await stat(path)).isDirectory() ? await listDataFiles(path, true) : [path]));
    } catch (err) {
      errors.push({ file: path, reason: reasonOf(err) });
    }
  }
  return { files, errors };
}

/** Library whose router sends every active coverage to `policyId` (the `--policy` option). */
export function forcePolicy(library: PolicyLibrary, policyId: string): PolicyLibrary {
  const router = new Router({ rules: [{ id: `--policy ${policyId}`, policyId }] }, library.policies, library.valueSets);
  return { ...library, router };
}

/** The hook requests a file holds: itself when it is one, else one per Patient in its FHIR data. */
export async function requestsInFile(file: string, opts: EvaluateOptions): Promise<HookRequest[]> {
  let resources: Resource[];
  if (extname(file).toLowerCase() === '.ndjson') {
    const load = await loadFolder(file);
    if (load.errors.length > 0) throw new Error(load.errors.map((e) => `${e.file}: ${e.reason}`).join('; '));
    resources = load.resources as Resource[];
  } else {
    const json: unknown = JSON.parse((await readFile(file, 'utf8')).replace(/^\uFEFF/, ''));
    if (isHookRequestLike(json)) return [hookRequestWithOptions(json, opts)];
    if (!looksLikeResource(json) && !Array.isArray(json)) {
      throw new Error('neither a FHIR resource or Bundle (resourceType) nor a CDS Hooks request (hook and context)');
    }
    const collector = new ResourceCollector();
    collector.add(json, file);
    resources = collector.finish() as Resource[];
  }
  const patients = patientsIn(resources);
  if (patients.length === 0) throw new Error('no Patient resource in the data');
  return patients.map((p) => withAssumedCoverage(parse(buildOrderSignRequest(p, opts), 'order-sign'), opts.policyId));
}

/** Runs every file through the pipeline; a file that cannot be read is reported and skipped. */
export async function evaluateFiles(
  files: readonly string[],
  library: PolicyLibrary,
  opts: EvaluateOptions,
  onFile: (file: string) => void = () => undefined,
): Promise<EvaluationReport> {
  const lib = opts.policyId ? forcePolicy(library, opts.policyId) : library;
  const context = hookContext(lib, opts.date);
  const rows: EvaluationRow[] = [];
  const errors: InputError[] = [];
  for (const file of files) {
    try {
      for (const req of await requestsInFile(file, opts)) rows.push(...(await evaluateRequest(file, req, context)));
    } catch (err) {
      errors.push({ file, reason: reasonOf(err) });
    }
    onFile(file);
  }
  return { files: files.length, rows, errors };
}

function hookContext(library: PolicyLibrary, date: string | undefined): HookContext {
  // The CLI reads only what the files hold: it never calls a fhirServer named in a request.
  return hookContextFromConfig(loadConfig({}), library, date ? { now: () => new Date(`${date}T12:00:00Z`) } : {});
}

async function evaluateRequest(file: string, req: HookRequest, context: HookContext): Promise<EvaluationRow[]> {
  const result = await runHook(req, context);
  const cards = result.response.cards;
  const notes = cards.filter((c) => associated(c).length === 0).map((c) => c.summary);
  return result.decisions.map((d) => {
    const mine = cards.filter((c) => associated(c).includes(d.orderRef));
    const path = d.outcome === 'documentation-missing' ? d.result?.missing[0] : undefined;
    return {
      file,
      patientId: req.context.patientId,
      orderRef: d.orderRef,
      cpt: d.cpt,
      dateOfService: d.dateOfService,
      outcome: d.outcome,
      ...(d.policy ? { policy: `${d.policy.policyId}@${d.policy.version}` } : {}),
      ...(d.coverage ? { coverage: `Coverage/${d.coverage.id}` } : {}),
      ...(d.result?.decidedBy ? { criterion: d.result.decidedBy.id } : {}),
      missing: (path?.unknown ?? []).map((s) => missingItem(s, context.library.facts)),
      suggestions: [...new Set(mine.flatMap((c) => (c.suggestions ?? []).map((s) => s.label)))],
      notes,
    };
  });
}

function associated(card: CdsCard): string[] {
  const refs = card.extension?.['davinci-crd.associated-resource'];
  return Array.isArray(refs) ? refs.map((r: { reference?: unknown }) => String(r?.reference)) : [];
}

interface HookRequestLike {
  hook: string;
  context: Record<string, unknown>;
  prefetch?: Record<string, unknown>;
}

function isHookRequestLike(json: unknown): json is HookRequestLike {
  const v = json as Partial<HookRequestLike> | null;
  return !!v && typeof v === 'object' && typeof v.hook === 'string' && !!v.context && typeof v.context === 'object';
}

/** A hook request file as given, with `--order` and `--date` applied to its lumbar MRI drafts. */
function hookRequestWithOptions(json: HookRequestLike, opts: EvaluateOptions): HookRequest {
  if (json.hook !== 'order-sign' && json.hook !== 'order-select') throw new Error(`hook "${json.hook}" is not one this service answers (order-select, order-sign)`);
  const req = parse(json, json.hook);
  const draftOrders = req.context.draftOrders;
  const entry = (draftOrders.entry ?? []).map((e) => {
    const r = e?.resource;
    return r?.resourceType === 'ServiceRequest' && lumbarMriCode(r as ServiceRequest) ? { ...e, resource: withOrderOptions(r as ServiceRequest, opts) } : e;
  });
  return withAssumedCoverage({ ...req, context: { ...req.context, draftOrders: { ...draftOrders, entry } } } as HookRequest, opts.policyId);
}

function parse(body: unknown, hook: HookName): HookRequest {
  try {
    return parseHookRequest(body, hook);
  } catch (err) {
    if (err instanceof HttpError) throw new Error(`not a valid CDS Hooks request: ${err.message}`);
    throw err;
  }
}

const ASSUMED_COVERAGE_KEY = 'cliAssumedCoverage';

/**
 * `--policy` judges against one policy, but the pipeline needs an active Coverage (CRD: coverage
 * is mandatory) and Synthea writes none. A coverage named for the option is added last, so a real
 * active coverage in the data still comes first; prefetch keys the service does not declare are
 * still read as the patient's record.
 */
function withAssumedCoverage(req: HookRequest, policyId: string | undefined): HookRequest {
  if (!policyId) return req;
  const coverage: Coverage = {
    resourceType: 'Coverage',
    id: 'assumed-by-cli-policy-option',
    status: 'active',
    beneficiary: { reference: `Patient/${req.context.patientId}` },
    payor: [{ display: `assumed for --policy ${policyId}` }],
  };
  return { ...req, prefetch: { ...(req.prefetch ?? {}), [ASSUMED_COVERAGE_KEY]: coverage } } as HookRequest;
}

/** `--date` accepts calendar dates only. */
export function parseDay(value: string): string | undefined {
  return /^\d{4}-\d{2}-\d{2}$/.test(value) ? toDay(value) : undefined;
}

function reasonOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
