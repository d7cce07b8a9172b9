/**
 * `lumbar-mri-cds evaluate`: files of FHIR data or hook requests -> the service's decision per
 * patient. Every input becomes an order-sign request and goes through the service's own pipeline
 * (runHook), so the CLI and the service cannot disagree.
 */
import { readFile, stat } from 'node:fs/promises';
import { dirname, extname } from 'node:path';
import type { Coverage, Resource, ServiceRequest } from 'fhir/r4.js';
import { criterionLabel, missingItem } from '../cards/wording.js';
import type { CandidatePath } from '../engine/evaluate.js';
import type { FactCatalogue } from '../facts/catalogue.js';
import { hookContextFromConfig } from '../pipeline/context.js';
import { loadConfig } from '../config/config.js';
import { coverageOf, criterionId, hasPolicy, isEngineDecision, lumbarMriCode, type OrderDecision } from '../decision/decideOrder.js';
import { toDay } from '../fhir/dates.js';
import { listDataFiles, loadFolder } from '../../tools/fhir-server/loadFolder.js';
import { ResourceCollector, looksLikeResource } from '../../tools/fhir-server/normalize.js';
import { HttpError } from '../hooks/errors.js';
import { runHook, type HookContext } from '../pipeline/runHook.js';
import { parseHookRequest } from '../hooks/schema.js';
import type { CdsCard, HookName, HookRequest } from '../hooks/types.js';
import type { PolicyLibrary } from '../library/library.js';
import { Router } from '../routing/routing.js';
import { buildOrderSignRequest, patientsIn, withOrderOptions, type OrderOptions, type PatientResources } from './hookRequest.js';

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
  /** Why, in the words the coverage-information `reason` carries (set whenever a policy applied). */
  readonly reason?: string;
  /** Resources that supplied the deciding facts (`Type/id`). */
  readonly evidence: readonly string[];
  /** Not indicated: the closest paths to approval and what each lacks, shortest first. */
  readonly wouldChange: readonly string[];
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
  /** Files met while walking a folder that are neither FHIR data nor hook requests (case tables, configuration). */
  readonly skipped: readonly string[];
}

export interface InputFiles {
  readonly files: string[];
  readonly errors: InputError[];
  /** The files found by walking a folder rather than named one by one. */
  readonly walked: ReadonlySet<string>;
}

/** The `.json` / `.ndjson` files under each path (a path that cannot be listed is an error). */
export async function inputFiles(paths: readonly string[]): Promise<InputFiles> {
  const files = new Set<string>();
  const errors: InputError[] = [];
  const walked = new Set<string>();
  const named = new Set<string>();
  for (const path of paths) {
    try {
      if ((await stat(path)).isDirectory()) {
        const listed = await listDataFiles(path, true);
        for (const f of listed) files.add(f), walked.add(f);
      } else {
        files.add(path);
        named.add(path);
      }
    } catch (err) {
      errors.push({ file: path, reason: reasonOf(err) });
    }
  }
  for (const f of named) walked.delete(f);
  return { files: [...files], errors, walked };
}

/**
 * What is decided together: each `.json` file alone, and all `.ndjson` files of one folder as one
 * data set, since a bulk export (Synthea's, a FHIR server's `$export`) writes one file per resource
 * type and a patient's record is spread across them.
 */
export interface InputUnit {
  readonly label: string;
  readonly files: readonly string[];
  readonly kind: 'json' | 'ndjson';
}

export function inputUnits(files: readonly string[]): InputUnit[] {
  const units: InputUnit[] = [];
  const bulk = new Map<string, string[]>();
  for (const file of files) {
    if (extname(file).toLowerCase() !== '.ndjson') {
      units.push({ label: file, files: [file], kind: 'json' });
      continue;
    }
    const dir = dirname(file);
    const group = bulk.get(dir);
    if (group) group.push(file);
    else {
      const created = [file];
      bulk.set(dir, created);
      units.push({ label: dir, files: created, kind: 'ndjson' });
    }
  }
  // A folder with one NDJSON file is named by the file.
  return units.map((u) => (u.kind === 'ndjson' && u.files.length === 1 ? { ...u, label: u.files[0] } : u));
}

