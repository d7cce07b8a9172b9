/**
 * Indexes that let the test server answer at Synthea scale (hundreds of patients, hundreds of
 * thousands of resources) without medplum's MemoryRepository full scans, which evaluate FHIRPath
 * over every resource of the type for every search.
 *
 * - By patient: every reference search parameter of a type that may name a Patient (`patient`,
 *   `subject`, `beneficiary`, `performer`, ...) files the resource under each `Patient/<id>` it
 *   holds, so `Observation?patient=`, `Observation?subject=` and `Coverage?beneficiary=` read one
 *   patient's resources. `patient` is the costly one to evaluate: its expression is one union over
 *   31 resource types (`Observation.subject.where(resolve() is Patient) | ...`); only the type's own
 *   branch is read here, as a plain element walk when the path has no choice type.
 * - By identifier: `Type?identifier=system|value`, the conditional references Synthea writes for
 *   shared Practitioners and Organizations, resolved at load without a search.
 */
import { evalFhirPathTyped, getElementDefinition, getSearchParameters, Operator, parseFhirPath, toTypedValue } from '@medplum/core';
import type { Filter, SearchRequest } from '@medplum/core';
import type { Resource } from './fhirTypes.js';
import { isJsonObject } from './normalize.js';

/** The references a resource holds for one search parameter. */
type Reader = (resource: Resource) => string[];

const PATIENT_REFERENCE = /^Patient\/[A-Za-z0-9\-.]{1,64}$/;

/** Per type: the search parameters that can name a Patient, with how to read each. */
const patientParams = new Map<string, ReadonlyMap<string, Reader>>();

function patientParamsOf(resourceType: string): ReadonlyMap<string, Reader> {
  let params = patientParams.get(resourceType);
  if (!params) {
    const readers = new Map<string, Reader>();
    for (const [code, definition] of Object.entries(getSearchParameters(resourceType) ?? {})) {
      if (definition.type !== 'reference' || !(definition.target ?? []).includes('Patient') || !definition.expression) continue;
      const branches = definition.expression
        .split('|')
        .map((b) => b.trim())
        .filter((b) => b.startsWith(`${resourceType}.`) || b.startsWith(`(${resourceType}.`));
      if (branches.length === 0) continue;
      const read = branches.map((b) => elementWalk(resourceType, b) ?? fhirPathReader(b));
      readers.set(code, (resource) => read.flatMap((r) => r(resource)));
    }
    patientParams.set(resourceType, (params = readers));
  }
  return params;
}

/**
 * `Type.a.b` or `Type.a.b.where(resolve() is Patient)` read without FHIRPath, when every step is a
 * single-typed element ending in a Reference (a choice type such as `value[x]` is left to FHIRPath).
 * A `where(resolve() is Group)` branch names no Patient: it reads nothing.
 */
function elementWalk(resourceType: string, branch: string): Reader | undefined {
  const m = new RegExp(`^${resourceType}((?:\\.[a-z][A-Za-z]*)+?)(?:\\.where\\(resolve\\(\\) is ([A-Z][A-Za-z]+)\\))?$`).exec(branch);
  if (!m) return undefined;
  if (m[2] !== undefined && m[2] !== 'Patient') return () => [];
  const path = m[1].slice(1).split('.');
  let typeName = resourceType;
  for (const step of path) {
    const element = getElementDefinition(typeName, step);
    if (!element || element.path.endsWith('[x]') || element.type?.length !== 1) return undefined;
    typeName = element.type[0].code;
  }
  if (typeName !== 'Reference') return undefined;
  return (resource) => {
    let values: unknown[] = [resource];
    for (const step of path) {
      values = values.flatMap((v) => (isJsonObject(v) ? [v[step] ?? []].flat() : []));
    }
    return values.flatMap((v) => (isJsonObject(v) && typeof v.reference === 'string' ? [v.reference] : []));
  };
}

function fhirPathReader(expression: string): Reader {
  const atom = parseFhirPath(expression);
  return (resource) =>
    evalFhirPathTyped(atom, [toTypedValue(resource)]).flatMap(({ value }) =>
      isJsonObject(value) && typeof value.reference === 'string' ? [value.reference] : [],
    );
}

