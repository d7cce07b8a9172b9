/** The record's index by reference: `Type/id` exactly as it reads, whatever the id looks like. */
import type { Resource } from 'fhir/r4.js';
import { describe, expect, it } from 'vitest';
import { loadLibrary } from '../../src/library/library.js';
import { PatientRecord } from '../../src/record/PatientRecord.js';

const valueSets = loadLibrary().valueSets;
const res = (resourceType: string, id: unknown, n: number): Resource => ({ resourceType, id, n }) as unknown as Resource;

describe('PatientRecord references', () => {
  it('reads the same Type/id once, resolves it directly, absolutely and by version', () => {
    const first = res('Condition', '1', 1);
    const record = new PatientRecord('p1', [first, res('Condition', '1', 2), res('Observation', '1', 3)], valueSets);
    expect(record.ofType('Condition')).toEqual([first]);
    expect(record.resolve('Condition/1')).toBe(first);
    expect(record.resolve('https://ehr.example/fhir/Condition/1')).toBe(first);
    expect(record.resolve('Condition/1/_history/2')).toBe(first);
    expect(record.resolve('Condition/2')).toBeUndefined();
    expect(record.resolve('Condition')).toBeUndefined();
  });

  it('takes an id that is not a string as its text, and a "/" in a type or id as part of the reference', () => {
    const five = res('Condition', 5, 1);
    const slashed = res('A/B', 'c', 2);
    const record = new PatientRecord('p1', [five, res('Condition', '5', 2), slashed, res('A', 'B/c', 3), res('A', 'B', 4)], valueSets);
    expect(record.ofType('Condition')).toEqual([five]);
    expect(record.resolve('Condition/5')).toBe(five);
    // `A/B` + `c` and `A` + `B/c` are one reference: the first is read, the second is the same resource.
    expect(record.resolve('A/B/c')).toBe(slashed);
    expect(record.ofType('A').map((r) => (r as unknown as { n: number }).n)).toEqual([4]);
    expect(record.resolve('A/B')).toBe(record.ofType('A')[0]);
  });
});
