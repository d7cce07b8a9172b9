import { randomUUID } from 'node:crypto';
import type { ServiceRequest } from 'fhir/r4.js';
import { CPT, criterionId, hasPolicy, type EngineDecision, type OrderDecision, type PolicyDecision } from '../decision/decideOrder.js';
import { nodeIndex } from '../engine/nodes.js';
import type { CandidatePath } from '../engine/evaluate.js';
import type { AlternativeRule, Contrast, PolicyVersion } from '../engine/types.js';
import type { FactCatalogue } from '../facts/catalogue.js';
import type { FindingLexicon } from '../facts/findingWords.js';
import type { RecordProblem } from '../record/loadRecord.js';
import { payorLabel } from '../routing/routing.js';
import type { CdsAction, CdsCard, CdsSuggestion } from '../hooks/types.js';
import { changeLines, clip, criterionLabel, criterionName, failedSummary, groupPaths, metThrough, missingItem, policyLabel, shortPolicyName, summary } from './wording.js';

const TOPIC_SYSTEM = 'http://hl7.org/fhir/us/davinci-crd/CodeSystem/temp';
const topic = (code: string, display: string) => ({ system: TOPIC_SYSTEM, code, display });
export const TOPICS = {
  coverage: topic('coverage-info', 'Coverage Information'),
  alternatives: topic('therapy-alternatives-opt', 'Optional therapy alternatives'),
  guideline: topic('guideline', 'Guideline'),
  reminder: topic('clinical-reminder', 'Clinical reminder'),
};

const SERVICE_LABEL = 'Lumbar MRI decision support';

/** What the contrast named by a criterion means as an order. */
const CONTRAST_ORDER: Readonly<Record<Contrast, { code: string; display: string }>> = {
  without: { code: '72148', display: 'MRI lumbar spine without contrast' },
  'with-and-without': { code: '72158', display: 'MRI lumbar spine without contrast, followed by contrast' },
};

export interface CardContext {
  readonly facts: FactCatalogue;
  /** The words of the documentation findings: an item is asked as the questionnaire asks it. */
  readonly findings?: FindingLexicon;
  readonly questionnaireUrl?: (d: OrderDecision) => string | undefined;
  readonly patientRef: string;
  /** Says what an evidence reference is, in words (its code, value and date); the reference alone when absent. */
  readonly describe?: (ref: string) => string;
}

