import { generateId, isResourceType } from '@medplum/core';
import { ensureFhirDefinitions } from './definitions.js';
import type { Bundle, BundleEntry, Resource } from './fhirTypes.js';

/** A problem met while collecting resources; collection goes on past it. */
export interface CollectWarning {
  /** Where the input came from (file name, `load()` argument index, ...), when known. */
  readonly source?: string;
  readonly message: string;
}

/** FHIR `id` datatype: https://hl7.org/fhir/R4/datatypes.html#id */
const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;

/**
 * Bundle types whose entries are loaded one by one. A `document` or `message` Bundle is a
 * resource in its own right (it is stored whole), as the spec reads them.
 */
const UNWRAPPED_BUNDLE_TYPES = new Set<string | undefined>([
  undefined, // the CDS Hooks sandbox sends draftOrders as a Bundle without `type`
  'collection',
  'transaction',
  'batch',
  'searchset',
  'transaction-response',
  'batch-response',
  'history',
]);

/** A JSON object (not an array, not null). */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** True for a JSON value that looks like a FHIR resource (has a string `resourceType`). */
export function looksLikeResource(value: unknown): value is Resource {
  return isJsonObject(value) && typeof value.resourceType === 'string';
}

/**
 * Visits every `reference` string in a resource (Reference datatypes, wherever they are nested)
 * and replaces it with what `rewrite` returns, when that is a string. Mutates `node`.
 * @returns how many references were changed.
 */
export function rewriteReferences(node: unknown, rewrite: (reference: string) => string | undefined): number {
  let changed = 0;
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) {
      for (const item of value) {
        visit(item);
      }
      return;
    }
    if (!isJsonObject(value)) {
      return;
    }
    for (const [key, child] of Object.entries(value)) {
      if (key === 'reference' && typeof child === 'string') {
        const next = rewrite(child);
        if (next !== undefined && next !== child) {
          value.reference = next;
          changed++;
        }
      } else if (typeof child === 'object' && child !== null) {
        visit(child);
      }
    }
  };
  visit(node);
  return changed;
}

/**
 * The id a Bundle entry implies for its resource when `resource.id` is absent:
 * `urn:uuid:<id>` / `urn:oid:<id>` (as Synthea writes), `…/<Type>/<id>` absolute URLs,
 * or a `PUT <Type>/<id>` request.
 */
function impliedId(resourceType: string, entry: BundleEntry | undefined): string | undefined {
  const fullUrl = entry?.fullUrl;
  if (fullUrl?.startsWith('urn:uuid:') || fullUrl?.startsWith('urn:oid:')) {
    return fullUrl.slice(fullUrl.indexOf(':', 4) + 1);
  }
  for (const url of [fullUrl, entry?.request?.url]) {
    const match = url ? new RegExp(`(?:^|/)${resourceType}/([^/?#]+)`).exec(url) : null;
    if (match) {
      return match[1];
    }
  }
  return undefined;
}

/**
 * Turns Bundles (collection, transaction, batch, searchset, ...) and bare resources into
 * resources ready to store: every resource gets an id (the given one is kept), and references
 * to `fullUrl`s (`urn:uuid:…` as Synthea writes them) become `Type/id`, so that searches such as
 * `Condition?patient=<id>` match.
 *
 * Add everything first and call {@link ResourceCollector.finish} once: references may point
 * forward, or into another file of the same folder.
 */
export class ResourceCollector {
  private readonly collected: { resource: Resource; source?: string }[] = [];
  readonly warnings: CollectWarning[] = [];

  /**
   * @param fullUrlMap - `fullUrl` to `Type/id`; pass a long-lived map to resolve references
   *   across several loads (the test server keeps one per instance).
   */
  constructor(readonly fullUrlMap: Map<string, string> = new Map()) {
    ensureFhirDefinitions();
  }

  /**
   * Adds a resource, a Bundle, or an array of them.
   * @param input - parsed JSON.
   * @param source - a label for warnings, e.g. the file name.
   * @returns how many resources were added.
   */
  add(input: unknown, source?: string): number {
    if (Array.isArray(input)) {
      return input.reduce<number>((sum, item) => sum + this.add(item, source), 0);
    }
    if (!looksLikeResource(input)) {
      this.warnings.push({ source, message: 'not a FHIR resource (no resourceType)' });
      return 0;
    }
    if (input.resourceType === 'Bundle' && UNWRAPPED_BUNDLE_TYPES.has((input as Bundle).type)) {
      let count = 0;
      for (const entry of (input as Bundle).entry ?? []) {
        // OperationOutcomes that a server adds to a searchset are not data.
        if (!entry.resource || entry.search?.mode === 'outcome') {
          continue;
        }
        count += this.addResource(entry.resource, entry, source);
      }
      return count;
    }
    return this.addResource(input, undefined, source);
  }

  private addResource(input: Resource, entry: BundleEntry | undefined, source: string | undefined): number {
    const { resourceType } = input;
    if (!isResourceType(resourceType)) {
      this.warnings.push({ source, message: `unknown resourceType "${String(resourceType)}", skipped` });
      return 0;
    }
    const resource = structuredClone(input);
    let id = resource.id ?? impliedId(resourceType, entry);
    if (id !== undefined && !FHIR_ID.test(id)) {
      this.warnings.push({ source, message: `invalid id "${id}" on ${resourceType}, a new id was assigned` });
      id = undefined;
    }
    resource.id = id ?? generateId();
    const ref = `${resourceType}/${resource.id}`;
    if (entry?.fullUrl) {
      this.fullUrlMap.set(entry.fullUrl, ref);
    }
    this.collected.push({ resource, source });
    return 1;
  }

  /**
   * Rewrites references to known `fullUrl`s and returns the resources, in the order added.
   * Conditional references (`Practitioner?identifier=…`, as Synthea writes for shared
   * practitioners) are left for the store to resolve, since only it can search.
   */
  finish(): Resource[] {
    for (const { resource, source } of this.collected) {
      rewriteReferences(resource, (reference) => {
        const mapped = this.fullUrlMap.get(reference);
        if (mapped) {
          return mapped;
        }
        if (reference.startsWith('urn:uuid:') || reference.startsWith('urn:oid:')) {
          this.warnings.push({
            source,
            message: `unresolved reference "${reference}" in ${resource.resourceType}/${resource.id}`,
          });
        }
        return undefined;
      });
    }
    return this.collected.map((c) => c.resource);
  }
}