/** A JSON file that is not a patient's data nor a hook request: skipped when met while walking a folder. */
export class NotPatientDataError extends Error {}

/** Every patient of a unit with their resources, gathered across the unit's files. */
export async function patientsInUnit(unit: InputUnit): Promise<PatientResources[]> {
  const resources: Resource[] = [];
  for (const file of unit.files) {
    const load = await loadFolder(file);
    if (load.errors.length > 0) throw new Error(load.errors.map((e) => `${e.file}: ${e.reason}`).join('; '));
    resources.push(...(load.resources as Resource[]));
  }
  const patients = patientsIn(resources);
  if (patients.length === 0) throw new Error('no Patient resource in the data');
  return patients;
}

/** Library whose router sends every active coverage to `policyId` (the `--policy` option). */
export function forcePolicy(library: PolicyLibrary, policyId: string): PolicyLibrary {
  const router = new Router({ rules: [{ id: `--policy ${policyId}`, policyId }] }, library.policies, library.valueSets);
  return { ...library, router };
}

/** A JSON file read as a hook request, or the patients of its FHIR data. */
export async function readJsonInput(file: string): Promise<{ request: HookRequestLike } | { patients: PatientResources[] }> {
  const json: unknown = JSON.parse((await readFile(file, 'utf8')).replace(/^\uFEFF/, ''));
  if (isHookRequestLike(json)) return { request: json };
  if (!looksLikeResource(json) && !Array.isArray(json)) {
    throw new NotPatientDataError('neither a FHIR resource or Bundle (resourceType) nor a CDS Hooks request (hook and context)');
  }
  const collector = new ResourceCollector();
  collector.add(json, file);
  const patients = patientsIn(collector.finish() as Resource[]);
  // Shared resources with no patient (Synthea's hospitalInformation and practitionerInformation files).
  if (patients.length === 0) throw new NotPatientDataError('no Patient resource in the data');
  return { patients };
}

/** One file as a unit of its own. */
export function unitOf(file: string): InputUnit {
  return { label: file, files: [file], kind: extname(file).toLowerCase() === '.ndjson' ? 'ndjson' : 'json' };
}

/** What a unit holds: a hook request (a JSON file that is one), or its patients. */
export async function readUnit(unit: InputUnit): Promise<{ request: HookRequestLike } | { patients: PatientResources[] }> {
  return unit.kind === 'ndjson' ? { patients: await patientsInUnit(unit) } : readJsonInput(unit.files[0]);
}

/** The hook requests a unit holds: the file itself when it is one, else one per Patient in its FHIR data. */
export async function requestsInUnit(unit: InputUnit, opts: EvaluateOptions): Promise<HookRequest[]> {
  const read = await readUnit(unit);
  if ('request' in read) return [hookRequestWithOptions(read.request, opts)];
  return read.patients.map((p) => withAssumedCoverage(parse(buildOrderSignRequest(p, opts), 'order-sign'), opts.policyId));
}

/**
 * Runs every input through the pipeline; an input that cannot be read is reported and skipped, and
 * a file met while walking a folder that is not patient data at all (a case table) is skipped quietly.
 */
export async function evaluateFiles(
  input: InputFiles | readonly string[],
  library: PolicyLibrary,
  opts: EvaluateOptions,
  onFile: (file: string) => void = () => undefined,
): Promise<EvaluationReport> {
  const files = 'files' in input ? input.files : input;
  const walked = 'walked' in input ? input.walked : new Set<string>();
  const lib = opts.policyId ? forcePolicy(library, opts.policyId) : library;
  const context = evaluationContext(lib, opts.date);
  const rows: EvaluationRow[] = [];
  const errors: InputError[] = [];
  const skipped: string[] = [];
  for (const unit of inputUnits(files)) {
    try {
      for (const req of await requestsInUnit(unit, opts)) rows.push(...(await evaluateRequest(unit.label, req, context)));
    } catch (err) {
      if (err instanceof NotPatientDataError && walked.has(unit.label)) skipped.push(unit.label);
      else errors.push({ file: unit.label, reason: reasonOf(err) });
    }
    unit.files.forEach(onFile);
  }
  return { files: files.length, rows, errors, skipped };
}

