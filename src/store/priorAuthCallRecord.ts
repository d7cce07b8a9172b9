import type { HookCallRecord } from './types.js';
import type { PriorAuthRecord } from '../pas/store.js';

/**
 * A PAS submission as a decision record (the store's hook-call shape: ids, codes and references
 * only): hook `Claim/$submit`, the claim key as the instance, one order per claim item with its
 * review action (`A1`, `A3`, `A4`, or `error-<X12 901 code>`), the authorization number, and the
 * CRD coverage-assertion-id the order carried.
 */
export function priorAuthCallRecord(r: PriorAuthRecord): HookCallRecord {
  return {
    id: r.id,
    receivedAt: r.receivedAt,
    serviceId: `prior-authorization-${r.priority}`,
    hook: 'Claim/$submit',
    hookInstance: r.claimKey,
    patientRef: r.patientRef,
    orders: r.items.map((i) => ({
      orderRef: i.orderRef,
      ...(i.billingCode ? { billingCode: i.billingCode } : {}),
      outcome: i.reviewAction ?? `error-${i.errorCode ?? 'unknown'}`,
      ...(i.policyId ? { policyId: i.policyId, policyVersion: i.policyVersion } : {}),
      criteriaPath: i.criterion ? [i.criterion] : [],
      evidence: [],
      missing: [],
      suggestions: [],
      coverageRef: r.coverageRef,
      // The hook's assertion id: a dispute lookup finds the latest decision on it, PAS included.
      ...(i.coverageAssertionId ? { coverageAssertionId: i.coverageAssertionId } : {}),
      ...(i.authorizationNumber ? { satisfiedPaId: i.authorizationNumber } : {}),
    })),
    cardUuids: [],
    durationMs: Date.parse(r.decidedAt) - Date.parse(r.receivedAt),
  };
}
