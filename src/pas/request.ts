import type { BundleEntry, Claim, ClaimItem, Coverage, Extension, Patient, Resource, ServiceRequest } from 'fhir/r4.js';
import { COVERAGE_INFORMATION_URL } from '../cards/coverageInformation.js';
import { z } from 'zod';
import { CPT, LUMBAR_MRI_CPT } from '../decision/decideOrder.js';
import { HttpError } from '../hooks/errors.js';
import { codingsOf } from '../fhir/codings.js';

export const PAS_EXT = 'http://hl7.org/fhir/us/davinci-pas/StructureDefinition';
/** HCPCS Level I codes are CPT codes: the PAS IG examples send them under the HCPCS system. */
const HCPCS = 'http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets';

/** PAS 2.2.1 answers `$inquire` in a Parameters resource; 2.0.1 answers with the Bundle itself. */
export type PasVersion = '2.0.1' | '2.2.1';
/** CMS-0057-F: 72 hours for expedited (urgent) requests, 7 days for standard ones. */
export type PasPriority = 'standard' | 'expedited';

const resourceLike = z.looseObject({ resourceType: z.string().min(1).max(64), id: z.string().max(64).optional() });

/** The PAS Request Bundle profile's structure (identifier, timestamp, collection, entries with fullUrl and resource). */
const requestBundleSchema = z.looseObject({
  resourceType: z.literal('Bundle'),
  type: z.literal('collection'),
  identifier: z.looseObject({ system: z.string().optional(), value: z.string().min(1).max(256) }),
  timestamp: z.string().min(1),
  entry: z.array(z.looseObject({ fullUrl: z.string().min(1).max(2048), resource: resourceLike })).min(1).max(1000),
});

/** An extension as FHIR writes it (a url); a reference, when it carries one, is a string. */
const extensionSchema = z.looseObject({ url: z.string().min(1).max(2048), valueReference: z.looseObject({ reference: z.string().max(2048).optional() }).optional() });

const claimSchema = z.looseObject({
  resourceType: z.literal('Claim'),
  use: z.literal('preauthorization'),
  status: z.string().optional(),
  // Read for the claim's key (the first with a value) and echoed in the ClaimResponse.
  identifier: z.array(z.looseObject({ system: z.string().max(2048).optional(), value: z.string().max(256).optional() })).optional(),
  patient: z.looseObject({ reference: z.string().min(1).max(2048) }),
  insurance: z.array(z.looseObject({ coverage: z.looseObject({ reference: z.string().min(1).max(2048) }) })).min(1),
  // Each item's extensions are searched for its requestedService.
  item: z.array(z.looseObject({ sequence: z.number().int().positive(), extension: z.array(extensionSchema).optional() })).min(1).max(100),
});

/** One claim item about a service this service decides (or not: then it is a business error). */
export interface PasItem {
  readonly sequence: number;
  readonly item: ClaimItem;
  /** The requested ServiceRequest, or one built from the item when the claim names none. */
  readonly order: ServiceRequest;
  readonly orderRef: string;
  /** The lumbar MRI CPT code, when the item is one. */
  readonly cpt?: string;
  /** The CRD `coverage-assertion-id` the order carries (coverage-information from the hook), if any. */
  readonly coverageAssertionId?: string;
}

/** A PAS request Bundle read and checked: the Claim, its patient and coverage, and every item. */
export interface PasRequest {
  readonly version: PasVersion;
  readonly bundle: { readonly identifier: { readonly system?: string; readonly value: string }; readonly timestamp: string };
  readonly entries: readonly BundleEntry[];
  readonly claim: Claim;
  readonly claimFullUrl: string;
  readonly patient: Patient & { id: string };
  readonly coverage: Coverage;
  readonly items: readonly PasItem[];
  readonly priority: PasPriority;
  /** The request's key across submissions and inquiries: the Claim identifier (else the Bundle's). */
  readonly claimKey: string;
  /** Keys of the claims this one updates (PAS Claim Update: `Claim.related.claim.identifier`). */
  readonly relatedKeys: readonly string[];
  /** Every resource of the Bundle: the patient's record for the decision. */
  readonly resources: readonly Resource[];
}

/** A zod issue path as the FHIRPath of the element at fault, e.g. `Bundle.entry[0].fullUrl`. */
function elementPath(root: string, path: readonly PropertyKey[]): string {
  return path.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : `${acc}.${String(p)}`), root);
}

