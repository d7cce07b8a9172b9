import { randomUUID } from 'node:crypto';
import type { FeedbackEvent, HookEvent } from '../pipeline/events.js';
import type { CdsCard } from '../hooks/types.js';
import { coverageOf, hasPolicy, isEngineDecision } from '../decision/decideOrder.js';
import type { HookCallRecord, OrderDecisionRecord, RecordLog } from '../store/types.js';

/** The uuids of the suggestions on the cards that concern one order (`davinci-crd.associated-resource`), in card order. */
function suggestionsFor(cards: readonly CdsCard[], orderRef: string): string[] {
  const uuids: string[] = [];
  for (const c of cards) {
    const assoc = c.extension?.['davinci-crd.associated-resource'];
    if (!Array.isArray(assoc) || !assoc.some((r: { reference?: string }) => r?.reference === orderRef)) continue;
    for (const s of c.suggestions ?? []) uuids.push(s.uuid);
  }
  return uuids;
}

/** Turns a hook call into its decision record: ids and references only, never resource contents. */
export function hookCallRecord(e: HookEvent): HookCallRecord {
  const cards = e.outcome.response.cards;
  const orders: OrderDecisionRecord[] = e.outcome.decisions.map((d) => {
    const ids = e.outcome.assertions.get(d.orderRef);
    const result = isEngineDecision(d) ? d.result : undefined;
    const missing = result?.missing[0]?.unknown.map((s) => s.fact ?? s.key) ?? [];
    const coverage = coverageOf(d);
    return {
      orderRef: d.orderRef,
      billingCode: d.cpt,
      outcome: d.outcome,
      policyId: hasPolicy(d) ? d.policy.policyId : undefined,
      policyVersion: hasPolicy(d) ? d.policy.version : undefined,
      criteriaPath: result?.decidedBy?.kind === 'criterion' ? [...result.decidedBy.chain] : [],
      evidence: [...(result?.evidence ?? [])],
      missing,
      suggestions: suggestionsFor(cards, d.orderRef),
      coverageRef: coverage ? `Coverage/${coverage.id}` : undefined,
      coverageAssertionId: e.hook === 'order-sign' ? ids?.coverageAssertionId : undefined,
      satisfiedPaId: e.hook === 'order-sign' ? ids?.satisfiedPaId : undefined,
    };
  });
  return {
    id: randomUUID(),
    receivedAt: e.receivedAt.toISOString(),
    serviceId: e.serviceId,
    hook: e.hook,
    hookInstance: e.hookInstance,
    clientIss: e.client?.iss,
    patientRef: `Patient/${e.patientId}`,
    orders,
    cardUuids: cards.map((c) => c.uuid),
    durationMs: e.durationMs,
  };
}

/**
 * Keeps the record of each hook call and feedback call; the app awaits it before answering, so a
 * 200 is sent only for a decision whose record is stored or on local disk waiting for the store.
 */
export interface DecisionRecorder {
  recordHook(e: HookEvent): Promise<void>;
  recordFeedback(e: FeedbackEvent): Promise<void>;
}

export function eventRecorder(log: RecordLog): DecisionRecorder {
  return {
    recordHook: (e) => log.append({ kind: 'call', record: hookCallRecord(e) }),
    async recordFeedback(e) {
      for (const f of e.feedback) {
        await log.append({
          kind: 'feedback',
          record: {
            id: randomUUID(),
            receivedAt: e.receivedAt.toISOString(),
            serviceId: e.serviceId,
            cardUuid: f.card,
            outcome: f.outcome,
            acceptedSuggestions: (f.acceptedSuggestions ?? []).map((s) => s.id),
            overrideReason: f.overrideReason?.reason?.code,
            clientIss: e.client?.iss,
          },
        });
      }
    },
  };
}
