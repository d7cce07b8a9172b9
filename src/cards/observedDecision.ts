import type { Extension } from 'fhir/r4.js';
import { COVERAGE_INFORMATION_URL } from './coverageInformation.js';
import type { CdsResponse } from '../hooks/types.js';

export type ObservedOutcome =
  | 'criteria-met'
  | 'no-review-required'
  | 'documentation-missing'
  | 'physician-review'
  | 'not-indicated'
  | 'no-coverage';

export interface ObservedDecision {
  readonly outcome: ObservedOutcome;
  /** The criterion the CRD reason cites ("criterion I.B: ..."). */
  readonly criterion?: string;
  readonly coverage?: string;
  readonly extension?: Extension;
  readonly questionnaire?: string;
}

/** Reads the decision an EHR would see from an order-sign response: the CRD coverage information. */
export function observedDecision(body: CdsResponse, orderRef?: string): ObservedDecision {
  const action = (body.systemActions ?? []).find(
    (a) => a.type === 'update' && (!orderRef || `${a.resource.resourceType}/${a.resource.id}` === orderRef),
  );
  const ext =
    action && action.type === 'update'
      ? (action.resource as { extension?: Extension[] }).extension?.find((e) => e.url === COVERAGE_INFORMATION_URL)
      : undefined;
  if (!ext) return { outcome: 'no-coverage' };
  const get = (url: string) => ext.extension?.find((e) => e.url === url);
  const covered = get('covered')?.valueCode;
  const pa = get('pa-needed')?.valueCode;
  const questionnaire = get('questionnaire')?.valueCanonical;
  const reason = get('reason')?.valueCodeableConcept?.text ?? '';
  const criterion = /criterion ([A-Z][A-Za-z0-9.\-]*):/.exec(reason)?.[1];
  let outcome: ObservedOutcome;
  if (covered === 'not-covered') outcome = 'not-indicated';
  else if (pa === 'satisfied') outcome = 'criteria-met';
  else if (pa === 'no-auth') outcome = 'no-review-required';
  else if (questionnaire) outcome = 'documentation-missing';
  else outcome = 'physician-review';
  return { outcome, criterion, coverage: get('coverage')?.valueReference?.reference, extension: ext, questionnaire };
}
