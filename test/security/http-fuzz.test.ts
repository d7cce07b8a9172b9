/**
 * Property-based tests over the HTTP surface: real fixtures, mutated (wrong types, missing and extra
 * fields, huge strings and arrays, deep nesting, unicode, invalid dates and codes, dangling
 * references, null and OperationOutcome prefetch values), and generated garbage. Every answer is a
 * 2xx or 4xx with a JSON body, never a 5xx; the process keeps answering and still decides correctly.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import fc from 'fast-check';
import { pino } from 'pino';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app.js';
import { testConfig } from '../../src/config/config.js';
import { observedDecision } from '../support/outcome.js';
import { FIXTURE_FOLDERS } from '../helpers/fixtures.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Path = readonly (string | number)[];

const ROOT = join(import.meta.dirname, '..', '..');
const SIGN = '/cds-services/lumbar-mri-order-sign';
const SELECT = '/cds-services/lumbar-mri-order-select';
/** Bounded so the suite stays fast; FUZZ_RUNS=5000 for a longer campaign. */
const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const TIMEOUT_MS = Math.max(120_000, RUNS * 100);

/** Every hook request of a fixture folder, by name (scenario definitions are not requests). */
function hookFixtures(dir: string, prefix: string): { name: string; body: Json }[] {
  const out: { name: string; body: Json }[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...hookFixtures(path, `${prefix}${entry.name}/`));
    else if (entry.name.endsWith('.json')) {
      const body = JSON.parse(readFileSync(path, 'utf8')) as Json;
      if (body && typeof body === 'object' && !Array.isArray(body) && typeof body.hook === 'string') out.push({ name: `${prefix}${entry.name}`, body });
    }
  }
  return out;
}

/** Paths to every value in a document (the places a mutation can hit). */
function pathsOf(value: Json, prefix: Path = [], out: Path[] = []): Path[] {
  out.push(prefix);
  if (Array.isArray(value)) value.forEach((v, i) => pathsOf(v, [...prefix, i], out));
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) pathsOf(v, [...prefix, k], out);
  return out;
}

/**
 * `doc` with `path` replaced (undefined removes it), copying only along the path (a huge or deep
 * value elsewhere is shared, not cloned); unchanged if an earlier mutation removed the path.
 */
function setAt(doc: Json, path: Path, value: Json | undefined): Json {
  if (path.length === 0) return value ?? null;
  if (!doc || typeof doc !== 'object') return doc;
  const [key, ...rest] = path;
  if (Array.isArray(doc)) {
    const i = key as number;
    if (typeof i !== 'number' || i >= doc.length) return doc;
    const copy = [...doc];
    if (rest.length === 0 && value === undefined) copy.splice(i, 1);
    else copy[i] = rest.length === 0 ? (value as Json) : setAt(doc[i], rest, value);
    return copy;
  }
  const k = String(key);
  if (rest.length > 0 && !Object.hasOwn(doc, k)) return doc;
  const copy: { [key: string]: Json } = { ...doc };
  if (rest.length === 0 && value === undefined) delete copy[k];
  else copy[k] = rest.length === 0 ? (value as Json) : setAt(doc[k], rest, value);
  return copy;
}

const deep = (depth: number, leaf: Json): Json => {
  let v = leaf;
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { a: v };
  return v;
};

const OPERATION_OUTCOME: Json = { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'processing', diagnostics: 'EHR could not run this query' }] };

/** Big values are described, and built only when applied, so a counterexample prints short. */
type Hostile = { readonly plain: Json | undefined } | { readonly hugeString: number } | { readonly hugeArray: number } | { readonly deep: number };

function build(h: Hostile): Json | undefined {
  if ('hugeString' in h) return 'x'.repeat(h.hugeString);
  if ('hugeArray' in h) return Array.from({ length: h.hugeArray }, (_, i) => ({ resourceType: 'Observation', id: `o${i}` }));
  if ('deep' in h) return deep(h.deep, 'leaf');
  return h.plain;
}

