/**
 * serve-fhir at Synthea scale (issue 14 item 5): many patients loaded, `patient=` and `subject=`
 * searches answered from the patient index (the same matches as the repository's full scan), the
 * server 503 until loaded, and the service's fallback reading one patient's record with the
 * default timeouts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { parseSearchRequest } from '@medplum/core';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.js';
import { buildOrderSignRequest, patientsIn } from '../../src/cli/hookRequest.js';
import { testConfig } from '../../src/config/config.js';
import { startFhirServer, type FhirTestServer } from '../../tools/fhir-server/FhirTestServer.js';
import { ResourceCollector } from '../../tools/fhir-server/normalize.js';
import { loadLibrary } from '../../src/library/library.js';
import { observedDecision } from '../support/outcome.js';
import type { Resource } from 'fhir/r4.js';

const DIR = 'fixtures/synthea';
const FILES = readdirSync(DIR).filter((f) => f.endsWith('.json'));
/** Copies of each Synthea fixture: 6 files x 20 = 120 patients, about 2,200 resources. */
const COPIES = 20;

/** The bundle's resources with every UUID (ids, urn:uuid references) made unique to copy `n`. */
function copyOf(text: string, n: number) {
  const tag = n.toString(16).padStart(12, '0');
  const collector = new ResourceCollector();
  collector.add(JSON.parse(text.replace(/\b([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-)[0-9a-f]{12}\b/g, `$1${tag}`)), `copy ${n}`);
  return collector.finish();
}

describe('serve-fhir at Synthea scale', () => {
  let server: FhirTestServer;
  const patients: { file: string; resources: Resource[] }[] = [];

  beforeAll(async () => {
    server = await startFhirServer({ loading: true });
    // Answers 503 while loading: a client never reads half a data set.
    const early = await fetch(`${server.baseUrl}/Patient`);
    expect(early.status).toBe(503);
    expect(early.headers.get('retry-after')).toBe('1');
    for (const file of FILES) {
      const text = readFileSync(`${DIR}/${file}`, 'utf8');
      for (let n = 1; n <= COPIES; n++) {
        const resources = copyOf(text, n);
        await server.load(resources);
        if (n === COPIES) patients.push({ file, resources: resources as Resource[] });
      }
    }
    server.ready();
  }, 120_000);

  afterAll(async () => {
    await server?.close();
  });

  it('holds every copy', async () => {
    expect((await server.repo.searchResources(parseSearchRequest('Patient?_count=1000'))).length).toBe(FILES.length * COPIES);
  });

  it('answers patient= and subject= from the index with the matches of a full scan', async () => {
    const withObservations = patients.filter((p) => p.resources.some((r) => r.resourceType === 'Observation'));
    expect(withObservations.length).toBeGreaterThanOrEqual(2);
    for (const { resources } of withObservations.slice(0, 2)) {
      const patient = patientsIn(resources)[0];
      const ids = async (q: string) => {
        const res = await fetch(`${server.baseUrl}/${q}`);
        expect(res.status).toBe(200);
        const bundle = await res.json();
        return { total: bundle.total, ids: (bundle.entry ?? []).map((e: { resource: Resource }) => e.resource.id).sort() };
      };
      // A sorted search is not answered by the index: the repository's full scan is the reference.
      const scan = (q: string) => ids(`${q}&_sort=_id&_count=1000`);
      const own = resources.filter((r) => r.resourceType === 'Observation').length;
      const observations = await scan(`Observation?subject=Patient/${patient.patientId}`);
      expect(own).toBeGreaterThan(0);
      expect(observations.total).toBe(own);
      expect(await ids(`Observation?subject=Patient/${patient.patientId}&_count=1000`)).toEqual(observations);
      expect(await ids(`Observation?patient=${patient.patientId}&_count=1000`)).toEqual(observations);
      expect(await ids(`Condition?patient=${patient.patientId}`)).toEqual(await scan(`Condition?patient=${patient.patientId}`));
      // Paging over the index: a page of one, the total of all.
      const page = await ids(`Encounter?patient=${patient.patientId}&_count=1`);
      expect(page.total).toBe(resources.filter((r) => r.resourceType === 'Encounter').length);
      expect(page.ids).toHaveLength(Math.min(1, page.total));
    }
  });

  it('the service reads one patient among hundreds through the fallback, with the default timeouts, and decides as with prefetch', async () => {
    const defaults = testConfig();
    const { app } = createApp(testConfig({ fhirServerAllowlist: [server.baseUrl] }), { library: loadLibrary() });
    expect(defaults.fhirTimeoutMs).toBe(1500);
    for (const { file, resources } of patients) {
      const patient = patientsIn(resources)[0];
      const withPrefetch = await request(app).post('/cds-services/lumbar-mri-order-sign').send(buildOrderSignRequest(patient));
      const viaFhir = await request(app).post('/cds-services/lumbar-mri-order-sign').send(buildOrderSignRequest(patient, { fhirServer: server.baseUrl }));
      expect(viaFhir.status).toBe(200);
      expect(JSON.stringify(viaFhir.body.cards)).not.toMatch(/could not be read/i);
      const a = observedDecision(withPrefetch.body);
      const b = observedDecision(viaFhir.body);
      expect({ file, outcome: b.outcome, criterion: b.criterion }).toEqual({ file, outcome: a.outcome, criterion: a.criterion });
    }
  });

  it('after a write the index does not see, searches still find it (the repository answers)', async () => {
    const patient = patientsIn(patients[0].resources)[0];
    const before = (await (await fetch(`${server.baseUrl}/Condition?patient=${patient.patientId}`)).json()).total;
    const put = await fetch(`${server.baseUrl}/Condition/added-by-put`, {
      method: 'PUT',
      headers: { 'content-type': 'application/fhir+json' },
      body: JSON.stringify({ resourceType: 'Condition', id: 'added-by-put', subject: { reference: `Patient/${patient.patientId}` } }),
    });
    expect(put.status).toBeLessThan(300);
    expect((await (await fetch(`${server.baseUrl}/Condition?patient=${patient.patientId}`)).json()).total).toBe(before + 1);
  });
});
