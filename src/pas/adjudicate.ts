import { decideOrder, type OrderDecision } from '../decision/decideOrder.js';
import { todayUtc } from '../fhir/dates.js';
import type { PolicyLibrary } from '../library/library.js';
import { PatientRecord } from '../record/PatientRecord.js';
import { criterionLabel, missingItem, policyLabel } from '../cards/wording.js';
import { authorizationExpiry, authorizationNumber } from '../decision/authorizationNumber.js';
import type { PasItem, PasRequest } from './request.js';

/** X12 306 (Healthcare Services Review Decision, HCR01) codes this service answers with. */
export type ReviewAction = 'A1' | 'A3' | 'A4';

export const REVIEW_ACTION_DISPLAY: Readonly<Record<ReviewAction, string>> = {
  A1: 'Certified in total',
  A3: 'Not Certified',
  A4: 'Pended',
};

/**
 * X12 886 (Health Care Services Review Decision Reason, HCR03) codes given with a review action: PAS
 * `extension-reviewAction.reasonCode`, bound to X12278ReviewDecisionReasonCode.
 */
export const REVIEW_REASON = {
  notMedicallyNecessary: { code: '0F', display: 'Not Medically Necessary' },
  certificationNotRequired: { code: '0H', display: 'Certification Not Required for this Service' },
  additionalInformation: { code: '0U', display: 'Additional Patient Information required' },
  medicalReview: { code: '0V', display: 'Requires Medical Review' },
} as const;

export type ReviewReason = (typeof REVIEW_REASON)[keyof typeof REVIEW_REASON];

/** An item the payer could not adjudicate (X12 901 reject reason): goes to `ClaimResponse.error`. */
export interface ItemError {
  readonly code: string;
  readonly display: string;
  readonly text: string;
}

/** What was decided for one claim item. */
export interface ItemDetermination {
  readonly sequence: number;
  readonly orderRef: string;
  readonly cpt?: string;
  readonly reviewAction?: ReviewAction;
  readonly reviewReason?: ReviewReason;
  readonly authorizationNumber?: string;
  readonly period?: { readonly start: string; readonly end: string };
  /** The criterion and the reason, or what documentation is needed: a processNote. */
  readonly note?: string;
  /** The DTR questionnaire to answer when pended for documentation. */
  readonly questionnaire?: string;
  readonly decision?: OrderDecision;
  readonly error?: ItemError;
  readonly coverageAssertionId?: string;
}

export interface Adjudication {
  readonly items: readonly ItemDetermination[];
  readonly decidedOn: string;
}

export interface AdjudicationContext {
  readonly library: PolicyLibrary;
  readonly questionnaireUrl: (policyId: string, version: string) => string;
  readonly now: Date;
}

/** Decides every item with the hooks' pipeline (routing, facts, criteria), over the Bundle as the record. */
export function adjudicate(req: PasRequest, ctx: AdjudicationContext): Adjudication {
  const today = todayUtc(ctx.now);
  const record = new PatientRecord(req.patient.id, req.resources, ctx.library.valueSets);
  const items = req.items.map((item) => determine(item, req, record, today, ctx));
  return { items, decidedOn: today };
}

function determine(item: PasItem, req: PasRequest, record: PatientRecord, today: string, ctx: AdjudicationContext): ItemDetermination {
  const base = { sequence: item.sequence, orderRef: item.orderRef, ...(item.cpt ? { cpt: item.cpt } : {}), ...(item.coverageAssertionId ? { coverageAssertionId: item.coverageAssertionId } : {}) };
  if (!item.cpt) {
    return { ...base, error: { code: 'AG', display: 'Invalid/Missing Procedure Code(s)', text: `Item ${item.sequence}: this payer decides lumbar spine MRI (CPT 72148, 72149, 72158) only` } };
  }
  const decision = decideOrder(ctx.library, record, item.order, item.orderRef, item.cpt, today, req.entries);
  const withDecision = { ...base, decision };
  switch (decision.outcome) {
    case 'no-coverage':
      return { ...withDecision, error: { code: '75', display: 'Subscriber/Insured Not Found', text: decision.routing.reason } };
    case 'patient-deceased':
      return { ...withDecision, error: { code: '61', display: 'Date of Death Precedes Date(s) of Service', text: 'The patient is recorded as deceased: no decision is made' } };
    case 'no-policy-version':
      return { ...withDecision, error: { code: '53', display: 'Inappropriate Date', text: `No version of the coverage's lumbar MRI policy is in force on ${decision.dateOfService}` } };
    case 'criteria-met':
    case 'no-review-required': {
      const number = authorizationNumber(req.patient.id, decision);
      const reason = `${policyLabel(decision.policy)}: ${criterionLabel(decision)}`;
      // No number: no review was required (0H); with one, certified with no reason to give.
      const certified = number ? { authorizationNumber: number, period: { start: today, end: authorizationExpiry(today) } } : { reviewReason: REVIEW_REASON.certificationNotRequired };
      return { ...withDecision, reviewAction: 'A1', ...certified, note: `Certified: ${reason}` };
    }
    case 'not-indicated': {
      const reason = `${policyLabel(decision.policy)}: ${criterionLabel(decision)}`;
      const closest = decision.result.wouldChange[0];
      const lacks = closest ? ` Closest criterion ${closest.cited.id} (${closest.cited.text}) lacks: ${closest.failed.concat(closest.unknown).map((s) => missingItem(s, ctx.library.facts)).join('; ')}.` : '';
      return { ...withDecision, reviewAction: 'A3', reviewReason: REVIEW_REASON.notMedicallyNecessary, note: `Not certified: ${reason.replace(/\.+$/, '')}.${lacks}` };
    }
    case 'physician-review': {
      const reason = `${policyLabel(decision.policy)}: ${criterionLabel(decision)}`;
      return { ...withDecision, reviewAction: 'A4', reviewReason: REVIEW_REASON.medicalReview, note: `Pended for physician review: ${reason}` };
    }
    case 'documentation-missing': {
      const url = ctx.questionnaireUrl(decision.policy.policyId, decision.policy.version);
      const path = decision.result.missing[0];
      const needed = path ? path.unknown.map((s) => missingItem(s, ctx.library.facts)).join('; ') : 'clinical documentation';
      const form = ` Answer the documentation questionnaire ${url} (DTR $questionnaire-package) and resubmit.`;
      return { ...withDecision, reviewAction: 'A4', reviewReason: REVIEW_REASON.additionalInformation, questionnaire: url, note: `Pended: documentation needed for ${path ? `criterion ${path.cited.id}` : 'the policy'}: ${needed}.${form}` };
    }
  }
}
