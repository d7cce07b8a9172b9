import type { DecidingCriterion, EngineResult } from '../engine/evaluate.js';
import type { PolicyVersion } from '../engine/types.js';

/** Not a criterion: part of the record could not be read, so a reviewer decides (the types named). */
export interface IncompleteRecordReason {
  readonly kind: 'incomplete-record';
  readonly text: string;
  /** Resource types that could not be read, sorted. */
  readonly unavailable: readonly string[];
}

/** What decided an order: a criterion of the policy, or a record too incomplete to rule the criteria out. */
export type DecidingReason = DecidingCriterion | IncompleteRecordReason;

/** The engine's result as the decision keeps it: the deciding reason may be the record's incompleteness. */
export type DecisionResult = Omit<EngineResult, 'decidedBy'> & { readonly decidedBy?: DecidingReason };

/**
 * When part of the record could not be read, only an exclusion that the record proves may deny:
 * the engine's fallback "not indicated" (nothing points to a path) may just mean the diagnoses
 * were on the page that timed out, so the case goes to a reviewer who sees the full record.
 */
export function withIncompleteRecord(policy: PolicyVersion, result: EngineResult, unavailable: ReadonlySet<string>): DecisionResult {
  if (result.outcome !== 'not-indicated' || unavailable.size === 0) return result;
  const exclusionIds = new Set(policy.exclusions.map((n) => n.id));
  if (result.trace.some((n) => exclusionIds.has(n.id) && n.value === true)) return result;
  const types = [...unavailable].sort();
  return {
    ...result,
    outcome: 'physician-review',
    decidedBy: {
      kind: 'incomplete-record',
      text: `part of the patient's record could not be read (${types.join(', ')}), so the criteria cannot be ruled out; a reviewer decides with the full record`,
      unavailable: types,
    },
    evidence: [],
    alternatives: [],
  };
}
