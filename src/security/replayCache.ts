/**
 * Anti-replay store for CDS Hooks client JWT `jti`s (CDS Hooks 2.0 §Security:
 * "jti has not been seen before"; keep it until the token's exp).
 *
 * The authenticator depends only on the `ReplayCache` interface so a shared
 * store (Redis, Postgres) can replace the in-memory one when the service runs
 * as several instances; an in-memory cache only protects a single process.
 */
import NodeCache from 'node-cache';

export interface ReplayCache {
  /**
   * Returns true if newly recorded, false if it was already there. A cache that knows since when it
   * remembers (`issuedAtSeconds` given) throws TokenPredatesReplayCacheError for a token issued
   * before then; one that cannot answer throws ReplayCacheUnavailableError.
   */
  checkAndRemember(key: string, ttlSeconds: number, issuedAtSeconds?: number): Promise<boolean>;
}

/**
 * The token was issued before the replay cache's memory begins (Redis restarted or was emptied,
 * the service restarted): it may have been used already, so it is refused (401; a new token passes).
 */
export class TokenPredatesReplayCacheError extends Error {
  override readonly name = 'TokenPredatesReplayCacheError';
}

/** The replay cache cannot answer (Redis down): the call is refused with 503, never let through. */
export class ReplayCacheUnavailableError extends Error {
  override readonly name = 'ReplayCacheUnavailableError';
}

/**
 * Thrown by a ReplayCache that cannot record a new key. The authenticator
 * turns it into AuthError('replay-cache-full'), i.e. the call is refused.
 */
export class ReplayCacheFullError extends Error {
  override readonly name = 'ReplayCacheFullError';
  constructor(message = 'replay cache is full') {
    super(message);
  }
}

export interface MemoryReplayCacheOptions {
  /** Upper bound on remembered jtis (default 100 000, about 10-20 MB). */
  maxKeys?: number;
  /** How often expired keys are purged, in seconds (default 60). */
  checkPeriodSeconds?: number;
}

export interface MemoryReplayCache extends ReplayCache {
  /** Number of keys currently held (expired ones may linger until the next purge). */
  size(): number;
  /** Stops the purge timer (the timer is unref'd, so this is only needed in tests). */
  close(): void;
}

/**
 * In-memory ReplayCache on node-cache.
 *
 * When full it REFUSES new keys (throws ReplayCacheFullError) rather than
 * evicting old ones: forgetting a jti before its token expires would let that
 * token be replayed, which is the attack this cache exists to stop. Refusing
 * turns an overload into a visible outage (401 `replay-cache-full`, logged)
 * instead of a silent security hole. Before refusing, expired entries are
 * purged once, so "full" means full of live tokens. Only tokens whose
 * signature verified reach the cache, so only a trusted client can fill it.
 */
export function createMemoryReplayCache(options: MemoryReplayCacheOptions = {}): MemoryReplayCache {
  const maxKeys = options.maxKeys ?? 100_000;
  if (!Number.isInteger(maxKeys) || maxKeys <= 0) {
    throw new RangeError(`maxKeys must be a positive integer, got ${String(maxKeys)}`);
  }
  const cache = new NodeCache({
    stdTTL: 0,
    checkperiod: options.checkPeriodSeconds ?? 60,
    useClones: false,
    deleteOnExpire: true,
    maxKeys,
  });

  const purgeExpired = (): void => {
    // node-cache's get() deletes an entry it finds expired.
    for (const k of cache.keys()) cache.get(k);
  };

  const trySet = (key: string, ttl: number): boolean => {
    try {
      return cache.set(key, 1, ttl);
    } catch (err) {
      if (isCacheFull(err)) return false;
      throw err;
    }
  };

  return {
    async checkAndRemember(key: string, ttlSeconds: number): Promise<boolean> {
      // has() honours TTLs. The check and the set run synchronously, so no
      // other request can interleave between them in this process.
      if (cache.has(key)) return false;
      const ttl = Math.max(1, Math.ceil(ttlSeconds));
      if (trySet(key, ttl)) return true;
      purgeExpired();
      if (trySet(key, ttl)) return true;
      throw new ReplayCacheFullError(`replay cache is full (${maxKeys} live jtis)`);
    },
    size: () => cache.keys().length,
    close: () => cache.close(),
  };
}

function isCacheFull(err: unknown): boolean {
  return (
    typeof err === 'object' &&
    err !== null &&
    ((err as { name?: unknown }).name === 'ECACHEFULL' || (err as { errorcode?: unknown }).errorcode === 'ECACHEFULL')
  );
}
