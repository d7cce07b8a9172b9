import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { OperationOutcome } from 'fhir/r4.js';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app.js';
import { loadConfig, testConfig } from '../../src/config/config.js';
import { HttpError } from '../../src/hooks/errors.js';
import { checkRequestLimits, MAX_JSON_DEPTH_CEILING, type RequestLimits } from '../../src/hooks/limits.js';
import { observedDecision } from '../support/outcome.js';

const ROOT = join(import.meta.dirname, '..', '..');
const CAUDA_PATH = join(ROOT, 'cds-services/kp-wa-lumbar-mri/fixtures/I.B-cauda-equina-saddle-numbness-urinary-retention.json');
const cauda = () => JSON.parse(readFileSync(CAUDA_PATH, 'utf8')) as Record<string, any>;
const SIGN = '/cds-services/lumbar-mri-order-sign';
const LIMITS: RequestLimits = { maxResources: 10, maxStringLength: 100, maxJsonDepth: 10, maxBundleDepth: 2, maxDraftOrders: 3 };

function rejection(body: unknown, limits: RequestLimits = LIMITS): HttpError | undefined {
  try {
    checkRequestLimits(body, limits);
    return undefined;
  } catch (err) {
    if (err instanceof HttpError) return err;
    throw err;
  }
}

const nested = (depth: number): unknown => {
  let v: unknown = 'leaf';
  for (let i = 0; i < depth; i++) v = [v];
  return v;
};

