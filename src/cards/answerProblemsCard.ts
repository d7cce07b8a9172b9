import { randomUUID } from 'node:crypto';
import { TOPICS } from './cards.js';
import { summary } from './wording.js';
import { isEngineDecision, type OrderDecision } from '../decision/decideOrder.js';
import type { CdsCard } from '../hooks/types.js';

/** Questionnaire answers the decision could not use, each named by its item, so a bad answer is never silently lost. */
export function answerProblemsCard(d: OrderDecision): CdsCard | undefined {
  const problems = isEngineDecision(d) ? (d.answerProblems ?? []) : [];
  if (!isEngineDecision(d) || problems.length === 0) return undefined;
  const items = [...new Set(problems.map((p) => p.linkId))];
  return {
    uuid: randomUUID(),
    summary: summary(`Questionnaire answers that could not be used: ${items.join(', ')}`),
    detail: `These answers were ignored for the decision on ${d.orderRef}; answer each documentation item with true or false (valueBoolean).\n\n${problems
      .map((p) => `- **${p.linkId}** (${p.response}) could not be used: ${p.reason}`)
      .join('\n')}`,
    indicator: 'info',
    source: { label: d.policy.payer, topic: TOPICS.reminder },
    extension: { 'davinci-crd.associated-resource': [{ reference: d.orderRef }] },
  };
}
