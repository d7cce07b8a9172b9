import type { Truth } from './types.js';

/** Kleene three-valued logic (as in cql-execution): false wins AND, true wins OR, else unknown. */
export function and3(values: Iterable<Truth>): Truth {
  let unknown = false;
  for (const v of values) {
    if (v === false) return false;
    if (v === null) unknown = true;
  }
  return unknown ? null : true;
}

export function or3(values: Iterable<Truth>): Truth {
  let unknown = false;
  for (const v of values) {
    if (v === true) return true;
    if (v === null) unknown = true;
  }
  return unknown ? null : false;
}

export function not3(value: Truth): Truth {
  return value === null ? null : !value;
}

/** At least `n` true: true once n are true, false once too few can still become true. */
export function atLeast3(n: number, values: readonly Truth[]): Truth {
  let t = 0;
  let u = 0;
  for (const v of values) {
    if (v === true) t++;
    else if (v === null) u++;
  }
  return atLeastCounted(n, t, u);
}

/**
 * atLeast3 of values counted: `t` true, `u` unknown. AND of k values is at least k of them true,
 * OR at least one, so this decides all three without the values in hand.
 */
export function atLeastCounted(n: number, t: number, u: number): Truth {
  if (t >= n) return true;
  if (t + u < n) return false;
  return null;
}

/** Is a date (YYYY-MM-DD…) inside a window whose `until` is exclusive? */
export function inWindow(date: string, window: { from?: string; until?: string } | undefined): boolean {
  if (!window) return true;
  const d = date.slice(0, 10);
  if (window.from && d < window.from) return false;
  if (window.until && d >= window.until) return false;
  return true;
}
