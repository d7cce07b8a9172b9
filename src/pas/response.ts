import { randomUUID } from 'node:crypto';
import type { Bundle, BundleEntry, ClaimResponse, ClaimResponseItem, Extension, Parameters } from 'fhir/r4.js';
import type { Adjudication, ItemDetermination } from './adjudicate.js';
import { REVIEW_ACTION_DISPLAY } from './adjudicate.js';
import { PAS_EXT, type PasRequest } from './request.js';

export const X12_306 = 'https://codesystem.x12.org/005010/306';
export const X12_901 = 'https://codesystem.x12.org/005010/901';
/** X12 external code source 886, review decision reasons (the PAS X12278ReviewDecisionReasonCode value set). */
export const X12_886 = 'https://codesystem.x12.org/external/886';
const ADJUDICATION = 'http://terminology.hl7.org/CodeSystem/adjudication';

function reviewActionExtension(d: ItemDetermination): Extension[] {
  if (!d.reviewAction) return [];
  return [
    {
      url: `${PAS_EXT}/extension-reviewAction`,
      extension: [
        { url: `${PAS_EXT}/extension-reviewActionCode`, valueCodeableConcept: { coding: [{ system: X12_306, code: d.reviewAction, display: REVIEW_ACTION_DISPLAY[d.reviewAction] }] } },
        ...(d.authorizationNumber ? [{ url: 'number', valueString: d.authorizationNumber }] : []),
        ...(d.reviewReason ? [{ url: 'reasonCode', valueCodeableConcept: { coding: [{ system: X12_886, code: d.reviewReason.code, display: d.reviewReason.display }] } }] : []),
      ],
    },
  ];
}

function responseItem(d: ItemDetermination, traceNumbers: readonly Extension[], noteNumber: number | undefined, issued: string): ClaimResponseItem {
  // The item's trace numbers echoed (PAS itemTraceNumber), so the client matches items as X12 does.
  const ext: Extension[] = [...traceNumbers];
  if (d.authorizationNumber && d.period) {
    ext.push({ url: `${PAS_EXT}/extension-itemPreAuthIssueDate`, valueDate: issued });
    ext.push({ url: `${PAS_EXT}/extension-itemPreAuthPeriod`, valuePeriod: { start: d.period.start, end: d.period.end } });
  }
  return {
    ...(ext.length ? { extension: ext } : {}),
    itemSequence: d.sequence,
    ...(noteNumber !== undefined ? { noteNumber: [noteNumber] } : {}),
    adjudication: [{ category: { coding: [{ system: ADJUDICATION, code: 'submitted' }] }, ...(d.reviewAction ? { extension: reviewActionExtension(d) } : {}) }],
  };
}

/** The ClaimResponse for a submission: every item echoed by sequence, its review action, notes and errors. */
export function claimResponse(req: PasRequest, adj: Adjudication, now: Date, id: string = randomUUID()): ClaimResponse {
  const notes: NonNullable<ClaimResponse['processNote']> = [];
  const items = adj.items.map((d) => {
    let n: number | undefined;
    if (d.note) {
      n = notes.length + 1;
      notes.push({ number: n, type: 'display', text: d.note });
    }
    const traces = req.items.find((i) => i.sequence === d.sequence)?.item.extension?.filter((e) => e.url === `${PAS_EXT}/extension-itemTraceNumber`) ?? [];
    return responseItem(d, traces, n, adj.decidedOn);
  });
  const errors = adj.items.flatMap((d) => (d.error ? [{ itemSequence: d.sequence, error: d.error }] : []));
  const decided = adj.items.filter((d) => d.reviewAction);
  const approved = adj.items.filter((d) => d.authorizationNumber && d.period);
  // A single approval for the whole request: the claim-level number and period too.
  const sole = adj.items.length === 1 ? approved.at(0) : undefined;
  return {
    resourceType: 'ClaimResponse',
    id,
    ...(req.claim.identifier ? { identifier: req.claim.identifier } : {}),
    status: 'active',
    type: req.claim.type,
    use: 'preauthorization',
    // The reference alone: a display could carry the patient's name into the stored record.
    patient: { reference: req.claim.patient.reference },
    created: now.toISOString(),
    ...(req.claim.insurer ? { insurer: req.claim.insurer } : { insurer: { display: 'Payer' } }),
    ...(req.claim.provider ? { requestor: req.claim.provider } : {}),
    request: { reference: req.claimFullUrl },
    outcome: decided.length === 0 ? 'error' : errors.length > 0 ? 'partial' : 'complete',
    ...(sole ? { preAuthRef: sole.authorizationNumber, preAuthPeriod: sole.period } : {}),
    item: items,
    ...(notes.length ? { processNote: notes } : {}),
    ...(errors.length
      ? {
          error: errors.map(({ itemSequence, error }) => ({
            itemSequence,
            code: { coding: [{ system: X12_901, code: error.code, display: error.display }], text: error.text },
          })),
        }
      : {}),
  };
}

/**
 * The PAS response Bundle: the ClaimResponse first, then the request's entries echoed with their
 * fullUrls and ids (the Claim and what it references), so the client can match every reference.
 */
export function responseBundle(req: PasRequest, response: ClaimResponse, now: Date): Bundle {
  const echoed: BundleEntry[] = req.entries.map((e) => ({ fullUrl: e.fullUrl, ...(e.resource ? { resource: e.resource } : {}) }));
  return {
    resourceType: 'Bundle',
    id: randomUUID(),
    identifier: req.bundle.identifier,
    type: 'collection',
    timestamp: now.toISOString(),
    entry: [{ fullUrl: `urn:uuid:${response.id}`, resource: response }, ...echoed],
  };
}

/** `$inquire` output: 2.2.1 wraps the responses in Parameters (`return`); 2.0.1 answers the Bundle itself. */
export function inquiryOutput(version: PasRequest['version'], bundles: readonly Bundle[]): Bundle | Parameters {
  if (version === '2.0.1') return bundles[0] ?? { resourceType: 'Bundle', type: 'collection', timestamp: new Date().toISOString(), entry: [] };
  return { resourceType: 'Parameters', parameter: bundles.map((b) => ({ name: 'return', resource: b })) };
}
