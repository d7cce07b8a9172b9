import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { describe, expect, it, vi } from 'vitest';
import { createApp } from '../../src/http/app.js';
import { testConfig } from '../../src/config/config.js';
import { createDecisionCache, decideThroughCache, decisionKey, libraryVersion, DECISION_CACHE_MAX_BODY_BYTES, DECISION_CACHE_VERSION, SharedDecisionCache, type DecisionCache, type DecisionInput } from '../../src/decision/decisionCache.js';
import type { SharedCache } from '../../src/kv/kv.js';
import { criterionId, dateOfService, decideOrder, type OrderDecision } from '../../src/decision/decideOrder.js';
import { parseHookRequest } from '../../src/hooks/schema.js';
import { loadLibrary } from '../../src/library/library.js';
import { hookContextFromConfig } from '../../src/pipeline/context.js';
import { loadPatientRecord, ordersInScope } from '../../src/pipeline/runHook.js';
import type { ServiceRequest } from 'fhir/r4.js';
import { SERVICE_IDS } from '../../src/hooks/discovery.js';
import type { CdsResponse } from '../../src/hooks/types.js';
import { observedDecision } from '../support/outcome.js';

type Json = Record<string, any>;
const TODAY = '2025-06-01';
const FIXTURE = join(import.meta.dirname, '..', '..', 'cds-services', 'kp-wa-lumbar-mri', 'fixtures', 'NI-uncomplicated-acute-low-back-pain.json');
const signRequest = (): Json => {
  const j = JSON.parse(readFileSync(FIXTURE, 'utf8')) as Json;
  delete j.description;
  return j;
};
const orderOf = (req: Json): Json => req.context.draftOrders.entry[0].resource;
const selectFrom = (sign: Json): Json => ({
  ...structuredClone(sign),
  hook: 'order-select',
  hookInstance: 'b0c1c3a4-0000-4000-8000-00000000select',
  context: { ...structuredClone(sign.context), selections: [`ServiceRequest/${orderOf(sign).id}`] },
});

/** The app's cache, counting what order-sign found in it. */
function countingCache(inner: DecisionCache): DecisionCache & { hits: number; misses: number; lookups: number } {
  const c = {
    hits: 0,
    misses: 0,
    /** Keys looked up (each computed first). */
    lookups: 0,
    async get(key: string) {
      c.lookups++;
      const v = await inner.get(key);
      if (v === undefined) c.misses++;
      else c.hits++;
      return v;
    },
    set: (key: string, value: string) => inner.set(key, value),
    notePatient: (patientId: string) => inner.notePatient(patientId),
    // As the app's metrics: a patient without entries is a lookup that missed.
    async mayHoldPatient(patientId: string) {
      const may = await inner.mayHoldPatient(patientId);
      if (!may) c.misses++;
      return may;
    },
  };
  return c;
}

function setup() {
  // Every card at order-sign, so the cached decision's cards can be compared with an uncached one
  // (by default order-sign repeats no card order-select showed: test/hooks/orderSignCards.test.ts).
  const config = testConfig({ orderSignCards: 'all' });
  const cache = countingCache(createDecisionCache({ decisionCacheTtlSeconds: 60, decisionCacheMaxKeys: 100 }) as DecisionCache);
  const { app } = createApp(config, { decisionCache: cache });
  const call = (body: Json) => request(app).post(`/cds-services/${SERVICE_IDS[body.hook as 'order-sign']}`).send(body);
  return { cache, call };
}

