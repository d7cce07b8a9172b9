/**
 * A bounded-TTL cache around fetching one JWKS URL, used as a jose key resolver.
 *
 * Why not jose's createRemoteJWKSet: it does not rate-limit retries after a
 * failed fetch (every request would hit a down JWKS host again), it follows
 * its own clock (ours is injectable for tests), and it does not cap the body.
 *
 * Behaviour:
 *  - keys are reused for `cacheMaxAgeMs`, then refetched on next use;
 *  - an unknown `kid` triggers a refetch (key rotation), but at most one fetch
 *    attempt (success or failure) per `minRefreshIntervalMs`, so a caller
 *    sending random kids cannot make us hammer the URL;
 *  - concurrent refreshes share one fetch;
 *  - redirects are not followed (the jku allowlist must not be bypassable),
 *    the body is capped at `maxBytes`, private and symmetric keys are dropped.
 */
import { createLocalJWKSet, errors, type JWK, type JWSHeaderParameters, type FlattenedJWSInput } from 'jose';

export interface RemoteJwksOptions {
  /** Reuse fetched keys this long (default 10 min). */
  cacheMaxAgeMs?: number;
  /** Minimum time between two fetch attempts of one URL (default 30 s). */
  minRefreshIntervalMs?: number;
  /** Abort a fetch, body included, after this long (default 1.5 s: callers wait on it). */
  timeoutMs?: number;
  /** Largest accepted JWKS body (default 256 KiB). */
  maxBytes?: number;
  now?: () => number;
  fetch?: typeof fetch;
}

/** The JWKS could not be fetched or parsed; maps to AuthError('jwks-unavailable'). */
export class JwksUnavailableError extends Error {
  override readonly name = 'JwksUnavailableError';
}

type LocalSet = ReturnType<typeof createLocalJWKSet>;
export type KeyResolver = (header: JWSHeaderParameters, token: FlattenedJWSInput) => ReturnType<LocalSet>;

export interface RemoteJwks {
  readonly url: string;
  resolve: KeyResolver;
  /** Number of fetch attempts so far (for tests and metrics). */
  readonly fetchCount: number;
}

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth'];

export function createRemoteJwks(url: string, options: RemoteJwksOptions = {}): RemoteJwks {
  const cacheMaxAgeMs = options.cacheMaxAgeMs ?? 10 * 60_000;
  const minRefreshIntervalMs = options.minRefreshIntervalMs ?? 30_000;
  const timeoutMs = options.timeoutMs ?? 1_500;
  const maxBytes = options.maxBytes ?? 256 * 1024;
  const now = options.now ?? Date.now;
  const doFetch = options.fetch ?? fetch;

  let local: LocalSet | undefined;
  let fetchedAt = -Infinity;
  let lastAttemptAt = -Infinity;
  let pending: Promise<void> | undefined;
  let fetchCount = 0;

  const canAttempt = (): boolean => now() - lastAttemptAt >= minRefreshIntervalMs;

  const refresh = (): Promise<void> => {
    if (pending) return pending;
    lastAttemptAt = now();
    fetchCount++;
    pending = fetchJwks(url, doFetch, timeoutMs, maxBytes)
      .then((keys) => {
        local = createLocalJWKSet({ keys });
        fetchedAt = now();
      })
      .finally(() => {
        pending = undefined;
      });
    return pending;
  };

  const resolve: KeyResolver = async (header, token) => {
    const fresh = local !== undefined && now() - fetchedAt < cacheMaxAgeMs;
    if (!fresh) {
      // Stale keys are not used past their max age (a rotated-out key may be
      // compromised); while a retry is rate-limited, callers fail fast.
      if (!canAttempt() && !pending) throw new JwksUnavailableError(`JWKS ${url} unavailable (retry rate-limited)`);
      await refresh();
    }
    const current = local as LocalSet;
    try {
      return await current(header, token);
    } catch (err) {
      if (err instanceof errors.JWKSNoMatchingKey && (pending || canAttempt())) {
        await refresh();
        return (local as LocalSet)(header, token);
      }
      throw err;
    }
  };

  return {
    url,
    resolve,
    get fetchCount() {
      return fetchCount;
    },
  };
}

async function fetchJwks(url: string, doFetch: typeof fetch, timeoutMs: number, maxBytes: number): Promise<JWK[]> {
  let response: Response;
  try {
    response = await doFetch(url, {
      method: 'GET',
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
      headers: { accept: 'application/json, application/jwk-set+json' },
    });
  } catch (err) {
    throw new JwksUnavailableError(`JWKS ${url}: fetch failed: ${(err as Error).message}`);
  }
  if (response.status !== 200) {
    await response.body?.cancel().catch(() => undefined);
    throw new JwksUnavailableError(`JWKS ${url}: HTTP ${response.status}`);
  }
  let text: string;
  try {
    text = await readCapped(response, maxBytes, url);
  } catch (err) {
    // The timeout also aborts a body that drips: still "unavailable", not a malformed token.
    if (err instanceof JwksUnavailableError) throw err;
    throw new JwksUnavailableError(`JWKS ${url}: body not read: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new JwksUnavailableError(`JWKS ${url}: body is not JSON`);
  }
  const keys = (json as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) throw new JwksUnavailableError(`JWKS ${url}: no "keys" array`);
  return keys.filter(
    (k): k is JWK =>
      typeof k === 'object' &&
      k !== null &&
      ((k as JWK).kty === 'EC' || (k as JWK).kty === 'RSA') &&
      !PRIVATE_MEMBERS.some((m) => m in k),
  );
}

async function readCapped(response: Response, maxBytes: number, url: string): Promise<string> {
  const declared = Number(response.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) {
    await response.body?.cancel().catch(() => undefined);
    throw new JwksUnavailableError(`JWKS ${url}: body larger than ${maxBytes} bytes`);
  }
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw new JwksUnavailableError(`JWKS ${url}: body larger than ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
