import { describe, expect, it } from 'vitest';
import type { Coding } from 'fhir/r4.js';
import { codingsOf, conceptHasCoding, someCoding } from '../../src/fhir/codings.js';

const SHAPES: unknown[] = [
  undefined,
  null,
  'M54.5',
  [],
  {},
  { coding: {} },
  { coding: [null, 'x', { code: 'a' }, { system: 's', code: 'b' }] },
  [{ coding: [{ code: 'a' }] }, null, { coding: [{ code: 'c' }] }],
  [[{ coding: [{ code: 'a' }] }]],
];

describe('someCoding and conceptHasCoding', () => {
  it('test the codings codingsOf gives, in its order, for every loose shape', () => {
    for (const shape of SHAPES) {
      for (const code of ['a', 'b', 'c', 'z']) {
        const seen: Coding[] = [];
        const test = (c: Coding): boolean => (seen.push(c), c.code === code);
        expect(someCoding(shape, test)).toBe(codingsOf(shape).some((c) => c.code === code));
        const seenOne: Coding[] = [];
        expect(conceptHasCoding(shape, (c) => (seenOne.push(c), c.code === code))).toBe(codingsOf([shape]).some((c) => c.code === code));
        // Stops at the first hit, as some() does.
        const upTo = codingsOf(shape).findIndex((c) => c.code === code);
        expect(seen).toEqual(upTo < 0 ? codingsOf(shape) : codingsOf(shape).slice(0, upTo + 1));
      }
    }
  });
});
