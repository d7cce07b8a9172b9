/**
 * The bytes of one top-level member's value in a raw JSON object body, found without parsing: the
 * decision-cache key hashes the prefetch as sent instead of serialising the parsed one again
 * (docs/performance.md). Only an unambiguous answer is given: a body where the member appears twice,
 * or any top-level name is written with an escape (so its bytes may not be what JSON.parse reads),
 * gives undefined and the caller serialises the parsed value instead.
 */
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COLON = 0x3a;

export function rawMember(input: Uint8Array, name: string): Uint8Array | undefined {
  const wanted = Buffer.from(`"${name}"`);
  // A plain Uint8Array (not a Buffer) and its length read once: the loop below is the whole cost.
  const body = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  const n = body.length;
  let depth = 0;
  /** At depth 1, the next string is a member name (after `{` or a `,`). */
  let expectName = false;
  let found: { start: number; end: number } | undefined;
  let valueStart = -1;
  // One pass in plain JavaScript: a native call per string (indexOf) cost more than the bytes.
  for (let i = 0; i < n; i++) {
    const c = body[i];
    if (c === QUOTE) {
      let end = i + 1;
      let escaped = false;
      for (; end < n; end++) {
        const d = body[end];
        if (d === QUOTE) break;
        if (d === BACKSLASH) {
          escaped = true;
          end++;
        }
      }
      if (end >= n) return undefined;
      if (depth === 1 && expectName) {
        if (escaped) return undefined;
        expectName = false;
        if (end - i + 1 === wanted.length && Buffer.compare(input.subarray(i, end + 1), wanted) === 0) {
          if (found || valueStart >= 0) return undefined;
          const colon = body.indexOf(COLON, end + 1);
          if (colon < 0) return undefined;
          valueStart = colon + 1;
          i = colon;
          continue;
        }
      }
      i = end;
      continue;
    }
    if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      depth++;
      if (depth === 1) {
        if (c !== OPEN_OBJECT) return undefined;
        expectName = true;
      }
      continue;
    }
    if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      if (depth === 1 && valueStart >= 0) {
        found = { start: valueStart, end: i };
        valueStart = -1;
      }
      depth--;
      continue;
    }
    if (c === 0x2c && depth === 1) {
      // `,`: the member's value (if it was ours) ends here; a name follows.
      if (valueStart >= 0) {
        found = { start: valueStart, end: i };
        valueStart = -1;
      }
      expectName = true;
    }
  }
  return found && depth === 0 ? input.subarray(found.start, found.end) : undefined;
}
