/**
 * Authenticates CDS Hooks 2.0 client JWTs (`Authorization: Bearer <JWT>`),
 * per CDS Hooks 2.0 §Security and its best-practice list (standards.md §1.9).
 *
 * Checks, in order (cheap, unauthenticated checks first; claims only after the
 * signature verified, so a forged token learns nothing about our clock or aud):
 *   bearer syntax -> header typ=JWT, alg allowed, kid present -> iss trusted
 *   -> jku allowlisted -> signature (kid from inline JWKS, jku or jwks_uri)
 *   -> aud, exp, iat, nbf, lifetime, tenant -> jti not replayed.
 */
import { compactVerify, createLocalJWKSet, decodeJwt, decodeProtectedHeader, errors, type JWSHeaderParameters } from 'jose';
import type { TrustedClient } from './trustedClients.js';
import { ReplayCacheFullError, ReplayCacheUnavailableError, TokenPredatesReplayCacheError, type ReplayCache } from './replayCache.js';
import { createRemoteJwks, JwksUnavailableError, type KeyResolver, type RemoteJwksOptions } from './remoteJwks.js';

export type { ReplayCache } from './replayCache.js';

/** Asymmetric algorithms we can be configured to accept. `none` and HS* are not representable. */
export const SUPPORTED_ALGORITHMS = ['ES384', 'RS384', 'ES256', 'ES512', 'RS256', 'RS512', 'PS384'] as const;
export type ClientJwtAlgorithm = (typeof SUPPORTED_ALGORITHMS)[number];
/** The spec's RECOMMENDED pair. */
export const DEFAULT_ALGORITHMS: readonly ClientJwtAlgorithm[] = ['ES384', 'RS384'];

export type AuthFailureReason =
  | 'missing-token'
  | 'malformed-token'
  | 'bad-typ'
  | 'bad-alg'
  | 'missing-kid'
  | 'missing-claim'
  | 'untrusted-issuer'
  | 'jku-not-allowed'
  | 'unknown-kid'
  | 'bad-signature'
  | 'jwks-unavailable'
  | 'bad-audience'
  | 'expired'
  | 'iat-in-future'
  | 'not-yet-valid'
  | 'lifetime-too-long'
  | 'bad-tenant'
  | 'replayed-jti'
  | 'replay-cache-full'
  /** Issued before the replay cache's memory begins (it restarted): may have been used already. */
  | 'issued-before-replay-cache'
  /** The replay cache cannot answer: the service's fault, answered 503 (not 401). */
  | 'replay-cache-unavailable';

/**
 * Authentication failure. `reason` is safe to return to the caller; `iss` and
 * `jti` are as CLAIMED by the token (unverified unless the signature checked
 * out) and are only for logs. The token itself is never stored here.
 */
export class AuthError extends Error {
  override readonly name = 'AuthError';
  readonly status = 401;
  constructor(
    readonly reason: AuthFailureReason,
    message: string,
    readonly iss?: string,
    readonly jti?: string,
    /** bad-audience: the aud the token named (as claimed, clipped), so a log shows both sides. */
    readonly receivedAudience?: readonly string[],
  ) {
    super(message);
  }
}

export interface AuthenticatedClient {
  iss: string;
  tenant?: string;
  jti: string;
  fhirServers: string[];
  label?: string;
}

export interface ClientAuthenticatorOptions {
  clients: readonly TrustedClient[];
  replayCache: ReplayCache;
  /** Accepted `alg`s (default ES384, RS384). */
  algorithms?: readonly ClientJwtAlgorithm[];
  /** Tolerance for exp/iat/nbf, seconds (default 60, as Inferno uses). */
  clockSkewSeconds?: number;
  /** Largest accepted exp - iat, seconds (default 3600: the spec's best practice is <= 1 h). Bounds replay-cache TTLs. */
  maxTokenLifetimeSeconds?: number;
  /** Clock in milliseconds since the epoch (default Date.now). Also drives the JWKS cache. */
  now?: () => number;
  /** Remote JWKS cache tuning (TTL, minimum refresh interval, timeout, size cap). */
  jwks?: Omit<RemoteJwksOptions, 'now'>;
}

export interface ClientAuthenticator {
  authenticate(authorizationHeader: string | undefined, expectedAudience: string): Promise<AuthenticatedClient>;
}

/** Header size is already bounded by Node (16 KiB); this keeps decoding cheap. */
const MAX_TOKEN_LENGTH = 8192;
const MAX_CLAIM_LOG_LENGTH = 200;