describe('decision cache', () => {
  it('answers order-sign from the decision order-select made for the same order and record', async () => {
    const { cache, call } = setup();
    const sign = signRequest();
    const uncached = await setup().call(sign);
    expect((await call(selectFrom(sign))).status).toBe(200);
    const res = await call(sign);
    expect(res.status).toBe(200);
    expect(cache.hits).toBe(1);
    // The cached decision rebuilds order-sign's own answer: the same decision, cards and CRD system action.
    expect(observedDecision(res.body as CdsResponse)).toEqual(observedDecision(uncached.body as CdsResponse));
    expect(observedDecision(res.body as CdsResponse).outcome).toBe('not-indicated');
    expect(res.body.cards.map((c: Json) => c.summary)).toEqual(uncached.body.cards.map((c: Json) => c.summary));
    expect(res.body.systemActions).toHaveLength(1);
  });

  it('is not consulted for a body over DECISION_CACHE_MAX_BODY_BYTES (hashing it would cost more than deciding), and decides the same', async () => {
    const { cache, call } = setup();
    const sign = signRequest();
    // Years of unrelated vital signs (a code no value set holds, before the episode): the decision is unchanged.
    const vitals = Array.from({ length: 1500 }, (_, i) => ({
      resource: {
        resourceType: 'Observation',
        id: `bp-${i}`,
        status: 'final',
        category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
        code: { coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }] },
        subject: { reference: `Patient/${sign.context.patientId}` },
        effectiveDateTime: `2015-01-01T08:${String(i % 60).padStart(2, '0')}:00Z`,
        valueQuantity: { value: 60 + (i % 30), unit: 'beats/minute', system: 'http://unitsofmeasure.org', code: '/min' },
        note: [{ text: 'Routine vital signs at a primary care visit, recorded by the clinic nurse: no concerns.'.repeat(4) }],
      },
    }));
    sign.prefetch.observations = { resourceType: 'Bundle', type: 'searchset', entry: [...(sign.prefetch.observations?.entry ?? []), ...vitals] };
    expect(Buffer.byteLength(JSON.stringify(sign))).toBeGreaterThan(DECISION_CACHE_MAX_BODY_BYTES);
    expect((await call(selectFrom(sign))).status).toBe(200);
    const res = await call(sign);
    expect(res.status).toBe(200);
    expect(cache.hits + cache.misses).toBe(0);
    expect(observedDecision(res.body as CdsResponse).outcome).toBe('not-indicated');
  });

  it('names the assertion after the order-sign call, not the order-select that filled the cache', async () => {
    const { cache, call } = setup();
    const sign = signRequest();
    await call(selectFrom(sign));
    const a = await call(sign);
    const b = await call({ ...sign, hookInstance: 'd7a0f3b2-1111-4111-8111-000000000002' });
    expect(cache.hits).toBe(2);
    const id = (body: CdsResponse) => observedDecision(body).extension?.extension?.find((e) => e.url === 'coverage-assertion-id')?.valueString;
    expect(id(a.body)).toBeDefined();
    expect(id(b.body)).toBeDefined();
    expect(id(a.body)).not.toBe(id(b.body));
  });

  it('misses when one resource of the record changes', async () => {
    const { cache, call } = setup();
    const sign = signRequest();
    await call(selectFrom(sign));
    const changed = structuredClone(sign);
    changed.prefetch.conditions.entry[0].resource.onsetDateTime = '2024-05-30T09:30:00-08:00';
    expect((await call(changed)).status).toBe(200);
    expect(cache.hits).toBe(0);
    expect(cache.misses).toBe(1);
  });

  it('misses when the order changes', async () => {
    const { cache, call } = setup();
    const sign = signRequest();
    await call(selectFrom(sign));
    const changed = structuredClone(sign);
    orderOf(changed).code.coding[0].code = '72158';
    expect((await call(changed)).status).toBe(200);
    expect(cache.hits).toBe(0);
  });

  it('misses when the date of service changes', async () => {
    const { cache, call } = setup();
    const sign = signRequest();
    await call(selectFrom(sign));
    const changed = structuredClone(sign);
    orderOf(changed).occurrenceDateTime = '2024-06-19';
    const res = await call(changed);
    expect(res.status).toBe(200);
    expect(cache.hits).toBe(0);
  });

  it('never stores what order-sign decided, so a repeated order-sign is decided again', async () => {
    const { cache, call } = setup();
    const sign = signRequest();
    await call(sign);
    await call(sign);
    expect(cache.hits).toBe(0);
    expect(cache.misses).toBe(2);
  });

  it('looks no key up on order-sign for a patient order-select left no entry for, and decides the same', async () => {
    const { cache, call } = setup();
    const sign = signRequest();
    const first = await call(sign);
    expect(first.status).toBe(200);
    expect(cache.lookups).toBe(0);
    // Counted as a miss, as the app's metrics count it.
    expect(cache.misses).toBe(1);
    // Another patient's order-select leaves nothing for this one.
    const otherPatient = JSON.parse(JSON.stringify(sign).replaceAll(sign.context.patientId, `${sign.context.patientId}-other`)) as Json;
    expect((await call(selectFrom(otherPatient))).status).toBe(200);
    expect(observedDecision((await call(sign)).body as CdsResponse)).toEqual(observedDecision(first.body as CdsResponse));
    expect(cache.lookups).toBe(0);
    // Once order-select has left an entry for this patient, order-sign looks it up.
    await call(selectFrom(sign));
    await call(sign);
    expect(cache.lookups).toBe(1);
    expect(cache.hits).toBe(1);
  });

  it('notes a patient for the time to live of its entries, in memory', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      const cache = createDecisionCache({ decisionCacheTtlSeconds: 60, decisionCacheMaxKeys: 100 }) as DecisionCache;
      expect(await cache.mayHoldPatient('p-1')).toBe(false);
      await cache.notePatient('p-1');
      expect(await cache.mayHoldPatient('p-1')).toBe(true);
      expect(await cache.mayHoldPatient('p-2')).toBe(false);
      vi.advanceTimersByTime(59_000);
      expect(await cache.mayHoldPatient('p-1')).toBe(true);
      vi.advanceTimersByTime(2_000);
      expect(await cache.mayHoldPatient('p-1')).toBe(false);
    } finally {
      vi.useRealTimers();
    }
  });

  it('notes the patient after its entries, with their time to live, and without the patient id in the clear', async () => {
    const written: { key: string; ttl: number }[] = [];
    const store: SharedCache = {
      get: async () => undefined,
      set: async (key, _value, ttl) => void written.push({ key, ttl }),
      setIfAbsent: async () => true,
      ping: async () => undefined,
      close: async () => undefined,
    };
    const library = loadLibrary();
    const req = parseHookRequest(signRequest(), 'order-sign');
    const [o] = ordersInScope(req);
    const input: DecisionInput = { patientId: req.context.patientId, prefetch: req.prefetch, order: o.order, orderRef: o.ref, cpt: o.cpt, dateOfService: '2024-06-12' };
    const record = (await loadPatientRecord(req, { library, record: hookContextFromConfig(testConfig(), library).record })).record;
    await decideThroughCache(new SharedDecisionCache(store, 42), library, 'order-select', input, () => decideOrder(library, record, o.order, o.ref, o.cpt, TODAY, []));
    expect(written).toEqual([
      { key: decisionKey(library, input), ttl: 42 },
      { key: expect.stringMatching(/^patient:[0-9a-f]{64}$/), ttl: 42 },
    ]);
    expect(written[1].key).not.toContain(input.patientId);
  });

  it('is bounded: past its maximum it stores nothing more and never fails', async () => {
    const cache = createDecisionCache({ decisionCacheTtlSeconds: 60, decisionCacheMaxKeys: 2 }) as DecisionCache;
    await cache.set('a', '1');
    await cache.set('b', '2');
    await expect(cache.set('c', '3')).resolves.toBeUndefined();
    expect(await cache.get('a')).toBe('1');
    expect(await cache.get('b')).toBe('2');
    expect(await cache.get('c')).toBeUndefined();
  });

  it('is off when its size or time to live is 0', () => {
    expect(createDecisionCache({ decisionCacheTtlSeconds: 0, decisionCacheMaxKeys: 10 })).toBeUndefined();
    expect(createDecisionCache({ decisionCacheTtlSeconds: 10, decisionCacheMaxKeys: 0 })).toBeUndefined();
  });
});

