/**
 * SharedCache contract against memory and the Redis CI starts (TEST_REDIS_URL, default
 * redis://127.0.0.1:6379). Keys carry a per-run prefix and short TTLs, so nothing lingers.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CacheFullError,
  createSharedCache,
  MemorySharedCache,
  RedisSharedCache,
  type SharedCache,
} from '../../src/kv/kv.js';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function sharedCacheContract(name: string, make: (prefix: string) => SharedCache, check?: (c: SharedCache) => Promise<void>) {
  describe(`SharedCache contract: ${name}`, () => {
    let cache: SharedCache;
    beforeAll(async () => {
      cache = make(`lumbar-cds-test:${randomUUID()}:`);
      await check?.(cache);
    });
    afterAll(() => cache?.close());

    it('get returns undefined for a missing key, set/get round-trips', async () => {
      expect(await cache.get('missing')).toBeUndefined();
      await cache.set('k1', 'v1', 30);
      expect(await cache.get('k1')).toBe('v1');
      await cache.set('k1', 'v2', 30);
      expect(await cache.get('k1')).toBe('v2');
    });

    it('setIfAbsent stores once and refuses while the key lives', async () => {
      expect(await cache.setIfAbsent('jti-1', '1', 30)).toBe(true);
      expect(await cache.setIfAbsent('jti-1', '2', 30)).toBe(false);
      expect(await cache.get('jti-1')).toBe('1');
    });

    it('keys expire after their TTL, and setIfAbsent succeeds again', async () => {
      await cache.set('short', 'x', 0.2);
      expect(await cache.setIfAbsent('short-nx', 'x', 0.2)).toBe(true);
      await sleep(350);
      expect(await cache.get('short')).toBeUndefined();
      expect(await cache.setIfAbsent('short-nx', 'y', 30)).toBe(true);
      expect(await cache.get('short-nx')).toBe('y');
    });

    it('rejects a TTL that is not positive', async () => {
      await expect(cache.set('k', 'v', 0)).rejects.toThrow(RangeError);
      await expect(cache.setIfAbsent('k', 'v', -1)).rejects.toThrow(/ttlSeconds must be a positive number/);
    });
  });
}

sharedCacheContract('memory', (prefix) => new MemorySharedCache({ prefix, maxKeys: 1000 }));

sharedCacheContract(
  'redis',
  (prefix) => new RedisSharedCache({ url: REDIS_URL, prefix }),
  async (cache) => {
    try {
      await cache.get('ping');
    } catch (err) {
      throw new Error(
        `Redis is not reachable at ${REDIS_URL} (${err instanceof Error ? err.message : String(err)}). ` +
          'Start it (redis-server --daemonize yes ...) or set TEST_REDIS_URL.',
      );
    }
  },
);

describe('MemorySharedCache bounds', () => {
  it('refuses new keys beyond maxKeys while they are live', async () => {
    const cache = new MemorySharedCache({ maxKeys: 2 });
    await cache.set('a', '1', 30);
    expect(await cache.setIfAbsent('b', '1', 30)).toBe(true);
    await expect(cache.set('c', '1', 30)).rejects.toThrow(CacheFullError);
    await expect(cache.setIfAbsent('c', '1', 30)).rejects.toThrow(/full \(2 live keys\)/);
    await cache.close();
  });

  it('makes room by sweeping expired keys', async () => {
    const cache = new MemorySharedCache({ maxKeys: 2 });
    await cache.set('a', '1', 0.1);
    await cache.set('b', '1', 0.1);
    await sleep(200);
    expect(await cache.setIfAbsent('c', '1', 30)).toBe(true);
    expect(await cache.get('c')).toBe('1');
    await cache.close();
  });
});

describe('RedisSharedCache across instances', () => {
  const prefix = `lumbar-cds-test:${randomUUID()}:`;
  let a: SharedCache;
  let b: SharedCache;
  beforeAll(() => {
    // Two clients = two service instances.
    a = createSharedCache({ redisUrl: REDIS_URL, prefix, maxKeys: 10 });
    b = createSharedCache({ redisUrl: REDIS_URL, prefix, maxKeys: 10 });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  it('the factory picks Redis when a URL is given and memory otherwise', () => {
    expect(a).toBeInstanceOf(RedisSharedCache);
    expect(createSharedCache({ prefix: 'x:', maxKeys: 10 })).toBeInstanceOf(MemorySharedCache);
  });

  it('a jti recorded by one instance is refused by the other', async () => {
    expect(await a.setIfAbsent('jti:abc', '1', 30)).toBe(true);
    expect(await b.setIfAbsent('jti:abc', '1', 30)).toBe(false);
    expect(await b.get('jti:abc')).toBe('1');
  });

  it('of two instances racing on one key, exactly one wins', async () => {
    for (let i = 0; i < 20; i++) {
      const key = `race:${i}`;
      const results = await Promise.all([a.setIfAbsent(key, 'a', 30), b.setIfAbsent(key, 'b', 30)]);
      expect(results.filter(Boolean)).toHaveLength(1);
    }
  });

  it('prefixes keep namespaces apart', async () => {
    const other = createSharedCache({ redisUrl: REDIS_URL, prefix: `${prefix}other:`, maxKeys: 10 });
    try {
      await a.set('shared-name', 'a', 30);
      expect(await other.get('shared-name')).toBeUndefined();
      expect(await other.setIfAbsent('shared-name', 'o', 30)).toBe(true);
    } finally {
      await other.close();
    }
  });
});

describe('RedisSharedCache with Redis down', () => {
  /** A port nothing listens on: bind, read the port, close. */
  async function closedPort(): Promise<number> {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as { port: number };
    await new Promise<void>((r) => server.close(() => r()));
    return port;
  }

  it('every operation fails fast instead of hanging', async () => {
    const cache = new RedisSharedCache({ url: `redis://127.0.0.1:${await closedPort()}`, prefix: 'x:', commandTimeoutMs: 300 });
    try {
      for (const op of [
        () => cache.get('k'),
        () => cache.set('k', 'v', 10),
        () => cache.setIfAbsent('k', 'v', 10),
      ]) {
        const started = Date.now();
        await expect(op()).rejects.toThrow();
        expect(Date.now() - started).toBeLessThan(1_000);
      }
    } finally {
      const started = Date.now();
      await cache.close();
      expect(Date.now() - started).toBeLessThan(500);
    }
  });

  it('a server that accepts but never answers is bounded by the command timeout', async () => {
    // Black hole: accepts TCP and never replies (a hung or partitioned Redis).
    const sockets = new Set<Socket>();
    const server = createServer((s) => sockets.add(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as { port: number };
    const cache = new RedisSharedCache({ url: `redis://127.0.0.1:${port}`, commandTimeoutMs: 300 });
    try {
      const started = Date.now();
      await expect(cache.setIfAbsent('k', 'v', 10)).rejects.toThrow();
      expect(Date.now() - started).toBeLessThan(1_000);
    } finally {
      await cache.close();
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
