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
