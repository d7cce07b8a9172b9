/**
 * The prefetch fallback against an allow-listed FHIR server that attacks the client: pages of 15 MB,
 * a reply that drips a byte at a time, brotli and gzip bombs, a `next` link to another path of the
 * same host, endless paging. Each hook still answers 200 within its deadline, says what could not be
 * read, and a request that needs no FHIR call is answered meanwhile.
 *
 * The margins on durations are wide (the machine is shared): they tell "bounded by the deadline"
 * from "bounded by the server", not fast from slow.
 */
import { readFileSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import type { Bundle, Resource } from 'fhir/r4.js';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app.js';
import { testConfig, type Config } from '../../src/config/config.js';
import type { CdsCard } from '../../src/hooks/types.js';
import { startFaultServer, type FaultServer } from '../../tools/fhir-server/faults.js';
import { observedDecision } from '../support/outcome.js';

const ROOT = join(import.meta.dirname, '..', '..');
type HookBody = { context: { patientId: string }; prefetch: Record<string, Resource | null> } & Record<string, unknown>;
/** Criteria met on a coded cauda equina diagnosis, with its whole record in the prefetch. */
const CAUDA = JSON.parse(readFileSync(join(ROOT, 'cds-services/kp-wa-lumbar-mri/fixtures/I.B-cauda-equina-saddle-numbness-urinary-retention.json'), 'utf8')) as HookBody;
const SIGN = '/cds-services/lumbar-mri-order-sign';
const TOKEN = 'ehr-access-token-hostile-4d2e';
const DEADLINE_MS = 1500;
/** Wide: the answer must come with the deadline, not with the hostile server. */
const SLACK_MS = 1500;

const cardText = (body: { cards: CdsCard[] }): string => body.cards.map((c) => `${c.summary}\n${c.detail ?? ''}`).join('\n');

/** The same hook call with every prefetch key left to the FHIR server. */
function fetchEverything(server: string): Record<string, unknown> {
  return { ...CAUDA, prefetch: {}, fhirServer: server, fhirAuthorization: { access_token: TOKEN, token_type: 'Bearer', expires_in: 300, scope: 'patient/*.read', subject: 'lumbar-mri-cds' } };
}

function appFor(server: string, overrides: Partial<Config> = {}) {
  return createApp(testConfig({ fhirServerAllowlist: [server], fhirTimeoutMs: 1000, requestDeadlineMs: DEADLINE_MS, ...overrides })).app;
}

async function timed<T>(work: Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await work;
  return { value, ms: performance.now() - started };
}

describe('a hostile allow-listed FHIR server', () => {
  let hostile: FaultServer;
  beforeAll(async () => {
    hostile = await startFaultServer({ mode: 'ok' });
  });
  afterAll(() => hostile.close());

  it('15 MB pages that never end: the hook answers within its deadline, and a call needing no FHIR is answered meanwhile', async () => {
    hostile.configure({ mode: 'hugeBundle', hugeBundleBytes: 15.5 * 1024 * 1024, hugeBundleNext: true, delayMs: 0 });
    const app = appFor(hostile.baseUrl);
    const attacked = timed(request(app).post(SIGN).send(fetchEverything(hostile.baseUrl)));
    await new Promise((r) => setTimeout(r, 200));
    const unrelated = await timed(request(app).post(SIGN).send(CAUDA));
    const { value: res, ms } = await attacked;

    expect(res.status).toBe(200);
    expect(ms).toBeLessThan(DEADLINE_MS + SLACK_MS);
    expect(cardText(res.body)).toMatch(/could not be read/);
    expect(cardText(res.body)).toMatch(/larger than|did not answer within|deadline passed/);
    expect(unrelated.value.status).toBe(200);
    expect(observedDecision(unrelated.value.body)).toMatchObject({ outcome: 'criteria-met', criterion: 'I.B' });
    expect(unrelated.ms).toBeLessThan(DEADLINE_MS + SLACK_MS);
  });

  it('all replies of one request share a byte budget: past it the rest is not read', async () => {
    hostile.configure({ mode: 'hugeBundle', hugeBundleBytes: 3 * 1024 * 1024, hugeBundleNext: false, delayMs: 0 });
    const res = await request(appFor(hostile.baseUrl, { maxFhirRecordBytes: 4 * 1024 * 1024, requestDeadlineMs: 5000, fhirTimeoutMs: 5000 }))
      .post(SIGN)
      .send(fetchEverything(hostile.baseUrl));
    expect(res.status).toBe(200);
    expect(cardText(res.body)).toMatch(/record read from the FHIR server is larger than 4194304 bytes/);
  });

  it('a reply that drips one byte at a time is abandoned at the deadline', async () => {
    hostile.configure({ mode: 'slowDrip', dripMs: 20, delayMs: 0 });
    const { value: res, ms } = await timed(request(appFor(hostile.baseUrl)).post(SIGN).send(fetchEverything(hostile.baseUrl)));
    expect(res.status).toBe(200);
    expect(ms).toBeLessThan(DEADLINE_MS + SLACK_MS);
    expect(cardText(res.body)).toMatch(/did not answer within 1000 ms/);
    expect(observedDecision(res.body).outcome).toBe('no-coverage');
  });

  for (const bombEncoding of ['br', 'gzip'] as const) {
    it(`a ${bombEncoding} bomb (64 MiB of whitespace) is stopped at the size limit`, async () => {
      hostile.configure({ mode: 'compressionBomb', bombEncoding, bombBytes: 64 * 1024 * 1024, delayMs: 0 });
      // The server compresses its bomb once, on the first request: not part of what is timed.
      await new Promise<void>((resolve) => get(`${hostile.baseUrl}/warm-up`, (r) => r.destroy().once('close', resolve)));
      const { value: res, ms } = await timed(
        // Thirteen brotli decoders at once are slow on a busy machine: time enough to reach the size limit.
        request(appFor(hostile.baseUrl, { maxFhirResponseBytes: 1024 * 1024, fhirTimeoutMs: 3000, requestDeadlineMs: 3000 })).post(SIGN).send(fetchEverything(hostile.baseUrl)),
      );
      expect(res.status).toBe(200);
      expect(ms).toBeLessThan(3000 + SLACK_MS);
      expect(cardText(res.body)).toMatch(/answer is larger than 1048576 bytes; not read/);
    });
  }

  it('a next link to another path of the same host is not followed, and the token does not go there', async () => {
    const origin = new URL(hostile.baseUrl).origin;
    const page: Bundle = { resourceType: 'Bundle', type: 'searchset', link: [{ relation: 'next', url: `${origin}/admin/export?patient=${CAUDA.context.patientId}` }], entry: [] };
    hostile.configure({ mode: 'ok', body: page, delayMs: 0 });
    const sent = hostile.requests.length;
    const res = await request(appFor(hostile.baseUrl)).post(SIGN).send({ ...CAUDA, ...fetchEverything(hostile.baseUrl), prefetch: { ...CAUDA.prefetch, conditions: undefined } });
    expect(res.status).toBe(200);
    expect(cardText(res.body)).toMatch(/Condition: the FHIR server pointed outside its base URL \(another host or path\); not followed/);
    const paths = hostile.requests.slice(sent).map((r) => r.path);
    expect(paths).toEqual(['/fhir/Condition']);
    // Not a confident answer on a record missing its diagnoses.
    expect(observedDecision(res.body).outcome).not.toBe('not-indicated');
  });

  it('endless paging stops at the page cap per search and the call cap per request, and the search counts as unread', async () => {
    hostile.configure({ mode: 'endlessPages', delayMs: 0 });
    const sent = hostile.requests.length;
    const res = await request(appFor(hostile.baseUrl, { maxFhirPages: 4, maxFhirCalls: 30, requestDeadlineMs: 10_000, fhirTimeoutMs: 5000 }))
      .post(SIGN)
      .send(fetchEverything(hostile.baseUrl));
    expect(res.status).toBe(200);
    const calls = hostile.requests.length - sent;
    expect(calls).toBeLessThanOrEqual(30);
    expect(calls).toBeGreaterThanOrEqual(4);
    const text = cardText(res.body);
    expect(text).toMatch(/has more than 4 pages for this search; not read|made 30 FHIR calls already/);
    expect(observedDecision(res.body).outcome).toBe('no-coverage');
  });
});
