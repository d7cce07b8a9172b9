/**
 * The documentation form's answers on their way back to the service: the QuestionnaireResponse the
 * form renderer (LHC-Forms) produces, completed as the EHR files it. It keeps the package's draft
 * context (`qr-context`, `qr-coverage`), is addressed to the questionnaire canonical the coverage
 * information named, and marks where each answer came from (DTR `information-origin`).
 */
import type { Extension, QuestionnaireResponse, QuestionnaireResponseItem, QuestionnaireResponseItemAnswer } from 'fhir/r4.js';

const INFORMATION_ORIGIN = 'http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/information-origin';

export interface Completion {
  readonly id: string;
  /** The questionnaire canonical the coverage information named. */
  readonly canonical: string;
  readonly patientId: string;
  readonly authored: string;
}

const origin = (source: 'auto-server' | 'override' | 'manual'): Extension => ({ url: INFORMATION_ORIGIN, extension: [{ url: 'source', valueCode: source }] });

/** The draft's answers by linkId: what the payer pre-populated. */
function draftAnswers(items: readonly QuestionnaireResponseItem[] | undefined, out = new Map<string, QuestionnaireResponseItemAnswer>()): Map<string, QuestionnaireResponseItemAnswer> {
  for (const i of items ?? []) {
    if (i.answer?.[0]) out.set(i.linkId, i.answer[0]);
    draftAnswers(i.item, out);
  }
  return out;
}

/** Answered items only (groups kept when they hold one), each answer with its origin. */
function answered(items: readonly QuestionnaireResponseItem[] | undefined, draft: ReadonlyMap<string, QuestionnaireResponseItemAnswer>): QuestionnaireResponseItem[] {
  const out: QuestionnaireResponseItem[] = [];
  for (const i of items ?? []) {
    const given = (i.answer ?? []).filter((a) => typeof a.valueBoolean === 'boolean');
    const children = answered(i.item, draft);
    if (given.length === 0 && children.length === 0) continue;
    const before = draft.get(i.linkId);
    const answer = given.map((a): QuestionnaireResponseItemAnswer => {
      const source = before === undefined ? 'manual' : before.valueBoolean === a.valueBoolean ? 'auto-server' : 'override';
      return { valueBoolean: a.valueBoolean, extension: [origin(source)] };
    });
    out.push({ linkId: i.linkId, ...(i.text ? { text: i.text } : {}), ...(answer.length ? { answer } : {}), ...(children.length ? { item: children } : {}) });
  }
  return out;
}

export function completedResponse(rendered: QuestionnaireResponse, draft: QuestionnaireResponse | undefined, c: Completion): QuestionnaireResponse {
  return {
    resourceType: 'QuestionnaireResponse',
    id: c.id,
    ...(draft?.meta?.profile ? { meta: { profile: draft.meta.profile } } : {}),
    ...(draft?.extension?.length ? { extension: draft.extension } : {}),
    questionnaire: c.canonical,
    status: 'completed',
    subject: { reference: `Patient/${c.patientId}` },
    authored: c.authored,
    item: answered(rendered.item, draftAnswers(draft?.item)),
  };
}