/** A DecisionCache over a Map: whatever it is given, kept (no time to live). */
function keeping(store: Map<string, string>): DecisionCache {
  return {
    get: async (k) => store.get(k),
    set: async (k, v) => void store.set(k, v),
    notePatient: async (p) => void store.set(`patient ${p}`, '1'),
    mayHoldPatient: async (p) => store.has(`patient ${p}`),
  };
}

describe('a cache entry read back', () => {
  const library = loadLibrary();
  const sign = () => parseHookRequest(signRequest(), 'order-sign');
  /** The order-select decision of the fixture, through a cache that keeps whatever it is given. */
  async function cachedEntry(): Promise<{ key: string; entry: string; input: DecisionInput; decide: () => OrderDecision }> {
    const req = sign();
    const [o] = ordersInScope(req);
    const record = (await loadPatientRecord(req, { library, record: hookContextFromConfig(testConfig(), library).record })).record;
    const input: DecisionInput = { patientId: req.context.patientId, prefetch: req.prefetch, order: o.order, orderRef: o.ref, cpt: o.cpt, dateOfService: dateOfService(o.order, TODAY), draftEntries: req.context.draftOrders.entry ?? [] };
    const decide = () => decideOrder(library, record, o.order, o.ref, o.cpt, TODAY, req.context.draftOrders.entry ?? []);
    const store = new Map<string, string>();
    await decideThroughCache({ ...keeping(store), notePatient: async () => undefined }, library, 'order-select', input, decide);
    const [[key, entry]] = [...store];
    return { key, entry, input, decide };
  }

  /** Reads `entry` back on order-sign: the decision, whether it was computed again, and why an entry was unusable. */
  async function readBack(entry: string) {
    const { input, decide } = await cachedEntry();
    let computed = 0;
    const unusable: string[] = [];
    const decision = await decideThroughCache(
      { get: async () => entry, set: async () => undefined, notePatient: async () => undefined, mayHoldPatient: async () => true },
      library,
      'order-sign',
      input,
      () => {
        computed++;
        return decide();
      },
      (why) => unusable.push(why),
    );
    return { decision, computed, unusable };
  }

  it('is the decision order-select made, restored without computing it again', async () => {
    const { entry } = await cachedEntry();
    const { decision, computed, unusable } = await readBack(entry);
    expect(computed).toBe(0);
    expect(unusable).toEqual([]);
    expect(decision.outcome).toBe('not-indicated');
    expect(criterionId(decision)).toBe('NI');
  });

  it('is a miss, told as unusable, when it is not JSON, not of this shape, or of the older shape (a criterion without its kind)', async () => {
    const { entry } = await cachedEntry();
    const older = JSON.parse(entry);
    delete older.result.decidedBy.kind;
    const wrongOutcome = { ...JSON.parse(entry), outcome: 'approved' };
    for (const [bad, why] of [
      ['{"outcome":', 'not JSON'],
      ['{"outcome":"criteria-met"}', 'not a decision of this shape'],
      [JSON.stringify(older), 'not a decision of this shape'],
      [JSON.stringify(wrongOutcome), 'not a decision of this shape'],
    ] as const) {
      const { decision, computed, unusable } = await readBack(bad);
      expect(computed).toBe(1);
      expect(unusable).toEqual([why]);
      expect(decision.outcome).toBe('not-indicated');
    }
  });

  it('is a miss when it names a policy version the library no longer holds', async () => {
    const { entry } = await cachedEntry();
    const gone = JSON.parse(entry);
    gone.routing.policy.version = '0.0-withdrawn';
    const { computed, unusable } = await readBack(JSON.stringify(gone));
    expect(computed).toBe(1);
    expect(unusable).toEqual(['policy no longer loaded']);
  });

  it('is not looked up, nor its key computed, on order-sign for a patient with no entry noted', async () => {
    const { input, decide } = await cachedEntry();
    let keyed = 0;
    // decisionKey serialises the order: counted.
    const order = Object.assign(structuredClone(input.order), { toJSON: () => (keyed++, input.order) });
    const counted: DecisionInput = { ...input, order };
    const store = new Map<string, string>();
    const cache = keeping(store);
    expect((await decideThroughCache(cache, library, 'order-sign', counted, decide)).outcome).toBe('not-indicated');
    expect(keyed).toBe(0);
    await decideThroughCache(cache, library, 'order-select', counted, decide);
    expect(keyed).toBe(1);
    const restored = await decideThroughCache(cache, library, 'order-sign', counted, () => {
      throw new Error('decided again');
    });
    expect(restored.outcome).toBe('not-indicated');
    expect(keyed).toBe(2);
    // Another patient: no entry noted, no key.
    await decideThroughCache(cache, library, 'order-sign', { ...counted, patientId: 'p-other' }, decide);
    expect(keyed).toBe(2);
  });

  it('is keyed with this release\'s cache version, so entries of an older shape are never even looked up', async () => {
    const { key, input } = await cachedEntry();
    expect(DECISION_CACHE_VERSION).toBe('decision-v3');
    expect(key).toBe(decisionKey(library, input));
  });
});