export function createClientAuthenticator(options: ClientAuthenticatorOptions): ClientAuthenticator {
  const algorithms = [...(options.algorithms ?? DEFAULT_ALGORITHMS)];
  for (const alg of algorithms) {
    // Guard against config typed loosely (e.g. from JSON): never none/HS*.
    if (!(SUPPORTED_ALGORITHMS as readonly string[]).includes(alg)) {
      throw new Error(`unsupported client JWT algorithm "${String(alg)}" (allowed: ${SUPPORTED_ALGORITHMS.join(', ')})`);
    }
  }
  if (algorithms.length === 0) throw new Error('at least one client JWT algorithm must be allowed');
  const allowedAlgs = new Set<string>(algorithms);
  const skew = options.clockSkewSeconds ?? 60;
  const maxLifetime = options.maxTokenLifetimeSeconds ?? 3600;
  const now = options.now ?? Date.now;
  const replayCache = options.replayCache;

  const clientsByIss = new Map<string, TrustedClient>();
  const inlineSets = new Map<string, KeyResolver>();
  for (const c of options.clients) {
    clientsByIss.set(c.iss, c);
    if (c.jwks) inlineSets.set(c.iss, createLocalJWKSet(c.jwks as Parameters<typeof createLocalJWKSet>[0]) as KeyResolver);
  }

  // One cache per allowlisted URL, created lazily; the set of URLs is bounded by config.
  const remoteSets = new Map<string, KeyResolver>();
  const remoteFor = (url: string): KeyResolver => {
    let r = remoteSets.get(url);
    if (!r) {
      r = createRemoteJwks(url, { ...options.jwks, now }).resolve;
      remoteSets.set(url, r);
    }
    return r;
  };

  return {
    async authenticate(authorizationHeader, expectedAudience) {
      const token = bearerToken(authorizationHeader);

      // --- header (unverified) ---
      let header: JWSHeaderParameters;
      try {
        header = decodeProtectedHeader(token) as JWSHeaderParameters;
      } catch {
        throw new AuthError('malformed-token', 'token header is not decodable');
      }
      let claimed: Record<string, unknown>;
      try {
        claimed = decodeJwt(token) as Record<string, unknown>;
      } catch {
        throw new AuthError('malformed-token', 'token payload is not a JSON object');
      }
      const claimedIss = logSafe(claimed.iss);
      const claimedJti = logSafe(claimed.jti);
      const fail = (reason: AuthFailureReason, message: string): AuthError =>
        new AuthError(reason, message, claimedIss, claimedJti);

      if (header.typ !== 'JWT') throw fail('bad-typ', `header typ must be "JWT"`);
      if (typeof header.alg !== 'string' || !allowedAlgs.has(header.alg)) {
        throw fail('bad-alg', `alg "${logSafe(header.alg) ?? ''}" not accepted (accepted: ${algorithms.join(', ')})`);
      }
      if (typeof header.kid !== 'string' || header.kid === '') throw fail('missing-kid', 'header kid is required');

      // --- issuer and key source ---
      if (typeof claimed.iss !== 'string') throw fail('missing-claim', 'iss is required');
      const client = clientsByIss.get(claimed.iss);
      if (!client) throw fail('untrusted-issuer', 'iss is not a trusted client');

      let keys: KeyResolver;
      if (header.jku !== undefined) {
        const jku = header.jku;
        const allowed = typeof jku === 'string' && (jku === client.jwksUri || client.jkuAllowlist.includes(jku));
        if (!allowed) throw fail('jku-not-allowed', 'jku is not on the allowlist for this iss');
        // Keys exchanged out of band are pinned: an allowlisted jku is accepted
        // but not fetched (lets the public sandbox's jku work offline).
        keys = inlineSets.get(client.iss) ?? remoteFor(jku);
      } else {
        keys = inlineSets.get(client.iss) ?? remoteFor(client.jwksUri as string);
      }

      // --- signature ---
      let payloadBytes: Uint8Array;
      try {
        ({ payload: payloadBytes } = await compactVerify(token, keys, { algorithms }));
      } catch (err) {
        throw fail(...verifyFailure(err));
      }

      // --- claims (now authentic) ---
      let payload: Record<string, unknown>;
      try {
        const parsed: unknown = JSON.parse(new TextDecoder().decode(payloadBytes));
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
        payload = parsed as Record<string, unknown>;
      } catch {
        throw fail('malformed-token', 'payload is not a JSON object');
      }
      const { aud, exp, iat, nbf, jti, tenant } = payload;
      if (aud === undefined) throw fail('missing-claim', 'aud is required');
      if (typeof exp !== 'number' || !Number.isFinite(exp)) throw fail('missing-claim', 'exp is required (numeric)');
      if (typeof iat !== 'number' || !Number.isFinite(iat)) throw fail('missing-claim', 'iat is required (numeric)');
      if (typeof jti !== 'string' || jti === '' || jti.length > 1024) throw fail('missing-claim', 'jti is required (string)');
      if (tenant !== undefined && typeof tenant !== 'string') throw fail('missing-claim', 'tenant must be a string');

      const audiences = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : [];
      if (!audiences.some((a) => a === expectedAudience)) {
        const received = audiences.slice(0, 5).map((a) => logSafe(a) ?? String(typeof a));
        throw new AuthError('bad-audience', 'aud does not name this endpoint', claimedIss, claimedJti, received);
      }

      const nowSec = now() / 1000;
      if (exp <= nowSec - skew) throw fail('expired', 'token expired');
      if (iat > nowSec + skew) throw fail('iat-in-future', 'iat is in the future');
      if (nbf !== undefined && (typeof nbf !== 'number' || nbf > nowSec + skew)) throw fail('not-yet-valid', 'nbf is in the future');
      if (exp - iat > maxLifetime) throw fail('lifetime-too-long', `exp - iat exceeds ${maxLifetime} s`);

      if (client.tenants && (tenant === undefined || !client.tenants.includes(tenant))) {
        throw fail('bad-tenant', 'tenant is not allowed for this iss');
      }

      // --- replay: remember until the token can no longer pass the exp check ---
      const ttl = Math.min(maxLifetime + 2 * skew, Math.max(1, Math.ceil(exp + skew - nowSec)));
      let fresh: boolean;
      try {
        fresh = await replayCache.checkAndRemember(`${client.iss}|${jti}`, ttl, iat);
      } catch (err) {
        if (err instanceof ReplayCacheFullError) throw fail('replay-cache-full', 'replay cache is full');
        if (err instanceof TokenPredatesReplayCacheError) throw fail('issued-before-replay-cache', err.message);
        // Any other failure is the cache not answering: an outage, not a pass.
        throw fail('replay-cache-unavailable', err instanceof ReplayCacheUnavailableError ? err.message : `replay cache failed: ${(err as Error).message}`);
      }
      if (!fresh) throw fail('replayed-jti', 'jti already used');

      return {
        iss: client.iss,
        jti,
        fhirServers: [...client.fhirServers],
        ...(tenant !== undefined ? { tenant } : {}),
        ...(client.label !== undefined ? { label: client.label } : {}),
      };
    },
  };
}

