/**
 * The playground's EHR state, kept apart from the DOM so it can be unit-tested: the patient record
 * (as prefetch), the draft orders, the chosen study, date of service and coverage, and the hook
 * requests built from them.
 */
import type { Bundle, BundleEntry, Coverage, Organization, Parameters, Patient, QuestionnaireResponse, Resource, ServiceRequest } from 'fhir/r4.js';
import { addDays } from '../../src/fhir/dates.js';
import { PREFETCH_TYPES } from '../../src/hooks/discovery.js';
import type { CdsAction, HookName, HookRequest } from '../../src/hooks/types.js';

export const CPT_SYSTEM = 'http://www.ama-assn.org/go/cpt';
const SOPT_SYSTEM = 'https://nahdo.org/sopt';

export const STUDIES = {
  '72148': 'MRI lumbar spine without contrast',
  '72149': 'MRI lumbar spine with contrast',
  '72158': 'MRI lumbar spine without, then with contrast',
} as const;
export type StudyCode = keyof typeof STUDIES;

/** Payers a tester can switch to without editing the record (contract section 3). */
export const COVERAGE_PRESETS = {
  'kp-commercial': { label: 'KP Washington, commercial PPO', payor: 'Kaiser Foundation Health Plan of Washington', code: '512', display: 'Commercial Managed Care - PPO' },
  'kp-medicare': { label: 'KP Washington, Medicare', payor: 'Kaiser Foundation Health Plan of Washington', code: '121', display: 'Medicare FFS' },
  // The Medicare Advantage policy is in force from 2025-10-02 (README, policy table): the preset moves an earlier date there.
  'medicare-advantage': { label: 'Medicare Advantage (other payer)', payor: 'Evergreen Medicare Advantage Plan', code: '111', display: 'Medicare HMO', inForceFrom: '2025-10-02' },
  'other-commercial': { label: 'Other commercial payer', payor: 'Cascade Mutual Health Insurance', code: '512', display: 'Commercial Managed Care - PPO' },
} as const;
export type CoveragePreset = keyof typeof COVERAGE_PRESETS;

/** `record:<Coverage id>`, `preset:<kind>` or `none`. */
export type CoverageChoice = `record:${string}` | `preset:${CoveragePreset}` | 'none';

export interface Session {
  readonly patientId: string;
  readonly userId: string;
  /** Every resource of the record, by prefetch key (as the fixture or the pasted Bundle gave them). */
  readonly prefetch: Record<string, Resource | null>;
  /** Draft orders as the EHR holds them; suggestions and system actions change them. */
  drafts: ServiceRequest[];
  /** The order the study, date and coverage controls edit. */
  readonly primaryId: string;
  /** Answers given through the documentation questionnaire, sent in the `questionnaireResponses` prefetch. */
  questionnaireResponses: QuestionnaireResponse[];
}

