import { randomUUID } from 'node:crypto';
import type { Extension, Questionnaire, QuestionnaireItem, QuestionnaireResponse, QuestionnaireResponseItem } from 'fhir/r4.js';
import type { PolicyVersion } from '../engine/types.js';
import type { FactCatalogue } from '../facts/catalogue.js';
import type { FindingLexicon } from '../facts/findingWords.js';
import { findingsOfFact, policyQuestionnaire } from '../questionnaire/questionnaire.js';
import type { FactLibrary } from './factLibrary.js';

/**
 * The documentation form a DTR client renders: the service's documentation questionnaire (same
 * canonical, same items and words, so the answers feed the next hook exactly as before), with SDC
 * pre-population from the fact library and, for one coverage assertion, the items of the card's
 * shortest path to approval first and the rest behind `enableWhen`.
 */

const DTR = 'http://hl7.org/fhir/us/davinci-dtr/StructureDefinition';
const SDC = 'http://hl7.org/fhir/uv/sdc/StructureDefinition';
export const NEEDED_GROUP = 'documentation-needed';

export interface FormContext {
  /** Fact ids of the shortest path to approval the decision found missing (decision record `missing`). */
  readonly missingFacts?: readonly string[];
}

function initialExpression(lib: FactLibrary, code: string): Extension[] {
  const definition = lib.answerFor.get(code);
  if (!definition) return [];
  return [{ url: `${SDC}/sdc-questionnaire-initialExpression`, valueExpression: { language: 'text/cql-identifier', expression: `"${lib.name}"."${definition}"` } }];
}

/** Finding codes that answer the missing facts, in the order the card lists them. */
function neededCodes(missing: readonly string[], facts: FactCatalogue, words: FindingLexicon): string[] {
  return [...new Set(missing.flatMap((id) => findingsOfFact(id, facts, words).map((f) => f.code)))];
}

export function dtrQuestionnaire(
  policy: PolicyVersion,
  facts: FactCatalogue,
  words: FindingLexicon,
  lib: FactLibrary,
  publicBaseUrl: string,
  libraryUrl: string,
  ctx: FormContext = {},
  date?: string,
): Questionnaire {
  const base = policyQuestionnaire(policy, facts, words, publicBaseUrl);
  const withExpression = (item: QuestionnaireItem): QuestionnaireItem => ({ ...item, extension: [...(item.extension ?? []), ...initialExpression(lib, item.linkId)] });
  const groups = (base.item ?? []).map((g) => ({ ...g, item: (g.item ?? []).map(withExpression) }));
  const all = groups.flatMap((g) => g.item);
  const needed = neededCodes(ctx.missingFacts ?? [], facts, words).map((code) => all.find((i) => i.linkId === code)).filter((i): i is QuestionnaireItem => i !== undefined);
  let item: QuestionnaireItem[] = groups;
  if (needed.length > 0) {
    const neededIds = new Set(needed.map((i) => i.linkId));
    // The other criteria matter only if the shortest path fails: a "no" to any of its items opens them.
    const enableWhen: QuestionnaireItem['enableWhen'] = needed.map((i) => ({ question: i.linkId, operator: '=', answerBoolean: false }));
    const rest = groups
      .map((g) => ({ ...g, item: g.item.filter((i) => !neededIds.has(i.linkId)) }))
      .filter((g) => g.item.length > 0)
      .map((g) => ({ ...g, enableWhen, enableBehavior: 'any' as const }));
    item = [{ linkId: NEEDED_GROUP, text: 'Documentation needed for the shortest path to approval', type: 'group', item: needed }, ...rest];
  }
  const effectivePeriod = { ...(policy.effective.from ? { start: policy.effective.from } : {}), ...(policy.effective.until ? { end: policy.effective.until } : {}) };
  return {
    ...base,
    meta: { profile: [`${DTR}/dtr-std-questionnaire`] },
    extension: [
      { url: 'http://hl7.org/fhir/StructureDefinition/cqf-library', valueCanonical: `${libraryUrl}|${lib.version}` },
      {
        url: `${SDC}/sdc-questionnaire-launchContext`,
        extension: [
          { url: 'name', valueCoding: { system: 'http://hl7.org/fhir/uv/sdc/CodeSystem/launchContext', code: 'patient' } },
          { url: 'type', valueCode: 'Patient' },
        ],
      },
    ],
    ...(date ? { date } : {}),
    subjectType: ['Patient'],
    effectivePeriod,
    item,
  };
}

/** What the service already knows for the draft response: finding code -> answer. */
export type KnownAnswers = Readonly<Record<string, boolean>>;

export interface DraftContext {
  readonly patientRef: string;
  readonly orderRefs: readonly string[];
  readonly coverageRef: string;
  readonly known: KnownAnswers;
  readonly now: Date;
}

const ORIGIN_AUTO_SERVER: Extension = { url: `${DTR}/information-origin`, extension: [{ url: 'source', valueCode: 'auto-server' }] };

/** The one draft QuestionnaireResponse of a package: its context, and the answers the CRD call already had. */
export function draftResponse(q: Questionnaire, ctx: DraftContext): QuestionnaireResponse {
  const answered = (items: readonly QuestionnaireItem[]): QuestionnaireResponseItem[] =>
    items.flatMap((i): QuestionnaireResponseItem[] => {
      if (i.type === 'group') {
        const inner = answered(i.item ?? []);
        return inner.length ? [{ linkId: i.linkId, text: i.text, item: inner }] : [];
      }
      const value = ctx.known[i.linkId];
      return typeof value === 'boolean' ? [{ linkId: i.linkId, text: i.text, answer: [{ valueBoolean: value, extension: [ORIGIN_AUTO_SERVER] }] }] : [];
    });
  return {
    resourceType: 'QuestionnaireResponse',
    id: randomUUID(),
    meta: { profile: [`${DTR}/dtr-questionnaireresponse`], lastUpdated: ctx.now.toISOString() },
    extension: [
      ...ctx.orderRefs.map((reference) => ({ url: `${DTR}/qr-context`, valueReference: { reference } })),
      { url: `${DTR}/qr-coverage`, valueReference: { reference: ctx.coverageRef } },
    ],
    questionnaire: `${q.url}|${q.version}`,
    status: 'in-progress',
    subject: { reference: ctx.patientRef },
    authored: ctx.now.toISOString(),
    item: answered(q.item ?? []),
  };
}
