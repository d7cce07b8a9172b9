/**
 * CDS Hooks 2.0 `overrideReasons`: on every card that advises against the order as it stands or
 * asks for more (not indicated, documentation missing, a better alternative, physician review),
 * the reasons a clinician may pick when going ahead anyway. The EHR sends the chosen one back in
 * feedback (`overrideReason.reason`), which is recorded with the decision.
 */
import type { OrderDecision } from '../decision/decideOrder.js';
import type { CdsCard, CdsCoding } from '../hooks/types.js';
import { TOPICS } from './cards.js';

export const OVERRIDE_REASON_SYSTEM = 'http://lumbar-mri-cds.org/fhir/CodeSystem/override-reason';

const reason = (code: string, display: string): CdsCoding => ({ system: OVERRIDE_REASON_SYSTEM, code, display });

export const OVERRIDE_REASONS: readonly CdsCoding[] = [
  reason('emergent-imaging', 'Emergent imaging: not waiting for prior authorization'),
  reason('documented-elsewhere', 'The documentation is in the chart, not in structured data'),
  reason('clinical-judgment', 'Clinical judgment: the criteria do not fit this patient'),
  reason('alternative-not-suitable', 'The suggested alternative is not suitable for this patient'),
  reason('patient-preference', 'Patient preference after discussion'),
];

/** Outcomes a clinician may go ahead against: the order is not approved as it stands. */
const OVERRIDABLE_OUTCOMES: ReadonlySet<OrderDecision['outcome']> = new Set(['not-indicated', 'documentation-missing', 'physician-review']);

/**
 * One decision's cards, those a clinician may override carrying the override reasons: the verdict
 * card of an order not approved as it stands, and any card suggesting an alternative.
 */
export function withOverrideReasons(cards: readonly CdsCard[], outcome: OrderDecision['outcome']): CdsCard[] {
  return cards.map((c) => {
    const verdict = OVERRIDABLE_OUTCOMES.has(outcome) && c.source.topic?.code === TOPICS.coverage.code;
    const suggests = (c.suggestions ?? []).length > 0;
    return c.overrideReasons || !(verdict || suggests) ? c : { ...c, overrideReasons: OVERRIDE_REASONS };
  });
}
