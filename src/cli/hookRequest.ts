/**
 * A patient's FHIR data (a Synthea bundle, an EHR export) -> the CDS Hooks order-sign request an
 * EHR would send for a draft lumbar MRI order: prefetch filled per the service's PREFETCH keys, or
 * left out with `fhirServer` given so the service fetches the record itself.
 */
import { randomUUID } from 'node:crypto';
import type { Bundle, Coverage, Patient, PractitionerRole, Resource, ServiceRequest } from 'fhir/r4.js';
import { CPT, LUMBAR_MRI_CPT, lumbarMriCode } from '../decision/decideOrder.js';
import { PREFETCH, PREFETCH_TYPES } from '../hooks/discovery.js';
import { rewriteReferences } from '../../tools/fhir-server/normalize.js';

export type LumbarMriCpt = (typeof LUMBAR_MRI_CPT)[number];

const CPT_DISPLAY: Readonly<Record<LumbarMriCpt, string>> = {
  '72148': 'MRI lumbar spine without contrast',
  '72149': 'MRI lumbar spine with contrast',
  '72158': 'MRI lumbar spine without contrast, followed by contrast',
};

export function isLumbarMriCpt(code: string): code is LumbarMriCpt {
  return (LUMBAR_MRI_CPT as readonly string[]).includes(code);
}

/** One patient's resources out of a file that may hold several. */
export interface PatientResources {
  readonly patientId: string;
  readonly resources: readonly Resource[];
}

/** The `Type/id` references a resource makes, wherever they are nested. */
function referencesOf(resource: Resource): string[] {
  const refs: string[] = [];
  rewriteReferences(resource, (ref) => {
    refs.push(ref);
    return undefined;
  });
  return refs;
}

/**
 * Splits normalised resources (ids set, urn:uuid references rewritten) by patient: each Patient
 * with the resources that reference it, plus the resources that reference no patient
 * (Organizations, Practitioners, PractitionerRoles), which every patient may need.
 * @returns one entry per Patient; none when the data holds no Patient.
 */
export function patientsIn(resources: readonly Resource[]): PatientResources[] {
  const patients = resources.filter((r): r is Patient & { id: string } => r.resourceType === 'Patient' && typeof r.id === 'string');
  // One pass over the resources (a bulk export holds hundreds of thousands): each goes to the
  // patients it references, or to everyone when it references none.
  const shared: Resource[] = [];
  const own = new Map<string, Resource[]>(patients.map((p) => [p.id, []]));
  for (const r of resources) {
    if (r.resourceType === 'Patient') continue;
    const ids = new Set(referencesOf(r).flatMap((ref) => /^Patient\/([^/]+)$/.exec(ref)?.[1] ?? []));
    if (ids.size === 0) shared.push(r);
    for (const id of ids) own.get(id)?.push(r);
  }
  return patients.map((p) => ({ patientId: p.id, resources: [p, ...(own.get(p.id) ?? []), ...shared] }));
}

export interface OrderOptions {
  /** CPT of the order: replaces the code of draft lumbar MRI orders found, or is the one built. */
  readonly cpt?: LumbarMriCpt;
  /** Date of service (YYYY-MM-DD): written as each order's occurrenceDateTime. */
  readonly date?: string;
}

export interface RequestOptions extends OrderOptions {
  /** Leave the prefetch out and name this FHIR base, so the service reads the record from it. */
  readonly fhirServer?: string;
}

/** Applies `--order` and `--date` to an order (a copy). */
export function withOrderOptions(order: ServiceRequest, opts: OrderOptions): ServiceRequest {
  const out: ServiceRequest = structuredClone(order);
  if (opts.cpt) {
    const others = (out.code?.coding ?? []).filter((c) => !(c && (c.system === CPT || c.system === undefined) && isLumbarMriCpt(String(c.code))));
    out.code = { ...out.code, coding: [{ system: CPT, code: opts.cpt, display: CPT_DISPLAY[opts.cpt] }, ...others], text: CPT_DISPLAY[opts.cpt] };
  }
  if (opts.date) {
    out.occurrenceDateTime = opts.date;
    delete out.occurrencePeriod;
  }
  return out;
}

