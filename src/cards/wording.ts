import { nodeIndex } from '../engine/nodes.js';
import type { DecisionOutcome, PolicyVersion } from '../engine/types.js';
import type { CandidatePath } from '../engine/evaluate.js';
import { isEngineDecision, type OrderDecision } from '../decision/decideOrder.js';
import type { FactCatalogue } from '../facts/catalogue.js';
import type { FindingLexicon } from '../facts/findingWords.js';

/** The words of the service: short, clinical, each citing the policy and criterion by outline number. */

export function shortPolicyName(p: PolicyVersion): string {
  return p.shortTitle ?? p.title;
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
  if (d.outcome === 'no-review-required') return d.policy.noReviewReason ?? 'no review required';
  if (!isEngineDecision(d)) return d.outcome;
  const by = d.result.decidedBy;
  if (!by) {
    if (d.outcome === 'not-indicated') {
      const closest = d.result.failedPaths?.[0];
      return closest ? `no criterion of the policy is met; closest, ${failedSummary(closest)}` : 'no criterion of the policy is met or documentable';
    }
    return OUTCOME_WORDS[d.outcome];
  }
  // A reason that is not a criterion (an incomplete record) is said as it is.
  if (by.kind === 'incomplete-record') return by.text;
  const cited = `criterion ${by.id}: ${by.text}`;
  const through = d.outcome === 'criteria-met' ? metThrough(d.policy, by) : undefined;
  const blocked = d.result.blockedApproval;
  if (blocked) return `${cited} (undetermined; otherwise criterion ${blocked.id} is met)`;
  return through ? `${cited}; met through ${through.id} (${through.label})` : cited;
}

/** The alternative a criterion was met through (KP II.A: radiculopathy, stenosis, red flag, urgent surgery): the deepest labelled node past the one cited. */
export function metThrough(policy: PolicyVersion, by: { id: string; chain: readonly string[] }): { id: string; label: string } | undefined {
  const index = nodeIndex(policy);
  const after = by.chain.slice(by.chain.indexOf(by.id) + 1);
  let found: { id: string; label: string } | undefined;
  for (const id of after) {
    const label = index.get(id)?.label;
    if (label) found = { id, label };
  }
  return found;
}

/** A path that failed, with what the record showed: "II.A: at least 4 weeks of physical therapy… not met on the record". */
export function failedSummary(p: CandidatePath): string {
  const failed = p.failed.map((s) => s.leafText).slice(0, 3);
  const open = p.unknown.map((s) => s.leafText).slice(0, 3);
  const parts = [
    ...(failed.length ? [`not met on the record: ${failed.join('; ')}`] : []),
    ...(open.length ? [`not documented: ${open.join('; ')}`] : []),
  ];
  return `${p.cited.id} (${clip(p.cited.text, 90)}), ${parts.join('; ')}`;
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

/**
 * A criterion's words cut to their head for a summary line: up to the first parenthesis or colon
 * ("Suspect Cauda Equina syndrome (MRI without contrast) due to…" -> "Suspect Cauda Equina
 * syndrome"), at most `max` characters on a word boundary. The card's detail keeps the full words.
 */
export function headline(text: string, max = 72): string {
  const head = text.split(/\s\(|:\s/)[0].replace(/\s+/g, ' ').trim();
  if (head.length <= max) return head;
  const cut = head.slice(0, max);
  return `${cut.slice(0, Math.max(cut.lastIndexOf(' '), max - 15)).trimEnd()}…`;
}

/** A criterion's short name for a summary line: its `label` in the policy data, else the head of its words. */
export function criterionName(policy: PolicyVersion, id: string, text: string, max = 72): string {
  return nodeIndex(policy).get(id)?.label ?? headline(text, max);
}

export function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1).trimEnd()}…`;
}

type Step = CandidatePath['steps'][number];

/** Paths to one criterion that differ in a single item ("TWO or more of"): the items they share and "one more of" the rest. */
export interface PathGroup {
  readonly cited: CandidatePath['cited'];
  readonly common: readonly Step[];
  readonly oneOf: readonly Step[];
}

/** Groups paths, in order, so that alternatives of a "two or more" criterion read as one line. */
export function groupPaths(paths: readonly CandidatePath[], open: (p: CandidatePath) => readonly Step[]): PathGroup[] {
  const groups: { cited: CandidatePath['cited']; common: Step[]; oneOf: Step[]; first: readonly Step[] }[] = [];
  for (const p of paths) {
    const steps = open(p);
    const keys = new Set(steps.map((s) => s.key));
    const g = groups.find((x) => {
      if (x.cited.id !== p.cited.id) return false;
      if (x.oneOf.length === 0) {
        const shared = x.first.filter((s) => keys.has(s.key));
        return x.first.length === steps.length && shared.length === steps.length - 1;
      }
      return steps.length === x.common.length + 1 && x.common.every((s) => keys.has(s.key));
    });
    if (!g) {
      groups.push({ cited: p.cited, common: [...steps], oneOf: [], first: steps });
      continue;
    }
    if (g.oneOf.length === 0) {
      g.common = g.first.filter((s) => keys.has(s.key));
      g.oneOf = [...g.first.filter((s) => !keys.has(s.key))];
    }
    const shared = new Set(g.common.map((s) => s.key));
    g.oneOf.push(...steps.filter((s) => !shared.has(s.key)));
  }
  return groups.map(({ cited, common, oneOf }) => ({ cited, common, oneOf }));
}

/** "What would change the answer": reachable paths as what to do or document, "one more of" for alternatives. */
export function changeLines(paths: readonly CandidatePath[], facts: FactCatalogue, findings?: FindingLexicon): string[] {
  return groupPaths(paths, (p) => [...p.failed, ...p.unknown]).map((g) => {
    const todo = g.common.map((s) => askFor(s, facts, findings));
    if (g.oneOf.length) todo.push(`one more of: ${g.oneOf.map((s) => askFor(s, facts, findings)).join(' / ')}`);
    return `${g.cited.id} (${clip(g.cited.text, 120)}): ${todo.join('; ')}`;
  });
}

/** What to document for a leaf: a documentation finding's own question (the questionnaire's words), else the fact's request. */
function askFor(step: CandidatePath['steps'][number], facts: FactCatalogue, findings?: FindingLexicon): string {
  const def = step.fact ? facts.get(step.fact) : undefined;
  // The finding the fact is named for, or the one finding it reads.
  const code = def && 'source' in def.derive && def.derive.source === 'finding' ? def.derive.code : step.fact;
  const question = code ? findings?.get(code)?.question : undefined;
  return question ?? def?.ask ?? def?.text ?? step.leafText;
}

/** A missing item in plain clinical words, with the criterion it serves. */
export function missingItem(step: CandidatePath['steps'][number], facts: FactCatalogue, findings?: FindingLexicon): string {
  return `${askFor(step, facts, findings)} (serves ${step.criterionId})`;
}
