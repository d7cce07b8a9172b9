/**
 * References between resources, for loading fixtures into a FHIR server that refuses dangling
 * references (HAPI's default). Fixture requests name the ordering clinician's PractitionerRole, whose
 * Practitioner the EHR never sent in the prefetch; the loader adds that Practitioner, as a
 * placeholder, so what it sends is self-consistent.
 */
import type { Practitioner } from '@medplum/fhirtypes';
import type { Resource } from './fhirTypes.js';

/** Every literal `Type/id` reference inside a resource (contained `#` and `urn:` ones aside). */
export function referencesOf(resource: unknown): string[] {
  const out: string[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (k === 'reference' && typeof x === 'string') {
          if (/^[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}$/.test(x)) out.push(x);
        } else walk(x);
      }
    }
  };
  walk(resource);
  return out;
}

/**
 * The resources plus a placeholder for each referenced Practitioner that neither they nor `known`
 * (what the server already holds) contain. Other dangling references are left for the server to refuse.
 */
export function withReferencedPractitioners(resources: readonly Resource[], known: ReadonlySet<string> = new Set()): Resource[] {
  const present = new Set(resources.map((r) => `${r.resourceType}/${r.id}`));
  const added: Resource[] = [];
  for (const r of resources) {
    for (const ref of referencesOf(r)) {
      const [type, id] = ref.split('/');
      if (type !== 'Practitioner' || !id || present.has(ref) || known.has(ref)) continue;
      present.add(ref);
      const placeholder: Practitioner = {
        resourceType: 'Practitioner',
        id,
        active: true,
        meta: { tag: [{ system: 'http://lumbar-mri-cds.org/fhir/CodeSystem/loader', code: 'placeholder', display: 'Referenced by the fixture; added by the loader' }] },
      };
      added.push(placeholder);
    }
  }
  return [...added, ...resources];
}
