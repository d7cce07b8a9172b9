import type { BundleEntry, Coverage, Patient, ServiceRequest } from 'fhir/r4.js';
import { evaluatePolicy, type EngineOutcome } from '../engine/evaluate.js';
import type { PolicyVersion } from '../engine/types.js';
import { FactContext } from '../facts/FactContext.js';
import { todayUtc, toDay } from '../fhir/dates.js';
import type { PolicyLibrary } from '../library/library.js';
import { codingsOf } from '../fhir/codings.js';
import type { RecordSource } from '../record/PatientRecord.js';
import type { RoutingResult } from '../routing/routing.js';
import { orderAnswers, type AnswerProblem } from '../facts/questionnaireAnswers.js';
import { knownFindingCodes } from '../facts/documentationFindings.js';
import { withIncompleteRecord, type DecisionResult } from './incompleteRecord.js';

export const CPT = 'http://www.ama-assn.org/go/cpt';
/** Lumbar spine MRI: without contrast, with contrast, without then with contrast. */
export const LUMBAR_MRI_CPT = ['72148', '72149', '72158'] as const;

type Routed = Extract<RoutingResult, { kind: 'routed' }>;

/** What every decision knows: the order, its code, the date of service and how its coverage routed. */
interface DecisionBase {
  readonly order: ServiceRequest;
  readonly orderRef: string;
  readonly cpt: string;
  readonly dateOfService: string;
  readonly routing: RoutingResult;
}

/** No decision: the record says the patient has died (routing is whatever it was). */
export interface PatientDeceasedDecision extends DecisionBase {
  readonly outcome: 'patient-deceased';
}

/** No decision: no coverage routes to a policy. */
export interface NoCoverageDecision extends DecisionBase {
  readonly outcome: 'no-coverage';
  readonly routing: Extract<RoutingResult, { kind: 'no-coverage' }>;
}

/** No decision: the coverage routes to a policy with no version in force at the date of service. */
export interface NoPolicyVersionDecision extends DecisionBase {
  readonly outcome: 'no-policy-version';
  readonly routing: Extract<RoutingResult, { kind: 'no-version' }>;
  readonly coverage: Coverage;
}

/** The policy in force requires no medical-necessity review (e.g. LCD L37281). */
export interface NoReviewDecision extends DecisionBase {
  readonly outcome: 'no-review-required';
  readonly routing: Routed;
  readonly policy: PolicyVersion;
  readonly coverage: Coverage;
}

/** The criteria engine decided: the policy, the coverage, the result and (when computed now) the facts. */
export interface EngineDecision extends DecisionBase {
  readonly outcome: EngineOutcome;
  readonly routing: Routed;
  readonly policy: PolicyVersion;
  readonly coverage: Coverage;
  readonly result: DecisionResult;
  /** The facts read from the record; absent on a decision restored from the decision cache. */
  readonly facts?: FactContext;
  /** Questionnaire answers that could not be used (unknown item, wrong type): reported on a card, ignored here. */
  readonly answerProblems?: readonly AnswerProblem[];
}

/** One draft order's decision, by outcome: only what is true of that outcome is there. */
export type OrderDecision = PatientDeceasedDecision | NoCoverageDecision | NoPolicyVersionDecision | NoReviewDecision | EngineDecision;

/** A decision with a policy version in force (no review required, or the engine's). */
export type PolicyDecision = NoReviewDecision | EngineDecision;

export function hasPolicy(d: OrderDecision): d is PolicyDecision {
  return d.outcome !== 'patient-deceased' && d.outcome !== 'no-coverage' && d.outcome !== 'no-policy-version';
}

export function isEngineDecision(d: OrderDecision): d is EngineDecision {
  return hasPolicy(d) && d.outcome !== 'no-review-required';
}

/** The coverage a decision was made under, when one routed. */
export function coverageOf(d: OrderDecision): Coverage | undefined {
  return d.outcome === 'no-policy-version' || hasPolicy(d) ? d.coverage : undefined;
}

/** The outline number of the criterion that decided, when a criterion did (not an incomplete record). */
export function criterionId(d: OrderDecision): string | undefined {
  const by = isEngineDecision(d) ? d.result.decidedBy : undefined;
  return by?.kind === 'criterion' ? by.id : undefined;
}

/** The lumbar MRI CPT an order carries, if any (system CPT, or no system as loose clients send). */
export function lumbarMriCode(order: ServiceRequest): string | undefined {
  for (const c of codingsOf([order.code])) {
    if (!c || typeof c.code !== 'string') continue;
    if ((c.system === undefined || c.system === CPT) && (LUMBAR_MRI_CPT as readonly string[]).includes(c.code)) return c.code;
  }
  return undefined;
}

/** Patient.deceased[x]: true, or a date of death. */
export function isDeceased(patient: Patient | undefined): boolean {
  return patient?.deceasedBoolean === true || typeof patient?.deceasedDateTime === 'string';
}

/** Contract section 4: occurrence, else authoredOn, else today. */
export function dateOfService(order: ServiceRequest, today: string = todayUtc()): string {
  return (
    toDay(order.occurrenceDateTime) ?? toDay(order.occurrencePeriod?.start) ?? toDay(order.authoredOn) ?? today
  );
}

export function decideOrder(
  library: PolicyLibrary,
  record: RecordSource,
  order: ServiceRequest,
  orderRef: string,
  cpt: string,
  today: string,
  /** The draftOrders entries: a QuestionnaireResponse the order's supportingInfo names may travel there. */
  draftEntries: readonly BundleEntry[] = [],
): OrderDecision {
  const dos = dateOfService(order, today);
  const routing = library.router.route(record, dos);
  const base = { order, orderRef, cpt, dateOfService: dos };
  // No medical-necessity decision for a patient the record says has died: a card says why.
  if (isDeceased(record.patient)) return { ...base, routing, outcome: 'patient-deceased' };
  if (routing.kind === 'no-coverage') return { ...base, routing, outcome: 'no-coverage' };
  if (routing.kind === 'no-version') return { ...base, routing, outcome: 'no-policy-version', coverage: routing.coverage };
  const { policy, coverage } = routing;
  if (policy.kind === 'no-review-required') return { ...base, routing, outcome: 'no-review-required', policy, coverage };
  const answered = orderAnswers(library.policies, knownFindingCodes(library.facts), record, order, draftEntries);
  const facts = new FactContext(library.facts, record, order, dos, answered.answers);
  const result = withIncompleteRecord(policy, evaluatePolicy(policy, facts, dos, cpt), record.unavailable);
  return { ...base, routing, outcome: result.outcome, policy, coverage, result, facts, ...(answered.problems.length ? { answerProblems: answered.problems } : {}) };
}
