import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Bundle as AnyBundle, FhirResource, ClaimResponse, Extension, Questionnaire, QuestionnaireResponse } from 'fhir/r4.js';
import { X12_306 } from '../../src/pas/response.js';
import { fixturePath } from '../helpers/fixtures.js';

/** Bundles whose entries narrow by resourceType. */
export type PasBundle = AnyBundle<FhirResource>;
type Bundle = PasBundle;

export const ROOT = join(import.meta.dirname, '..', '..');

/** A PAS request Bundle from test/pas/fixtures (built from the PAS IG examples, see its README). */
export function pasFixture(path: string): Bundle {
  return JSON.parse(readFileSync(join(ROOT, 'test', 'pas', 'fixtures', path), 'utf8')) as Bundle;
}

/** The hook request the PAS fixture was built from. */
export function hookFixture(path: string): Record<string, unknown> {
  return JSON.parse(readFileSync(fixturePath(path), 'utf8')) as Record<string, unknown>;
}

export interface SeenItem {
  readonly sequence: number;
  readonly code?: string;
  readonly system?: string;
  readonly number?: string;
  /** reviewAction.reasonCode (X12 886). */
  readonly reason?: { readonly system?: string; readonly code?: string };
  /** itemTraceNumber values echoed. */
  readonly traceNumbers: string[];
  readonly period?: { start?: string; end?: string };
  readonly notes: string[];
}

/** What a PAS client reads from a response Bundle: the ClaimResponse first, each item's review action. */
export function claimResponseOf(bundle: Bundle): ClaimResponse {
  const first = bundle.entry?.[0]?.resource;
  if (first?.resourceType !== 'ClaimResponse') throw new Error(`first entry is ${first?.resourceType}`);
  return first;
}

export function itemsOf(bundle: Bundle): SeenItem[] {
  const cr = claimResponseOf(bundle);
  return (cr.item ?? []).map((item) => {
    const review = item.adjudication?.[0]?.extension?.find((e) => e.url.endsWith('/extension-reviewAction'));
    const sub = (url: string): Extension | undefined => review?.extension?.find((e) => e.url === url || e.url.endsWith(`/${url}`));
    const coding = sub('extension-reviewActionCode')?.valueCodeableConcept?.coding?.[0];
    const period = item.extension?.find((e) => e.url.endsWith('/extension-itemPreAuthPeriod'))?.valuePeriod;
    return {
      sequence: item.itemSequence,
      code: coding?.code,
      system: coding?.system,
      number: sub('number')?.valueString,
      reason: sub('reasonCode')?.valueCodeableConcept?.coding?.[0],
      traceNumbers: (item.extension ?? []).filter((e) => e.url.endsWith('/extension-itemTraceNumber')).map((e) => e.valueIdentifier?.value ?? ''),
      period,
      notes: (item.noteNumber ?? []).map((n) => cr.processNote?.find((p) => p.number === n)?.text ?? ''),
    };
  });
}

export { X12_306 };

/** A completed response to our questionnaire answering each linkId, authored when the order was. */
export function answer(q: Questionnaire, linkIds: readonly string[], value: boolean, id: string, authored: string): QuestionnaireResponse {
  const item = (q.item ?? [])
    .map((g) => ({ linkId: g.linkId, item: (g.item ?? []).filter((i) => linkIds.includes(i.linkId)).map((i) => ({ linkId: i.linkId, text: i.text, answer: [{ valueBoolean: value }] })) }))
    .filter((g) => g.item.length > 0);
  return { resourceType: 'QuestionnaireResponse', id, questionnaire: q.url, status: 'completed', authored, item };
}

/** The PAS bundle with a DTR QuestionnaireResponse added and named in Claim.supportingInfo (PAS "additionalInformation"). */
export function withResponse(bundle: Bundle, qr: QuestionnaireResponse): Bundle {
  const copy = structuredClone(bundle);
  const claim = copy.entry![0]!.resource!;
  if (claim.resourceType !== 'Claim') throw new Error('no claim');
  claim.supportingInfo = [
    ...(claim.supportingInfo ?? []),
    {
      sequence: (claim.supportingInfo?.length ?? 0) + 1,
      category: { coding: [{ system: 'http://hl7.org/us/davinci-pas/CodeSystem/PASTempCodes', code: 'additionalInformation' }] },
      valueReference: { reference: `QuestionnaireResponse/${qr.id}` },
    },
  ];
  copy.entry!.push({ fullUrl: `http://example.org/fhir/QuestionnaireResponse/${qr.id}`, resource: qr });
  return copy;
}

/** When the PAS fixture's order was written (answers are dated with it). */
export function orderAuthored(bundle: Bundle): string {
  const sr = bundle.entry?.find((e) => e.resource?.resourceType === 'ServiceRequest')?.resource;
  if (sr?.resourceType !== 'ServiceRequest' || !sr.authoredOn) throw new Error('no order date');
  return sr.authoredOn;
}
