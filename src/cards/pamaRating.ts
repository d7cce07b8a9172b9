/**
 * The Argonaut "CDS Hooks for PAMA" rating, for EHRs (and the CDS Hooks sandbox's PAMA Imaging tab)
 * that read an imaging order's appropriateness from it:
 * - a rating extension on every ServiceRequest a suggestion creates or updates (the sandbox reads
 *   the rating of the order a clicked suggestion writes, and fails on an order without one);
 * - a response-level `extension.systemActions` rating each decided order (the Argonaut form, which
 *   the sandbox's "PAMA Rating" box shows), besides the spec's top-level `systemActions`.
 * The sandbox shows the first coding's code, so where no Argonaut rating applies (documentation
 * missing, physician review) the service's own verdict comes first.
 */
import { hash } from 'node:crypto';
import type { CodeableConcept, Extension, ServiceRequest } from 'fhir/r4.js';
import type { OrderDecision } from '../decision/decideOrder.js';
import type { CdsAction, CdsCard, CdsCreateAction, CdsUpdateAction } from '../hooks/types.js';

/** The URLs the sandbox and the Argonaut examples use. */
export const PAMA_RATING_URL = 'http://fhir.org/argonaut/Extension/pama-rating';
export const PAMA_CONSULT_ID_URL = 'http://fhir.org/argonaut/Extension/pama-rating-consult-id';
export const PAMA_RATING_SYSTEM = 'http://fhir.org/argonaut/CodeSystem/pama-rating';
/** The service's verdict, as a translation coding. */
export const VERDICT_SYSTEM = 'http://lumbar-mri-cds.org/fhir/CodeSystem/decision-outcome';

type ArgonautRating = 'appropriate' | 'not-appropriate' | 'no-criteria-apply';
type Outcome = OrderDecision['outcome'];

/** The Argonaut rating an outcome maps to; none for outcomes that still wait on documentation or a reviewer. */
const ARGONAUT: Readonly<Record<Outcome, ArgonautRating | undefined>> = {
  'criteria-met': 'appropriate',
  'no-review-required': 'no-criteria-apply',
  'not-indicated': 'not-appropriate',
  'no-coverage': 'no-criteria-apply',
  'no-policy-version': 'no-criteria-apply',
  'documentation-missing': undefined,
  'physician-review': undefined,
  // An order for a patient recorded as deceased is not rated: the verdict says why.
  'patient-deceased': undefined,
};

const VERDICT_DISPLAY: Readonly<Record<Outcome, string>> = {
  'criteria-met': 'Criteria met',
  'no-review-required': 'No medical necessity review required',
  'not-indicated': 'Not indicated',
  'no-coverage': 'No policy applies to the coverage',
  'no-policy-version': 'No policy version in force',
  'documentation-missing': 'Documentation missing',
  'physician-review': 'Physician review',
  'patient-deceased': 'The patient is recorded as deceased',
};

function argonautCoding(code: ArgonautRating) {
  return { system: PAMA_RATING_SYSTEM, code };
}

/** The rating of a decided order: the Argonaut code first where one applies, the verdict as translation. */
export function ratingOf(outcome: Outcome): CodeableConcept {
  const verdict = { system: VERDICT_SYSTEM, code: outcome, display: VERDICT_DISPLAY[outcome] };
  const argonaut = ARGONAUT[outcome];
  return { coding: argonaut ? [argonautCoding(argonaut), verdict] : [verdict], text: VERDICT_DISPLAY[outcome] };
}

/** An alternative the policy itself names (the preferred contrast, radiographs first, CT, physical therapy). */
const POLICY_ALTERNATIVE: CodeableConcept = {
  coding: [argonautCoding('appropriate'), { system: VERDICT_SYSTEM, code: 'policy-alternative', display: 'The alternative the policy names' }],
  text: 'The alternative the policy names',
};

/** A stable consultation id per hook call and order. */
export function consultId(hookInstance: string, orderRef: string): string {
  // One-shot hash: no Hash object per id (half the CPU of createHash().update().digest()).
  const h = hash('sha256', `pama|${hookInstance}|${orderRef}`);
  return `urn:uuid:${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function withRating(order: ServiceRequest, rating: CodeableConcept, consult: string): ServiceRequest {
  const ext: Extension[] = [];
  for (const e of order.extension ?? []) if (e.url !== PAMA_RATING_URL && e.url !== PAMA_CONSULT_ID_URL) ext.push(e);
  ext.push({ url: PAMA_RATING_URL, valueCodeableConcept: rating }, { url: PAMA_CONSULT_ID_URL, valueUri: consult });
  return { ...order, extension: ext };
}

/** A create or update of a ServiceRequest: what gets a rating. */
type RatableAction = (CdsCreateAction | CdsUpdateAction) & { readonly resource: ServiceRequest };
const ratable = (a: CdsAction): a is RatableAction => a.type !== 'delete' && a.resource.resourceType === 'ServiceRequest';

/** A suggestion's actions, each ServiceRequest rated with the suggestion's one consultation id (hashed only when one is rated). */
function rateActions(actions: readonly CdsAction[], consult: string): CdsAction[] {
  return actions.map((a) => (ratable(a) ? { ...a, resource: withRating(a.resource, POLICY_ALTERNATIVE, consult) } : a));
}

/** The cards with every suggested ServiceRequest (created or updated) carrying a rating. */
export function withRatedSuggestions(cards: readonly CdsCard[], hookInstance: string): CdsCard[] {
  return cards.map((card) =>
    card.suggestions
      ? {
          ...card,
          suggestions: card.suggestions.map((s) => ({
            ...s,
            ...(s.actions ? { actions: s.actions.some(ratable) ? rateActions(s.actions, consultId(hookInstance, s.uuid)) : s.actions } : {}),
          })),
        }
      : card,
  );
}

/** The Argonaut response-level system actions: each decided order, unchanged but for its rating. */
export function pamaSystemActions(decisions: readonly OrderDecision[], hookInstance: string): CdsAction[] {
  return decisions.map((d) => ({
    type: 'update',
    description: `PAMA appropriateness rating of ${d.orderRef} (CPT ${d.cpt}): ${VERDICT_DISPLAY[d.outcome]}`,
    resource: withRating(d.order, ratingOf(d.outcome), consultId(hookInstance, d.orderRef)),
  }));
}
