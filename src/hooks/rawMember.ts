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
const COMMA = 0x2c;

/** What a byte is to the walk over a nested value: most bytes are none of these (one table read each). */
const ORDINARY = 0;
const STRING = 1;
const OPEN = 2;
const CLOSE = 3;
const KIND = new Uint8Array(256);
KIND[QUOTE] = STRING;
KIND[OPEN_OBJECT] = OPEN;
KIND[OPEN_ARRAY] = OPEN;
KIND[CLOSE_OBJECT] = CLOSE;
KIND[CLOSE_ARRAY] = CLOSE;

export function rawMember(input: Uint8Array, name: string): Uint8Array | undefined {
  const wanted = Buffer.from(`"${name}"`);
  // A plain Uint8Array (not a Buffer) and its length read once: the loops below are the whole cost.
  const body = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  const n = body.length;
  let i = skipSpace(body, 0, n);
  if (body[i] !== OPEN_OBJECT) return undefined;
  i = skipSpace(body, i + 1, n);
  if (body[i] === CLOSE_OBJECT) return undefined;
  let start = -1;
  let end = -1;
  // The top-level members one by one: a name, a colon, a value skipped whole (in plain JavaScript:
  // a native call per string, indexOf, cost more than the bytes), then a comma or the closing brace.
  for (;;) {
    if (body[i] !== QUOTE) return undefined;
    const nameEnd = stringEnd(body, i, n);
    if (nameEnd < 0 || hasEscape(body, i, nameEnd)) return undefined;
    const ours = nameEnd + 1 - i === wanted.length && Buffer.compare(input.subarray(i, nameEnd + 1), wanted) === 0;
    i = skipSpace(body, nameEnd + 1, n);
    if (body[i] !== COLON) return undefined;
    const valueStart = i + 1;
    i = valueEnd(body, valueStart, n);
    if (i < 0) return undefined;
    if (ours) {
      if (start >= 0) return undefined;
      start = valueStart;
      end = i;
    }
    if (body[i] === CLOSE_OBJECT) break;
    i = skipSpace(body, i + 1, n);
  }
  return start >= 0 && skipSpace(body, i + 1, n) === n ? input.subarray(start, end) : undefined;
}

const isSpace = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

function skipSpace(body: Uint8Array, from: number, n: number): number {
  let i = from;
  while (i < n && isSpace(body[i])) i++;
  return i;
}

function hasEscape(body: Uint8Array, quote: number, closingQuote: number): boolean {
  for (let i = quote + 1; i < closingQuote; i++) if (body[i] === BACKSLASH) return true;
  return false;
}

/** The index of the quote closing the string opened at `quote`, or -1. */
function stringEnd(body: Uint8Array, quote: number, n: number): number {
  for (let i = quote + 1; i < n; i++) {
    const c = body[i];
    if (c === QUOTE) return i;
    if (c === BACKSLASH) i++;
  }
  return -1;
}

/** The index of the comma or closing brace after the member value that starts at `from`, or -1. */
function valueEnd(body: Uint8Array, from: number, n: number): number {
  let i = skipSpace(body, from, n);
  const c = body[i];
  if (c === QUOTE) i = stringEnd(body, i, n);
  else if (c === OPEN_OBJECT || c === OPEN_ARRAY) i = closingBracket(body, i, n);
  else i--; // a number or a literal: no comma or brace inside
  if (i < 0) return -1;
  for (i++; i < n; i++) {
    const d = body[i];
    if (d === COMMA || d === CLOSE_OBJECT) return i;
  }
  return -1;
}

/** The index of the bracket closing the object or array opened at `open`, or -1. */
function closingBracket(body: Uint8Array, open: number, n: number): number {
  let depth = 0;
  for (let i = open; i < n; i++) {
    const kind = KIND[body[i]];
    if (kind === ORDINARY) continue;
    if (kind === STRING) {
      i = stringEnd(body, i, n);
      if (i < 0) return -1;
    } else if (kind === OPEN) depth++;
    else if (--depth === 0) return i;
  }
  return -1;
}
