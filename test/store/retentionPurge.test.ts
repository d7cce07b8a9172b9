import { describe, expect, it, vi } from 'vitest';
import { IN_MEMORY, openSqlite } from '../../src/store/openRecordDatabase.js';
import { SqlDecisionRecordStore } from '../../src/store/sqlDecisionRecordStore.js';
import { startRetentionPurge } from '../../src/store/retentionPurge.js';
import { hookCall } from './fixtures.js';

const logger = () => ({ info: vi.fn(), error: vi.fn() });

describe('startRetentionPurge', () => {
  it('purges at start with cutoff = now - retentionDays, then on every interval', async () => {
    const purgeOlderThan = vi.fn(async (_cutoff: string) => 0);
    const stop = startRetentionPurge(
      { purgeOlderThan },
      { retentionDays: 30, intervalMs: 20, logger: logger(), now: () => new Date('2024-07-31T00:00:00.000Z') },
    );
    expect(purgeOlderThan).toHaveBeenCalledWith('2024-07-01T00:00:00.000Z');
    await vi.waitFor(() => expect(purgeOlderThan.mock.calls.length).toBeGreaterThanOrEqual(3));
    await stop();
    const calls = purgeOlderThan.mock.calls.length;
    await new Promise((r) => setTimeout(r, 60));
    expect(purgeOlderThan.mock.calls.length).toBe(calls);
  });

  it('logs a failed purge and keeps going', async () => {
    const log = logger();
    const purgeOlderThan = vi
      .fn<(cutoff: string) => Promise<number>>()
      .mockRejectedValueOnce(new Error('database down'))
      .mockResolvedValue(3);
    const stop = startRetentionPurge({ purgeOlderThan }, { retentionDays: 1, intervalMs: 20, logger: log });
    await vi.waitFor(() => expect(log.info).toHaveBeenCalledWith(expect.objectContaining({ removed: 3 }), 'decision records purged'));
    expect(log.error).toHaveBeenCalledWith(expect.objectContaining({ err: 'database down' }), 'decision record purge failed');
    await stop();
  });

  it('is disabled when retentionDays is 0', async () => {
    const purgeOlderThan = vi.fn(async () => 0);
    const stop = startRetentionPurge({ purgeOlderThan }, { retentionDays: 0, intervalMs: 10, logger: logger() });
    await new Promise((r) => setTimeout(r, 30));
    expect(purgeOlderThan).not.toHaveBeenCalled();
    await stop();
  });

  it('removes expired records from a real store', async () => {
    const handle = await openSqlite(IN_MEMORY);
    const store = new SqlDecisionRecordStore(handle.db);
    const old = hookCall({ receivedAt: '2024-01-01T00:00:00.000Z' });
    const recent = hookCall({ receivedAt: '2024-07-30T00:00:00.000Z' });
    await store.saveHookCall(old);
    await store.saveHookCall(recent);
    const log = logger();
    const stop = startRetentionPurge(store, {
      retentionDays: 30,
      intervalMs: 60_000,
      logger: log,
      now: () => new Date('2024-07-31T00:00:00.000Z'),
    });
    await stop(); // waits for the purge started at once
    expect(log.info).toHaveBeenCalledWith(expect.objectContaining({ removed: 1 }), 'decision records purged');
    expect(await store.findByAssertionId(old.orders[0].coverageAssertionId!)).toBeUndefined();
    expect(await store.findByAssertionId(recent.orders[0].coverageAssertionId!)).toBeDefined();
    await handle.close();
  });
});
