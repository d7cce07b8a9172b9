import { randomUUID } from 'node:crypto';
import type { Bundle, BundleEntry, FhirResource, OperationOutcome, Resource } from 'fhir/r4.js';
import { z } from 'zod';
import type { DtrVersion } from '../config/config.js';
import { DTR_VERSIONS } from '../config/config.js';
import type { PolicyVersion } from '../engine/types.js';
import { todayUtc } from '../fhir/dates.js';
import { HttpError } from '../hooks/errors.js';
import type { PolicyLibrary } from '../library/library.js';
import { isOurQuestionnaire } from '../facts/questionnaireAnswers.js';
import { PatientRecord } from '../record/PatientRecord.js';
import type { AssertionRecord, DecisionRecordStore } from '../store/types.js';
import { factLibrary, factLibraryResource } from './factLibrary.js';
import { draftResponse, dtrQuestionnaire, type KnownAnswers } from './form.js';
import type { KnownAnswerStore } from './knownAnswers.js';
import { fhirValueSet, packagedValueSet, valueSetUrl } from './valueSets.js';

/**
 * `Questionnaire/$questionnaire-package` (Da Vinci DTR 2.0.1 and 2.2.0): for a coverage assertion this
 * service issued (`context`), for named questionnaires, or for a Coverage alone, one collection
 * Bundle per form: the Questionnaire first, its Library (CQL and ELM), the value sets the library
 * reads (expanded under 40 codes), and one draft QuestionnaireResponse.
 */

const resourceSchema = z.looseObject({ resourceType: z.string(), id: z.string().optional() });
const parameterSchema = z.looseObject({
  name: z.string(),
  resource: resourceSchema.optional(),
  valueCanonical: z.string().optional(),
  valueUri: z.string().optional(),
  valueString: z.string().optional(),
  valueInstant: z.string().optional(),
  valueDateTime: z.string().optional(),
});
export const parametersSchema = z.looseObject({
  resourceType: z.literal('Parameters'),
  meta: z.looseObject({ profile: z.array(z.string()).optional() }).optional(),
  parameter: z.array(parameterSchema).default([]),
});
export type ParametersInput = z.infer<typeof parametersSchema>;
type ParameterInput = z.infer<typeof parameterSchema>;

const coverageSchema = z.looseObject({
  resourceType: z.literal('Coverage'),
  id: z.string().min(1),
  beneficiary: z.looseObject({ reference: z.string().optional() }).optional(),
});

export interface PackageInput {
  readonly coverage: z.infer<typeof coverageSchema>;
  readonly orders: readonly z.infer<typeof resourceSchema>[];
  readonly questionnaires: readonly string[];
  readonly context?: string;
  readonly changedSince?: string;
  readonly version: DtrVersion;
}

/** The DTR version a request asks for: a version on its input profile (`…|2.0.1`), else the default. */
function requestedVersion(p: ParametersInput, fallback: DtrVersion): DtrVersion {
  for (const profile of p.meta?.profile ?? []) {
    const v = /dtr-qpackage-input-parameters\|(\d+\.\d+(?:\.\d+)?)/.exec(profile)?.[1];
    const known = v && DTR_VERSIONS.find((x) => x === v || x.startsWith(`${v}.`) || v.startsWith(x.slice(0, 3)));
    if (known) return known;
  }
  return fallback;
}

const named = (p: ParametersInput, name: string): ParameterInput[] => p.parameter.filter((x) => x.name.toLowerCase() === name.toLowerCase());

export function parsePackageInput(body: unknown, fallback: DtrVersion): PackageInput {
  const parsed = parametersSchema.safeParse(body);
  if (!parsed.success) throw new HttpError(400, 'invalid', 'The body must be a FHIR Parameters resource with a parameter list', 'Parameters');
  const p = parsed.data;
  const coverages = named(p, 'coverage');
  if (coverages.length !== 1) throw new HttpError(400, 'required', 'Exactly one "coverage" parameter (a Coverage resource) is required', 'Parameters.parameter.where(name=\'coverage\')');
  const coverage = coverageSchema.safeParse(coverages[0].resource);
  if (!coverage.success) throw new HttpError(400, 'invalid', 'The "coverage" parameter must carry a Coverage resource with an id', 'Parameters.parameter.where(name=\'coverage\').resource');
  const orders = named(p, 'order').map((o) => o.resource).filter((r): r is z.infer<typeof resourceSchema> => r !== undefined);
  const questionnaires = named(p, 'questionnaire').map((q) => q.valueCanonical ?? q.valueUri ?? q.valueString).filter((q): q is string => typeof q === 'string' && q.length > 0);
  const context = named(p, 'context')[0]?.valueString;
  const since = named(p, 'changedsince')[0];
  const changedSince = since ? (since.valueInstant ?? since.valueDateTime) : undefined;
  if (since && (changedSince === undefined || Number.isNaN(Date.parse(changedSince)))) {
    throw new HttpError(400, 'invalid', '"changedsince" must be an instant (valueInstant)', 'Parameters.parameter.where(name=\'changedsince\')');
  }
  return { coverage: coverage.data, orders, questionnaires, context, changedSince, version: requestedVersion(p, fallback) };
}

