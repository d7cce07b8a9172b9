import type { CodeableConcept, Coding } from 'fhir/r4.js';

/** Codings of CodeableConcepts, tolerating the loose shapes real clients send (`coding: [{}]`). */
export function codingsOf(concepts: unknown): Coding[] {
  const out: Coding[] = [];
  // A client may send one CodeableConcept where the spec has a list, or something else entirely.
  for (const c of Array.isArray(concepts) ? (concepts as unknown[]) : [concepts]) {
    const cc = c as CodeableConcept | undefined;
    if (!cc || typeof cc !== 'object' || !Array.isArray(cc.coding)) continue;
    for (const coding of cc.coding) if (coding && typeof coding === 'object') out.push(coding);
  }
  return out;
}

/** Whether a coding of one CodeableConcept passes `test`: `codingsOf([concept]).some(test)`, without building the lists. */
export function conceptHasCoding(concept: unknown, test: (coding: Coding) => boolean): boolean {
  const cc = concept as CodeableConcept | undefined;
  if (!cc || typeof cc !== 'object' || !Array.isArray(cc.coding)) return false;
  for (const coding of cc.coding) if (coding && typeof coding === 'object' && test(coding)) return true;
  return false;
}

/** Whether a coding of the concepts (a list, or one sent where the spec has a list) passes `test`: `codingsOf(concepts).some(test)`. */
export function someCoding(concepts: unknown, test: (coding: Coding) => boolean): boolean {
  if (!Array.isArray(concepts)) return conceptHasCoding(concepts, test);
  for (const concept of concepts as unknown[]) if (conceptHasCoding(concept, test)) return true;
  return false;
}
