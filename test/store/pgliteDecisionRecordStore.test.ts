import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createDecisionRecordStore } from '../../src/store/createDecisionRecordStore.js';
import { IN_MEMORY, PgliteDecisionRecordStore } from '../../src/store/pgliteDecisionRecordStore.js';
import { decisionRecordStoreContract } from './decisionRecordStoreContract.js';
import { hookCall } from './fixtures.js';

decisionRecordStoreContract('PGlite (in memory)', async () => ({
  open: () => new PgliteDecisionRecordStore(IN_MEMORY),
}));

describe('PgliteDecisionRecordStore on disk', () => {
  it('keeps records across a restart and does not re-run migrations', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lumbar-records-'));
    const dataDir = join(dir, 'nested', 'records'); // created on open
    try {
      const first = createDecisionRecordStore({ dataDir });
      expect(first).toBeInstanceOf(PgliteDecisionRecordStore);
      await first.init();
      expect(first.lastMigrations.map((m) => m.version)).toEqual([1]);
      const r = hookCall();
      await first.saveHookCall(r);
      await first.close();

      const second = createDecisionRecordStore({ dataDir });
      await second.init();
      expect(second.lastMigrations).toEqual([]);
      expect((await second.findByAssertionId(r.orders[0].coverageAssertionId!))?.call).toEqual(r);
      await second.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