/** Values a broken or hostile client might put anywhere; mostly small ones, so most requests reach the decision. */
const hostileValue: fc.Arbitrary<Hostile> = fc.oneof(
  { weight: 12, arbitrary: plainValue() },
  { weight: 1, arbitrary: fc.integer({ min: 70_000, max: 200_000 }).map((n) => ({ hugeString: n })) }, // over 64 KiB
  { weight: 1, arbitrary: fc.integer({ min: 1_000, max: 30_000 }).map((n) => ({ hugeArray: n })) },
  { weight: 1, arbitrary: fc.integer({ min: 10, max: 3_000 }).map((n) => ({ deep: n })) },
);

function plainValue(): fc.Arbitrary<Hostile> {
  return fc
    .oneof(
      fc.constant(undefined), // a missing field
      fc.constant(null),
      fc.jsonValue() as fc.Arbitrary<Json>, // wrong types
      fc.string({ unit: 'grapheme' }), // unicode
      fc.string({ unit: 'binary' }), // lone surrogates, control characters
      fc.constantFrom('2024-02-30', '2024-13-01', '0000-00-00', 'yesterday', '2024-06-12T25:61:00Z', '99999-01-01', '-0001-01-01'), // invalid dates
      fc.constantFrom('ZZZ.999', '72148 ', '', 'M54.5\u0000', 'http://not-a-system', 'Condition/does-not-exist', 'urn:uuid:00000000-0000-0000-0000-000000000000', '#missing'), // invalid codes, dangling references
      fc.constant(OPERATION_OUTCOME),
      fc.constant({ resourceType: 'Bundle', entry: [{ resource: { resourceType: 'Bundle', entry: [{ resource: { resourceType: 'Bundle', entry: [{ resource: { resourceType: 'Bundle' } }] } }] } }] } as Json),
      fc.constant({ reference: 'Patient/nobody' } as Json),
      fc.constant([{}] as Json),
    )
    .map((plain) => ({ plain }));
}

