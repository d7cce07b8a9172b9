import { randomUUID } from 'node:crypto';
import type { ValueSet, ValueSetComposeInclude } from 'fhir/r4.js';
import { canonicalSystem, type ValueSetIndex } from '../terminology/valueSets.js';

/** DTR: value sets with expansions under 40 entries SHALL be expanded in the package. */
export const EXPANSION_LIMIT = 40;

export function valueSetUrl(publicBaseUrl: string, id: string): string {
  return `${publicBaseUrl}/fhir/ValueSet/${id}`;
}

/**
 * One of the policies' value sets as a FHIR ValueSet: the exact codes as concepts, and each code
 * prefix (ICD-10-CM `M54.5` for every M54.5x code) as an `is-a` filter, which is what the service
 * matches. Codes come from `cds-services/common/valuesets/`, the data the hook decides with.
 */
export function fhirValueSet(index: ValueSetIndex, id: string, publicBaseUrl: string, version: string): ValueSet | undefined {
  if (!index.has(id)) return undefined;
  const def = index.definitions[id];
  const include: ValueSetComposeInclude[] = def.include.map((inc) => ({
    system: canonicalSystem(inc.system),
    ...(inc.codes.length ? { concept: inc.codes.map((code) => ({ code, ...(inc.displays?.[code] ? { display: inc.displays[code] } : {}) })) } : {}),
    ...(inc.prefixes.length ? { filter: inc.prefixes.map((value) => ({ property: 'concept', op: 'is-a' as const, value })) } : {}),
  }));
  return {
    resourceType: 'ValueSet',
    id,
    url: valueSetUrl(publicBaseUrl, id),
    version,
    name: id.split('-').map((w) => w[0].toUpperCase() + w.slice(1)).join(''),
    title: def.title,
    status: 'active',
    ...(def.source ? { description: `Codes from ${def.source}.` } : {}),
    compose: { include },
  };
}

/**
 * The expansion of an extensional value set (exact codes only). A value set with prefixes is
 * intensional over ICD-10-CM, whose code list this service does not hold: it cannot be expanded.
 */
export function expand(vs: ValueSet, now: Date): { expanded: ValueSet } | { reason: string } {
  const include = vs.compose?.include ?? [];
  if (include.some((i) => (i.filter?.length ?? 0) > 0)) {
    return { reason: `ValueSet ${vs.id} includes codes by hierarchy (is-a filters over ${include.filter((i) => i.filter?.length).map((i) => i.system).join(', ')}), which this service cannot enumerate` };
  }
  const contains = include.flatMap((i) => (i.concept ?? []).map((c) => ({ system: i.system, code: c.code, ...(c.display ? { display: c.display } : {}) })));
  return {
    expanded: { ...vs, expansion: { identifier: `urn:uuid:${randomUUID()}`, timestamp: now.toISOString(), total: contains.length, contains } },
  };
}

/** For the package: expanded when it can be and has fewer than 40 codes, else as defined. */
export function packagedValueSet(vs: ValueSet, now: Date): ValueSet {
  const r = expand(vs, now);
  return 'expanded' in r && (r.expanded.expansion?.total ?? 0) < EXPANSION_LIMIT ? r.expanded : vs;
}
