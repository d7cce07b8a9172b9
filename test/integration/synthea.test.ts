import { readdirSync, readFileSync } from 'node:fs';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app.js';
import { buildOrderSignRequest, patientsIn } from '../../src/cli/hookRequest.js';
import { serveFhir } from '../../src/cli/serveFhir.js';
import { uploadFixtures } from '../../src/cli/upload.js';
import { testConfig } from '../../src/config/config.js';
import type { FhirTestServer } from '../../tools/fhir-server/FhirTestServer.js';
import { ResourceCollector } from '../../tools/fhir-server/normalize.js';
import { loadLibrary, type PolicyLibrary } from '../../src/library/library.js';
import { SYSTEMS } from '../../src/terminology/valueSets.js';
import { observedDecision } from '../support/outcome.js';
import type { Resource } from 'fhir/r4.js';

const quiet = { out: () => undefined, err: () => undefined };
/**
 * Under load (the whole suite on two shared cores) the fallback's searches may take longer than the
 * production per-call timeout and request deadline, and a search cut short reads as "could not be
 * read" (and still reaches the server late). These tests are about what serve-fhir and upload
 * serve, so their deadlines are generous; test/record/fhirServerFaults.test.ts covers the deadlines.
 */
const generousDeadlines = { fhirTimeoutMs: 30_000, requestDeadlineMs: 60_000, evaluationBudgetMs: 30_000 } as const;
let library: PolicyLibrary;
let served: FhirTestServer;
let empty: FhirTestServer;

async function serveOnAnyPort(paths: string[]): Promise<FhirTestServer> {
  const server = await serveFhir(paths, { port: 0, host: '127.0.0.1', basePath: '/fhir', pageSize: 50 }, quiet);
  if (!server) throw new Error('serve-fhir could not listen on a free loopback port');
  return server;
}

beforeAll(async () => {
  library = loadLibrary();
  served = await serveOnAnyPort(['fixtures/synthea']);
  empty = await serveOnAnyPort([]);
});

afterAll(async () => {
  await served?.close();
  await empty?.close();
});

function patientOf(file: string) {
  const collector = new ResourceCollector();
  collector.add(JSON.parse(readFileSync(file, 'utf8')), file);
  return patientsIn(collector.finish() as Resource[])[0];
}