describe('decision cache key', () => {
  const library = loadLibrary();
  const sign = signRequest();
  const req = parseHookRequest(sign, 'order-sign');
  const order = req.context.draftOrders.entry?.[0]?.resource as ServiceRequest;
  const input: DecisionInput = { patientId: 'p-1', prefetch: req.prefetch, order, orderRef: 'ServiceRequest/sr-1', cpt: '72148', dateOfService: '2024-06-12' };
  const body = (text: string): DecisionInput => ({ ...input, body: Buffer.from(text) });

  it('hashes the prefetch as sent: the same bytes the same key, any byte of the record changed another', () => {
    const sent = JSON.stringify(sign);
    expect(decisionKey(library, body(sent))).toBe(decisionKey(library, body(JSON.stringify({ ...sign, hookInstance: 'other' }))));
    const changed = structuredClone(sign);
    changed.prefetch.conditions.entry[0].resource.onsetDateTime = '2024-05-30T09:30:00-08:00';
    expect(decisionKey(library, body(JSON.stringify(changed)))).not.toBe(decisionKey(library, body(sent)));
  });

  it('keys an ambiguous body (prefetch twice) by the prefetch JSON.parse kept, as without a body', () => {
    const twice = `{"prefetch":{"patient":null},${JSON.stringify(sign).slice(1)}`;
    expect(JSON.parse(twice).prefetch).toEqual(sign.prefetch);
    expect(decisionKey(library, body(twice))).toBe(decisionKey(library, input));
    expect(decisionKey(library, body(JSON.stringify(sign)))).not.toBe(decisionKey(library, input));
  });
});

describe('the library version in the key', () => {
  it('is the same on an instance that has decided and on one that has not (its memos are not part of it)', async () => {
    const decided = loadLibrary();
    const { app } = createApp(testConfig(), { library: decided });
    // A record whose codings fill the value-set membership memo as the decision reads them.
    const res = await request(app).post(`/cds-services/${SERVICE_IDS['order-sign']}`).send(JSON.parse(readFileSync(FIXTURE, 'utf8')));
    expect(res.status).toBe(200);
    expect(libraryVersion(decided)).toBe(libraryVersion(loadLibrary()));
  });
});