describe('HTTP fuzzing from real fixtures', () => {
  const fixtures = FIXTURE_FOLDERS.flatMap((f) => hookFixtures(f.dir, `${f.name}/`));
  const paths = fixtures.map((f) => pathsOf(f.body));
  // Unforeseen errors are caught per order (a card, a logged error); the fuzzer still counts them as bugs.
  const errors: string[] = [];
  const logger = pino({ level: 'error' }, new Writable({ write: (chunk: Buffer, _enc, cb) => (errors.push(chunk.toString()), cb()) }));
  const { app } = createApp(testConfig({ rateLimitPerMinute: 0 }), { logger });

  const mutation = fc.record({
    kind: fc.constantFrom('anywhere', 'anywhere', 'anywhere', 'prefetch', 'extra'),
    at: fc.nat(),
    key: fc.string({ maxLength: 20 }),
    value: hostileValue,
  });
  const mutatedRequest = fc.record({
    fixture: fc.nat({ max: fixtures.length - 1 }),
    mutations: fc.array(mutation, { minLength: 1, maxLength: 3 }),
    select: fc.boolean(),
  });

  function mutate(index: number, mutations: readonly { kind: string; at: number; key: string; value: Hostile }[]): Json {
    let body = fixtures[index].body;
    for (const m of mutations) {
      const candidates = paths[index];
      if (m.kind === 'prefetch') {
        const prefetch = (body as { prefetch?: unknown } | null)?.prefetch;
        const keys = prefetch && typeof prefetch === 'object' ? Object.keys(prefetch) : [];
        if (keys.length === 0) continue;
        const key = keys[m.at % keys.length];
        // null means "no data"; an OperationOutcome means the EHR failed that query.
        body = setAt(body, ['prefetch', key], m.at % 2 ? null : OPERATION_OUTCOME);
      } else if (m.kind === 'extra') {
        const target = candidates[m.at % candidates.length];
        body = setAt(body, [...target, m.key], build(m.value) ?? 'extra');
      } else {
        body = setAt(body, candidates[m.at % candidates.length], build(m.value));
      }
    }
    return body;
  }

  it('has fixtures to start from', () => {
    expect(fixtures.length).toBeGreaterThan(10);
  });

  it('mutated hook requests get 2xx or 4xx with a JSON body, never 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(mutatedRequest, async ({ fixture, mutations, select }) => {
        let body = mutate(fixture, mutations);
        if (select && body && typeof body === 'object' && !Array.isArray(body)) body = { ...body, hook: 'order-select' };
        const res = await request(app).post(select ? SELECT : SIGN).set('content-type', 'application/json').send(JSON.stringify(body));
        expect(res.status, `${fixtures[fixture].name}: ${res.text.slice(0, 300)}`).toBeLessThan(500);
        expect(res.headers['content-type']).toMatch(/json/);
        if (res.status === 200) expect(Array.isArray(res.body.cards)).toBe(true);
        else expect(res.body.resourceType).toBe('OperationOutcome');
        expect(errors.splice(0), fixtures[fixture].name).toEqual([]);
      }),
      { numRuns: RUNS },
    );
  }, TIMEOUT_MS);

  it('generated bodies (any JSON, hook-shaped objects, broken JSON) get a JSON answer, never 5xx', async () => {
    const hookShaped = fc.record(
      {
        hook: fc.oneof(fc.constant('order-sign'), fc.jsonValue()),
        hookInstance: fc.oneof(fc.uuid(), fc.jsonValue()),
        fhirServer: fc.oneof(fc.webUrl(), fc.string(), fc.constant('file:///etc/passwd'), fc.constant('http://169.254.169.254/latest')),
        fhirAuthorization: fc.oneof(fc.jsonValue(), fc.record({ access_token: fc.string(), token_type: fc.string() })),
        context: fc.oneof(fc.jsonValue(), fc.record({ userId: fc.jsonValue(), patientId: fc.jsonValue(), draftOrders: fc.jsonValue() })),
        prefetch: fc.oneof(fc.jsonValue(), fc.dictionary(fc.string(), fc.oneof(fc.constant(null), fc.jsonValue(), fc.constant(OPERATION_OUTCOME)))),
      },
      { requiredKeys: [] },
    );
    const raw = fc.oneof(
      fc.jsonValue().map((v) => JSON.stringify(v)),
      hookShaped.map((v) => JSON.stringify(v)),
      fc.string(),
      fc.constantFrom('{', '{"hook":', '[1,2', '\u0000', '{"__proto__":{"polluted":true}}', '{"constructor":{"prototype":{"x":1}}}'),
    );
    await fc.assert(
      fc.asyncProperty(raw, fc.constantFrom(SIGN, SELECT, `${SIGN}/feedback`), async (text, path) => {
        const res = await request(app).post(path).set('content-type', 'application/json').send(text);
        expect(res.status, res.text.slice(0, 300)).toBeLessThan(500);
        expect(res.headers['content-type']).toMatch(/json/);
      }),
      { numRuns: Math.ceil(RUNS * 0.75) },
    );
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  }, TIMEOUT_MS);

  it('keeps answering afterwards: every case still decides as before', async () => {
    const cauda = fixtures.find((f) => f.name.startsWith('kp-wa-lumbar-mri/I.B-cauda-equina'));
    const acute = fixtures.find((f) => f.name.startsWith('kp-wa-lumbar-mri/NI-uncomplicated-acute'));
    expect(observedDecision((await request(app).post(SIGN).send(cauda?.body as object)).body)).toMatchObject({ outcome: 'criteria-met', criterion: 'I.B' });
    expect(observedDecision((await request(app).post(SIGN).send(acute?.body as object)).body).outcome).toBe('not-indicated');
    expect((await request(app).get('/cds-services')).status).toBe(200);
  });
});
