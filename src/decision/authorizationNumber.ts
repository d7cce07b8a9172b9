import { hash } from 'node:crypto';
import { criterionId, type OrderDecision } from './decideOrder.js';

/** How long an approval stays valid, counted from the day it is issued (neither seed states one). */
export const AUTHORIZATION_VALID_DAYS = 90;

/**
 * The prior-authorization number for an approved order: the same whether the order was decided
 * through CRD (`satisfied-pa-id`) or PAS (`reviewAction.number`), because it is derived from what
 * was decided (patient, coverage, order, code, policy version, criterion), not from the call.
 * Undefined for anything but criteria met: only an approval carries a number.
 */
export function authorizationNumber(patientId: string, d: OrderDecision): string | undefined {
  if (d.outcome !== 'criteria-met') return undefined;
  const key = [patientId, `Coverage/${d.coverage.id ?? ''}`, d.orderRef, d.cpt, `${d.policy.policyId}@${d.policy.version}`, criterionId(d) ?? ''].join('|');
  return `PA-${hash('sha256', key).slice(0, 18)}`;
}

/** The last day (inclusive) an approval issued on `issued` (YYYY-MM-DD) is valid. */
export function authorizationExpiry(issued: string): string {
  const d = new Date(`${issued}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + AUTHORIZATION_VALID_DAYS - 1);
  return d.toISOString().slice(0, 10);
}
