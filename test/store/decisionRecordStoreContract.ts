/**
 * The behaviour every DecisionRecordStore must have; run against SQLite and real PostgreSQL.
 * One store per suite: tests use their own patients and ids so they do not see each other.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATION_NAMES } from '../../src/store/migrations.js';
import type { RecordDatabaseHandle } from '../../src/store/openRecordDatabase.js';
import { SqlDecisionRecordStore } from '../../src/store/sqlDecisionRecordStore.js';
import { feedback, hookCall, orderRecord } from './fixtures.js';

export interface StoreHarness {
  /** Opens and migrates the database (the same one on every call, except SQLite in memory). */
  open(): Promise<RecordDatabaseHandle>;
  /** Drops the database. */
  cleanup?(): Promise<void>;
}

export function decisionRecordStoreContract(name: string, setup: () => Promise<StoreHarness>): void {
  describe(`DecisionRecordStore contract: ${name}`, () => {
    let harness: StoreHarness;
    let handle: RecordDatabaseHandle;
    let store: SqlDecisionRecordStore;
    const patient = () => `Patient/${randomUUID()}`;

    beforeAll(async () => {
      harness = await setup();
      handle = await harness.open();
      store = new SqlDecisionRecordStore(handle.db);
    });

    afterAll(async () => {
      await handle?.close();
      await harness?.cleanup?.();
    });

    describe('migrations', () => {
      it('applies every migration once, in order', async () => {
        const { rows } = await sql<{ name: string }>`SELECT name FROM kysely_migration ORDER BY name`.execute(handle.db);
        expect(rows.map((n) => n.name)).toEqual([...MIGRATION_NAMES]);
      });
    });

    describe('saveHookCall / findByAssertionId', () => {
      it('round-trips a call with several orders and returns the matching order', async () => {
        const first = orderRecord({ orderRef: 'ServiceRequest/a' });
        const second = orderRecord({
          orderRef: 'ServiceRequest/b',
          outcome: 'conditional',
          billingCode: undefined,
          policyVersion: undefined,
          missing: ['II.B.2'],
          suggestions: [randomUUID()],
          satisfiedPaId: 'pa-77',
        });
        const r = hookCall({ patientRef: patient(), orders: [first, second], clientIss: undefined });
        await store.saveHookCall(r);

        const found = await store.findByAssertionId(second.coverageAssertionId!);
        expect(found).toBeDefined();
        const { billingCode: _b, policyVersion: _v, ...secondStored } = second;
        expect(found!.order).toEqual(secondStored);
        expect(found!.order).not.toHaveProperty('billingCode');
        expect(found!.call).not.toHaveProperty('clientIss');
        expect(found!.call.orders.map((o) => o.orderRef)).toEqual(['ServiceRequest/a', 'ServiceRequest/b']);
        expect(found!.call.receivedAt).toBe(r.receivedAt);
        expect(found!.call.durationMs).toBe(42.5);
        expect(found!.feedback).toEqual([]);
      });

      it('returns undefined for an unknown assertion id', async () => {
        expect(await store.findByAssertionId(`ca-${randomUUID()}`)).toBeUndefined();
      });

      it('saving the same id twice is a no-op (retries do not duplicate)', async () => {
        const p = patient();
        const r = hookCall({ patientRef: p });
        await store.saveHookCall(r);
        await store.saveHookCall(r);
        const list = await store.listAssertions({ patient: p });
        expect(list).toHaveLength(1);
        expect(list[0].call.orders).toHaveLength(1);
      });

      it('stores a call with no orders', async () => {
        const p = patient();
        await store.saveHookCall(hookCall({ patientRef: p, orders: [] }));
        expect(await store.listAssertions({ patient: p })).toEqual([]);
      });

      it('normalises receivedAt offsets to UTC', async () => {
        const r = hookCall({ patientRef: patient(), receivedAt: '2024-06-01T12:00:00+02:00' });
        await store.saveHookCall(r);
        const found = await store.findByAssertionId(r.orders[0].coverageAssertionId!);
        expect(found!.call.receivedAt).toBe('2024-06-01T10:00:00.000Z');
      });

      it('keeps only the declared fields (no resource contents slip in)', async () => {
        const order = { ...orderRecord(), resource: { resourceType: 'Patient', name: [{ family: 'Doe' }] } };
        const r = { ...hookCall({ patientRef: patient(), orders: [order] }), birthDate: '1970-01-01' };
        await store.saveHookCall(r);
        const found = await store.findByAssertionId(order.coverageAssertionId!);
        expect(JSON.stringify(found)).not.toMatch(/Doe|1970-01-01/);
      });

      it('rejects a receivedAt that is not an ISO instant', async () => {
        await expect(store.saveHookCall(hookCall({ receivedAt: '2024-06-01' }))).rejects.toThrow(
          /receivedAt must be an ISO 8601 instant/,
        );
      });
    });

    describe('feedback', () => {
      it('is attached to the assertion through the call’s card uuids', async () => {
        const cards = [randomUUID(), randomUUID()];
        const r = hookCall({ patientRef: patient(), cardUuids: cards });
        await store.saveHookCall(r);
        const f1 = feedback({ cardUuid: cards[0], receivedAt: '2024-06-01T10:01:00.000Z' });
        const f2 = feedback({
          cardUuid: cards[1],
          outcome: 'overridden',
          acceptedSuggestions: [],
          overrideReason: 'patient-refused',
          clientIss: 'https://ehr.example.org',
          receivedAt: '2024-06-01T10:02:00.000Z',
        });
        await store.saveFeedback(f2);
        await store.saveFeedback(f1);
        await store.saveFeedback(f1); // idempotent
        await store.saveFeedback(feedback()); // another card: not attached

        const found = await store.findByAssertionId(r.orders[0].coverageAssertionId!);
        expect(found!.feedback).toEqual([f1, f2]);
      });
    });

    describe('listAssertions', () => {
      it('filters by patient and by [from, to) and returns newest first', async () => {
        const p = patient();
        const at = (d: string) => hookCall({ patientRef: p, receivedAt: `2024-03-${d}T08:00:00.000Z` });
        const c1 = at('01');
        const c2 = at('02');
        const c3 = hookCall({
          patientRef: p,
          receivedAt: '2024-03-03T08:00:00.000Z',
          orders: [orderRecord(), orderRecord({ coverageAssertionId: undefined }), orderRecord()],
        });
        for (const c of [c1, c2, c3]) await store.saveHookCall(c);
        await store.saveHookCall(hookCall({ patientRef: patient(), receivedAt: '2024-03-02T08:00:00.000Z' }));

        const all = await store.listAssertions({ patient: p });
        expect(all.map((a) => a.order.coverageAssertionId)).toEqual([
          c3.orders[0].coverageAssertionId,
          c3.orders[2].coverageAssertionId,
          c2.orders[0].coverageAssertionId,
          c1.orders[0].coverageAssertionId,
        ]);
        expect(all[0].call).toEqual(c3);

        const window = await store.listAssertions({
          patient: p,
          from: '2024-03-02T08:00:00.000Z',
          to: '2024-03-03T08:00:00.000Z',
        });
        expect(window.map((a) => a.call.id)).toEqual([c2.id]);

        expect(await store.listAssertions({ patient: p, limit: 2 })).toHaveLength(2);
      });

      it('without a patient, lists every patient in the range', async () => {
        const from = '2019-05-01T00:00:00.000Z';
        const a = hookCall({ patientRef: patient(), receivedAt: '2019-05-01T01:00:00.000Z' });
        const b = hookCall({ patientRef: patient(), receivedAt: '2019-05-01T02:00:00.000Z' });
        await store.saveHookCall(a);
        await store.saveHookCall(b);
        const list = await store.listAssertions({ from, to: '2019-05-02T00:00:00.000Z' });
        expect(list.map((x) => x.call.id)).toEqual([b.id, a.id]);
      });

      it('rejects a malformed date bound', async () => {
        await expect(store.listAssertions({ from: 'yesterday' })).rejects.toThrow(/from must be an ISO 8601 instant/);
      });
    });

    describe('purgeOlderThan', () => {
      it('deletes calls, their orders and feedback received before the cutoff', async () => {
        const p = patient();
        const card = randomUUID();
        const old = hookCall({ patientRef: p, receivedAt: '2001-01-01T00:00:00.000Z', cardUuids: [card] });
        const kept = hookCall({ patientRef: p, receivedAt: '2001-06-01T00:00:00.000Z' });
        await store.saveHookCall(old);
        await store.saveHookCall(kept);
        await store.saveFeedback(feedback({ cardUuid: card, receivedAt: '2001-01-01T00:01:00.000Z' }));

        const removed = await store.purgeOlderThan('2001-03-01T00:00:00.000Z');
        expect(removed).toBe(2); // one call + one feedback
        expect(await store.findByAssertionId(old.orders[0].coverageAssertionId!)).toBeUndefined();
        expect((await store.listAssertions({ patient: p })).map((a) => a.call.id)).toEqual([kept.id]);
        expect(await store.purgeOlderThan('2001-03-01T00:00:00.000Z')).toBe(0);
      });
    });

    it('writes a batch of calls and feedback in one transaction: all or none', async () => {
      const p = patient();
      const good = hookCall({ patientRef: p });
      const bad = hookCall({ patientRef: p, receivedAt: 'not a date' });
      await expect(store.saveBatch([good, bad], [])).rejects.toThrow(/receivedAt/);
      expect(await store.listAssertions({ patient: p })).toEqual([]);
      const calls = [hookCall({ patientRef: p }), hookCall({ patientRef: p, orders: [] }), good];
      await store.saveBatch(calls, [feedback({ cardUuid: good.cardUuids[0] })]);
      await store.saveBatch(calls, []); // idempotent
      expect((await store.listAssertions({ patient: p })).map((a) => a.call.id).sort()).toEqual([calls[0].id, good.id].sort());
      expect((await store.findByAssertionId(good.orders[0].coverageAssertionId!))!.feedback).toHaveLength(1);
    });
  });
}
