/**
 * Trusted CDS clients: who may call us, how we get their keys, and which FHIR
 * servers they may point us at. CDS Hooks 2.0 §Security: "CDS Services SHOULD
 * limit the CDS Clients they trust by maintaining an allowlist of iss and jku
 * urls"; keys come from the allowlisted jku or are exchanged out of band.
 *
 * File format (JSON array):
 *   [{ "iss": "https://ehr.example.org",
 *      "jwks_uri": "https://ehr.example.org/.well-known/jwks.json",   // or
 *      "jwks": { "keys": [ ...public JWKs with kid... ] },            // exactly one
 *      "jku_allowlist": ["https://ehr.example.org/keys/jwks.json"],  // optional
 *      "fhir_servers": ["https://ehr.example.org/fhir/r4"],
 *      "tenants": ["org-1"],                                         // optional allowlist of `tenant`
 *      "label": "Example EHR" }]
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';

/** A public JWK as held in config; extra members (x5c, use, key_ops...) pass through. */
export interface PublicJwk {
  kty: string;
  kid: string;
  [member: string]: unknown;
}

export interface PublicJwks {
  keys: PublicJwk[];
}

export interface TrustedClient {
  iss: string;
  /** Where the client's JWKS is fetched when the token has no `jku` (exclusive with `jwks`). */
  jwksUri?: string;
  /** Keys exchanged out of band (exclusive with `jwksUri`). */
  jwks?: PublicJwks;
  /** Extra `jku` URLs accepted for this client (its jwksUri is always accepted). */
  jkuAllowlist: string[];
  /** FHIR base URLs this client may send as `fhirServer`. */
  fhirServers: string[];
  /** If set, the token's `tenant` claim must be one of these. */
  tenants?: string[];
  label?: string;
}

export class TrustedClientsError extends Error {
  override readonly name = 'TrustedClientsError';
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Key URLs must be https (spec: all traffic over TLS); plain http only on loopback for dev and tests. */
const keyUrl = z.string().refine(
  (s) => {
    const u = safeUrl(s);
    if (!u || u.username || u.password || u.hash) return false;
    return u.protocol === 'https:' || (u.protocol === 'http:' && LOOPBACK_HOSTS.has(u.hostname));
  },
  { message: 'must be an absolute https URL (http only on localhost/127.0.0.1), without credentials or fragment' },
);

const fhirBaseUrl = z.string().refine(
  (s) => {
    const u = safeUrl(s);
    return !!u && (u.protocol === 'https:' || u.protocol === 'http:') && !u.username && !u.password && !u.search && !u.hash;
  },
  { message: 'must be an absolute http(s) base URL without credentials, query or fragment' },
);

/** Members that only private or symmetric keys carry: never accept them as trust anchors. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth'] as const;

const jwkSchema = z
  .looseObject({
    kty: z.string().refine((k) => k === 'EC' || k === 'RSA', { message: 'kty must be EC or RSA (no symmetric keys)' }),
    kid: z.string().min(1, 'every key needs a kid (CDS Hooks: kid selects the key)'),
  })
  .superRefine((jwk, ctx) => {
    for (const m of PRIVATE_MEMBERS) {
      if (m in jwk) ctx.addIssue({ code: 'custom', message: `key "${jwk.kid}" has private member "${m}": publish only public keys` });
    }
  });

const jwksSchema = z
  .object({ keys: z.array(jwkSchema).min(1, 'jwks.keys must not be empty') })
  .superRefine((set, ctx) => {
    const seen = new Set<string>();
    for (const k of set.keys) {
      if (seen.has(k.kid)) ctx.addIssue({ code: 'custom', message: `duplicate kid "${k.kid}" (kid MUST be unique within the JWK Set)` });
      seen.add(k.kid);
    }
  });

const entrySchema = z
  .strictObject({
    iss: z.string().min(1, 'iss must be a non-empty string'),
    jwks_uri: keyUrl.optional(),
    jwks: jwksSchema.optional(),
    jku_allowlist: z.array(keyUrl).optional(),
    fhir_servers: z.array(fhirBaseUrl),
    tenants: z.array(z.string().min(1)).optional(),
    label: z.string().optional(),
  })
  .refine((e) => (e.jwks_uri === undefined) !== (e.jwks === undefined), {
    message: 'exactly one of "jwks_uri" or "jwks" is required',
  });

/**
 * Validates already-parsed JSON. `source` (usually the file path) is quoted in
 * error messages. Throws TrustedClientsError listing every problem found.
 */
export function parseTrustedClients(json: unknown, source: string): TrustedClient[] {
  if (!Array.isArray(json)) {
    throw new TrustedClientsError(`${source}: expected a JSON array of trusted clients, got ${describe(json)}`);
  }
  const problems: string[] = [];
  const clients: TrustedClient[] = [];
  const seenIss = new Map<string, number>();
  json.forEach((raw: unknown, index) => {
    const where = `entry [${index}]${entryIss(raw)}`;
    const parsed = entrySchema.safeParse(raw);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        const path = issue.path.length ? issue.path.map(String).join('.') + ': ' : '';
        problems.push(`${where}: ${path}${issue.message}`);
      }
      return;
    }
    const e = parsed.data;
    const prior = seenIss.get(e.iss);
    if (prior !== undefined) {
      problems.push(`${where}: duplicate iss (also entry [${prior}])`);
      return;
    }
    seenIss.set(e.iss, index);
    clients.push({
      iss: e.iss,
      ...(e.jwks_uri !== undefined ? { jwksUri: e.jwks_uri } : {}),
      ...(e.jwks !== undefined ? { jwks: e.jwks as PublicJwks } : {}),
      jkuAllowlist: e.jku_allowlist ?? [],
      fhirServers: e.fhir_servers,
      ...(e.tenants !== undefined ? { tenants: e.tenants } : {}),
      ...(e.label !== undefined ? { label: e.label } : {}),
    });
  });
  if (problems.length) {
    throw new TrustedClientsError(`${source}: invalid trusted clients file:\n  - ${problems.join('\n  - ')}`);
  }
  return clients;
}

/** Reads and validates a trusted-clients JSON file. */
export async function loadTrustedClients(path: string): Promise<TrustedClient[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new TrustedClientsError(`${path}: cannot read trusted clients file: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new TrustedClientsError(`${path}: not valid JSON: ${(err as Error).message}`);
  }
  return parseTrustedClients(json, path);
}

function safeUrl(s: string): URL | undefined {
  try {
    return new URL(s);
  } catch {
    return undefined;
  }
}

function entryIss(raw: unknown): string {
  if (typeof raw === 'object' && raw !== null && typeof (raw as { iss?: unknown }).iss === 'string') {
    return ` (iss "${(raw as { iss: string }).iss}")`;
  }
  return '';
}

function describe(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}
