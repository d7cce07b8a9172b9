import type { Extension, ServiceRequest } from 'fhir/r4.js';
import { CPT, hasPolicy, type OrderDecision } from '../decision/decideOrder.js';
import type { CrdVersion } from '../hooks/discovery.js';
import { authorizationExpiry } from '../decision/authorizationNumber.js';
import { criterionLabel, policyLabel } from './wording.js';

export const COVERAGE_INFORMATION_URL = 'http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information';

export interface AssertionIds {
  readonly coverageAssertionId: string;
  readonly satisfiedPaId?: string;
}

/**
 * The Da Vinci CRD coverage-information extension for one decision, following the version-portable
 * rules (standards.md 3.4): coverage, covered, date and coverage-assertion-id always; pa-needed iff
 * covered != not-covered; satisfied-pa-id iff satisfied; questionnaire only with doc-needed;
 * every reason with text. Undefined when there is no usable Coverage (CRD makes `coverage` mandatory).
 */
export function coverageInformation(
  d: OrderDecision,
  ids: AssertionIds,
  today: string,
  questionnaireUrl: string | undefined,
  hook: 'order-select' | 'order-sign',
  /** CRD 2.2 when the client asked for it: `expiry-date` on approvals (2.0.1 has no such element). */
  crdVersion: CrdVersion = '2.0',
): Extension | undefined {
  if (!hasPolicy(d)) return undefined;
  const sub: Extension[] = [{ url: 'coverage', valueReference: { reference: `Coverage/${d.coverage.id ?? 'unknown'}` } }];
  const reasonText = `${policyLabel(d.policy)}: ${criterionLabel(d)}`;
  const add = (url: string, value: Omit<Extension, 'url'>): void => {
    sub.push({ url, ...value });
  };
  // order-select is a supporting hook: CRD forbids asking for clinical documentation there.
  const docAllowed = hook === 'order-sign';
  switch (d.outcome) {
    case 'criteria-met':
      add('covered', { valueCode: 'covered' });
      // A "what-if" call (unsolicited-determ false) gets no number, so no satisfied (q5): PA is still needed.
      add('pa-needed', { valueCode: ids.satisfiedPaId ? 'satisfied' : 'auth-needed' });
      break;
    case 'no-review-required':
      add('covered', { valueCode: 'covered' });
      add('pa-needed', { valueCode: 'no-auth' });
      break;
    case 'documentation-missing':
    case 'physician-review':
      add('covered', { valueCode: 'covered' });
      add('pa-needed', { valueCode: 'auth-needed' });
      if (docAllowed) {
        add('doc-needed', { valueCode: 'clinical' });
        add('doc-purpose', { valueCode: 'withpa' });
      }
      break;
    case 'not-indicated':
      add('covered', { valueCode: 'not-covered' });
      break;
    default:
      return undefined;
  }
  add('billingCode', { valueCoding: { system: CPT, code: d.cpt } });
  add('reason', { valueCodeableConcept: { text: reasonText } });
  if (d.outcome === 'documentation-missing' && docAllowed && questionnaireUrl) add('questionnaire', { valueCanonical: questionnaireUrl });
  add('date', { valueDate: today });
  add('coverage-assertion-id', { valueString: ids.coverageAssertionId });
  if (d.outcome === 'criteria-met' && ids.satisfiedPaId) {
    add('satisfied-pa-id', { valueString: ids.satisfiedPaId });
    if (crdVersion === '2.2') add('expiry-date', { valueDate: authorizationExpiry(today) });
  }
  return { url: COVERAGE_INFORMATION_URL, extension: sub };
}

/** The draft order echoed in full with the extension, replacing an earlier one for the same coverage. */
export function withCoverageInformation(order: ServiceRequest, ext: Extension): ServiceRequest {
  const coverageRef = ext.extension?.find((e) => e.url === 'coverage')?.valueReference?.reference;
  // The order is the client's: its extensions may be anything, so only well-formed earlier ones are matched.
  const existing: unknown = order.extension;
  const kept = (Array.isArray(existing) ? (existing as Extension[]) : []).filter(
    (e) =>
      e?.url !== COVERAGE_INFORMATION_URL ||
      !Array.isArray(e.extension) ||
      e.extension.find((x) => x?.url === 'coverage')?.valueReference?.reference !== coverageRef,
  );
  return { ...order, extension: [...kept, ext] };
}
