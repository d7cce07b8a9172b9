import type { BundleEntry, QuestionnaireResponse, QuestionnaireResponseItem, Resource, ServiceRequest } from 'fhir/r4.js';
import type { PolicyVersion } from '../engine/types.js';
import { toDay } from '../fhir/dates.js';
import type { RecordSource } from '../record/PatientRecord.js';

/** The id of a policy version's documentation questionnaire (the questionnaire module builds it; answers are read here). */
export function questionnaireId(policy: Pick<PolicyVersion, 'policyId' | 'version'>): string {
  return `${policy.policyId}-${policy.version}`;
}

/** One documentation finding answered in a QuestionnaireResponse. */
export interface FindingAnswer {
  readonly code: string;
  readonly value: boolean;
  readonly date?: string;
  /** The response it came from (`QuestionnaireResponse/id`), as evidence. */
  readonly ref: string;
}

/** An answer that could not be used, named by its item, for the card that says so. */
export interface AnswerProblem {
  readonly response: string;
  readonly linkId: string;
  readonly reason: string;
}

export interface OrderAnswers {
  readonly answers: readonly FindingAnswer[];
  readonly problems: readonly AnswerProblem[];
}

/** A response and whether it is addressed to us (so its odd items are worth reporting). */
export interface CandidateResponse {
  readonly response: QuestionnaireResponse;
  /** Answers our questionnaire, or was attached to the order: unknown items and wrong types are reported. */
  readonly addressed: boolean;
}

/**
 * Whether a `QuestionnaireResponse.questionnaire` canonical is one of our questionnaires. Matched on the
 * path's last segment (`<policyId>-<version>` under `/Questionnaire/`), not the host: the public base
 * URL differs between the EHR's view of us and ours (proxies, test servers).
 */
export function isOurQuestionnaire(canonical: string | undefined, policies: readonly Pick<PolicyVersion, 'policyId' | 'version'>[]): boolean {
  if (typeof canonical !== 'string') return false;
  const m = /\/Questionnaire\/([^/|]+)(?:\|.*)?$/.exec(canonical);
  return m !== null && policies.some((p) => questionnaireId(p) === m[1]);
}

/**
 * QuestionnaireResponses the order points at in `supportingInfo`: contained in the order (`#id`), another
 * entry of the draftOrders Bundle (by `Type/id` or fullUrl), or a resource of the record.
 */
export function supportingResponses(order: ServiceRequest, record: RecordSource, draftEntries: readonly BundleEntry[]): QuestionnaireResponse[] {
  const out: QuestionnaireResponse[] = [];
  for (const info of Array.isArray(order.supportingInfo) ? order.supportingInfo : []) {
    const reference = typeof info?.reference === 'string' ? info.reference : undefined;
    if (!reference) continue;
    let found: Resource | undefined;
    if (reference.startsWith('#')) {
      found = (Array.isArray(order.contained) ? order.contained : []).find((r) => r?.id === reference.slice(1));
    } else {
      found = draftEntries.find((e) => e?.fullUrl === reference)?.resource
        ?? draftEntries.map((e) => e?.resource).find((r) => r && r.id !== undefined && (reference === `${r.resourceType}/${r.id}` || reference.endsWith(`/${r.resourceType}/${r.id}`)))
        ?? record.resolve(reference);
    }
    if (found && typeof found === 'object' && found.resourceType === 'QuestionnaireResponse') out.push(found as QuestionnaireResponse);
  }
  return out;
}

const ANSWER_TYPES = ['valueBoolean', 'valueDecimal', 'valueInteger', 'valueDate', 'valueDateTime', 'valueTime', 'valueString', 'valueUri', 'valueAttachment', 'valueCoding', 'valueQuantity', 'valueReference'] as const;

function answerType(answer: object): string {
  return ANSWER_TYPES.find((t) => t in answer) ?? 'no value';
}

/**
 * Documentation findings from QuestionnaireResponses: items whose linkId is a finding code, answered with
 * valueBoolean. In responses addressed to us, an item we do not know or an answer of the wrong type is
 * reported and ignored; in other responses (another form in the prefetch) only our codes are read.
 */
export function readAnswers(candidates: readonly CandidateResponse[], findingCodes: ReadonlySet<string>): OrderAnswers {
  const answers: FindingAnswer[] = [];
  const problems: AnswerProblem[] = [];
  const seen = new Set<QuestionnaireResponse | string>();
  for (const { response: qr, addressed } of candidates) {
    if (!qr || typeof qr !== 'object' || seen.has(qr)) continue;
    const ref = `QuestionnaireResponse/${qr.id ?? 'contained'}`;
    // The same response sent twice (attached to the order and in the prefetch) is read once.
    if (qr.id !== undefined && seen.has(ref)) continue;
    seen.add(qr);
    if (qr.id !== undefined) seen.add(ref);
    if (qr.status !== 'completed' && qr.status !== 'amended') {
      if (addressed) problems.push({ response: ref, linkId: '(whole response)', reason: `status is "${String(qr.status)}"; only completed or amended responses are read` });
      continue;
    }
    const date = toDay(qr.authored);
    const walk = (items: unknown): void => {
      for (const item of Array.isArray(items) ? (items as QuestionnaireResponseItem[]) : []) {
        if (!item || typeof item !== 'object') continue;
        const linkId = typeof item.linkId === 'string' ? item.linkId : '(no linkId)';
        const given = (Array.isArray(item.answer) ? item.answer : []).filter((a) => a && typeof a === 'object');
        if (given.length > 0) {
          const known = findingCodes.has(linkId);
          const boolean = given.find((a) => typeof a.valueBoolean === 'boolean');
          if (known && boolean) answers.push({ code: linkId, value: boolean.valueBoolean as boolean, date, ref });
          else if (addressed && known) {
            problems.push({ response: ref, linkId, reason: `answered with ${answerType(given[0])}; this item takes a boolean (valueBoolean)` });
          } else if (addressed) {
            problems.push({ response: ref, linkId, reason: 'not an item of the documentation questionnaire' });
          }
          for (const a of given) walk(a.item);
        }
        walk(item.item);
      }
    };
    walk(qr.item);
  }
  return { answers, problems };
}

/** The answers one order's decision reads: the record's responses and those attached to the order. */
export function orderAnswers(
  policies: readonly Pick<PolicyVersion, 'policyId' | 'version'>[],
  findingCodes: ReadonlySet<string>,
  record: RecordSource,
  order: ServiceRequest,
  draftEntries: readonly BundleEntry[],
): OrderAnswers {
  const attached = supportingResponses(order, record, draftEntries);
  const candidates: CandidateResponse[] = [
    ...attached.map((response) => ({ response, addressed: true })),
    ...record.ofType<QuestionnaireResponse>('QuestionnaireResponse').map((response) => ({
      response,
      addressed: isOurQuestionnaire(response.questionnaire, policies),
    })),
  ];
  return readAnswers(candidates, findingCodes);
}
