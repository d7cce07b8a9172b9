import type { Questionnaire, QuestionnaireItem } from 'fhir/r4.js';
import { nodeIndex } from '../engine/nodes.js';
import type { CriterionNode, PolicyVersion } from '../engine/types.js';
import type { FactCatalogue, FactExpr } from '../facts/catalogue.js';
import { questionnaireId } from '../facts/questionnaireAnswers.js';
import { SYSTEMS } from '../terminology/valueSets.js';
import type { FindingLexicon } from '../facts/findingWords.js';

/**
 * The documentation questionnaire of a criteria policy version (Da Vinci DTR style): one boolean item
 * per documentation-finding code the policy's tree reads, grouped by the policy's outline sections.
 * Built from the policy data, so it changes when the policy does and never drifts from the criteria.
 */

/** `Questionnaire.id` (and the last segment of its canonical) for a policy version. */

export function questionnaireCanonical(publicBaseUrl: string, policy: Pick<PolicyVersion, 'policyId' | 'version'>): string {
  return `${publicBaseUrl}/fhir/Questionnaire/${questionnaireId(policy)}`;
}

/** A finding code, the finding's own words and the yes/no question that asks for it. */
export interface AskedFinding {
  readonly code: string;
  readonly finding: string;
  readonly text: string;
}

/** Finding codes one fact reads, directly or through the facts it refers to, each in its own words. */
export function findingsOfFact(factId: string, facts: FactCatalogue, words: FindingLexicon, seen: Set<string> = new Set()): AskedFinding[] {
  const def = facts.get(factId);
  if (!def || seen.has(factId)) return [];
  seen.add(factId);
  const out: AskedFinding[] = [];
  const walk = (e: FactExpr): void => {
    if ('any' in e) e.any.forEach(walk);
    else if ('all' in e) e.all.forEach(walk);
    else if ('not' in e) walk(e.not);
    else if ('fact' in e) out.push(...findingsOfFact(e.fact, facts, words, seen));
    else if (e.source === 'finding') out.push(askedFinding(e.code, words));
  };
  walk(def.derive);
  // A fact's own finding code (read alongside its coded sources) is asked for too.
  if (def.finding && !out.some((f) => f.code === def.finding)) out.push(askedFinding(def.finding, words));
  return out;
}

/** A finding in its own words (cds-services/common/findings.json); a code without words is asked by its code, never in another fact's words. */
function askedFinding(code: string, words: FindingLexicon): AskedFinding {
  const w = words.get(code);
  return { code, finding: w?.finding ?? code, text: w?.question ?? `Is this documented as present: ${code}?` };
}

/** The sections in the order a clinician documents them: indications, then review criteria, then non-indications. */
function sectionsOf(policy: PolicyVersion): readonly CriterionNode[] {
  return [...policy.indications, ...policy.reviews, ...policy.exclusions];
}

/** Per section, the findings first read there (a code asked once, under the first section that needs it). */
export function findingsBySection(
  policy: PolicyVersion,
  facts: FactCatalogue,
  words: FindingLexicon,
): { section: CriterionNode; findings: AskedFinding[] }[] {
  const byId = nodeIndex(policy);
  const asked = new Set<string>();
  return sectionsOf(policy)
    .map((section) => {
      const findings: AskedFinding[] = [];
      const visiting = new Set<string>();
      const walk = (n: CriterionNode): void => {
        switch (n.kind) {
          case 'fact':
            for (const f of findingsOfFact(n.fact, facts, words)) {
              if (asked.has(f.code)) continue;
              asked.add(f.code);
              findings.push(f);
            }
            return;
          case 'ref': {
            const target = byId.get(n.ref);
            if (!target || visiting.has(n.ref)) return;
            visiting.add(n.ref);
            return walk(target);
          }
          case 'not':
            return walk(n.child);
          case 'all':
          case 'any':
          case 'atLeast':
            return n.children.forEach(walk);
        }
      };
      walk(section);
      return { section, findings };
    })
    .filter((s) => s.findings.length > 0);
}

/** FHIR `name`: a computable name, `[A-Z]([A-Za-z0-9_]){0,254}`. */
function computableName(policy: PolicyVersion): string {
  const words = `${policy.policyId}-${policy.version}`.split(/[^A-Za-z0-9]+/).filter(Boolean);
  return `${words.map((w) => w[0].toUpperCase() + w.slice(1)).join('')}Documentation`.replace(/^[^A-Z]+/, 'Q');
}

/** The documentation questionnaire of one criteria policy version. */
export function policyQuestionnaire(policy: PolicyVersion, facts: FactCatalogue, words: FindingLexicon, publicBaseUrl: string): Questionnaire {
  const item: QuestionnaireItem[] = findingsBySection(policy, facts, words).map(({ section, findings }) => ({
    linkId: section.id,
    prefix: section.id,
    text: section.text,
    type: 'group',
    item: findings.map((f) => ({
      linkId: f.code,
      code: [{ system: SYSTEMS.finding, code: f.code, display: f.finding }],
      text: f.text,
      type: 'boolean',
    })),
  }));
  return {
    resourceType: 'Questionnaire',
    id: questionnaireId(policy),
    url: questionnaireCanonical(publicBaseUrl, policy),
    version: policy.version,
    name: computableName(policy),
    title: `Documentation for ${policy.title}`,
    status: 'active',
    subjectType: ['Patient'],
    ...(policy.effective.from ? { effectivePeriod: { start: policy.effective.from } } : {}),
    description: `Findings from the clinical notes that ${policy.title} (${policy.source}) reads. Each item is a yes/no question in its finding's own words: answer yes (present) or no (documented absent); leave unknown ones unanswered. Send the completed QuestionnaireResponse in the prefetch or reference it from the order's supportingInfo.`,
    item,
  };
}

/** Every criteria policy's questionnaire (no-review-required policies ask for nothing). */
export function allQuestionnaires(policies: readonly PolicyVersion[], facts: FactCatalogue, words: FindingLexicon, publicBaseUrl: string): Questionnaire[] {
  return policies.filter((p) => p.kind === 'criteria').map((p) => policyQuestionnaire(p, facts, words, publicBaseUrl));
}
