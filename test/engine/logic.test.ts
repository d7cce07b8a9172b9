/**
 * Truth tables for the three-valued operators (Kleene logic, as cql-execution's
 * test/elm/logical/logical-test.ts): every true/false/null pairing.
 */
import { describe, expect, it } from 'vitest';
import { and3, atLeast3, atLeastCounted, inWindow, not3, or3 } from '../../src/engine/logic.js';
import type { Truth } from '../../src/engine/types.js';

const T = true;
const F = false;
const N = null;

describe('and3', () => {
  const table: [Truth, Truth, Truth][] = [
    [T, T, T],
    [T, F, F],
    [T, N, N],
    [F, T, F],
    [F, F, F],
    [F, N, F],
    [N, T, N],
    [N, F, F],
    [N, N, N],
  ];
  it.each(table)('%s AND %s = %s', (a, b, expected) => {
    expect(and3([a, b])).toBe(expected);
  });
  it('is true for no operands and false wins over any number of unknowns', () => {
    expect(and3([])).toBe(true);
    expect(and3([N, N, N, F])).toBe(false);
    expect(and3([T, T, N])).toBe(null);
  });
});

describe('or3', () => {
  const table: [Truth, Truth, Truth][] = [
    [T, T, T],
    [T, F, T],
    [T, N, T],
    [F, T, T],
    [F, F, F],
    [F, N, N],
    [N, T, T],
    [N, F, N],
    [N, N, N],
  ];
  it.each(table)('%s OR %s = %s', (a, b, expected) => {
    expect(or3([a, b])).toBe(expected);
  });
  it('is false for no operands and true wins over any number of unknowns', () => {
    expect(or3([])).toBe(false);
    expect(or3([N, N, N, T])).toBe(true);
    expect(or3([F, F, N])).toBe(null);
  });
});

describe('not3', () => {
  it.each([
    [T, F],
    [F, T],
    [N, N],
  ] as [Truth, Truth][])('NOT %s = %s', (a, expected) => {
    expect(not3(a)).toBe(expected);
  });
});

describe('atLeast3', () => {
  const values: Truth[] = [T, F, N];
  // Every triple of operands against every threshold 0..4: true once n are true,
  // false once the true and unknown together cannot reach n, unknown otherwise.
  const cases: [number, Truth, Truth, Truth, Truth][] = [];
  for (const n of [0, 1, 2, 3, 4]) {
    for (const a of values) {
      for (const b of values) {
        for (const c of values) {
          const t = [a, b, c].filter((v) => v === true).length;
          const u = [a, b, c].filter((v) => v === null).length;
          cases.push([n, a, b, c, t >= n ? true : t + u < n ? false : null]);
        }
      }
    }
  }
  it.each(cases)('at least %i of (%s, %s, %s) = %s', (n, a, b, c, expected) => {
    expect(atLeast3(n, [a, b, c])).toBe(expected);
  });
  it('matches the seed\'s "TWO or more" examples', () => {
    expect(atLeast3(2, [T, F, F, F, F])).toBe(false);
    expect(atLeast3(2, [T, N, F, F, F])).toBe(null);
    expect(atLeast3(2, [T, N, T, F, F])).toBe(true);
    expect(atLeast3(2, [N, N, F, F, F])).toBe(null);
    expect(atLeast3(2, [N, F, F, F, F])).toBe(false);
  });
  it('agrees with and3 when n is the number of operands and with or3 when n is 1', () => {
    for (const a of values) {
      for (const b of values) {
        expect(atLeast3(2, [a, b])).toBe(and3([a, b]));
        expect(atLeast3(1, [a, b])).toBe(or3([a, b]));
      }
    }
  });
  it('decides from counts alone as from the values (the engine counts its children)', () => {
    expect(atLeastCounted(0, 0, 0)).toBe(and3([]));
    expect(atLeastCounted(1, 0, 0)).toBe(or3([]));
    expect(atLeastCounted(3, 2, 1)).toBe(and3([T, T, N]));
    expect(atLeastCounted(3, 2, 0)).toBe(and3([T, T, F]));
    expect(atLeastCounted(1, 0, 2)).toBe(or3([N, N, F]));
  });
});

describe('inWindow', () => {
  it('includes from, excludes until, and reads only the day of a dateTime', () => {
    expect(inWindow('2024-01-01', { from: '2024-01-01' })).toBe(true);
    expect(inWindow('2023-12-31', { from: '2024-01-01' })).toBe(false);
    expect(inWindow('2023-12-31T23:59:00-08:00', { until: '2024-01-01' })).toBe(true);
    expect(inWindow('2024-01-01T00:00:00Z', { until: '2024-01-01' })).toBe(false);
    expect(inWindow('2024-02-29', { from: '2024-01-01', until: '2024-03-01' })).toBe(true);
    expect(inWindow('2024-03-01', { from: '2024-01-01', until: '2024-03-01' })).toBe(false);
    expect(inWindow('1999-01-01', undefined)).toBe(true);
  });
});