export interface PackageDeps {
  readonly library: PolicyLibrary;
  readonly publicBaseUrl: string;
  readonly records?: DecisionRecordStore;
  readonly known: KnownAnswerStore;
  readonly now: () => Date;
  /** When the forms and their artifacts last changed (the policies are loaded once, at start-up). */
  readonly artifactsDate: string;
}

export type PackageResult =
  | { readonly kind: 'package'; readonly bundles: readonly Bundle[]; readonly warnings: readonly OperationOutcome['issue'][number][] }
  | { readonly kind: 'not-needed'; readonly outcome: OperationOutcome }
  | { readonly kind: 'unchanged' };

/** One form to package: the policy, who and what it is for, and what is already known. */
interface FormRequest {
  readonly policy: PolicyVersion;
  readonly patientRef: string;
  readonly orderRefs: readonly string[];
  readonly coverageRef: string;
  readonly missingFacts?: readonly string[];
  readonly known: KnownAnswers;
}

export async function questionnairePackage(input: PackageInput, deps: PackageDeps): Promise<PackageResult> {
  const warnings: OperationOutcome['issue'][number][] = [];
  const coverageRef = `Coverage/${input.coverage.id}`;
  const orderRefs = input.orders.filter((o) => o.id).map((o) => `${o.resourceType}/${o.id}`);
  const patientRef = input.coverage.beneficiary?.reference ?? '';
  const forms: FormRequest[] = [];

  if (input.context !== undefined) {
    const found = deps.records ? await deps.records.findByAssertionId(input.context) : undefined;
    if (!found) throw new HttpError(404, 'not-found', `No coverage assertion "${input.context}" was issued by this service (context must be the coverage-assertion-id of a CRD response)`, 'Parameters.parameter.where(name=\'context\')');
    const form = await formForAssertion(found, input, coverageRef, deps);
    if ('outcome' in form) return { kind: 'not-needed', outcome: form.outcome };
    forms.push(form);
  }
  for (const canonical of input.questionnaires) {
    const [url, version] = canonical.split('|');
    const policy = deps.library.policies.find((p) => p.kind === 'criteria' && isOurQuestionnaire(url, [p]) && (!version || version === p.version));
    if (!policy) {
      warnings.push({ severity: 'warning', code: 'not-found', diagnostics: `No questionnaire ${canonical} (see GET /fhir/Questionnaire)` });
      continue;
    }
    if (forms.some((f) => f.policy === policy)) continue;
    forms.push({ policy, patientRef, orderRefs, coverageRef, known: {} });
  }
  if (input.context === undefined && input.questionnaires.length === 0) {
    const policy = routeCoverage(input, deps);
    forms.push({ policy, patientRef, orderRefs, coverageRef, known: {} });
  }
  if (forms.length === 0) throw new HttpError(404, 'not-found', 'None of the requested questionnaires is served here (see GET /fhir/Questionnaire)', 'Parameters.parameter.where(name=\'questionnaire\')');
  if (input.changedSince !== undefined && Date.parse(input.changedSince) >= Date.parse(deps.artifactsDate)) return { kind: 'unchanged' };
  return { kind: 'package', bundles: forms.map((f) => packageBundle(f, deps, warnings)), warnings };
}

async function formForAssertion(found: AssertionRecord, input: PackageInput, coverageRef: string, deps: PackageDeps): Promise<FormRequest | { outcome: OperationOutcome }> {
  const { order, call } = found;
  if (order.coverageRef && order.coverageRef !== coverageRef) {
    throw new HttpError(422, 'invalid', `Coverage ${coverageRef} is not the coverage of assertion ${input.context} (${order.coverageRef})`, 'Parameters.parameter.where(name=\'coverage\')');
  }
  if (order.outcome !== 'documentation-missing' && order.outcome !== 'physician-review') {
    const why = order.outcome === 'criteria-met' ? `the criteria are met (${order.criteriaPath.join(' > ') || 'see the coverage information'})` : `the decision is "${order.outcome.replace(/-/g, ' ')}"`;
    return {
      outcome: {
        resourceType: 'OperationOutcome',
        issue: [{ severity: 'information', code: 'informational', diagnostics: `No documentation is needed for ${order.orderRef} under assertion ${input.context}: ${why}. No questionnaire is returned.` }],
      },
    };
  }
  const policy = deps.library.policies.find((p) => p.policyId === order.policyId && p.version === order.policyVersion);
  if (!policy) throw new HttpError(409, 'not-found', `The policy of assertion ${input.context} (${order.policyId} ${order.policyVersion}) is no longer loaded`);
  return {
    policy,
    patientRef: call.patientRef,
    orderRefs: [order.orderRef],
    coverageRef,
    // Physician review has no shortest path: the whole form is asked.
    missingFacts: order.outcome === 'documentation-missing' ? order.missing : undefined,
    known: await deps.known.get(input.context ?? ''),
  };
}