describe('checkRequestLimits', () => {
  it('passes a real fixture under the default limits', () => {
    expect(rejection(cauda(), loadConfig({}))).toBeUndefined();
  });

  it('counts resources in prefetch and draftOrders only, contained ones included', () => {
    const resources = (n: number) => Array.from({ length: n }, (_, i) => ({ resource: { resourceType: 'Observation', id: `o${i}` } }));
    expect(rejection({ prefetch: { o: { resourceType: 'Bundle', entry: resources(9) } } })).toBeUndefined(); // 9 + the Bundle
    expect(rejection({ prefetch: { o: { resourceType: 'Bundle', entry: resources(10) } } })?.message).toMatch(/more than 10 resources/);
    expect(rejection({ context: { draftOrders: { resourceType: 'Bundle', entry: resources(3) } }, prefetch: { o: { resourceType: 'Bundle', entry: resources(7) } } })?.status).toBe(422);
    // Elsewhere (an extension) objects with a resourceType are not part of the record.
    expect(rejection({ extension: { x: resources(20).map((e) => e.resource) } })).toBeUndefined();
  });

  it('refuses long strings and long member names, naming where', () => {
    const err = rejection({ context: { userId: 'x'.repeat(101) } });
    expect(err).toMatchObject({ status: 422, code: 'too-costly', expression: 'context.userId' });
    expect(err?.message).toMatch(/longer than 100 characters/);
    expect(rejection({ ['k'.repeat(101)]: 1 })?.message).toMatch(/member name longer/);
    expect(rejection({ context: { userId: 'x'.repeat(100) } })).toBeUndefined();
  });

  it('refuses deep nesting with no more stack than the limit takes', () => {
    expect(rejection({ a: nested(9) })).toBeUndefined();
    expect(rejection({ a: nested(10) })?.message).toMatch(/nested deeper than 10 levels/);
    // A million levels: the walk stops at the limit, so it never goes deeper than the limit allows.
    expect(rejection(nested(1_000_000))?.status).toBe(422);
    // The deepest limit a configuration may set still answers 422 to such a body, not a stack overflow.
    expect(rejection(nested(1_000_000), { ...LIMITS, maxJsonDepth: MAX_JSON_DEPTH_CEILING })?.message).toMatch(new RegExp(`nested deeper than ${MAX_JSON_DEPTH_CEILING} levels`));
    expect(rejection(nested(MAX_JSON_DEPTH_CEILING - 1), { ...LIMITS, maxJsonDepth: MAX_JSON_DEPTH_CEILING })).toBeUndefined();
  });

  it('takes no depth limit past its ceiling, from the configuration or a caller', () => {
    expect(loadConfig({ MAX_JSON_DEPTH: String(MAX_JSON_DEPTH_CEILING) }).maxJsonDepth).toBe(MAX_JSON_DEPTH_CEILING);
    expect(() => loadConfig({ MAX_JSON_DEPTH: String(MAX_JSON_DEPTH_CEILING + 1) })).toThrow(new RegExp(`MAX_JSON_DEPTH must be at most ${MAX_JSON_DEPTH_CEILING}`));
    expect(() => checkRequestLimits({}, { ...LIMITS, maxJsonDepth: MAX_JSON_DEPTH_CEILING + 1 })).toThrow(RangeError);
  });

  it('refuses Bundles nested deeper than the limit', () => {
    const bundle = (inner?: unknown) => ({ resourceType: 'Bundle', entry: inner ? [{ resource: inner }] : [] });
    expect(rejection({ prefetch: { all: bundle(bundle()) } })).toBeUndefined();
    const err = rejection({ prefetch: { all: bundle(bundle(bundle())) } });
    expect(err?.message).toMatch(/Bundles nested deeper than 2/);
    expect(err?.expression).toBe('prefetch.all.entry[0].resource.entry[0].resource');
  });

  it('names the place of a value past a limit through objects and arrays, the member itself for a string', () => {
    const body = { prefetch: { conditions: { resourceType: 'Bundle', entry: [{ resource: { resourceType: 'Condition' } }, { resource: { resourceType: 'Condition', note: [{ text: 'ok' }, { text: 'x'.repeat(101) }] } }] } } };
    expect(rejection(body)).toMatchObject({ expression: 'prefetch.conditions.entry[1].resource.note[1].text', message: expect.stringMatching(/^prefetch\.conditions\.entry\[1\]\.resource\.note\[1\]\.text: a string longer than 100/) });
    // A string in an array is named by its index; a long member name by the object holding it.
    expect(rejection({ context: { selections: ['ok', 'x'.repeat(101)] } })?.expression).toBe('context.selections[1]');
    expect(rejection({ context: { ['k'.repeat(101)]: 1 } })?.expression).toBe('context');
    // A sibling visited earlier leaves no trace in the place named.
    expect(rejection({ a: [{ deep: { deeper: {} } }, [nested(9)]] })?.expression).toBe('a[1][0][0][0][0][0][0][0][0]');
  });

  it('clips the place named to its last 40 steps', () => {
    let v: unknown = 'x'.repeat(101);
    for (let i = 0; i < 45; i++) v = { [`m${i}`]: v };
    const err = rejection(v, { ...LIMITS, maxJsonDepth: 100 });
    const steps = Array.from({ length: 40 }, (_, i) => `m${39 - i}`);
    expect(err?.expression).toBe(`…${steps.join('.')}`);
    expect(err?.message).toBe(`…${steps.join('.')}: a string longer than 100 characters`);
  });

  it('counts the resources of context.draftOrders, not of a draftOrders elsewhere', () => {
    const resources = (n: number) => Array.from({ length: n }, (_, i) => ({ resource: { resourceType: 'Observation', id: `o${i}` } }));
    const draft = (n: number) => ({ resourceType: 'Bundle', entry: resources(n) });
    expect(rejection({ context: { draftOrders: draft(10) } }, { ...LIMITS, maxDraftOrders: 20 })?.message).toMatch(/more than 10 resources/);
    expect(rejection({ draftOrders: draft(20), extension: { context: { draftOrders: draft(20) } } })).toBeUndefined();
    expect(rejection({ context: { x: { draftOrders: draft(20) } }, prefetchs: { p: draft(20) } })).toBeUndefined();
  });

  it('refuses too many draft orders', () => {
    const entry = Array.from({ length: 4 }, () => ({ resource: { resourceType: 'ServiceRequest' } }));
    expect(rejection({ context: { draftOrders: { resourceType: 'Bundle', entry } } }, { ...LIMITS, maxResources: 100 })?.message).toMatch(/4 entries; this service takes at most 3/);
  });
});

