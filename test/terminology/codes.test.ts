/**
 * Terminology on real data: every code public Synthea data sends is walked through the value sets
 * and lands in the concept it means (fixtures/synthea/codes.tsv, reviewed by hand); the codes of
 * terminology.md map to their concepts; drug classes and diagnoses never land in unrelated sets.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadLibrary } from '../../src/library/library.js';
import { SYSTEMS, valueSetOid } from '../../src/terminology/valueSets.js';

const ROOT = join(import.meta.dirname, '..', '..');
const library = loadLibrary();
const SYSTEM: Record<string, string> = { snomed: SYSTEMS.snomed, rxnorm: SYSTEMS.rxnorm, loinc: SYSTEMS.loinc, icd10: SYSTEMS.icd10cm, cpt: SYSTEMS.cpt, sopt: SYSTEMS.sopt };
const sets = (system: string, code: string): string[] => [...new Set(library.valueSets.memberships({ system: SYSTEM[system] ?? system, code }))].sort();

interface Row {
  readonly system: string;
  readonly code: string;
  readonly display: string;
  readonly type: string;
  readonly expected: readonly string[];
}
const rows: Row[] = readFileSync(join(ROOT, 'fixtures', 'synthea', 'codes.tsv'), 'utf8')
  .split('\n')
  .filter((l) => l && !l.startsWith('#'))
  .map((l) => {
    const [system, code, display, type, , expected] = l.split('\t');
    return { system, code, display, type, expected: expected ? expected.split(',') : [] };
  });

/** Value sets of drugs; every other set holds diagnoses, procedures, observations, roles or payers. */
const DRUG_SETS = new Set(['conservative-medication', 'glucocorticoids', 'immunosuppressive-drugs', 'biologic-therapy']);

describe('codes of public Synthea data (smart-on-fhir/generated-sample-data, sample-bulk-fhir-datasets)', () => {
  it('has the walked code list', () => {
    expect(rows.length).toBeGreaterThan(300);
  });

  it.each(rows.map((r) => [`${r.type} ${r.system} ${r.code} ${r.display}`, r] as const))('%s -> its concept', (_, r) => {
    expect(sets(r.system, r.code)).toEqual([...r.expected].sort());
  });

  it('medications land only in drug value sets, and diagnoses never in one', () => {
    for (const r of rows) {
      const found = sets(r.system, r.code);
      if (r.system === 'rxnorm') expect({ code: r.code, sets: found.filter((s) => !DRUG_SETS.has(s)) }).toEqual({ code: r.code, sets: [] });
      else expect({ code: r.code, sets: found.filter((s) => DRUG_SETS.has(s)) }).toEqual({ code: r.code, sets: [] });
    }
  });

  it('no statin is a steroid or immunosuppression (RxNorm 316672 is simvastatin), no topical or inhaled steroid is systemic', () => {
    const statins = rows.filter((r) => /vastatin|vistatin/i.test(r.display));
    expect(statins.map((r) => r.code)).toContain('316672');
    for (const r of statins) expect(sets(r.system, r.code)).toEqual([]);
    for (const r of rows.filter((x) => /topical|inhal|metered dose/i.test(x.display))) expect(sets(r.system, r.code)).not.toContain('glucocorticoids');
  });
});

