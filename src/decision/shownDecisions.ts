/**
 * What order-select already showed the clinician, per draft order, so that order-sign repeats a
 * card only when its decision changed (an EHR shows both hooks' cards: the same card twice is
 * noise). Kept in the decision cache's store (memory, or Redis shared by the instances).
 */
import { hash } from 'node:crypto';
import type { DecisionCache } from './decisionCache.js';
import { coverageOf, hasPolicy, isEngineDecision, type OrderDecision } from './decideOrder.js';

/** `changed`: order-sign shows an order's cards only if its decision changed since order-select; `all`: always. */
export type OrderSignCards = 'changed' | 'all';

export interface ShownDecisions {
  /** order-select showed `decision` for this draft order. */
  remember(patientId: string, decision: OrderDecision): Promise<void>;
  /** Whether order-select showed the same decision for this draft order. */
  alreadyShown(patientId: string, decision: OrderDecision): Promise<boolean>;
}

/** The same draft order: the patient and the order's reference in the EHR's draft. */
function keyOf(patientId: string, orderRef: string): string {
  return `shown:${hash('sha256', `${patientId}\n${orderRef}`)}`;
}

/** What makes two decisions the same for the clinician: the study, the policy version, the outcome and the criterion it cites. */
export function decisionFingerprint(d: OrderDecision): string {
  const missing = d.outcome === 'documentation-missing' ? d.result.missing.map((m) => JSON.stringify(m)).sort() : [];
  const by = isEngineDecision(d) ? d.result.decidedBy : undefined;
  const reason = by?.kind === 'criterion' ? by.id : (by?.kind ?? null);
  return JSON.stringify([d.cpt, hasPolicy(d) ? `${d.policy.policyId}@${d.policy.version}` : null, coverageOf(d)?.id ?? null, d.outcome, reason, missing]);
}

export function shownDecisionsIn(store: DecisionCache): ShownDecisions {
  return {
    remember: (patientId, d) => store.set(keyOf(patientId, d.orderRef), decisionFingerprint(d)),
    alreadyShown: async (patientId, d) => (await store.get(keyOf(patientId, d.orderRef))) === decisionFingerprint(d),
  };
}