/** Cards for one order's decision, most important first. */
export function decisionCards(d: OrderDecision, ctx: CardContext): CdsCard[] {
  const assoc = { 'davinci-crd.associated-resource': [{ reference: d.orderRef }] };
  const orderName = `${d.order.code?.text ?? d.order.code?.coding?.[0]?.display ?? 'Lumbar MRI'} (CPT ${d.cpt}, ${d.orderRef})`;
  if (!hasPolicy(d)) return [noDecisionCard(d, orderName, assoc)];
  const policy = d.policy;
  const source = { label: policy.payer, topic: TOPICS.coverage };
  const header = `**Policy:** ${policyLabel(policy)}  \n**Order:** ${orderName}  \n**Date of service:** ${d.dateOfService}  \n**Coverage:** ${payorLabel(d.coverage)} (Coverage/${d.coverage.id ?? '?'})`;
  const name = shortPolicyName(policy);
  if (d.outcome === 'no-review-required') {
    return [
      {
        uuid: randomUUID(),
        summary: summary(`No prior review needed: ${name}, medical necessity review not required`),
        detail: `${header}\n\n${policy.noReviewReason ?? ''}`,
        indicator: 'info',
        source,
        extension: assoc,
      },
    ];
  }
  const cards: CdsCard[] = [];
  const result = d.result;
  const evidence = (refs: readonly string[]) =>
    refs.length ? `\n\n**Evidence:**\n${refs.map((r) => `- ${ctx.describe?.(r) ?? r}`).join('\n')}` : '';
  const by = result.decidedBy;
  const criterion = by?.kind === 'criterion' ? by : undefined;
  // A critical notice (cauda equina: imaging does not wait) is said on the decision card itself.
  const urgent = result.notices.filter((n) => n.indicator === 'critical').map((n) => `**${n.text}**\n\n`).join('');
  const flagNote = policy.redFlag && criterion?.id === policy.redFlag.id;

  switch (d.outcome) {
    case 'criteria-met': {
      const through = criterion ? metThrough(policy, criterion) : undefined;
      const path = criterion ? outlinePath(policy, criterion.chain) : [];
      cards.push({
        uuid: randomUUID(),
        summary: summary(`Criteria met: ${name} ${criterion?.id}, ${criterionName(policy, criterion?.id ?? '', criterion?.text ?? '')}${through ? ` (${through.label})` : ''}`),
        detail: `${urgent}${header}\n\n**Criterion met:** ${criterion?.id}: ${criterion?.text}${through ? `  \n**Met through:** ${through.id}, ${through.label}` : ''}${path.length > 1 ? `  \n**Path:** ${path.join(' › ')}` : ''}${evidence(result.evidence)}`,
        indicator: 'info',
        source,
        extension: assoc,
      });
      break;
    }
    case 'documentation-missing': {
      const url = ctx.questionnaireUrl?.(d);
      const paths = result.missing;
      const lines = groupPaths(paths, (p) => p.unknown)
        .map((g, i) => {
          const items = g.common.map((s) => `  - ${missingItem(s, ctx.facts, ctx.findings)}`);
          if (g.oneOf.length) items.push(`  - one more of:\n${g.oneOf.map((s) => `    - ${missingItem(s, ctx.facts, ctx.findings)}`).join('\n')}`);
          return `${i === 0 ? '**Shortest path**' : `**Or**`} (${g.cited.id}: ${clip(g.cited.text, 160)}), document:\n${items.join('\n')}`;
        })
        .join('\n\n');
      const first = paths[0];
      const blocked = result.blockedApproval;
      const intro = blocked
        ? `Criterion ${blocked.id} (${clip(blocked.text, 120)}) is met, but non-indication ${first?.cited.id} may apply: the record does not decide it. Document the following so it can be decided.`
        : 'The record points toward a path to approval; document the following to complete it.';
      cards.push({
        uuid: randomUUID(),
        summary: summary(
          blocked
            ? `Documentation needed (${first?.unknown.length ?? 0} item${first?.unknown.length === 1 ? '' : 's'}): ${name} ${blocked.id} met unless ${first?.cited.id}, ${criterionName(policy, first?.cited.id ?? '', first?.cited.text ?? '', 50)}`
            : `Documentation needed (${first?.unknown.length ?? 0} item${first?.unknown.length === 1 ? '' : 's'}) for ${name} ${first?.cited.id ?? ''}: ${criterionName(policy, first?.cited.id ?? '', first?.cited.text ?? '', 60)}`,
        ),
        detail: `${urgent}${header}\n\n${intro}\n\n${lines}${evidence(result.evidence)}${policy.documentationToSend ? `\n\n**Send:** ${policy.documentationToSend}` : ''}`,
        indicator: 'warning',
        source,
        ...(url ? { links: [{ label: 'Documentation questionnaire', url, type: 'absolute' as const }] } : {}),
        extension: assoc,
      });
      break;
    }
    case 'physician-review': {
      // An incomplete record is not a criterion: it is said in its words, with no outline number.
      const why = by?.kind === 'incomplete-record' ? `incomplete record: ${by.text}` : `${criterion?.id}: ${criterion?.text}`;
      cards.push({
        uuid: randomUUID(),
        summary: summary(`Physician review: ${name} ${criterion ? `${criterion.id}, ` : ''}${criterionName(policy, criterion?.id ?? '', by?.text ?? 'the case goes to a medical reviewer', 70)}`),
        detail: `${urgent}${header}\n\n**Why:** ${why}${flagNote ? `\n\nA red flag is never denied for want of paperwork: the criteria are not met on the record, so a physician reviews the case.${reviewFailed(result.failedPaths ?? [])}` : ''}\n\n**Send for review:** ${policy.documentationToSend ?? 'the last 6 months of clinical notes'}.${evidence(result.evidence)}`,
        indicator: 'info',
        source,
        extension: assoc,
      });
      break;
    }
    case 'not-indicated': {
      const changes = changeLines(result.wouldChange, ctx.facts, ctx.findings).map((l) => `- ${l}`).join('\n');
      const closest = result.failedPaths?.[0];
      const suggestions = alternativeSuggestions(d);
      cards.push({
        uuid: randomUUID(),
        summary: summary(
          criterion
            ? `Not indicated: ${name} ${criterion.id}, ${criterionName(policy, criterion.id, criterion.text)}`
            : closest
              ? `Not indicated: no ${name} criterion met (closest ${closest.cited.id}, ${criterionName(policy, closest.cited.id, closest.cited.text, 50)})`
              : `Not indicated: no ${name} criterion is met for this lumbar MRI`,
        ),
        detail: `${header}\n\n**Why:** ${criterionLabel(d)}${evidence(result.evidence)}${changes ? `\n\n**What would change the answer:**\n${changes}` : ''}`,
        indicator: 'warning',
        source,
        ...(suggestions.length ? { suggestions, selectionBehavior: 'at-most-one' as const } : {}),
        extension: assoc,
      });
      break;
    }
  }

  if (d.outcome !== 'not-indicated') {
    const suggestions = alternativeSuggestions(d);
    if (suggestions.length) {
      cards.push({
        uuid: randomUUID(),
        summary: summary(`Consider: ${suggestions.map((s) => s.label).join(' or ')}`),
        detail: `${alternativeReasons(d).join('\n\n')}\n\nOrder: ${orderName}.`,
        indicator: 'info',
        source: { label: policy.payer, topic: TOPICS.alternatives },
        suggestions,
        selectionBehavior: 'at-most-one',
        extension: assoc,
      });
    }
  }
  for (const n of result.notices) {
    cards.push({
      uuid: randomUUID(),
      summary: summary(`${n.indicator === 'critical' ? 'Urgent' : 'Note'}: ${n.text}`),
      detail: `${policyLabel(policy)}, ${n.id}: ${n.text}`,
      indicator: n.indicator ?? 'info',
      source: { label: policy.payer, topic: TOPICS.guideline },
      extension: assoc,
    });
  }
  return cards;
}