/** Codes named in terminology.md (and its "Corrections found on real data"), with the concept each means. */
const TERMINOLOGY: readonly [string, string, readonly string[], readonly string[]][] = [
  // [system, code, value sets it must be in, value sets it must not be in]
  ['icd10', 'M54.50', ['low-back-pain'], ['degenerative-spine']],
  ['icd10', 'M5450', ['low-back-pain'], []],
  ['icd10', 'M54.5', ['low-back-pain'], []],
  ['snomed', '278860009', ['chronic-low-back-pain', 'low-back-pain'], []],
  ['icd10', 'G83.4', ['cauda-equina', 'spine-red-flag'], []],
  ['snomed', '192970008', ['cauda-equina'], []],
  ['icd10', 'C18.7', ['cancer'], []],
  ['icd10', 'C187', ['cancer'], []],
  ['icd10', 'C79.51', ['cancer'], []],
  ['icd10', 'Z85.3', ['cancer'], []],
  ['snomed', '254837009', ['cancer'], []],
  ['snomed', '314994000', ['cancer'], []],
  ['snomed', '162573006', ['cancer'], []],
  ['icd10', 'R53.1', [], ['motor-weakness', 'neurologic-deficit']],
  ['icd10', 'M62.81', ['motor-weakness', 'neurologic-deficit'], []],
  ['icd10', 'A41.9', ['bacteremia', 'bacterial-infection'], []],
  ['icd10', 'N39.0', ['bacterial-infection'], []],
  ['icd10', 'J15.9', ['bacterial-infection'], []],
  ['icd10', 'L03.115', ['bacterial-infection'], []],
  ['icd10', 'Z79.52', ['immunosuppression', 'immune-suppression-disorder'], []],
  ['icd10', 'E11.9', ['immunosuppression'], ['immune-suppression-disorder']],
  ['icd10', 'Z94.0', ['immunosuppression', 'immune-suppression-disorder'], []],
  ['rxnorm', '42316', ['immunosuppressive-drugs'], ['glucocorticoids']],
  ['rxnorm', '312617', ['glucocorticoids'], []],
  ['rxnorm', '316672', [], ['glucocorticoids', 'immunosuppressive-drugs']],
  ['rxnorm', '105585', ['immunosuppressive-drugs'], ['conservative-medication']],
  ['icd10', 'M80.08XA', ['osteoporosis', 'vertebral-fracture'], []],
  ['icd10', 'S32.000A', ['vertebral-fracture', 'major-trauma', 'spine-red-flag'], ['acute-fracture']],
  ['icd10', 'S72.001A', ['acute-fracture'], ['vertebral-fracture']],
  ['icd10', 'M46.26', ['spine-infection', 'spine-red-flag'], []],
  ['icd10', 'M48.062', ['neurogenic-claudication', 'spinal-stenosis', 'low-back-pain'], ['degenerative-spine']],
  ['icd10', 'M48.061', ['spinal-stenosis', 'degenerative-spine'], []],
  ['icd10', 'M51.36', ['degenerative-disc', 'degenerative-spine'], []],
  ['icd10', 'M51.16', ['radiculopathy', 'disc-with-radiculopathy', 'low-back-pain'], ['degenerative-spine']],
  ['icd10', 'M45.6', ['ankylosing-spondylitis'], []],
  ['cpt', '97161', ['physical-therapy', 'physical-therapy-evaluation'], []],
  ['snomed', '229064008', ['physical-therapy'], ['physical-therapy-evaluation']],
  ['cpt', '72148', ['lumbar-mri', 'advanced-lumbar-imaging'], []],
  ['sopt', '111', ['sopt-medicare', 'sopt-medicare-managed-care'], []],
  ['sopt', '121', ['sopt-medicare'], ['sopt-medicare-managed-care']],
];

describe('codes of terminology.md', () => {
  it.each(TERMINOLOGY.map((t) => [`${t[0]} ${t[1]}`, t] as const))('%s maps to its concept', (_, [system, code, inSets, notIn]) => {
    const found = sets(system, code);
    for (const s of inSets) expect(found).toContain(s);
    for (const s of notIn) expect(found).not.toContain(s);
  });

  it('an ICD-10-CM category covers its subcodes, with or without the dot; a subcode does not cover its parent', () => {
    expect(sets('icd10', 'M80.08XA')).toEqual(sets('icd10', 'M8008XA'));
    expect(sets('icd10', 'M48.062')).toContain('neurogenic-claudication');
    expect(sets('icd10', 'M48.06')).not.toContain('neurogenic-claudication');
  });
});

describe('memberships looked up again', () => {
  it('are the same, by alias or canonical system, after many other codes (the memo is bounded and starts over)', () => {
    const index = loadLibrary().valueSets;
    const lumbar = { system: SYSTEMS.cpt, code: '72148' };
    const first = [...index.memberships(lumbar)];
    expect(first).toContain('lumbar-mri');
    let junk = 0;
    for (let i = 0; i < 50_000; i++) junk += index.memberships({ system: SYSTEMS.loinc, code: `junk-${i}` }).length;
    expect(junk).toBe(0);
    expect(index.memberships(lumbar)).toEqual(first);
    expect(index.memberships({ system: 'urn:oid:2.16.840.1.113883.6.12', code: '72148' })).toEqual(first);
    expect(index.memberships({ system: SYSTEMS.icd10cm, code: 'x'.repeat(500) })).toEqual([]);
    expect(index.memberships({ system: SYSTEMS.cpt, code: '' })).toEqual([]);
  });
});

describe('value sets are FHIR ValueSets with their source', () => {
  const resources = library.valueSets.resources;

  it('one resource per value set the facts read', () => {
    expect(resources.map((r) => r.id).sort()).toEqual(Object.keys(library.valueSets.definitions).sort());
  });

  it.each(resources.map((r) => [r.id, r] as const))('%s names where its codes come from', (_, vs) => {
    const oid = valueSetOid(vs);
    if (oid) expect(vs.description).toContain(oid);
    else expect(vs.description).toMatch(/^Hand list: .{20,}/);
  });
});