function searchset(resources: readonly Resource[], included: readonly Resource[] = []): Bundle {
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    total: resources.length,
    entry: [
      ...resources.map((resource) => ({ fullUrl: `${resource.resourceType}/${resource.id}`, resource, search: { mode: 'match' as const } })),
      ...included.map((resource) => ({ fullUrl: `${resource.resourceType}/${resource.id}`, resource, search: { mode: 'include' as const } })),
    ],
  };
}

/**
 * Builds the order-sign request body for one patient.
 * Draft lumbar MRI ServiceRequests in the data are the orders (Synthea writes none, so one is
 * built: CPT `--order`, default 72148); the requester becomes `context.userId`.
 */
export function buildOrderSignRequest(patient: PatientResources, opts: RequestOptions = {}): Record<string, unknown> {
  const isDraft = (r: Resource): r is ServiceRequest =>
    r.resourceType === 'ServiceRequest' && (r as ServiceRequest).status === 'draft' && lumbarMriCode(r as ServiceRequest) !== undefined;
  const drafts = patient.resources.filter(isDraft);
  const record = patient.resources.filter((r) => !isDraft(r));
  const orders: ServiceRequest[] = (drafts.length > 0 ? drafts : [newOrder(patient.patientId, opts.cpt ?? '72148')]).map((o) => withOrderOptions(o, opts));

  const requester = orders.map((o) => o.requester?.reference).find((ref) => ref && /^(Practitioner|PractitionerRole)\/[^/]+$/.test(ref));
  const firstPractitioner = record.find((r) => r.resourceType === 'Practitioner');
  const userId = requester ?? (firstPractitioner ? `Practitioner/${firstPractitioner.id}` : 'Practitioner/unknown');

  const request: Record<string, unknown> = {
    hook: 'order-sign',
    hookInstance: randomUUID(),
    ...(opts.fhirServer ? { fhirServer: opts.fhirServer } : {}),
    context: {
      userId,
      patientId: patient.patientId,
      draftOrders: { resourceType: 'Bundle', type: 'collection', entry: orders.map((resource) => ({ resource })) },
    },
  };
  if (!opts.fhirServer) request.prefetch = prefetchFor(patient.patientId, record, userId);
  return request;
}

/** Each PREFETCH key filled as the EHR would answer its query from this data. */
function prefetchFor(patientId: string, record: readonly Resource[], userId: string): Record<string, Resource | null> {
  const prefetch: Record<string, Resource | null> = {};
  const ofType = (type: string) => record.filter((r) => r.resourceType === type);
  for (const key of Object.keys(PREFETCH)) {
    const types = PREFETCH_TYPES[key];
    if (key === 'patient') {
      prefetch.patient = record.find((r) => r.resourceType === 'Patient' && r.id === patientId) ?? null;
    } else if (key === 'coverage') {
      const active = (ofType('Coverage') as Coverage[]).filter((c) => c.status === 'active');
      // The payor Organizations travel with the coverage search, as `_include=Coverage:payor` brings them.
      const payors = new Set(active.flatMap((c) => (c.payor ?? []).map((p) => p.reference)));
      prefetch.coverage = searchset(active, ofType('Organization').filter((o) => payors.has(`Organization/${o.id}`)));
    } else if (key === 'practitionerRoles') {
      const roles = (ofType('PractitionerRole') as PractitionerRole[]).filter(
        (r) => userId === `PractitionerRole/${r.id}` || r.practitioner?.reference === userId,
      );
      prefetch.practitionerRoles = searchset(roles);
    } else {
      prefetch[key] = searchset(types.flatMap(ofType));
    }
  }
  return prefetch;
}

function newOrder(patientId: string, cpt: LumbarMriCpt): ServiceRequest {
  return {
    resourceType: 'ServiceRequest',
    id: `draft-lumbar-mri-${cpt}`,
    status: 'draft',
    intent: 'original-order',
    category: [{ coding: [{ system: 'http://snomed.info/sct', code: '363679005', display: 'Imaging' }] }],
    code: { coding: [{ system: CPT, code: cpt, display: CPT_DISPLAY[cpt] }], text: CPT_DISPLAY[cpt] },
    subject: { reference: `Patient/${patientId}` },
  };
}
