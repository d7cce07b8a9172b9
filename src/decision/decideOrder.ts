import type { BundleEntry, Coverage, Patient, ServiceRequest } from 'fhir/r4.js';
import type { EngineResult } from '../engine/evaluate.js';
import { evaluatePolicy } from '../engine/evaluate.js';
import type { DecisionOutcome, PolicyVersion } from '../engine/types.js';
import { FactContext } from '../facts/FactContext.js';
import { todayUtc, toDay } from '../fhir/dates.js';
import type { PolicyLibrary } from '../library/library.js';
import { codingsOf, type RecordSource } from '../record/PatientRecord.js';
import type { RoutingResult } from '../routing/routing.js';
import { orderAnswers, type AnswerProblem } from '../facts/questionnaireAnswers.js';
import { knownFindingCodes } from '../facts/documentationFindings.js';
import { withIncompleteRecord } from './incompleteRecord.js';

export const CPT = 'http://www.ama-assn.org/go/cpt';
/** Lumbar spine MRI: without contrast, with contrast, without then with contrast. */
export const LUMBAR_MRI_CPT = ['72148', '72149', '72158'] as const;

/** One draft order's decision: what routed it, what the policy said, and the facts behind it. */
export interface OrderDecision {
  readonly order: ServiceRequest;
  readonly orderRef: string;
  readonly cpt: string;
  readonly dateOfService: string;
  readonly routing: RoutingResult;
  readonly outcome: DecisionOutcome | 'no-coverage' | 'no-policy-version' | 'patient-deceased';
  readonly policy?: PolicyVersion;
  readonly coverage?: Coverage;
  readonly result?: EngineResult;
  readonly facts?: FactContext;
  /** Questionnaire answers that could not be used (unknown item, wrong type): reported on a card, ignored here. */
  readonly answerProblems?: readonly AnswerProblem[];
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
  const base = { order, orderRef, cpt, dateOfService: dos, routing };
  // No medical-necessity decision for a patient the record says has died: a card says why.
  if (isDeceased(record.patient)) return { ...base, outcome: 'patient-deceased' };
  if (routing.kind === 'no-coverage') return { ...base, outcome: 'no-coverage' };
  if (routing.kind === 'no-version') return { ...base, outcome: 'no-policy-version', coverage: routing.coverage };
  const { policy, coverage } = routing;
  if (policy.kind === 'no-review-required') return { ...base, outcome: 'no-review-required', policy, coverage };
  const answered = orderAnswers(library.policies, knownFindingCodes(library.facts), record, order, draftEntries);
  const facts = new FactContext(library.facts, record, order, dos, answered.answers);
  const result = withIncompleteRecord(policy, evaluatePolicy(policy, facts, dos, cpt), record.unavailable);
  return { ...base, outcome: result.outcome, policy, coverage, result, facts, ...(answered.problems.length ? { answerProblems: answered.problems } : {}) };
}