describe('request limits over HTTP', () => {
  const outcomeOf = (body: OperationOutcome) => body.issue[0];

  it('413 for a body over BODY_LIMIT', async () => {
    const { app } = createApp(testConfig({ bodyLimit: '10kb' }));
    const res = await request(app).post(SIGN).set('content-type', 'application/json').send(JSON.stringify({ ...cauda(), pad: 'x'.repeat(20_000) }));
    expect(res.status).toBe(413);
    expect(outcomeOf(res.body)).toMatchObject({ severity: 'error', code: 'too-costly' });
  });

  it('422 with an OperationOutcome for too many resources, a long string, deep nesting and too many orders', async () => {
    const { app } = createApp(testConfig({ maxResources: 5, maxStringLength: 1000, maxJsonDepth: 30, maxDraftOrders: 2 }));
    const body = cauda();
    const many = await request(app).post(SIGN).send(body);
    expect(many.status).toBe(422);
    expect(outcomeOf(many.body).diagnostics).toMatch(/more than 5 resources/);

    const { app: roomy } = createApp(testConfig({ maxStringLength: 1000, maxJsonDepth: 30, maxDraftOrders: 2 }));
    const long = await request(roomy).post(SIGN).send({ ...body, hookInstance: 'h'.repeat(1001) });
    expect(long.status).toBe(422);
    expect(outcomeOf(long.body)).toMatchObject({ code: 'too-costly', expression: ['hookInstance'] });

    const deep = await request(roomy).post(SIGN).send({ ...body, extension: { x: nested(40) } });
    expect(deep.status).toBe(422);
    expect(outcomeOf(deep.body).diagnostics).toMatch(/nested deeper than 30/);

    const order = body.context.draftOrders.entry[0];
    const orders = await request(roomy).post(SIGN).send({ ...body, context: { ...body.context, draftOrders: { ...body.context.draftOrders, entry: [order, order, order] } } });
    expect(orders.status).toBe(422);

    // The service still decides afterwards.
    expect(observedDecision((await request(roomy).post(SIGN).send(body)).body).outcome).toBe('criteria-met');
  });

  it('a body nested a million deep, at the deepest limit a configuration may set: 422, and the next call is decided', async () => {
    const { app } = createApp(testConfig({ maxJsonDepth: MAX_JSON_DEPTH_CEILING }));
    const body = cauda();
    const raw = `{"hook":"order-sign","x":${'['.repeat(1_000_000)}${']'.repeat(1_000_000)}}`;
    const deep = await request(app).post(SIGN).set('content-type', 'application/json').send(raw);
    expect(deep.status).toBe(422);
    expect(outcomeOf(deep.body).diagnostics).toMatch(new RegExp(`nested deeper than ${MAX_JSON_DEPTH_CEILING} levels`));
    expect(observedDecision((await request(app).post(SIGN).send(body)).body).outcome).toBe('criteria-met');
  });

  it('an evaluation that runs out of its budget gets a "could not be completed" card and no decision', async () => {
    const { app } = createApp(testConfig({ evaluationBudgetMs: 0 }));
    const res = await request(app).post(SIGN).send(cauda());
    expect(res.status).toBe(200);
    expect(res.body.cards).toHaveLength(1);
    expect(res.body.cards[0]).toMatchObject({ indicator: 'warning', summary: expect.stringMatching(/could not be completed/) });
    expect(res.body.systemActions).toEqual([]);
    // With the default budget the same request decides.
    const { app: normal } = createApp(testConfig());
    expect(observedDecision((await request(normal).post(SIGN).send(cauda())).body).outcome).toBe('criteria-met');
  });

  it('sends security headers, no x-powered-by, and a request id (echoed when safe, generated otherwise)', async () => {
    const { app } = createApp(testConfig());
    const res = await request(app).post(SIGN).set('x-request-id', 'ehr-req-42').send(cauda());
    expect(res.headers['x-powered-by']).toBeUndefined();
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['strict-transport-security']).toMatch(/max-age=/);
    expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(res.headers['x-request-id']).toBe('ehr-req-42');
    const injected = await request(app).get('/cds-services').set('x-request-id', 'bad id <script>');
    expect(injected.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });
});
