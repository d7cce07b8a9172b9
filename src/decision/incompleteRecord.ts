import type { EngineResult } from '../engine/evaluate.js';
import type { PolicyVersion } from '../engine/types.js';

/**
 * When part of the record could not be read, only an exclusion that the record proves may deny:
 * the engine's fallback "not indicated" (nothing points to a path) may just mean the diagnoses
 * were on the page that timed out, so the case goes to a reviewer who sees the full record.
 */
export function withIncompleteRecord(policy: PolicyVersion, result: EngineResult, unavailable: ReadonlySet<string>): EngineResult {
  if (result.outcome !== 'not-indicated' || unavailable.size === 0) return result;
  const exclusionIds = new Set(policy.exclusions.map((n) => n.id));
  if (result.trace.some((n) => exclusionIds.has(n.id) && n.value === true)) return result;
  const types = [...unavailable].sort().join(', ');
  return {
    ...result,
    outcome: 'physician-review',
    decidedBy: {
      id: 'incomplete record',
      text: `part of the patient's record could not be read (${types}), so the criteria cannot be ruled out; a reviewer decides with the full record`,
      chain: [],
    },
    evidence: [],
    alternatives: [],
  };
}