function nonconformant(root: string, error: z.ZodError): HttpError {
  const issue = error.issues[0];
  const where = elementPath(root, issue?.path ?? []);
  return new HttpError(400, 'structure', `The request is not a conformant PAS Bundle: ${where}: ${issue?.message ?? 'invalid'}`, where);
}

/** Finds an entry by a reference as PAS bundles write them: the fullUrl, or `Type/id` (also at the end of a fullUrl). */
export function resolveIn(entries: readonly BundleEntry[], reference: string | undefined): Resource | undefined {
  if (!reference) return undefined;
  const byFullUrl = entries.find((e) => e.fullUrl === reference)?.resource;
  if (byFullUrl) return byFullUrl;
  return entries
    .map((e) => e.resource)
    .find((r) => r !== undefined && r.id !== undefined && (reference === `${r.resourceType}/${r.id}` || reference.endsWith(`/${r.resourceType}/${r.id}`)));
}

/** Checked by the schema: an object with a resourceType (its elements are read defensively after). */
function isResource(r: { resourceType: string }): r is { resourceType: string } & Resource {
  return typeof r.resourceType === 'string';
}

function isType<T extends Resource>(type: T['resourceType']) {
  return (r: Resource | undefined): r is T => r?.resourceType === type;
}

/** The version the client speaks: a `|2.0.1` profile on the Bundle or the Claim selects 2.0.1. */
function versionOf(bundle: Record<string, unknown>, claim: Claim): PasVersion {
  const profiles = [bundle.meta, claim.meta].flatMap((m) => {
    const p: unknown = m && typeof m === 'object' && 'profile' in m ? m.profile : undefined;
    return Array.isArray(p) ? p.filter((x): x is string => typeof x === 'string') : [];
  });
  return profiles.some((p) => p.includes('davinci-pas') && p.endsWith('|2.0.1')) ? '2.0.1' : '2.2.1';
}

/**
 * Interpretation: CMS-0057-F's "expedited" is the request the provider marks urgent: Claim.priority
 * `stat`, or the PAS level-of-service code (X12 1338) `U` urgent or `03` emergency.
 */
export function priorityOf(claim: Claim): PasPriority {
  if (codingsOf([claim.priority]).some((c) => c.code === 'stat')) return 'expedited';
  const level = (claim.extension ?? []).find((e) => e.url === `${PAS_EXT}/extension-levelOfServiceCode`);
  return codingsOf([level?.valueCodeableConcept]).some((c) => c.code === 'U' || c.code === '03') ? 'expedited' : 'standard';
}

function lumbarMriIn(concepts: unknown[]): string | undefined {
  for (const c of codingsOf(concepts)) {
    if ((c.system === CPT || c.system === HCPCS) && typeof c.code === 'string' && (LUMBAR_MRI_CPT as readonly string[]).includes(c.code)) return c.code;
  }
  return undefined;
}

/** The item's ServiceRequest (PAS requestedService), else one built from the item so the pipeline has an order. */
function orderFor(item: ClaimItem, i: number, entries: readonly BundleEntry[], patientRef: string, claim: Claim): { order: ServiceRequest; orderRef: string } {
  // claimSchema checked the item's extensions: each has a url, and a reference is a string.
  const requested = (item.extension ?? []).find((e) => e.url === `${PAS_EXT}/extension-requestedService`)?.valueReference?.reference;
  const found = resolveIn(entries, requested);
  if (requested && !found) {
    const where = `Claim.item[${i}].extension:requestedService`;
    throw new HttpError(400, 'not-found', `${where}: ${requested} is not an entry of the Bundle`, where);
  }
  if (isType<ServiceRequest>('ServiceRequest')(found)) return { order: found, orderRef: `ServiceRequest/${found.id ?? `claim-item-${item.sequence}`}` };
  const id = `claim-item-${item.sequence}`;
  const order: ServiceRequest = {
    resourceType: 'ServiceRequest',
    id,
    status: 'active',
    intent: 'order',
    subject: { reference: patientRef },
    code: item.productOrService,
    ...(item.servicedDate ? { occurrenceDateTime: item.servicedDate } : item.servicedPeriod ? { occurrencePeriod: item.servicedPeriod } : {}),
    ...(claim.created ? { authoredOn: claim.created } : {}),
  };
  return { order, orderRef: `ServiceRequest/${id}` };
}

