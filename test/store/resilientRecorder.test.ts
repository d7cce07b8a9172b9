import { describe, expect, it, vi } from 'vitest';
import { IN_MEMORY, PgliteDecisionRecordStore } from '../../src/store/pgliteDecisionRecordStore.js';
import { ResilientRecorder, type RecorderLogger } from '../../src/store/resilientRecorder.js';
import type { DecisionRecordStore, FeedbackRecord, HookCallRecord } from '../../src/store/types.js';
import { feedback, hookCall } from './fixtures.js';

type Mode = 'ok' | 'fail' | 'hang' | 'invalid' | 'throw-sync';

/** A store whose behaviour the test switches: failing, hanging, then recovering. */
class FlakyStore implements Pick<DecisionRecordStore, 'saveHookCall' | 'saveFeedback'> {
  mode: Mode = 'ok';
  readonly saved: string[] = [];
  attempts = 0;

  saveHookCall(r: HookCallRecord): Promise<void> {
    return this.save(r.id);
  }
  saveFeedback(f: FeedbackRecord): Promise<void> {
    return this.save(f.id);
  }
  private save(id: string): Promise<void> {
    this.attempts++;
    switch (this.mode) {
      case 'ok':
        this.saved.push(id);
        return Promise.resolve();
      case 'fail':
        return Promise.reject(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }));
      case 'hang':
        return new Promise(() => undefined);
      case 'invalid':
        return Promise.reject(new RangeError('receivedAt must be an ISO 8601 instant'));
      case 'throw-sync':
        throw new Error('driver bug');
    }
  }
}

function spyLogger() {
  const logger = { info: vi.fn(), warn: vi.fn(), error: vi.fn() };
  return { logger, typed: logger as unknown as RecorderLogger };
}

const TIMEOUT = 100;

function setup(over: { maxQueue?: number; retryBaseMs?: number } = {}) {
  const store = new FlakyStore();
  const log = spyLogger();
  const recorder = new ResilientRecorder(store, {
    logger: log.typed,
    timeoutMs: TIMEOUT,
    retryBaseMs: over.retryBaseMs ?? 20,
    retryMaxMs: 100,
    maxQueue: over.maxQueue ?? 100,
  });
  return { store, recorder, logger: log.logger };
}

async function timed(p: Promise<void>): Promise<number> {
  const t = performance.now();
  await p;
  return performance.now() - t;
}

