import type { Coverage, Extension } from 'fhir/r4.js';
import type { OrderDecision } from '../decision/decideOrder.js';
import { CPT } from '../decision/decideOrder.js';
import type { RecordSource } from '../record/PatientRecord.js';
import { COVERAGE_INFORMATION_URL, type AssertionIds } from './coverageInformation.js';

/** CRD temporary codes (2.2 adds the coverage-assertion reasons below to it). */
const CRD_TEMP = 'http://hl7.org/fhir/us/davinci-crd/CodeSystem/temp';

/** CRD 2.2 reasons for an order that could not be routed to a policy. */
export type UnresolvedReason = 'technical' | 'no-member-found' | 'no-active-coverage' | 'coverage-not-found';

const DISPLAY: Readonly<Record<UnresolvedReason, string>> = {
  technical: 'Technical issues',
  'no-member-found': 'Member not found',
  'no-active-coverage': 'Coverage not active',
  'coverage-not-found': 'Coverage not found',
};

/**
 * Why an order has no coverage to decide against. Interpretation (this service holds no member
 * file; the record's Coverage is the membership): the Coverage could not be read (FHIR server
 * failed) is `technical`; no Coverage at all is `coverage-not-found`; Coverages none of which is in
 * force on the date of service is `no-active-coverage`; an active Coverage of a payer this service
 * has no policy for is `no-member-found` (not this payer's member).
 */
export function unresolvedReason(d: OrderDecision, record: RecordSource, active: readonly Coverage[]): UnresolvedReason | undefined {
  if (d.outcome !== 'no-coverage') return undefined;
  if (record.unavailable.has('Coverage')) return 'technical';
  if (record.ofType<Coverage>('Coverage').length === 0) return 'coverage-not-found';
  return active.length === 0 ? 'no-active-coverage' : 'no-member-found';
}

/** The Coverage the extension is about: the one routing looked at, else the order's own insurance. */
export function unresolvedCoverageRef(d: OrderDecision): string | undefined {
  const seen = d.routing.kind === 'no-coverage' ? d.routing.coverages[0] : undefined;
  if (seen?.id) return `Coverage/${seen.id}`;
  const insurance: unknown = d.order.insurance;
  const ref = Array.isArray(insurance) ? (insurance as { reference?: unknown }[]).find((i) => typeof i?.reference === 'string')?.reference : undefined;
  return typeof ref === 'string' ? ref : undefined;
}

/**
 * CRD 2.2 coverage information for an unresolved coverage: `not-covered` with the reason code, or,
 * when the record could not be read, `indeterminate` (covered and pa-needed) with reason `technical`
 * (invariant q9: any indeterminate carries a reason).
 */
export function unresolvedCoverageInformation(d: OrderDecision, reason: UnresolvedReason, coverageRef: string, ids: AssertionIds, today: string, text: string): Extension {
  const technical = reason === 'technical';
  return {
    url: COVERAGE_INFORMATION_URL,
    extension: [
      { url: 'coverage', valueReference: { reference: coverageRef } },
      { url: 'covered', valueCode: technical ? 'indeterminate' : 'not-covered' },
      ...(technical ? [{ url: 'pa-needed', valueCode: 'indeterminate' }] : []),
      { url: 'billingCode', valueCoding: { system: CPT, code: d.cpt } },
      { url: 'reason', valueCodeableConcept: { coding: [{ system: CRD_TEMP, code: reason, display: DISPLAY[reason] }], text } },
      { url: 'date', valueDate: today },
      { url: 'coverage-assertion-id', valueString: ids.coverageAssertionId },
    ],
  };
}
