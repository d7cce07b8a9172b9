import type { Patient, Resource } from 'fhir/r4.js';
import { codingsOf } from '../fhir/codings.js';
import { canonicalSystem, type ValueSetIndex } from '../terminology/valueSets.js';

/** The record's view for facts: resources by type, by reference, and by value set. */
export interface RecordSource {
  readonly patientId: string;
  readonly patient: Patient | undefined;
  ofType<T extends Resource = Resource>(type: string): readonly T[];
  inValueSet<T extends Resource = Resource>(type: string, valueSetId: string): readonly T[];
  resolve<T extends Resource = Resource>(reference: string | undefined): T | undefined;
  /** Resource types that could not be read (prefetch missing and FHIR server failed). */
  readonly unavailable: ReadonlySet<string>;
}

/** Where each resource type carries the codes that value sets are matched against. */
const CODE_ELEMENTS: Record<string, (r: Record<string, unknown>) => unknown[]> = {
  Condition: (r) => [r.code],
  Observation: (r) => [r.code],
  Procedure: (r) => [r.code],
  MedicationRequest: (r) => [r.medicationCodeableConcept],
  MedicationStatement: (r) => [r.medicationCodeableConcept],
  ImagingStudy: (r) => [...asArray(r.procedureCode)],
  DiagnosticReport: (r) => [r.code],
  ServiceRequest: (r) => [r.code],
  Device: (r) => [r.type],
  PractitionerRole: (r) => [...asArray(r.specialty), ...asArray(r.code)],
  Encounter: (r) => [...asArray(r.type)],
  Coverage: (r) => [r.type],
  Medication: (r) => [r.code],
};

/**
 * A patient's record for one request, indexed once: by type, by `Type/id`, and lazily by
 * value set (each coding's memberships are looked up once, then every fact reads the index).
 */
export class PatientRecord implements RecordSource {
  private readonly byType = new Map<string, Resource[]>();
  private readonly byRef = new Map<string, Resource>();
  private readonly byValueSet = new Map<string, Map<string, Resource[]>>();
  /** Memberships a terminology server confirmed for codes the local value sets do not list (`system|code`). */
  private readonly learnt = new Map<string, string[]>();

  constructor(
    readonly patientId: string,
    resources: readonly Resource[],
    private readonly valueSets: ValueSetIndex,
    readonly unavailable: ReadonlySet<string> = new Set(),
  ) {
    for (const r of resources) {
      if (!r || typeof r !== 'object' || typeof r.resourceType !== 'string') continue;
      const key = r.id ? `${r.resourceType}/${r.id}` : undefined;
      if (key && this.byRef.has(key)) continue; // the same resource from two prefetch keys
      if (key) this.byRef.set(key, r);
      const list = this.byType.get(r.resourceType);
      if (list) list.push(r);
      else this.byType.set(r.resourceType, [r]);
    }
  }

  get patient(): Patient | undefined {
    return (this.resolve<Patient>(`Patient/${this.patientId}`) ?? this.ofType<Patient>('Patient')[0]) as
      | Patient
      | undefined;
  }

  get size(): number {
    let n = 0;
    for (const list of this.byType.values()) n += list.length;
    return n;
  }

  ofType<T extends Resource = Resource>(type: string): readonly T[] {
    return (this.byType.get(type) ?? []) as T[];
  }

  resolve<T extends Resource = Resource>(reference: string | undefined): T | undefined {
    if (!reference) return undefined;
    const direct = this.byRef.get(reference);
    if (direct) return direct as T;
    // Absolute references (`https://ehr/fhir/Condition/1`) and versioned ones (`…/_history/2`).
    const m = /([A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/.exec(reference);
    return m ? (this.byRef.get(`${m[1]}/${m[2]}`) as T | undefined) : undefined;
  }

  /** A membership confirmed elsewhere (a terminology server's `$validate-code`): indexes are rebuilt. */
  learnMembership(coding: { readonly system: string; readonly code: string }, valueSetId: string): void {
    const key = `${coding.system}|${coding.code}`;
    const list = this.learnt.get(key) ?? [];
    if (!list.includes(valueSetId)) list.push(valueSetId);
    this.learnt.set(key, list);
    this.byValueSet.clear();
  }

  inValueSet<T extends Resource = Resource>(type: string, valueSetId: string): readonly T[] {
    return (this.indexOf(type).get(valueSetId) ?? []) as T[];
  }

  private indexOf(type: string): Map<string, Resource[]> {
    let index = this.byValueSet.get(type);
    if (index) return index;
    index = new Map();
    const extract = CODE_ELEMENTS[type];
    for (const r of this.ofType(type)) {
      const seen = new Set<string>();
      for (const coding of extract ? codingsOf(extract(r as unknown as Record<string, unknown>)) : []) {
        const learnt = this.learnt.size ? (this.learnt.get(`${canonicalSystem(coding.system)}|${coding.code}`) ?? []) : [];
        for (const vs of [...this.valueSets.memberships(coding), ...learnt]) {
          if (seen.has(vs)) continue;
          seen.add(vs);
          const list = index.get(vs);
          if (list) list.push(r);
          else index.set(vs, [r]);
        }
      }
    }
    this.byValueSet.set(type, index);
    return index;
  }
}

function asArray(v: unknown): unknown[] {
  return Array.isArray(v) ? v : v === undefined ? [] : [v];
}

