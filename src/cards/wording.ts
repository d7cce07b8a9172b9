import type { DecisionOutcome, PolicyVersion } from '../engine/types.js';
import type { CandidatePath } from '../engine/evaluate.js';
import type { OrderDecision } from '../decision/decideOrder.js';
import type { FactCatalogue } from '../facts/catalogue.js';

/** The words of the service: short, clinical, each citing the policy and criterion by outline number. */

export const SHORT_POLICY_NAMES: Readonly<Record<string, string>> = {
  'kp-wa-lumbar-mri': 'KP WA lumbar MRI criteria',
  'kp-wa-medicare-lumbar-mri': 'KP WA Medicare (LCD L37281)',
  'medicare-advantage-lumbar-mri': 'Medicare Advantage lumbar MRI (LCD L34220)',
};

export function shortPolicyName(p: PolicyVersion): string {
  return SHORT_POLICY_NAMES[p.policyId] ?? p.title;
}

export function policyLabel(p: PolicyVersion): string {
  const when = p.effective.from
    ? `effective ${p.effective.from}`
    : p.effective.until
      ? `effective until ${p.effective.until}`
      : `version ${p.version}`;
  return `${p.title} (${when})`;
}

export function criterionLabel(d: OrderDecision): string {
  if (d.outcome === 'no-review-required') return d.policy?.noReviewReason ?? 'no review required';
  const by = d.result?.decidedBy;
  if (!by) {
    if (d.outcome === 'not-indicated') return 'no criterion of the policy is met or documentable';
    return OUTCOME_WORDS[d.outcome as DecisionOutcome] ?? d.outcome;
  }
  // Outline numbers are cited as criteria; a reason that is not a criterion (an incomplete record) is said as it is.
  return /\s/.test(by.id) ? by.text : `criterion ${by.id}: ${by.text}`;
}

export const OUTCOME_WORDS: Readonly<Record<DecisionOutcome, string>> = {
  'criteria-met': 'criteria met',
  'no-review-required': 'no medical necessity review required',
  'documentation-missing': 'documentation missing',
  'physician-review': 'physician review',
  'not-indicated': 'not indicated',
};

/** Summary lines are one sentence under 140 characters (CDS Hooks; the Inferno check fails at 140). */
export function summary(text: string): string {
  const clean = text.replace(/\s+/g, ' ').trim();
  return clean.length <= 139 ? clean : `${clean.slice(0, 136).trimEnd()}...`;
}

export function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1).trimEnd()}…`;
}

/** A missing item in plain clinical words, with the criterion it serves. */
export function missingItem(step: CandidatePath['steps'][number], facts: FactCatalogue): string {
  const def = step.fact ? facts.get(step.fact) : undefined;
  const what = def?.ask ?? def?.text ?? step.leafText;
  return `${what} (serves ${step.criterionId})`;
}
