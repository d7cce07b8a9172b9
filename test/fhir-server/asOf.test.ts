/**
 * `serve-fhir --as-of`: the CDS Hooks sandbox sends no date on its order, so the date of service is
 * today, while every fixture's episode is dated in the past. Served as of today, each fixture's
 * dates move so that its case's date of service is today, and the sandbox's order-select (no
 * prefetch of the record, the service reads serve-fhir) sees the patient as the case table does.
 */
import { readFileSync } from 'node:fs';
import type { Condition, Coverage, Patient } from 'fhir/r4.js';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app.js';
import { VERDICT_SYSTEM, PAMA_RATING_URL } from '../../src/cards/pamaRating.js';
import { serveFhir } from '../../src/cli/serveFhir.js';
import { testConfig } from '../../src/config/config.js';
import type { FhirTestServer } from '../../tools/fhir-server/FhirTestServer.js';
import { daysBetween } from '../../src/fhir/dates.js';
import { shiftAllDates, shiftDay } from '../../tools/fhir-server/shiftDates.js';
import type { CdsAction, CdsResponse } from '../../src/hooks/types.js';

const KP = 'cds-services/kp-wa-lumbar-mri/fixtures';
/** Three patients of the README's sandbox walk-through, with the outcome their case table gives. */
const CASES = [
  { file: `${KP}/I.B-cauda-equina-saddle-numbness-urinary-retention.json`, outcome: 'criteria-met' },
  { file: `${KP}/I.0-onset-undated-cauda-equina-missing-doc.json`, outcome: 'documentation-missing' },
  { file: `${KP}/I.A-stable-exam-no-red-flags-not-indicated.json`, outcome: 'not-indicated' },
] as const;
const TODAY = new Date().toISOString().slice(0, 10);
const quiet = { out: () => undefined, err: () => undefined };
// Searches on a loaded machine may be slow; the deadlines are not what this test is about.
const generousDeadlines = { fhirTimeoutMs: 30_000, requestDeadlineMs: 60_000, evaluationBudgetMs: 30_000 } as const;

const patientIdOf = (file: string): string => (JSON.parse(readFileSync(file, 'utf8')) as { context: { patientId: string } }).context.patientId;

/** The order-select the sandbox's PAMA tab sends: 72148 for low back pain, no date, no record in the prefetch. */
function sandboxSelect(patientId: string, fhirServer: string) {
  return {
    hookInstance: crypto.randomUUID(),
    hook: 'order-select',
    fhirServer,
    context: {
      patientId,
      userId: 'Practitioner/COREPRACTITIONER1',
      selections: ['ServiceRequest/example-request-id'],
      draftOrders: {
        resourceType: 'Bundle',
        entry: [{ resource: {
          resourceType: 'ServiceRequest', id: 'example-request-id', status: 'draft', intent: 'plan',
          code: { coding: [{ system: 'http://www.ama-assn.org/go/cpt', code: '72148' }] },
          subject: { reference: `Patient/${patientId}` },
          reasonCode: [{ coding: [{ system: 'http://snomed.info/sct', code: '279039007', display: 'Low back pain (finding)' }] }],
        } }],
      },
    },
  };
}

/** The verdict the sandbox's PAMA Rating box would show, in the service's own words. */
function verdict(body: CdsResponse): string | undefined {
  const [action] = (body.extension?.systemActions ?? []) as CdsAction[];
  if (action?.type !== 'update') return undefined;
  const ext = (action.resource as { extension?: { url: string; valueCodeableConcept?: { coding?: { system?: string; code?: string }[] } }[] }).extension;
  return ext?.find((e) => e.url === PAMA_RATING_URL)?.valueCodeableConcept?.coding?.find((c) => c.system === VERDICT_SYSTEM)?.code;
}

describe('shifting a fixture\'s dates', () => {
  it('moves dates, dateTimes and instants by whole days, keeping the time and zone, across month and leap-year ends', () => {
    expect(shiftDay('2024-02-28', 1)).toBe('2024-02-29');
    expect(shiftDay('2024-06-12T10:15:00-07:00', 30)).toBe('2024-07-12T10:15:00-07:00');
    expect(shiftDay('2023-12-31T23:00:00Z', -365)).toBe('2022-12-31T23:00:00Z');
    expect(shiftDay('Low back pain since 2024', 10)).toBe('Low back pain since 2024');
    expect(shiftDay('72148', 10)).toBe('72148');
    expect(daysBetween('2024-06-12', '2024-07-12')).toBe(30);
  });

  it('keeps every interval: onset to order, birth to order, the coverage period around the order', () => {
    const body = JSON.parse(readFileSync(CASES[0].file, 'utf8')) as { prefetch: { patient: Patient; coverage: { entry: { resource: Coverage }[] }; conditions: { entry: { resource: Condition }[] } } };
    const moved = shiftAllDates(body, 400);
    expect(moved.prefetch.patient.birthDate).toBe(shiftDay(body.prefetch.patient.birthDate!, 400));
    const before = body.prefetch.conditions.entry[0]!.resource;
    const after = moved.prefetch.conditions.entry[0]!.resource;
    expect(after.onsetDateTime).toBe(shiftDay(before.onsetDateTime!, 400));
    expect(after.code).toEqual(before.code);
    expect(moved.prefetch.coverage.entry[0]!.resource.period?.start).toBe(shiftDay(body.prefetch.coverage.entry[0]!.resource.period!.start!, 400));
  });
});

describe('serve-fhir --as-of today, behind the sandbox', () => {
  let asOfToday: FhirTestServer;
  let asRecorded: FhirTestServer;

  beforeAll(async () => {
    const files = CASES.map((c) => c.file);
    const a = await serveFhir(files, { port: 0, host: '127.0.0.1', basePath: '/fhir', pageSize: 50, asOf: TODAY }, quiet);
    const b = await serveFhir(files, { port: 0, host: '127.0.0.1', basePath: '/fhir', pageSize: 50 }, quiet);
    if (!a || !b) throw new Error('serve-fhir could not listen on a free loopback port');
    asOfToday = a;
    asRecorded = b;
  });

  afterAll(async () => {
    await asOfToday?.close();
    await asRecorded?.close();
  });

  it.each(CASES)('$file: $outcome, as its case table says', async ({ file, outcome }) => {
    const { app } = createApp(testConfig({ ...generousDeadlines, fhirServerAllowlist: [asOfToday.baseUrl] }));
    const res = await request(app).post('/cds-services/lumbar-mri-order-select').send(sandboxSelect(patientIdOf(file), asOfToday.baseUrl));
    expect(res.status).toBe(200);
    expect(JSON.stringify(res.body.cards)).not.toMatch(/could not be read/i);
    expect(verdict(res.body as CdsResponse)).toBe(outcome);
  }, 120_000);

  it('without --as-of the cauda equina patient is not judged as its case (the episode is in the past)', async () => {
    const { app } = createApp(testConfig({ ...generousDeadlines, fhirServerAllowlist: [asRecorded.baseUrl] }));
    const res = await request(app).post('/cds-services/lumbar-mri-order-select').send(sandboxSelect(patientIdOf(CASES[0].file), asRecorded.baseUrl));
    expect(res.status).toBe(200);
    expect(verdict(res.body as CdsResponse)).not.toBe('criteria-met');
  }, 120_000);
});
