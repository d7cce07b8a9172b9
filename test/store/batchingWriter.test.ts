import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchingRecordWriter, type BatchStore } from '../../src/store/batchingWriter.js';
import { createDecisionRecordStore } from '../../src/store/createDecisionRecordStore.js';
import { IN_MEMORY } from '../../src/store/pgliteDecisionRecordStore.js';
import type { SqlDecisionRecordStore } from '../../src/store/sqlDecisionRecordStore.js';
import type { FeedbackRecord, HookCallRecord } from '../../src/store/types.js';
import { hookCall, orderRecord } from './fixtures.js';

class CountingStore implements BatchStore {
  batches: number[] = [];
  singles = 0;
  failBatches = false;
  constructor(private readonly inner: BatchStore) {}
  async saveHookCalls(records: readonly HookCallRecord[]): Promise<void> {
    this.batches.push(records.length);
    if (this.failBatches) throw new Error('batch refused');
    await this.inner.saveHookCalls(records);
  }
  async saveHookCall(r: HookCallRecord): Promise<void> {
    this.singles++;
    await this.inner.saveHookCall(r);
  }
  saveFeedback(f: FeedbackRecord): Promise<void> {
    return this.inner.saveFeedback(f);
  }
}

describe('BatchingRecordWriter on the embedded store', () => {
  let store: SqlDecisionRecordStore;
  beforeAll(async () => {
    store = createDecisionRecordStore({ dataDir: IN_MEMORY });
    await store.init();
  });
  afterAll(async () => {
    await store.close();
  });

  it('writes the calls that arrive together in one statement, every order kept', async () => {
    const counting = new CountingStore(store);
    const writer = new BatchingRecordWriter(counting, 20, 100);
    const calls = Array.from({ length: 25 }, (_, i) => hookCall({ orders: [orderRecord({ coverageAssertionId: `batch-${i}` })] }));
    await Promise.all(calls.map((c) => writer.saveHookCall(c)));
    expect(counting.batches).toEqual([25]);
    for (let i = 0; i < 25; i++) {
      const found = await store.findByAssertionId(`batch-${i}`);
      expect(found?.call.id).toBe(calls[i].id);
      expect(found?.order.coverageAssertionId).toBe(`batch-${i}`);
    }
  });

  it('starts a new batch at maxBatch', async () => {
    const counting = new CountingStore(store);
    const writer = new BatchingRecordWriter(counting, 1000, 10);
    await Promise.all(Array.from({ length: 25 }, (_, i) => writer.saveHookCall(hookCall({ orders: [orderRecord({ coverageAssertionId: `max-${i}` })] }))));
    expect(counting.batches.slice(0, 2)).toEqual([10, 10]);
    expect(counting.batches.reduce((a, b) => a + b, 0)).toBe(25);
  });

  it('writes each record alone when a batch fails, so one bad record fails alone', async () => {
    const counting = new CountingStore(store);
    counting.failBatches = true;
    const writer = new BatchingRecordWriter(counting, 5, 100);
    const good = hookCall({ orders: [orderRecord({ coverageAssertionId: 'alone-good' })] });
    const bad = { ...hookCall({ orders: [orderRecord({ coverageAssertionId: 'alone-bad' })] }), receivedAt: 'yesterday' };
    const results = await Promise.allSettled([writer.saveHookCall(good), writer.saveHookCall(bad)]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected']);
    expect(counting.singles).toBe(2);
    expect((await store.findByAssertionId('alone-good'))?.call.id).toBe(good.id);
  });

  it('is idempotent on the record id across batches', async () => {
    const writer = new BatchingRecordWriter(store, 5, 100);
    const call = hookCall({ orders: [orderRecord({ coverageAssertionId: 'twice' })] });
    await Promise.all([writer.saveHookCall(call), writer.saveHookCall(call)]);
    await writer.saveHookCall(call);
    const list = await store.listAssertions({ patient: call.patientRef, limit: 1000 });
    expect(list.filter((a) => a.order.coverageAssertionId === 'twice')).toHaveLength(1);
  });
});