/** The service's hook context as the CLI runs it: `date` (when given) is today. */
export function evaluationContext(library: PolicyLibrary, date: string | undefined): HookContext {
  // The CLI reads only what the files hold: it never calls a fhirServer named in a request.
  return hookContextFromConfig(loadConfig({}), library, date ? { now: () => new Date(`${date}T12:00:00Z`) } : {});
}

/** One request through the service's own handler; a row per lumbar MRI order. */
export async function evaluateRequest(file: string, req: HookRequest, context: HookContext): Promise<EvaluationRow[]> {
  const result = await runHook(req, context);
  const cards = result.response.cards;
  const notes = cards.filter((c) => associated(c).length === 0).map((c) => c.summary);
  return result.decisions.map((d) => {
    const mine = cards.filter((c) => associated(c).includes(d.orderRef));
    const path = d.outcome === 'documentation-missing' ? d.result.missing[0] : undefined;
    const coverage = coverageOf(d);
    const criterion = criterionId(d);
    return {
      file,
      patientId: req.context.patientId,
      orderRef: d.orderRef,
      cpt: d.cpt,
      dateOfService: d.dateOfService,
      outcome: d.outcome,
      ...(hasPolicy(d) ? { policy: `${d.policy.policyId}@${d.policy.version}` } : {}),
      ...(coverage ? { coverage: `Coverage/${coverage.id}` } : {}),
      ...(criterion ? { criterion } : {}),
      ...(hasPolicy(d) ? { reason: criterionLabel(d) } : {}),
      evidence: isEngineDecision(d) ? d.result.evidence : [],
      missing: (path?.unknown ?? []).map((s) => missingItem(s, context.library.facts)),
      wouldChange: wouldChange(d, context.library.facts),
      suggestions: [...new Set(mine.flatMap((c) => (c.suggestions ?? []).map((s) => s.label)))],
      notes,
    };
  });
}

/** Not indicated: each closest path as "III.A.2: not on record: …; undocumented: …". */
function wouldChange(d: OrderDecision, facts: FactCatalogue): string[] {
  if (d.outcome !== 'not-indicated') return [];
  const words = (s: CandidatePath['steps'][number]) => (s.fact ? facts.get(s.fact)?.text : undefined) ?? s.leafText;
  return d.result.wouldChange.map((c) => {
    const parts = [
      ...(c.failed.length ? [`not on record: ${c.failed.map(words).join('; ')}`] : []),
      ...(c.unknown.length ? [`undocumented: ${c.unknown.map(words).join('; ')}`] : []),
    ];
    return `${c.cited.id}: ${parts.join(' | ')}`;
  });
}

function associated(card: CdsCard): string[] {
  const refs = card.extension?.['davinci-crd.associated-resource'];
  return Array.isArray(refs) ? refs.map((r: { reference?: unknown }) => String(r?.reference)) : [];
}

export interface HookRequestLike {
  hook: string;
  context: Record<string, unknown>;
  prefetch?: Record<string, unknown>;
}

function isHookRequestLike(json: unknown): json is HookRequestLike {
  const v = json as Partial<HookRequestLike> | null;
  return !!v && typeof v === 'object' && typeof v.hook === 'string' && !!v.context && typeof v.context === 'object';
}

/** A hook request file as given, with `--order` and `--date` applied to its lumbar MRI drafts. */
export function hookRequestWithOptions(json: HookRequestLike, opts: EvaluateOptions): HookRequest {
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