/** No medical-necessity decision was made (deceased, no coverage, no version in force): one card says why. */
function noDecisionCard(d: Exclude<OrderDecision, PolicyDecision>, orderName: string, extension: CdsCard['extension']): CdsCard {
  const source = { label: SERVICE_LABEL, topic: TOPICS.coverage };
  switch (d.outcome) {
    case 'no-coverage':
      return {
        uuid: randomUUID(),
        summary: summary('No coverage decision: no lumbar MRI policy applies to this patient\'s coverage'),
        detail: `${d.routing.reason}\n\nOrder: ${orderName}. No Da Vinci CRD coverage information is returned without a usable Coverage.`,
        indicator: 'info',
        source,
        extension,
      };
    case 'patient-deceased':
      return {
        uuid: randomUUID(),
        summary: summary('No coverage decision: the patient\'s record says the patient has died'),
        detail: `The Patient resource carries a date of death or deceased = true, so no medical-necessity decision is made and no Da Vinci CRD coverage information is written on the order. If the record is wrong, correct Patient.deceased and sign again.\n\nOrder: ${orderName}.`,
        indicator: 'warning',
        source,
        extension,
      };
    case 'no-policy-version':
      return {
        uuid: randomUUID(),
        summary: summary(`No coverage decision: no version of ${d.routing.policyId} is in force on ${d.dateOfService}`),
        detail: `The coverage (${payorLabel(d.coverage)}) routes to ${d.routing.policyId}, but no version of that policy is in force at the date of service ${d.dateOfService}.\n\nOrder: ${orderName}.`,
        indicator: 'info',
        source,
        extension,
      };
  }
}

/** The outline from the section to the criterion met: the nodes a card may cite, and the alternative met through (labelled); groupings left out. */
function outlinePath(policy: PolicyVersion, chain: readonly string[]): string[] {
  const index = nodeIndex(policy);
  return chain.filter((id) => {
    const node = index.get(id);
    return node !== undefined && (node.cite === true || node.label !== undefined);
  });
}

/** For a red flag sent to review: the criteria closest to being met and what the record showed. */
function reviewFailed(paths: readonly CandidatePath[]): string {
  return paths.length ? `\n\n**Closest criteria:**\n${paths.map((p) => `- ${failedSummary(p)}`).join('\n')}` : '';
}

/** The imaging the policy prefers, as suggestions that change the draft order. */
function alternativeSuggestions(d: EngineDecision): CdsSuggestion[] {
  const out: CdsSuggestion[] = [];
  const contrast = d.result.contrast;
  if (contrast && (d.outcome === 'criteria-met' || d.outcome === 'documentation-missing')) {
    const want = CONTRAST_ORDER[contrast];
    if (want.code !== d.cpt) {
      out.push(changeOrder(d, want.code, want.display, `Change to ${want.display} (CPT ${want.code})`, true));
    }
  }
  for (const alt of d.result.alternatives) out.push(applyAlternative(d, alt));
  return dedupe(out);
}