/** Without a context or a questionnaire: the policy the Coverage routes to today (contract section 3). */
function routeCoverage(input: PackageInput, deps: PackageDeps): PolicyVersion {
  const patientId = /Patient\/([^/]+)$/.exec(input.coverage.beneficiary?.reference ?? '')?.[1] ?? 'unknown';
  const resources = [input.coverage, ...input.orders].filter(isFhirResource);
  const routed = deps.library.router.route(new PatientRecord(patientId, resources, deps.library.valueSets), todayUtc(deps.now()));
  if (routed.kind !== 'routed') {
    throw new HttpError(422, 'not-supported', `Coverage/${input.coverage.id} is not one this service decides for (${routed.kind === 'no-coverage' ? routed.reason : `no policy version in force for ${routed.policyId}`})`, 'Parameters.parameter.where(name=\'coverage\')');
  }
  if (routed.policy.kind !== 'criteria') {
    throw new HttpError(422, 'not-supported', `${routed.policy.title} requires no medical necessity review: there is no documentation to collect`, 'Parameters.parameter.where(name=\'coverage\')');
  }
  return routed.policy;
}

/** A parsed input resource is a FHIR resource for the record (shape checked by zod, type by its resourceType). */
function isFhirResource(r: { resourceType: string }): r is Resource & FhirResource {
  return typeof r.resourceType === 'string';
}

function packageBundle(f: FormRequest, deps: PackageDeps, warnings: OperationOutcome['issue'][number][]): Bundle {
  const now = deps.now();
  const lib = factLibrary(deps.library.facts);
  const libraryResource = factLibraryResource(lib, deps.publicBaseUrl, (id) => valueSetUrl(deps.publicBaseUrl, id));
  const questionnaire = dtrQuestionnaire(f.policy, deps.library.facts, deps.library.findings, lib, deps.publicBaseUrl, libraryResource.url ?? '', { missingFacts: f.missingFacts }, deps.artifactsDate);
  const valueSets = [...lib.valueSets]
    .sort()
    .map((id) => fhirValueSet(deps.library.valueSets, id, deps.publicBaseUrl, lib.version))
    .filter((vs) => vs !== undefined)
    .map((vs) => packagedValueSet(vs, now));
  const unexpanded = valueSets.filter((vs) => !vs.expansion).map((vs) => vs.id);
  if (unexpanded.length && !warnings.some((w) => w.code === 'too-costly')) {
    warnings.push({ severity: 'information', code: 'too-costly', diagnostics: `Not expanded (code hierarchies or 40 codes or more; the Library's CQL lists the codes it matches): ${unexpanded.join(', ')}` });
  }
  const response = draftResponse(questionnaire, { patientRef: f.patientRef, orderRefs: f.orderRefs, coverageRef: f.coverageRef, known: f.known, now });
  const entry = (resource: FhirResource, fullUrl: string): BundleEntry => ({ fullUrl, resource });
  return {
    resourceType: 'Bundle',
    meta: { profile: ['http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/DTR-QPackageBundle'] },
    identifier: { system: 'urn:ietf:rfc:3986', value: `urn:uuid:${randomUUID()}` },
    type: 'collection',
    timestamp: now.toISOString(),
    entry: [
      entry(questionnaire, questionnaire.url ?? ''),
      entry(libraryResource, libraryResource.url ?? ''),
      ...valueSets.map((vs) => entry(vs, vs.url ?? '')),
      entry(response, `urn:uuid:${response.id}`),
    ],
  };
}

/** The output Parameters: `PackageBundle` in DTR 2.0.1, `packagebundle` from 2.1 on. */
export function packageParameters(result: Extract<PackageResult, { kind: 'package' }> | { kind: 'unchanged' }, version: DtrVersion) {
  const name = version === '2.0.1' ? 'PackageBundle' : 'packagebundle';
  const bundles = result.kind === 'package' ? result.bundles : [];
  const warnings = result.kind === 'package' ? result.warnings : [{ severity: 'information' as const, code: 'informational' as const, diagnostics: 'Nothing has changed since the given time' }];
  return {
    resourceType: 'Parameters' as const,
    parameter: [
      ...bundles.map((resource) => ({ name, resource })),
      ...(warnings.length ? [{ name: 'outcome', resource: { resourceType: 'OperationOutcome' as const, issue: [...warnings] } }] : []),
    ],
  };
}