describe('ResilientRecorder', () => {
  it('writes through when the store is healthy', async () => {
    const { store, recorder } = setup();
    const r = hookCall();
    await recorder.record(r);
    await recorder.recordFeedback(feedback({ id: 'fb-1' }));
    expect(store.saved).toEqual([r.id, 'fb-1']);
    expect(recorder.stats()).toEqual({ written: 2, failed: 0, retried: 0, dropped: 0, queued: 0 });
  });

  it('does not delay the hook path when the store hangs, and writes once it recovers', async () => {
    const { store, recorder, logger } = setup();
    store.mode = 'hang';
    const r = hookCall();
    const elapsed = await timed(recorder.record(r));
    expect(elapsed).toBeLessThan(TIMEOUT + 50);
    expect(recorder.stats()).toMatchObject({ failed: 1, queued: 1, written: 0 });
    expect(logger.warn).toHaveBeenCalledWith(
      expect.objectContaining({ recordId: r.id, hookInstance: r.hookInstance, err: expect.stringMatching(/timed out/) }),
      expect.any(String),
    );

    // While records are queued, new ones join the queue at once: no wait at all.
    expect(await timed(recorder.record(hookCall()))).toBeLessThan(20);

    store.mode = 'ok';
    await vi.waitFor(() => expect(recorder.stats()).toMatchObject({ written: 2, queued: 0 }), { timeout: 2_000 });
    expect(store.saved[0]).toBe(r.id); // order kept
    expect(recorder.stats().retried).toBeGreaterThanOrEqual(2);
  });

  it('retries with backoff while the store fails, then drains the queue', async () => {
    const { store, recorder, logger } = setup();
    store.mode = 'fail';
    const records = [hookCall(), hookCall(), hookCall()];
    for (const r of records) expect(await timed(recorder.record(r))).toBeLessThan(TIMEOUT + 50);
    expect(recorder.stats().queued).toBe(3);

    await vi.waitFor(() => expect(recorder.stats().retried).toBeGreaterThanOrEqual(3), { timeout: 2_000 });
    expect(store.saved).toEqual([]);

    store.mode = 'ok';
    await vi.waitFor(() => expect(recorder.stats().queued).toBe(0), { timeout: 2_000 });
    expect(store.saved).toEqual(records.map((r) => r.id));
    const s = recorder.stats();
    expect(s.written).toBe(3);
    expect(s.dropped).toBe(0);
    expect(s.failed).toBeGreaterThanOrEqual(4); // the first write + at least 3 failed retries
    expect(logger.info).toHaveBeenCalledWith(expect.objectContaining({ written: 3 }), 'decision record retry queue drained');
  });

  it('drops the oldest record when the queue is full, counting and logging it', async () => {
    const { store, recorder, logger } = setup({ maxQueue: 3, retryBaseMs: 60_000 });
    store.mode = 'fail';
    const records = Array.from({ length: 5 }, () => hookCall());
    for (const r of records) await recorder.record(r);

    expect(recorder.stats()).toMatchObject({ queued: 3, dropped: 2 });
    const droppedIds = logger.error.mock.calls
      .filter(([, msg]) => msg === 'decision record dropped')
      .map(([fields]) => (fields as { recordId: string }).recordId);
    expect(droppedIds).toEqual([records[0].id, records[1].id]);

    store.mode = 'ok';
    const stats = await recorder.flush(); // does not wait for the 60 s backoff
    expect(stats).toMatchObject({ written: 3, queued: 0, dropped: 2 });
    expect(store.saved).toEqual(records.slice(2).map((r) => r.id));
  });

  it('drops, rather than retries forever, a record the store rejects as invalid', async () => {
    const { store, recorder, logger } = setup();
    store.mode = 'invalid';
    await recorder.record(hookCall());
    expect(recorder.stats()).toMatchObject({ failed: 1, dropped: 1, queued: 0 });
    expect(logger.error).toHaveBeenCalledWith(
      expect.objectContaining({ reason: 'rejected by store' }),
      'decision record dropped',
    );
  });

  it('never throws, even when the store throws synchronously', async () => {
    const { store, recorder } = setup();
    store.mode = 'throw-sync';
    await expect(recorder.record(hookCall())).resolves.toBeUndefined();
    expect(recorder.stats()).toMatchObject({ failed: 1, queued: 1 });
    store.mode = 'ok';
    expect(await recorder.close()).toMatchObject({ written: 1, queued: 0 });
  });

  it('close() reports what could not be written', async () => {
    const { store, recorder, logger } = setup();
    store.mode = 'fail';
    await recorder.record(hookCall());
    expect(await recorder.close()).toMatchObject({ queued: 1, written: 0 });
    expect(logger.error).toHaveBeenCalledWith({ queued: 1 }, 'decision recorder closed with records not written');
  });

  it('over a real PGlite store that fails then recovers, the record lands exactly once', async () => {
    const pglite = new PgliteDecisionRecordStore(IN_MEMORY);
    await pglite.init();
    let failures = 2;
    const flaky: Pick<DecisionRecordStore, 'saveHookCall' | 'saveFeedback'> = {
      saveHookCall: async (r) => {
        // Succeeds in the database but reports failure: the retry must not duplicate it.
        await pglite.saveHookCall(r);
        if (failures-- > 0) throw new Error('connection reset after commit');
      },
      saveFeedback: (f) => pglite.saveFeedback(f),
    };
    const { logger } = spyLogger();
    const recorder = new ResilientRecorder(flaky, {
      logger: logger as unknown as RecorderLogger,
      timeoutMs: 500,
      retryBaseMs: 10,
    });
    const r = hookCall({ patientRef: 'Patient/recorder-1' });
    await recorder.record(r);
    await vi.waitFor(() => expect(recorder.stats()).toMatchObject({ written: 1, queued: 0 }), { timeout: 2_000 });
    expect(recorder.stats().retried).toBe(2);
    const list = await pglite.listAssertions({ patient: 'Patient/recorder-1' });
    expect(list.map((a) => a.call)).toEqual([r]);
    await pglite.close();
  });
});
