import { afterEach, describe, expect, it, vi } from 'vitest';
import { createMemoryReplayCache, ReplayCacheFullError, type MemoryReplayCache } from '../../src/security/replayCache.js';

describe('createMemoryReplayCache', () => {
  let cache: MemoryReplayCache | undefined;
  afterEach(() => {
    cache?.close();
    vi.useRealTimers();
  });

  it('records a key once', async () => {
    cache = createMemoryReplayCache();
    expect(await cache.checkAndRemember('iss|a', 60)).toBe(true);
    expect(await cache.checkAndRemember('iss|a', 60)).toBe(false);
    expect(await cache.checkAndRemember('other|a', 60)).toBe(true);
  });

  it('forgets a key after its TTL', async () => {
    vi.useFakeTimers({ now: 1_000_000, toFake: ['Date'] });
    cache = createMemoryReplayCache();
    expect(await cache.checkAndRemember('k', 10)).toBe(true);
    vi.setSystemTime(1_000_000 + 9_000);
    expect(await cache.checkAndRemember('k', 10)).toBe(false);
    vi.setSystemTime(1_000_000 + 11_000);
    expect(await cache.checkAndRemember('k', 10)).toBe(true);
  });

  it('refuses new keys when full of live keys, rather than forgetting any', async () => {
    cache = createMemoryReplayCache({ maxKeys: 2 });
    await cache.checkAndRemember('a', 60);
    await cache.checkAndRemember('b', 60);
    await expect(cache.checkAndRemember('c', 60)).rejects.toBeInstanceOf(ReplayCacheFullError);
    // Old keys are still remembered.
    expect(await cache.checkAndRemember('a', 60)).toBe(false);
    expect(cache.size()).toBe(2);
  });

  it('purges expired keys before refusing', async () => {
    vi.useFakeTimers({ now: 2_000_000, toFake: ['Date'] });
    cache = createMemoryReplayCache({ maxKeys: 2 });
    await cache.checkAndRemember('a', 5);
    await cache.checkAndRemember('b', 60);
    vi.setSystemTime(2_000_000 + 6_000);
    expect(await cache.checkAndRemember('c', 60)).toBe(true);
    expect(await cache.checkAndRemember('b', 60)).toBe(false);
  });

  it('validates maxKeys', () => {
    expect(() => createMemoryReplayCache({ maxKeys: 0 })).toThrow(RangeError);
  });
});
