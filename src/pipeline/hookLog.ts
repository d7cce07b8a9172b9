import { criterionId } from '../decision/decideOrder.js';
import type { HookEvent } from './events.js';

/** The `hook` log line of a call answered 200: ids, outcomes and criteria only, never resource contents. */
export function hookLogLine(event: HookEvent): Record<string, unknown> {
  const { outcome } = event;
  return {
    reqId: event.requestId,
    serviceId: event.serviceId,
    hookInstance: event.hookInstance,
    iss: event.client?.iss,
    status: 200,
    orders: outcome.decisions.map((d) => ({
      order: d.orderRef,
      cpt: d.cpt,
      outcome: d.outcome,
      policy: 'policy' in d ? `${d.policy.policyId}@${d.policy.version}` : undefined,
      criterion: criterionId(d),
    })),
    fhirCalls: outcome.fhirCalls,
    durationMs: event.durationMs,
  };
}
