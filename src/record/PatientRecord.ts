import type { Patient, Resource } from 'fhir/r4.js';
import { canonicalSystem, type Coding, type ValueSetIndex } from '../terminology/valueSets.js';

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

/**
 * Where each resource type carries the codes that value sets are matched against: one
 * CodeableConcept, or a list of them (a single concept sent where the spec has a list is read too).
 * Read by a function per type, not by element name: each reads one type's few shapes.
 */
interface CodeElement {
  readonly read: (r: CodedResource) => unknown;
  readonly list: boolean;
}
type CodedResource = Readonly<Record<string, unknown>>;
const one = (read: (r: CodedResource) => unknown): CodeElement => ({ read, list: false });
const many = (read: (r: CodedResource) => unknown): CodeElement => ({ read, list: true });

const CODE_ELEMENTS: Readonly<Record<string, readonly CodeElement[]>> = {
  Condition: [one((r) => r.code)],
  Observation: [one((r) => r.code)],
  Procedure: [one((r) => r.code)],
  MedicationRequest: [one((r) => r.medicationCodeableConcept)],
  MedicationStatement: [one((r) => r.medicationCodeableConcept)],
  ImagingStudy: [many((r) => r.procedureCode)],
  DiagnosticReport: [one((r) => r.code)],
  ServiceRequest: [one((r) => r.code)],
  Device: [one((r) => r.type)],
  PractitionerRole: [many((r) => r.specialty), many((r) => r.code)],
  Encounter: [many((r) => r.type)],
  Coverage: [one((r) => r.type)],
  Medication: [one((r) => r.code)],
};

/**
 * A patient's record for one request, indexed once: by type, by `Type/id`, and lazily by
 * value set (each coding's memberships are looked up once, then every fact reads the index).
 */
export class PatientRecord implements RecordSource {
  private readonly byType = new Map<string, Resource[]>();
  /** By type, then id: no `Type/id` string is built per resource (the record is indexed on every request). */
  private readonly byTypeAndId = new Map<string, Map<string, Resource>>();
  /**
   * Resources whose type or id holds a "/", by `Type/id`: only two such can share a reference (`A/B`
   * + `c`, `A` + `B/c`), and a reference with two slashes or more can only be theirs.
   */
  private readonly bySlashedRef = new Map<string, Resource>();
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
      if (!r || typeof r !== 'object') continue;
      const type: unknown = r.resourceType;
      if (typeof type !== 'string') continue;
      // The same resource from two prefetch keys (the same `Type/id`) is read once.
      const id: unknown = r.id;
      if (id && !this.register(type, typeof id === 'string' ? id : String(id), r)) continue;
      const list = this.byType.get(type);
      if (list) list.push(r);
      else this.byType.set(type, [r]);
    }
  }

  /** Indexes `r` by its reference; false when a resource with that reference is there already. */
  private register(type: string, id: string, r: Resource): boolean {
    if (type.includes('/') || id.includes('/')) {
      const reference = `${type}/${id}`;
      if (this.bySlashedRef.has(reference)) return false;
      this.bySlashedRef.set(reference, r);
      return true;
    }
    let ids = this.byTypeAndId.get(type);
    if (!ids) this.byTypeAndId.set(type, (ids = new Map()));
    if (ids.has(id)) return false;
    ids.set(id, r);
    return true;
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
    return (this.byType.get(type) ?? NO_RESOURCES) as T[];
  }

  resolve<T extends Resource = Resource>(reference: string | undefined): T | undefined {
    if (!reference) return undefined;
    const direct = typeof reference === 'string' ? this.byReference(reference) : undefined;
    if (direct) return direct as T;
    // Absolute references (`https://ehr/fhir/Condition/1`) and versioned ones (`…/_history/2`).
    const m = /([A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/.exec(reference);
    return m ? (this.byTypeAndId.get(m[1])?.get(m[2]) as T | undefined) : undefined;
  }

  /** The resource whose `Type/id` is exactly `reference`. */
  private byReference(reference: string): Resource | undefined {
    const slash = reference.indexOf('/');
    if (slash < 0) return undefined;
    if (reference.indexOf('/', slash + 1) >= 0) return this.bySlashedRef.get(reference);
    return this.byTypeAndId.get(reference.slice(0, slash))?.get(reference.slice(slash + 1));
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
    return (this.indexOf(type).get(valueSetId) ?? NO_RESOURCES) as T[];
  }

  private indexOf(type: string): Map<string, Resource[]> {
    let index = this.byValueSet.get(type);
    if (index) return index;
    index = new Map();
    const elements = CODE_ELEMENTS[type] ?? [];
    for (const r of this.ofType(type)) {
      for (const { read, list } of elements) {
        const value = read(r as unknown as CodedResource);
        if (list && Array.isArray(value)) for (const concept of value as unknown[]) this.indexConcept(index, r, concept);
        else this.indexConcept(index, r, value);
      }
    }
    this.byValueSet.set(type, index);
    return index;
  }

  /** Files `r` under every value set a coding of `concept` belongs to, once per set. */
  private indexConcept(index: Map<string, Resource[]>, r: Resource, concept: unknown): void {
    // The loose shapes codingsOf tolerates: anything but an object with a list of codings has none.
    const codings: unknown = typeof concept === 'object' && concept !== null ? (concept as { coding?: unknown }).coding : undefined;
    if (!Array.isArray(codings)) return;
    for (const coding of codings as unknown[]) {
      if (!coding || typeof coding !== 'object') continue;
      const c = coding as Coding;
      file(index, r, this.valueSets.memberships(c));
      if (this.learnt.size) file(index, r, this.learnt.get(`${canonicalSystem(c.system)}|${c.code}`) ?? []);
    }
  }
}

/**
 * What a type or value set without resources reads as: one list, shared, never to be changed (not
 * frozen: loops over both frozen and plain arrays lose V8's fast path and allocate per element).
 */
const NO_RESOURCES: readonly Resource[] = [];

/**
 * Adds `r` to each set's list unless already there: resources are filed one after another, so
 * one already filed under a set is that list's last.
 */
function file(index: Map<string, Resource[]>, r: Resource, valueSets: readonly string[]): void {
  for (const vs of valueSets) {
    const list = index.get(vs);
    if (!list) index.set(vs, [r]);
    else if (list[list.length - 1] !== r) list.push(r);
  }
}
