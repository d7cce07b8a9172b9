/**
 * Key-value caches shared by service instances: the JWT `jti` replay cache and the decision
 * cache. In memory for one instance; Redis when several instances must see the same keys.
 */
import { Redis } from 'ioredis';
import NodeCache from 'node-cache';
import type { Logger } from 'pino';

export interface SharedCache {
  get(key: string): Promise<string | undefined>;
  /** Stores `value` for `ttlSeconds` (> 0; fractions allowed), replacing any value. */
  set(key: string, value: string, ttlSeconds: number): Promise<void>;
  /**
   * Stores `value` only if `key` is absent, atomically across every client of the cache.
   * @returns true if stored, false if the key already existed (e.g. a replayed `jti`).
   */
  setIfAbsent(key: string, value: string, ttlSeconds: number): Promise<boolean>;
  /** Resolves when the cache answers (readiness); rejects naming what is wrong. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Thrown by the memory cache when `maxKeys` live keys are stored. */
export class CacheFullError extends Error {
  constructor(maxKeys: number) {
    super(`shared cache is full (${maxKeys} live keys)`);
    this.name = 'CacheFullError';
  }
}

function checkTtl(ttlSeconds: number): number {
  if (!Number.isFinite(ttlSeconds) || ttlSeconds <= 0) {
    throw new RangeError(`ttlSeconds must be a positive number, got ${ttlSeconds}`);
  }
  return ttlSeconds;
}

export interface MemorySharedCacheOptions {
  /** Upper bound on stored keys. Default 100000. */
  maxKeys?: number;
  prefix?: string;
}

/** One process only: two instances each have their own, so replay protection is per instance. */
export class MemorySharedCache implements SharedCache {
  private readonly cache: NodeCache;
  private readonly maxKeys: number;
  private readonly prefix: string;

  constructor(options: MemorySharedCacheOptions = {}) {
    this.maxKeys = options.maxKeys ?? 100_000;
    this.prefix = options.prefix ?? '';
    // useClones: values are strings, copying them is wasted work.
    this.cache = new NodeCache({ maxKeys: this.maxKeys, stdTTL: 0, checkperiod: 60, useClones: false });
  }

  async get(key: string): Promise<string | undefined> {
    return this.cache.get<string>(this.prefix + key);
  }

  async set(key: string, value: string, ttlSeconds: number): Promise<void> {
    this.store(this.prefix + key, value, checkTtl(ttlSeconds));
  }

  async setIfAbsent(key: string, value: string, ttlSeconds: number): Promise<boolean> {
    const ttl = checkTtl(ttlSeconds);
    const k = this.prefix + key;
    // has() drops an expired key; has + set run without an await between them, so no other caller interleaves.
    if (this.cache.has(k)) return false;
    this.store(k, value, ttl);
    return true;
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    this.cache.close();
  }

  private store(key: string, value: string, ttl: number): void {
    try {
      this.cache.set(key, value, ttl);
    } catch (err) {
      if (!isCacheFull(err)) throw err;
      // node-cache counts expired keys until its periodic check; sweep them and try once more.
      for (const k of this.cache.keys()) this.cache.has(k);
      try {
        this.cache.set(key, value, ttl);
      } catch (again) {
        if (isCacheFull(again)) throw new CacheFullError(this.maxKeys);
        throw again;
      }
    }
  }
}

function isCacheFull(err: unknown): boolean {
  return typeof err === 'object' && err !== null && 'name' in err && err.name === 'ECACHEFULL';
}

export interface RedisSharedCacheOptions {
  /** REDIS_URL, e.g. `redis://127.0.0.1:6379/0`. */
  url: string;
  /** Namespaces the keys, e.g. `lumbar-cds:jti:`. */
  prefix?: string;
  /** Longest any command may wait, connected or not. Default 500. */
  commandTimeoutMs?: number;
  /** Longest one connection attempt may take. Default 1000. */
  connectTimeoutMs?: number;
  logger?: Pick<Logger, 'warn'>;
}

/**
 * Redis-backed cache shared by all instances. When Redis is unreachable every operation rejects
 * within `commandTimeoutMs` (callers decide: the jti check fails closed, the decision cache is
 * skipped) while the client keeps reconnecting in the background.
 */
export class RedisSharedCache implements SharedCache {
  private readonly client: Redis;
  private readonly prefix: string;
  private lastErrorLog = 0;

  constructor(options: RedisSharedCacheOptions) {
    this.prefix = options.prefix ?? '';
    this.client = new Redis(options.url, {
      // A command waits at most this long, including in the offline queue while (re)connecting.
      commandTimeout: options.commandTimeoutMs ?? 500,
      connectTimeout: options.connectTimeoutMs ?? 1_000,
      // Queued commands are failed after one reconnect attempt instead of the default 20.
      maxRetriesPerRequest: 1,
      // Commands sent while (re)connecting wait in the queue, bounded by commandTimeout, so the
      // first requests after start do not fail just because the socket is not up yet.
      enableOfflineQueue: true,
      retryStrategy: (times) => Math.min(times * 200, 2_000),
    });
    // Without a listener ioredis prints every reconnect error; log at most every 30 s instead.
    this.client.on('error', (err: Error) => {
      const now = Date.now();
      if (now - this.lastErrorLog < 30_000) return;
      this.lastErrorLog = now;
      options.logger?.warn({ err: err.message }, 'shared cache: redis connection error');
    });
  }

  async get(key: string): Promise<string | undefined> {
    return (await this.client.get(this.prefix + key)) ?? undefined;
  }

  async set(key: string, value: string, ttlSeconds: number): Promise<void> {
    await this.client.set(this.prefix + key, value, 'PX', Math.ceil(checkTtl(ttlSeconds) * 1000));
  }

  async setIfAbsent(key: string, value: string, ttlSeconds: number): Promise<boolean> {
    // SET NX is atomic on the server: of two instances racing on one key, exactly one gets OK.
    const res = await this.client.set(this.prefix + key, value, 'PX', Math.ceil(checkTtl(ttlSeconds) * 1000), 'NX');
    return res === 'OK';
  }

  async ping(): Promise<void> {
    await this.client.ping();
  }

  async close(): Promise<void> {
    if (this.client.status === 'ready') {
      try {
        await this.client.quit();
        return;
      } catch {
        // fall through to a hard disconnect
      }
    }
    this.client.disconnect();
  }
}

export interface SharedCacheConfig {
  /** REDIS_URL; when absent the cache is in memory (single instance). */
  redisUrl?: string;
  /** Key namespace, e.g. `lumbar-cds:jti:` or `lumbar-cds:decision:`. */
  prefix: string;
  /** Bound for the in-memory cache. */
  maxKeys: number;
  logger?: Pick<Logger, 'warn'>;
  commandTimeoutMs?: number;
}

export function createSharedCache(config: SharedCacheConfig): SharedCache {
  if (config.redisUrl) {
    return new RedisSharedCache({
      url: config.redisUrl,
      prefix: config.prefix,
      logger: config.logger,
      commandTimeoutMs: config.commandTimeoutMs,
    });
  }
  return new MemorySharedCache({ maxKeys: config.maxKeys, prefix: config.prefix });
}