/** Types whose `identifier` search parameter is their top-level `identifier` element. */
function identifierIndexed(resourceType: string): boolean {
  return getSearchParameters(resourceType)?.identifier?.expression === `${resourceType}.identifier`;
}

export class PatientIndex {
  /** `Type|code|Patient/id` and `Type|identifier|system|value` -> ids, in filing order. */
  private readonly byKey = new Map<string, Set<string>>();
  /** Keys each resource is filed under, so an update or a delete can unfile it first. */
  private readonly keysOf = new Map<string, string[]>();
  private stale = false;

  /** Files a stored resource (a new version replaces the old one). */
  add(resource: Resource): void {
    if (this.stale || !resource.id) return;
    this.remove(resource.resourceType, resource.id);
    const keys: string[] = [];
    for (const [code, read] of patientParamsOf(resource.resourceType)) {
      for (const reference of read(resource)) {
        if (PATIENT_REFERENCE.test(reference)) keys.push(`${resource.resourceType}|${code}|${reference}`);
      }
    }
    if (identifierIndexed(resource.resourceType) && 'identifier' in resource) {
      for (const identifier of [resource.identifier ?? []].flat()) {
        // Token search matches system and value without regard to case (as medplum's matcher does).
        if (identifier.system && identifier.value) keys.push(`${resource.resourceType}|identifier|${identifier.system}|${identifier.value}`.toLowerCase());
      }
    }
    for (const key of keys) {
      let ids = this.byKey.get(key);
      if (!ids) this.byKey.set(key, (ids = new Set()));
      ids.add(resource.id);
    }
    this.keysOf.set(`${resource.resourceType}/${resource.id}`, keys);
  }

  /** Unfiles a resource (deleted, or about to be filed again). */
  remove(resourceType: string, id: string): void {
    const self = `${resourceType}/${id}`;
    for (const key of this.keysOf.get(self) ?? []) this.byKey.get(key)?.delete(id);
    this.keysOf.delete(self);
  }

  /** Empty and usable again (the server's data was reset). */
  clear(): void {
    this.byKey.clear();
    this.keysOf.clear();
    this.stale = false;
  }

  /** Writes the server cannot follow (batches through the router) make the index unusable from then on. */
  markStale(): void {
    this.stale = true;
    this.byKey.clear();
    this.keysOf.clear();
  }

  /**
   * The ids a search's Patient-reference filter selects (every value `Patient/<id>`), and the
   * filters left for the caller to apply; undefined when the index cannot answer (the repository does).
   * Sorted searches are left to the repository, whose order they define.
   */
  search(request: SearchRequest): { ids: string[]; rest: Filter[] } | undefined {
    if (this.stale || (request.sortRules?.length ?? 0) > 0) return undefined;
    const params = patientParamsOf(request.resourceType);
    const filters = request.filters ?? [];
    const filter = filters.find(
      (f) => f.operator === Operator.EQUALS && params.has(f.code) && f.value.split(',').every((v) => PATIENT_REFERENCE.test(v)),
    );
    if (!filter) return undefined;
    const ids = new Set<string>();
    for (const reference of filter.value.split(',')) {
      for (const id of this.byKey.get(`${request.resourceType}|${filter.code}|${reference}`) ?? []) ids.add(id);
    }
    return { ids: [...ids], rest: filters.filter((f) => f !== filter) };
  }

  /**
   * The ids a conditional reference `Type?identifier=system|value` names; undefined when it has
   * another form or the type is not indexed by identifier (the repository searches).
   */
  byIdentifier(request: SearchRequest): string[] | undefined {
    const [filter, ...others] = request.filters ?? [];
    if (this.stale || others.length > 0 || filter?.code !== 'identifier' || filter.operator !== Operator.EQUALS) return undefined;
    if (!identifierIndexed(request.resourceType) || !/^[^|,]+\|[^|,]+$/.test(filter.value)) return undefined;
    return [...(this.byKey.get(`${request.resourceType}|identifier|${filter.value}`.toLowerCase()) ?? [])];
  }
}
