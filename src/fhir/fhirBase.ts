/** FHIR server base URLs: where a token may go (the fhirServer, and `next` links under it). */

/**
 * Is `url` (a `next` link, with its query) on the FHIR server `base`: same scheme, host and port, and
 * a path equal to the base's or under it at a "/" boundary? Credentials and fragments are refused.
 */
export function isUnderFhirBase(url: string, base: string): boolean {
  const b = parseFhirBase(base);
  const u = parseFhirBase(url, { query: true });
  if (!b || !u || u.origin !== b.origin) return false;
  return b.path === '' || u.path === b.path || u.path.startsWith(`${b.path}/`);
}

/** Scheme, host[:port] and path (no trailing slash) of an http(s) URL without credentials or fragment; a query only if allowed. */
export function parseFhirBase(s: string, allow: { query?: boolean } = {}): { origin: string; path: string } | undefined {
  if (typeof s !== 'string') return undefined;
  let u: URL;
  try {
    u = new URL(s.trim());
  } catch {
    return undefined;
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return undefined;
  if (u.username || u.password || u.hash || s.includes('#')) return undefined;
  if (!allow.query && (u.search || s.includes('?'))) return undefined;
  // origin = scheme://host[:port]; an empty path is "/" in WHATWG URLs.
  return { origin: `${u.protocol}//${u.host}`, path: u.pathname.replace(/\/+$/, '') };
}