/** The coverage-assertion-id of the order's CRD coverage-information extension. */
function assertionIdOf(order: ServiceRequest): string | undefined {
  const extensions: unknown = order.extension;
  for (const e of Array.isArray(extensions) ? (extensions as Extension[]) : []) {
    if (e?.url !== COVERAGE_INFORMATION_URL || !Array.isArray(e.extension)) continue;
    const id = e.extension.find((x) => x?.url === 'coverage-assertion-id')?.valueString;
    if (typeof id === 'string' && id.length > 0 && id.length <= 128) return id;
  }
  return undefined;
}

/**
 * Reads a `Claim/$submit` (or `$inquire`) body: a PAS request Bundle with the Claim first. Anything
 * nonconformant is a 400 naming the element; what the payer decides about (an unknown service, no
 * coverage it reviews) is left to the response's `error`.
 */
export function readPasRequest(body: unknown): PasRequest {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new HttpError(400, 'structure', 'The body must be a PAS request Bundle', 'Bundle');
  const parsed = requestBundleSchema.safeParse(body);
  if (!parsed.success) throw nonconformant('Bundle', parsed.error);
  const bundle = parsed.data;
  const entries: BundleEntry[] = bundle.entry.map((e) => ({ fullUrl: e.fullUrl, ...(isResource(e.resource) ? { resource: e.resource } : {}) }));
  // The schema requires an entry; with none this would be the same refusal.
  const first = bundle.entry.at(0);
  if (first?.resource.resourceType !== 'Claim') {
    throw new HttpError(400, 'structure', `Bundle.entry[0].resource: the Claim must be the first entry (found ${first?.resource.resourceType ?? 'none'})`, 'Bundle.entry[0].resource');
  }
  const claimParsed = claimSchema.safeParse(first.resource);
  if (!claimParsed.success) throw nonconformant('Claim', claimParsed.error);
  const claim = entries[0]?.resource;
  if (!isType<Claim>('Claim')(claim)) throw new HttpError(400, 'structure', 'Bundle.entry[0].resource: not a Claim', 'Bundle.entry[0].resource');
  const seen = new Set<number>();
  claimParsed.data.item.forEach((it, i) => {
    if (seen.has(it.sequence)) throw new HttpError(400, 'structure', `Claim.item[${i}].sequence: ${it.sequence} is used twice`, `Claim.item[${i}].sequence`);
    seen.add(it.sequence);
  });
  const patient = resolveIn(entries, claimParsed.data.patient.reference);
  if (!isType<Patient>('Patient')(patient) || typeof patient.id !== 'string') {
    throw new HttpError(400, 'not-found', `Claim.patient: ${claimParsed.data.patient.reference} is not a Patient (with an id) in the Bundle`, 'Claim.patient');
  }
  // The schema requires an insurance; with none, no Coverage resolves and the refusal below names it.
  const coverageRef = claimParsed.data.insurance.at(0)?.coverage.reference;
  const coverage = resolveIn(entries, coverageRef);
  if (!isType<Coverage>('Coverage')(coverage)) {
    throw new HttpError(400, 'not-found', `Claim.insurance[0].coverage: ${coverageRef} is not a Coverage in the Bundle`, 'Claim.insurance[0].coverage');
  }
  const patientRef = `Patient/${patient.id}`;
  const items: PasItem[] = (claim.item ?? []).map((item, i) => {
    const { order, orderRef } = orderFor(item, i, entries, patientRef, claim);
    const cpt = lumbarMriIn([order.code, item.productOrService]);
    const coverageAssertionId = assertionIdOf(order);
    return { sequence: item.sequence, item, order, orderRef, ...(cpt ? { cpt } : {}), ...(coverageAssertionId ? { coverageAssertionId } : {}) };
  });
  const claimId = claim.identifier?.find((x) => typeof x?.value === 'string');
  const key = claimId ? `${claimId.system ?? ''}|${claimId.value}` : `${bundle.identifier.system ?? ''}|${bundle.identifier.value}`;
  const relatedKeys = (Array.isArray(claim.related) ? claim.related : [])
    .map((r) => r?.claim?.identifier)
    .filter((i): i is NonNullable<typeof i> => typeof i?.value === 'string')
    .map((i) => `${patientRef}|${i.system ?? ''}|${i.value}`);
  return {
    version: versionOf(bundle, claim),
    bundle: { identifier: bundle.identifier, timestamp: bundle.timestamp },
    entries,
    claim,
    claimFullUrl: first.fullUrl,
    patient: { ...patient, id: patient.id },
    coverage,
    items,
    priority: priorityOf(claim),
    claimKey: `${patientRef}|${key}`,
    relatedKeys,
    resources: entries.map((e) => e.resource).filter((r): r is Resource => r !== undefined),
  };
}