describe('Synthea bundles through serve-fhir and the fhirServer fallback', () => {
  const files = readdirSync('fixtures/synthea').filter((f) => f.endsWith('.json'));

  it('has a handful of Synthea-shaped transaction bundles (urn:uuid fullUrls and references, request entries)', () => {
    expect(files.length).toBeGreaterThanOrEqual(5);
    for (const f of files) {
      const b = JSON.parse(readFileSync(`fixtures/synthea/${f}`, 'utf8')) as { type: string; entry: { fullUrl: string; resource: { id: string; resourceType: string }; request: { method: string; url: string } }[] };
      expect(b.type).toBe('transaction');
      for (const e of b.entry) {
        expect(e.fullUrl).toBe(`urn:uuid:${e.resource.id}`);
        expect(e.request).toEqual({ method: 'POST', url: e.resource.resourceType });
      }
      const refs = JSON.stringify(b).match(/"reference":"[^"]+"/g) ?? [];
      expect(refs.length).toBeGreaterThan(0);
      for (const r of refs) expect(r).toMatch(/"reference":"urn:uuid:/);
    }
  });

  it('the service reads the record from the FHIR server when the prefetch is absent, and decides as with prefetch', async () => {
    const { app, metrics } = createApp(testConfig({ ...generousDeadlines, fhirServerAllowlist: [served.baseUrl] }), { library });
    for (const f of files) {
      const patient = patientOf(`fixtures/synthea/${f}`);
      const withPrefetch = await request(app).post('/cds-services/lumbar-mri-order-sign').send(buildOrderSignRequest(patient));
      const viaFhir = await request(app).post('/cds-services/lumbar-mri-order-sign').send(buildOrderSignRequest(patient, { fhirServer: served.baseUrl }));
      expect(viaFhir.status).toBe(200);
      const a = observedDecision(withPrefetch.body);
      const b = observedDecision(viaFhir.body);
      expect({ f, outcome: b.outcome, criterion: b.criterion }).toEqual({ f, outcome: a.outcome, criterion: a.criterion });
      // No card about unreadable data: every search succeeded.
      expect(JSON.stringify(viaFhir.body.cards)).not.toMatch(/could not be read/i);
    }
    const text = (await metrics.render()).body;
    expect(Number(/^cds_fhir_fallback_calls_total (\d+)/m.exec(text)?.[1])).toBeGreaterThanOrEqual(files.length * 12);
    expect(text).toMatch(/^cds_fhir_fallback_failures_total 0$/m);
  }, 120_000);

  it('a FHIR server that is not on the allow-list is never called', async () => {
    const { app } = createApp(testConfig({ fhirServerAllowlist: [] }), { library });
    served.clearRequests();
    const res = await request(app).post('/cds-services/lumbar-mri-order-sign').send(buildOrderSignRequest(patientOf('fixtures/synthea/synthea-vertebral-fracture-ma.json'), { fhirServer: served.baseUrl }));
    expect(res.status).toBe(200);
    expect(served.requests.length).toBe(0);
    expect(observedDecision(res.body).outcome).toBe('no-coverage');
  });

  it('upload loads fixtures into an empty FHIR server with ids kept, so the fallback finds the patient', async () => {
    const report = await uploadFixtures(['fixtures/synthea', 'cds-services/kp-wa-lumbar-mri/fixtures', 'fixtures/scenarios'], {
      fhirServer: empty.baseUrl,
      exclude: (f) => /(^|[\\/])scenarios[\\/]/.test(f),
    });
    expect(report.errors).toEqual([]);
    expect(report.files).toBe(files.length + readdirSync('cds-services/kp-wa-lumbar-mri/fixtures').length);
    const patients = await fetch(`${empty.baseUrl}/Patient?_summary=count`).then((r) => r.json() as Promise<{ total: number }>);
    expect(patients.total).toBe(report.files);
    const { app } = createApp(testConfig({ ...generousDeadlines, fhirServerAllowlist: [empty.baseUrl] }), { library });
    const res = await request(app).post('/cds-services/lumbar-mri-order-sign').send(buildOrderSignRequest(patientOf('fixtures/synthea/synthea-vertebral-fracture-ma.json'), { fhirServer: empty.baseUrl }));
    expect(JSON.stringify(res.body.cards)).not.toMatch(/could not be read/i);
    expect(observedDecision(res.body)).toMatchObject({ outcome: 'criteria-met', criterion: 'IND.1.5' });
  }, 180_000);

  it('upload reports a server that does not answer, by name', async () => {
    await expect(uploadFixtures(['fixtures/synthea'], { fhirServer: 'http://127.0.0.1:1/fhir', waitMs: 0 })).rejects.toThrow(/127\.0\.0\.1:1\/fhir\/metadata did not answer/);
  });
});

describe('Synthea codes (terminology.md section 18) are recognised', () => {
  const cases: [string, string, string][] = [
    ['snomed', '278860009', 'chronic-low-back-pain'],
    ['snomed', '278860009', 'low-back-pain'],
    ['snomed', '229064008', 'physical-therapy'],
    ['snomed', '91251008', 'physical-therapy'],
    ['rxnorm', '206905', 'conservative-medication'],
    ['rxnorm', '209387', 'conservative-medication'],
    ['rxnorm', '835603', 'conservative-medication'],
    ['rxnorm', '856987', 'conservative-medication'],
    ['rxnorm', '1049625', 'conservative-medication'],
    ['rxnorm', '1860491', 'conservative-medication'],
    ['rxnorm', '1049504', 'conservative-medication'],
    ['rxnorm', '245134', 'conservative-medication'],
    ['loinc', '91148-7', 'functional-impairment-score'],
    ['snomed', '15724005', 'vertebral-fracture'],
    ['snomed', '1734006', 'vertebral-fracture'],
    ['snomed', '262521009', 'major-trauma'],
    ['snomed', '64859006', 'osteoporosis'],
    ['snomed', '1290953004', 'lumbar-radiographs'],
    ['snomed', '386661006', 'fever'],
    ['snomed', '43724002', 'chills'],
    ['loinc', '8310-5', 'body-temperature'],
    ['loinc', '1988-5', 'crp'],
    ['loinc', '600-7', 'blood-culture'],
  ];
  it.each(cases)('%s %s is in %s', (system, code, valueSet) => {
    const lib = loadLibrary();
    const url = { snomed: SYSTEMS.snomed, rxnorm: SYSTEMS.rxnorm, loinc: SYSTEMS.loinc }[system]!;
    expect(lib.valueSets.memberships({ system: url, code })).toContain(valueSet);
  });
});