export interface OrderChoices {
  readonly study: StudyCode;
  readonly dateOfService: string;
  readonly coverage: CoverageChoice;
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function resourcesOf(value: Resource | null | undefined): Resource[] {
  if (!value) return [];
  if (value.resourceType === 'Bundle') return ((value as Bundle).entry ?? []).map((e) => e.resource).filter((r): r is NonNullable<typeof r> => !!r);
  return [value];
}

export function searchset(resources: readonly Resource[], included: readonly Resource[] = []): Bundle {
  const entry: BundleEntry[] = [
    ...resources.map((resource) => ({ resource, search: { mode: 'match' as const } })),
    ...included.map((resource) => ({ resource, search: { mode: 'include' as const } })),
  ];
  return { resourceType: 'Bundle', type: 'searchset', total: resources.length, entry } as Bundle;
}

/** Every resource in the session's record, once. */
export function recordResources(s: Pick<Session, 'prefetch'>): Resource[] {
  const seen = new Set<string>();
  const out: Resource[] = [];
  for (const value of Object.values(s.prefetch)) {
    for (const r of resourcesOf(value)) {
      const key = `${r.resourceType}/${r.id ?? out.length}`;
      if (!seen.has(key)) {
        seen.add(key);
        out.push(r);
      }
    }
  }
  return out;
}

export function lumbarCode(order: ServiceRequest | undefined): StudyCode | undefined {
  const code = order?.code?.coding?.find((c) => c.system === CPT_SYSTEM && !!c.code && c.code in STUDIES)?.code;
  return code as StudyCode | undefined;
}

/** A session from a CDS Hooks request (a fixture, or a request pasted as is). */
export function sessionFromRequest(json: unknown): Session {
  if (!isObject(json) || !isObject(json.context)) throw new Error('Not a CDS Hooks request: no "context"');
  const context = json.context as { patientId?: unknown; userId?: unknown; draftOrders?: Bundle };
  if (typeof context.patientId !== 'string') throw new Error('The request has no context.patientId');
  const drafts = (context.draftOrders?.entry ?? [])
    .map((e) => e.resource)
    .filter((r): r is ServiceRequest => r?.resourceType === 'ServiceRequest');
  const prefetch = isObject(json.prefetch) ? ({ ...json.prefetch } as Record<string, Resource | null>) : {};
  const questionnaireResponses = resourcesOf(prefetch.questionnaireResponses).filter(
    (r): r is QuestionnaireResponse => r.resourceType === 'QuestionnaireResponse',
  );
  delete prefetch.questionnaireResponses;
  const order = drafts.find((d) => lumbarCode(d)) ?? drafts[0] ?? newOrder(context.patientId);
  return {
    patientId: context.patientId,
    userId: typeof context.userId === 'string' ? context.userId : 'Practitioner/playground',
    prefetch,
    drafts: drafts.length ? drafts : [order],
    primaryId: order.id ?? 'playground-order',
    questionnaireResponses,
  };
}

/** A session from a FHIR Bundle of the patient's record (e.g. Synthea output): resources sorted into our prefetch keys. */
export function sessionFromBundle(json: unknown): Session {
  if (isObject(json) && isObject(json.context)) return sessionFromRequest(json);
  if (!isObject(json) || json.resourceType !== 'Bundle') throw new Error('Paste a FHIR Bundle (resourceType "Bundle") or a CDS Hooks request');
  const resources = resourcesOf(json as unknown as Bundle);
  const patient = resources.find((r) => r.resourceType === 'Patient');
  if (!patient?.id) throw new Error('The Bundle has no Patient with an id');
  const drafts = resources
    .filter((r): r is ServiceRequest => r.resourceType === 'ServiceRequest')
    .filter((r) => r.status === 'draft' && !!lumbarCode(r));
  const others = resources.filter((r) => r !== patient && !drafts.includes(r as ServiceRequest));
  const prefetch: Record<string, Resource | null> = { patient };
  for (const [key, types] of Object.entries(PREFETCH_TYPES)) {
    if (key === 'patient' || key === 'questionnaireResponses') continue;
    const match = others.filter((r) => types.includes(r.resourceType));
    // Payor Organizations travel with the coverage search, as `_include` would bring them.
    const included = key === 'coverage' ? others.filter((r) => r.resourceType === 'Organization') : [];
    prefetch[key] = searchset(match, included);
  }
  const order = drafts[0] ?? newOrder(patient.id);
  const practitioner = resources.find((r) => r.resourceType === 'Practitioner');
  return {
    patientId: patient.id,
    userId: practitioner?.id ? `Practitioner/${practitioner.id}` : 'Practitioner/playground',
    prefetch,
    drafts: [order],
    primaryId: order.id ?? 'playground-order',
    questionnaireResponses: others.filter((r): r is QuestionnaireResponse => r.resourceType === 'QuestionnaireResponse'),
  };
}

function newOrder(patientId: string): ServiceRequest {
  return {
    resourceType: 'ServiceRequest',
    id: 'playground-order',
    status: 'draft',
    intent: 'original-order',
    code: { coding: [{ system: CPT_SYSTEM, code: '72148', display: STUDIES['72148'] }], text: STUDIES['72148'] },
    subject: { reference: `Patient/${patientId}` },
  };
}

export function primaryOrder(s: Session): ServiceRequest | undefined {
  return s.drafts.find((d) => d.id === s.primaryId);
}

/** The Coverage resources in the record, for the coverage picker. */
export function recordCoverages(s: Session): Coverage[] {
  return resourcesOf(s.prefetch.coverage).filter((r): r is Coverage => r.resourceType === 'Coverage');
}

/** The date of service the record's order carries (contract section 4), else today. */
export function orderDate(order: ServiceRequest | undefined, today: string): string {
  const raw = order?.occurrenceDateTime ?? order?.occurrencePeriod?.start ?? order?.authoredOn;
  return raw && /^\d{4}-\d{2}-\d{2}/.test(raw) ? raw.slice(0, 10) : today;
}

/** The coverage search the service will see, and the Coverage the order names. */
function coverageFor(s: Session, choice: CoverageChoice, dateOfService: string): { bundle: Bundle; coverage?: Coverage } {
  if (choice === 'none') return { bundle: searchset([]) };
  const included = resourcesOf(s.prefetch.coverage).filter((r): r is Organization => r.resourceType === 'Organization');
  if (choice.startsWith('record:')) {
    const coverage = recordCoverages(s).find((c) => `record:${c.id}` === choice);
    return coverage ? { bundle: searchset([coverage], included), coverage } : { bundle: searchset([]) };
  }
  const kind = choice.slice('preset:'.length) as CoveragePreset;
  const preset = COVERAGE_PRESETS[kind];
  if (!preset) return { bundle: searchset([]) };
  const org: Organization = { resourceType: 'Organization', id: `org-playground-${kind}`, name: preset.payor, active: true };
  const coverage: Coverage = {
    resourceType: 'Coverage',
    id: `cov-playground-${kind}`,
    status: 'active',
    type: { coding: [{ system: SOPT_SYSTEM, code: preset.code, display: preset.display }] },
    beneficiary: { reference: `Patient/${s.patientId}` },
    period: { start: addDays(dateOfService, -400) },
    payor: [{ reference: `Organization/${org.id}`, display: preset.payor }],
  };
  return { bundle: searchset([coverage], [org]), coverage };
}

/**
 * The DTR `$questionnaire-package` input for the primary order: the Coverage the order names, the
 * order, and the coverage-assertion-id the service wrote on it (`context`).
 */
export function packageRequest(s: Session, choices: OrderChoices, context: string): Parameters {
  const { coverage } = coverageFor(s, choices.coverage, choices.dateOfService);
  const order = primaryOrder(s);
  return {
    resourceType: 'Parameters',
    parameter: [
      ...(coverage ? [{ name: 'coverage', resource: coverage }] : []),
      ...(order ? [{ name: 'order', resource: order }] : []),
      { name: 'context', valueString: context },
    ],
  };
}

/** Writes the study, date of service and coverage onto the primary draft order. */
export function applyChoices(s: Session, choices: OrderChoices): void {
  const { coverage } = coverageFor(s, choices.coverage, choices.dateOfService);
  s.drafts = s.drafts.map((d) => {
    if (d.id !== s.primaryId) return d;
    const display = d.code?.coding?.find((c) => c.code === choices.study)?.display ?? STUDIES[choices.study];
    return {
      ...d,
      code: { coding: [{ system: CPT_SYSTEM, code: choices.study, display }], text: display },
      occurrenceDateTime: choices.dateOfService,
      ...(coverage ? { insurance: [{ reference: `Coverage/${coverage.id}` }] } : { insurance: undefined }),
    };
  });
}

let counter = 0;
export function newUuid(): string {
  if (typeof crypto !== 'undefined' && typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  counter += 1;
  const hex = (Date.now().toString(16) + counter.toString(16).padStart(8, '0') + Math.random().toString(16).slice(2)).padEnd(32, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** The hook request an EHR would send for the current drafts. */
export function hookRequest(s: Session, hook: HookName, choices: OrderChoices): HookRequest {
  const { bundle } = coverageFor(s, choices.coverage, choices.dateOfService);
  const selections = s.drafts.some((d) => d.id === s.primaryId) ? [`ServiceRequest/${s.primaryId}`] : s.drafts.map((d) => `ServiceRequest/${d.id}`);
  return {
    hook,
    hookInstance: newUuid(),
    context: {
      userId: s.userId,
      patientId: s.patientId,
      ...(hook === 'order-select' ? { selections } : {}),
      draftOrders: { resourceType: 'Bundle', type: 'collection', entry: s.drafts.map((resource) => ({ resource })) },
    },
    prefetch: { ...s.prefetch, coverage: bundle, questionnaireResponses: searchset(s.questionnaireResponses) },
  };
}

/** Applies CDS actions (a suggestion, or the order-sign system actions) to the draft orders. */
export function applyActions(s: Session, actions: readonly CdsAction[]): void {
  for (const action of actions) {
    if (action.type === 'delete') {
      const ids = ([] as string[]).concat(action.resourceId as string | string[]);
      s.drafts = s.drafts.filter((d) => !ids.includes(`ServiceRequest/${d.id}`) && !ids.includes(d.id ?? ''));
    } else if (action.resource.resourceType === 'ServiceRequest') {
      const resource = action.resource;
      const at = s.drafts.findIndex((d) => d.id === resource.id);
      if (at >= 0) s.drafts[at] = resource;
      else s.drafts.push(resource);
    }
  }
}

/** A date of service inside the preset's policy: the same date, or the policy's first day when earlier. */
export function dateForPreset(kind: CoveragePreset, dateOfService: string): string {
  const preset = COVERAGE_PRESETS[kind];
  const from = 'inForceFrom' in preset ? preset.inForceFrom : undefined;
  return from && dateOfService < from ? from : dateOfService;
}

/** What an EHR's patient banner shows: name, age at the date of service, sex. */
export function patientBanner(s: Pick<Session, 'prefetch' | 'patientId'>, dateOfService: string): string {
  const patient = recordResources(s).find((r): r is Patient => r.resourceType === 'Patient');
  if (!patient) return `Patient/${s.patientId}`;
  const name = patient.name?.[0];
  const text = name?.text ?? [...(name?.given ?? []), name?.family].filter(Boolean).join(' ');
  const birth = patient.birthDate;
  let age = '';
  if (birth && /^\d{4}-\d{2}-\d{2}$/.test(birth)) {
    const years = Number(dateOfService.slice(0, 4)) - Number(birth.slice(0, 4)) - (dateOfService.slice(5) < birth.slice(5) ? 1 : 0);
    age = `${years} y`;
  }
  const sex = patient.gender ? patient.gender[0]!.toUpperCase() + patient.gender.slice(1) : '';
  return [text || `Patient/${s.patientId}`, age, sex].filter(Boolean).join(' · ');
}
