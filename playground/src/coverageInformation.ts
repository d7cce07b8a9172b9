/**
 * The Da Vinci CRD coverage-information extension that order-sign writes onto an order, in the plain
 * words an EHR would show beside the order.
 */
import type { Extension, ServiceRequest } from 'fhir/r4.js';

/** As in src/cards/coverageInformation.ts (not imported: that module pulls the engine into the bundle). */
export const COVERAGE_INFORMATION_URL = 'http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information';

export interface CoverageSummary {
  readonly order: string;
  readonly billingCode?: string;
  /** "Covered", "Not covered", "Conditionally covered". */
  readonly covered: string;
  readonly priorAuthorization?: string;
  readonly documentation?: string;
  readonly policy?: string;
  readonly criterion?: string;
  readonly questionnaire?: string;
  readonly coverage?: string;
  readonly date?: string;
  readonly assertionId?: string;
}

const COVERED: Record<string, string> = { covered: 'Covered', 'not-covered': 'Not covered', conditional: 'Conditionally covered' };
const DOC_PURPOSE: Record<string, string> = {
  withpa: 'send it with the prior authorization request',
  withclaim: 'send it with the claim',
  withorder: 'send it with the order',
  retain: 'keep it on file',
};

export function coverageSummaries(order: ServiceRequest): CoverageSummary[] {
  return (order.extension ?? []).filter((e) => e.url === COVERAGE_INFORMATION_URL).map((e) => summarize(order, e));
}

function summarize(order: ServiceRequest, ext: Extension): CoverageSummary {
  const get = (url: string) => ext.extension?.find((x) => x.url === url);
  const covered = get('covered')?.valueCode ?? '';
  const pa = get('pa-needed')?.valueCode;
  const paId = get('satisfied-pa-id')?.valueString;
  const docNeeded = get('doc-needed')?.valueCode;
  const purpose = get('doc-purpose')?.valueCode;
  const reason = get('reason')?.valueCodeableConcept?.text ?? '';
  // Our reason text reads "<policy> (effective <version>): criterion <id>: <text>".
  const at = reason.indexOf(': criterion ');
  let priorAuthorization: string | undefined;
  if (pa === 'satisfied') priorAuthorization = `Prior authorization satisfied${paId ? ` (${paId})` : ''}`;
  else if (pa === 'no-auth') priorAuthorization = 'No prior authorization needed';
  else if (pa === 'auth-needed') priorAuthorization = 'Prior authorization needed';
  else if (pa === 'not-covered') priorAuthorization = 'Not covered';
  return {
    order: `ServiceRequest/${order.id}`,
    billingCode: get('billingCode')?.valueCoding?.code,
    covered: COVERED[covered] ?? (covered || 'Unknown'),
    priorAuthorization,
    documentation: docNeeded
      ? `${docNeeded === 'clinical' ? 'Clinical documentation' : docNeeded === 'admin' ? 'Administrative documentation' : 'Documentation'} needed${purpose ? `: ${DOC_PURPOSE[purpose] ?? purpose}` : ''}`
      : undefined,
    policy: at >= 0 ? reason.slice(0, at) : reason || undefined,
    criterion: at >= 0 ? reason.slice(at + 2) : undefined,
    questionnaire: get('questionnaire')?.valueCanonical,
    coverage: get('coverage')?.valueReference?.reference,
    date: get('date')?.valueDate,
    assertionId: get('coverage-assertion-id')?.valueString,
  };
}