function alternativeReasons(d: EngineDecision): string[] {
  const out: string[] = [];
  const contrast = d.result.contrast;
  if (contrast && CONTRAST_ORDER[contrast].code !== d.cpt && (d.outcome === 'criteria-met' || d.outcome === 'documentation-missing')) {
    out.push(`${criterionId(d)} names MRI ${contrast === 'without' ? 'without contrast' : 'with and without contrast'}.`);
  }
  for (const a of d.result.alternatives) out.push(`${a.id}: ${a.text}`);
  return out;
}

function applyAlternative(d: OrderDecision, alt: AlternativeRule): CdsSuggestion {
  const a = alt.action;
  if (a.kind === 'change-order') {
    return changeOrder(d, a.code, a.display, `Order ${a.display} instead (CPT ${a.code})`, alt.isRecommended ?? false, a.system);
  }
  // No imaging: remove the MRI order and create the referral in its place.
  const referral: ServiceRequest = {
    resourceType: 'ServiceRequest',
    id: `${d.order.id ?? 'order'}-pt-referral`,
    status: 'draft',
    intent: d.order.intent ?? 'order',
    code: { coding: [{ system: a.system, code: a.code, display: a.display }], text: 'Referral to physical therapy (conservative care)' },
    subject: d.order.subject ?? { reference: 'Patient/unknown' },
    authoredOn: d.order.authoredOn ?? new Date().toISOString(),
    requester: d.order.requester,
    reasonCode: d.order.reasonCode,
  };
  const actions: CdsAction[] = [
    { type: 'delete', description: `Remove the lumbar MRI order ${d.orderRef}`, resourceId: d.orderRef },
    { type: 'create', description: 'Create a physical therapy referral (conservative care, no imaging)', resource: referral },
  ];
  return { label: 'No imaging now: refer to physical therapy (conservative care)', uuid: randomUUID(), isRecommended: alt.isRecommended ?? false, actions };
}

function changeOrder(d: OrderDecision, code: string, display: string, label: string, recommended: boolean, system = CPT): CdsSuggestion {
  const updated: ServiceRequest = {
    ...d.order,
    code: { coding: [{ system, code, display }], text: display },
  };
  return {
    label,
    uuid: randomUUID(),
    isRecommended: recommended,
    actions: [{ type: 'update', description: `Change ${d.orderRef} to ${display} (${code})`, resource: updated }],
  };
}

function dedupe(s: CdsSuggestion[]): CdsSuggestion[] {
  const seen = new Set<string>();
  const out: CdsSuggestion[] = [];
  for (const x of s) {
    if (seen.has(x.label)) continue;
    seen.add(x.label);
    out.push(x);
  }
  // CDS Hooks: more than one recommended suggestion only with selectionBehavior "any".
  let recommended = false;
  return out.map((x) => {
    if (!x.isRecommended) return x;
    if (recommended) return { ...x, isRecommended: false };
    recommended = true;
    return x;
  });
}

/** What could not be read, in one card, so unknown facts are never mistaken for absent ones. */
export function recordProblemsCard(problems: readonly RecordProblem[]): CdsCard | undefined {
  if (problems.length === 0) return undefined;
  const lines = problems.map((p) => `- ${p.resourceTypes.join(', ') || p.key}: ${p.reason}`);
  return {
    uuid: randomUUID(),
    summary: summary(`Some of the patient's record could not be read (${problems.flatMap((p) => p.resourceTypes).join(', ') || 'limits'})`),
    detail: `The decision treats what could not be read as unknown, not absent.\n\n${lines.join('\n')}`,
    indicator: 'info',
    source: { label: SERVICE_LABEL, topic: TOPICS.reminder },
  };
}

/** Orders not decided (out of time, or data the service could not interpret): no decision is better than a guessed one. */
export function unfinishedCard(orderRefs: readonly string[], why: 'time' | 'data'): CdsCard {
  const these = orderRefs.length > 1 ? 'these orders' : 'this order';
  const cause =
    why === 'time'
      ? `The service stopped evaluating ${orderRefs.join(', ')} when its time budget ran out.`
      : `The service met data it could not interpret while evaluating ${orderRefs.join(', ')}.`;
  return {
    uuid: randomUUID(),
    summary: summary(`The coverage decision could not be completed${why === 'time' ? ' in time' : ''}; no decision was made for ${these}`),
    detail: `${cause} No coverage information is returned for ${these}; sign again to retry, or send the clinical notes for review.`,
    indicator: 'warning',
    source: { label: SERVICE_LABEL, topic: TOPICS.coverage },
    extension: { 'davinci-crd.associated-resource': orderRefs.map((reference) => ({ reference })) },
  };
}