function bearerToken(header: string | undefined): string {
  if (header === undefined || header.trim() === '') throw new AuthError('missing-token', 'no Authorization header');
  const m = /^Bearer[ \t]+([A-Za-z0-9_\-.~+/=]+)[ \t]*$/i.exec(header);
  if (!m) throw new AuthError('malformed-token', 'Authorization is not "Bearer <JWT>"');
  const token = m[1] as string;
  if (token.length > MAX_TOKEN_LENGTH) throw new AuthError('malformed-token', 'token too long');
  return token;
}

function verifyFailure(err: unknown): [AuthFailureReason, string] {
  if (err instanceof JwksUnavailableError) return ['jwks-unavailable', err.message];
  if (err instanceof errors.JWKSNoMatchingKey) return ['unknown-kid', 'no key with this kid'];
  if (err instanceof errors.JWKSMultipleMatchingKeys) return ['bad-signature', 'no matching key verified the signature'];
  if (err instanceof errors.JWSSignatureVerificationFailed) return ['bad-signature', 'signature verification failed'];
  if (err instanceof errors.JOSEAlgNotAllowed) return ['bad-alg', 'alg not accepted'];
  if (err instanceof errors.JWKSTimeout) return ['jwks-unavailable', 'JWKS fetch timed out'];
  if (err instanceof errors.JOSENotSupported) return ['bad-alg', err.message];
  if (err instanceof errors.JWKSInvalid || err instanceof errors.JWKInvalid) return ['jwks-unavailable', err.message];
  if (err instanceof errors.JOSEError) return ['malformed-token', err.message];
  return ['malformed-token', `token could not be verified: ${(err as Error)?.message ?? String(err)}`];
}

/** Claimed values for logs only: strings, truncated. */
function logSafe(v: unknown): string | undefined {
  return typeof v === 'string' ? v.slice(0, MAX_CLAIM_LOG_LENGTH) : undefined;
}
