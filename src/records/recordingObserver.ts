import { randomUUID } from 'node:crypto';
import type { FeedbackEvent, HookEvent, HookObserver } from '../pipeline/events.js';
import type { CdsCard } from '../hooks/types.js';
import { priorAuthCallRecord } from '../pas/decisionRecord.js';
import type { ResilientRecorder } from '../store/resilientRecorder.js';
import type { HookCallRecord, OrderDecisionRecord } from '../store/types.js';

/** The cards (and their suggestions) that concern one order (`davinci-crd.associated-resource`). */
function cardsFor(cards: readonly CdsCard[], orderRef: string): CdsCard[] {
  return cards.filter((c) => {
    const assoc = c.extension?.['davinci-crd.associated-resource'];
    return Array.isArray(assoc) && assoc.some((r: { reference?: string }) => r?.reference === orderRef);
  });
}

/** Turns a hook call into its decision record: ids and references only, never resource contents. */
export function hookCallRecord(e: HookEvent): HookCallRecord {
  const cards = e.outcome.response.cards;
  const orders: OrderDecisionRecord[] = e.outcome.decisions.map((d) => {
    const ids = e.outcome.assertions.get(d.orderRef);
    const missing = d.result?.missing[0]?.unknown.map((s) => s.fact ?? s.key) ?? [];
    return {
      orderRef: d.orderRef,
      billingCode: d.cpt,
      outcome: d.outcome,
      policyId: d.policy?.policyId,
      policyVersion: d.policy?.version,
      criteriaPath: d.result?.decidedBy ? [...d.result.decidedBy.chain] : [],
      evidence: [...(d.result?.evidence ?? [])],
      missing,
      suggestions: cardsFor(cards, d.orderRef).flatMap((c) => (c.suggestions ?? []).map((s) => s.uuid)),
      coverageRef: d.coverage ? `Coverage/${d.coverage.id}` : undefined,
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

/** Records every hook call and feedback item; never delays or fails the response (the recorder queues). */
export function recordingObserver(recorder: ResilientRecorder): HookObserver {
  return {
    onHook(e) {
      void recorder.record(hookCallRecord(e));
    },
    onPriorAuth(r) {
      void recorder.record(priorAuthCallRecord(r));
    },
    onFeedback(e: FeedbackEvent) {
      for (const f of e.feedback) {
        void recorder.recordFeedback({
          id: randomUUID(),
          receivedAt: e.receivedAt.toISOString(),
          serviceId: e.serviceId,
          cardUuid: f.card,
          outcome: f.outcome,
          acceptedSuggestions: (f.acceptedSuggestions ?? []).map((s) => s.id),
          overrideReason: f.overrideReason?.reason?.code,
          clientIss: e.client?.iss,
        });
      }
    },
  };
}
