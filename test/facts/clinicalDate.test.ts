/**
 * A resource's clinical date is read as plain properties when the data has the plain shape, else by
 * its FHIRPath expression: either way the date is the one FHIRPath yields, whatever the shape.
 */
import fc from 'fast-check';
import fhirpath from 'fhirpath';
import type { Resource } from 'fhir/r4.js';
import { describe, expect, it } from 'vitest';
import { clinicalDate, DATE_EXPRESSIONS } from '../../src/facts/paths.js';
import { toDay } from '../../src/fhir/dates.js';

/** The first day the expression yields, by FHIRPath alone. */
function byFhirPath(r: Record<string, unknown>): string | undefined {
  try {
    for (const v of fhirpath.evaluate(r, DATE_EXPRESSIONS[r.resourceType as string], undefined, undefined, { async: false })) {
      const d = toDay(v);
      if (d) return d;
    }
  } catch {
    return undefined;
  }
  return undefined;
}

const SHAPES: Record<string, unknown>[] = [
  { resourceType: 'Condition', onsetDateTime: '2024-05-06T10:00:00Z', recordedDate: '2024-05-07' },
  { resourceType: 'Condition', onsetDateTime: 'not a date', onsetPeriod: { start: '2024-05' }, recordedDate: '2024-05-07' },
  { resourceType: 'Condition', recordedDate: '2024' },
  { resourceType: 'Condition', onsetDateTime: 20240506, recordedDate: '2024-05-07' },
  { resourceType: 'Condition', onsetDateTime: ['2023-01-01', '2024-01-01'] },
  { resourceType: 'Condition', onsetDateTime: null, recordedDate: '2024-05-07' },
  { resourceType: 'Condition', onsetPeriod: [{ start: 'x' }, { start: '2022-02-02' }] },
  { resourceType: 'Condition', onsetPeriod: 'a string', recordedDate: '2024-05-07' },
  // Primitive extensions: FHIRPath reads `_element` beside the element, and an element's children in it.
  { resourceType: 'Encounter', _period: { start: '2018-01-01' } },
  { resourceType: 'Condition', _onsetDateTime: { extension: [] }, recordedDate: '2024-05-07' },
  { resourceType: 'Condition', onsetDateTime: '2024-01-01', _onsetDateTime: [{ id: 'a' }, null] },
  // An element that says it is a resource of the next step's name is that step.
  { resourceType: 'Procedure', performedPeriod: { resourceType: 'start', start: '2023-05-06' } },
  { resourceType: 'MedicationRequest', dispenseRequest: { validityPeriod: { start: '2024-02-30' } }, authoredOn: '2024-02-28' },
  { resourceType: 'MedicationRequest', dispenseRequest: { validityPeriod: { start: '2024-02-03' } } },
  { resourceType: 'Observation', effectiveInstant: '2024-03-04T05:06:07.000Z', issued: '2024-03-05' },
  { resourceType: 'Observation', effectivePeriod: {}, issued: '2024-03-05T00:00:00Z' },
  { resourceType: 'ImagingStudy', started: ' 2024-03-04' },
  { resourceType: 'QuestionnaireResponse', authored: { value: '2024-01-01' } },
  { resourceType: 'Patient', birthDate: '1960-01-01' },
  // Repeats across and within the union's members (the union drops them; the first date is the same).
  { resourceType: 'Condition', onsetDateTime: ['x', 'x', '2023-01-01'], onsetPeriod: [{ start: '2023-01-01' }, { start: '2022-01-01' }], recordedDate: '2023-01-01' },
  { resourceType: 'Observation', effectiveDateTime: [{ a: 1 }, { a: 1 }], effectivePeriod: { start: [{ a: 1 }] }, issued: ['2024-01-01', '2024-01-01'] },
];

describe('clinicalDate', () => {
  it('is the date FHIRPath yields, for plain and odd shapes alike', () => {
    for (const shape of SHAPES) {
      const r = structuredClone(shape);
      expect([shape, clinicalDate(r as unknown as Resource)]).toEqual([shape, byFhirPath(structuredClone(shape))]);
    }
  });

  it('agrees with the FHIRPath union on generated values of the date elements', () => {
    const value = fc.oneof(
      fc.constantFrom('2024-05-06', '2023-01', '2022', '2024-02-30', '2024-05-06T10:00:00Z', 'not a date', ''),
      fc.jsonValue({ maxDepth: 3 }),
    );
    const element = fc.oneof(value, fc.array(value, { maxLength: 4 }), fc.record({ start: value }, { requiredKeys: [] }), fc.array(fc.record({ start: value }, { requiredKeys: [] }), { maxLength: 3 }));
    const condition = fc.record({ onsetDateTime: element, onsetPeriod: element, recordedDate: element, _onsetDateTime: element }, { requiredKeys: [] });
    fc.assert(
      fc.property(condition, (fields) => {
        const shape = { resourceType: 'Condition', ...fields };
        expect(clinicalDate(structuredClone(shape) as unknown as Resource)).toEqual(byFhirPath(structuredClone(shape)));
      }),
      { numRuns: 1000 },
    );
  });

  it('reads a date element sent as a list of thousands in linear time (the union compared every pair: minutes)', () => {
    const onsetDateTime = Array.from({ length: 20_000 }, (_, i) => ({ id: `x${i}` }));
    expect(clinicalDate({ resourceType: 'Condition', onsetDateTime, recordedDate: '2024-05-07' } as unknown as Resource)).toBe('2024-05-07');
  });

  it('takes the first date of the expression, in its order', () => {
    expect(clinicalDate({ resourceType: 'Condition', onsetPeriod: { start: '2024-05-01' }, recordedDate: '2024-05-07' } as Resource)).toBe('2024-05-01');
    expect(clinicalDate({ resourceType: 'Encounter', period: { start: '2024-05-01T08:00:00-07:00' } } as Resource)).toBe('2024-05-01');
  });
});
