/**
 * An index of resources by the patient they belong to, so `patient=` and `subject=` searches at
 * Synthea scale (hundreds of patients, hundreds of thousands of resources) read one patient's
 * resources instead of evaluating FHIRPath over every resource of the type, as medplum's
 * MemoryRepository does. Keys are the values of the `patient` and `subject` search parameters
 * as the type defines them, so the index answers exactly what those parameters match.
 */
import { evalFhirPathTyped, getSearchParameters, matchesSearchRequest, Operator, parseFhirPath, toTypedValue } from '@medplum/core';
import type { FhirPathAtom, SearchRequest } from '@medplum/core';
import type { Resource } from './fhirTypes.js';

/** The search parameters indexed: what a CDS service's prefetch and fallback searches use. */
const INDEXED = ['patient', 'subject'] as const;

const keyOf = (resourceType: string, code: string, reference: string): string => `${resourceType}|${code}|${reference}`;

/** Parsed once per expression: parsing, not evaluating, is most of the cost at load. */
const parsed = new Map<string, FhirPathAtom>();

function referencesOf(resource: Resource, expression: string): string[] {
  let atom = parsed.get(expression);
  if (!atom) parsed.set(expression, (atom = parseFhirPath(expression)));
  const out: string[] = [];
  for (const { value: v } of evalFhirPathTyped(atom, [toTypedValue(resource)])) {
    if (typeof v === 'object' && v !== null && 'reference' in v && typeof v.reference === 'string') out.push(v.reference);
  }
  return out;
}

export class ReferenceIndex {
  private readonly byKey = new Map<string, Map<string, Resource>>();
  /** Keys each stored resource is filed under, so an update can unfile it first. */
  private readonly keysOf = new Map<string, string[]>();
  private stale = false;

  /** Files a stored resource (a new version replaces the old one). */
  add(resource: Resource): void {
    if (this.stale || !resource.id) return;
    const self = `${resource.resourceType}/${resource.id}`;
    for (const key of this.keysOf.get(self) ?? []) this.byKey.get(key)?.delete(resource.id);
    const keys: string[] = [];
    const definitions = getSearchParameters(resource.resourceType) ?? {};
    for (const code of INDEXED) {
      const expression = definitions[code]?.expression;
      if (!expression) continue;
      for (const reference of referencesOf(resource, expression)) {
        const key = keyOf(resource.resourceType, code, reference);
        let bucket = this.byKey.get(key);
        if (!bucket) this.byKey.set(key, (bucket = new Map()));
        bucket.set(resource.id, resource);
        keys.push(key);
      }
    }
    this.keysOf.set(self, keys);
  }

  /** Empty and usable again (the server's data was reset). */
  clear(): void {
    this.byKey.clear();
    this.keysOf.clear();
    this.stale = false;
  }

  /** Writes that bypass `add` (PUT, DELETE through the router) make the index unusable from then on. */
  markStale(): void {
    this.stale = true;
    this.byKey.clear();
    this.keysOf.clear();
  }

  /**
   * Every resource matching the search, in load order, when it has a plain `patient` or `subject`
   * filter and no sort; undefined when the index cannot answer (the caller searches the repository).
   */
  search(request: SearchRequest): Resource[] | undefined {
    if (this.stale || (request.sortRules?.length ?? 0) > 0) return undefined;
    const filter = request.filters?.find((f) => (INDEXED as readonly string[]).includes(f.code) && f.operator === Operator.EQUALS);
    if (!filter) return undefined;
    const found = new Map<string, Resource>();
    for (const reference of filter.value.split(',')) {
      for (const [id, r] of this.byKey.get(keyOf(request.resourceType, filter.code, reference)) ?? []) found.set(id, r);
    }
    return [...found.values()].filter((r) => matchesSearchRequest(r, request));
  }
}
