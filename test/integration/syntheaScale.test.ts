/**
 * serve-fhir at Synthea scale (issue 14 item 5), on a data set generated here: the six Synthea
 * fixtures copied into 600 patients, one file each, with the Practitioners in a shared
 * `practitionerInformation` bundle referenced conditionally (`Practitioner?identifier=…`), as
 * Synthea writes them. Served by the CLI's `serveFhir` from a folder: 503 until loaded; `patient=`,
 * `subject=` and `beneficiary=` answered from the patient index with the matches of the
 * repository's full scan; the service's fallback (no prefetch, default timeouts) reading patients
 * among the 600 and deciding as with prefetch.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bundle, Practitioner, PractitionerRole, Resource } from 'fhir/r4.js';
import { createApp } from '../../src/http/app.js';
import { buildOrderSignRequest, patientsIn } from '../../src/cli/hookRequest.js';
import { serveFhir } from '../../src/cli/serveFhir.js';
import { testConfig } from '../../src/config/config.js';
import { loadLibrary } from '../../src/library/library.js';
import type { FhirTestServer } from '../../tools/fhir-server/FhirTestServer.js';
import { ResourceCollector, rewriteReferences } from '../../tools/fhir-server/normalize.js';
import { observedDecision } from '../support/outcome.js';

const DIR = 'fixtures/synthea';
const FILES = readdirSync(DIR).filter((f) => f.endsWith('.json'));
/** 6 fixtures x 100 copies = 600 patients, about 9,300 resources. */
const COPIES = 100;
/** Practitioners shared by all patients, as a Synthea run writes them once. */
const PRACTITIONERS = 40;
const NPI = 'http://hl7.org/fhir/sid/us-npi';

const npiOf = (k: number) => String(9_100_000_000 + k);

/**
 * Copy `n` of a fixture bundle: every UUID made unique to the copy, its Practitioner replaced by a
 * conditional reference to shared practitioner `n % PRACTITIONERS`.
 */
function copyOf(text: string, n: number): Bundle {
  const tag = n.toString(16).padStart(12, '0');
  const bundle = JSON.parse(text.replace(/\b([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-)[0-9a-f]{12}\b/g, `$1${tag}`)) as Bundle;
  const practitioner = bundle.entry?.find((e) => e.resource?.resourceType === 'Practitioner');
  bundle.entry = bundle.entry?.filter((e) => e !== practitioner);
  const conditional = `Practitioner?identifier=${NPI}|${npiOf(n % PRACTITIONERS)}`;
  rewriteReferences(bundle, (reference) => (reference === practitioner?.fullUrl ? conditional : undefined));
  return bundle;
}

const practitionerInformation: Bundle = {
  resourceType: 'Bundle',
  type: 'transaction',
  entry: Array.from({ length: PRACTITIONERS }, (_, k) => {
    const resource: Practitioner = { resourceType: 'Practitioner', id: `shared-practitioner-${k}`, identifier: [{ system: NPI, value: npiOf(k) }], name: [{ family: `Practitioner${k}` }] };
    return { fullUrl: `urn:uuid:00000000-0000-4000-8000-${k.toString(16).padStart(12, '0')}`, resource, request: { method: 'POST', url: 'Practitioner' } };
  }),
};

interface Served {
  readonly status: number;
  readonly retryAfter: string | null;
}

describe('serve-fhir at Synthea scale (600 patients from a folder)', () => {
  const folder = mkdtempSync(join(tmpdir(), 'synthea-scale-'));
  let server: FhirTestServer;
  const lines: string[] = [];
  const errors: string[] = [];
  let whileLoading: Served | undefined;
  /** The last copy of each fixture, as loaded: its patient among the 600. */
  const patients: { file: string; resources: Resource[] }[] = [];

  beforeAll(async () => {
    writeFileSync(join(folder, 'practitionerInformation.json'), JSON.stringify(practitionerInformation));
    for (const file of FILES) {
      const text = readFileSync(join(DIR, file), 'utf8');
      for (let n = 1; n <= COPIES; n++) {
        const bundle = copyOf(text, n);
        writeFileSync(join(folder, `${file.replace(/\.json$/, '')}-${String(n).padStart(3, '0')}.json`), JSON.stringify(bundle));
        if (n === COPIES) {
          const collector = new ResourceCollector();
          collector.add(bundle);
          patients.push({ file, resources: collector.finish() as Resource[] });
        }
      }
    }
    let announced: (url: string) => void = () => undefined;
    const baseUrl = new Promise<string>((resolve) => (announced = resolve));
    const started = serveFhir([folder], { port: 0, host: '127.0.0.1', basePath: '/fhir', pageSize: 50 }, {
      out: (line) => {
        lines.push(line);
        const m = /^FHIR server at (\S+): loading/.exec(line);
        if (m) announced(m[1]);
      },
      err: (line) => errors.push(line),
    });
    // Asked as soon as it listens, while the folder is still being read.
    const res = await fetch(`${await baseUrl}/Patient?_count=1`);
    await res.arrayBuffer();
    whileLoading = { status: res.status, retryAfter: res.headers.get('retry-after') };
    const served = await started;
    if (!served) throw new Error(errors.join('\n'));
    server = served;
  }, 240_000);

  afterAll(async () => {
    await server?.close();
    rmSync(folder, { recursive: true, force: true });
  });

  async function search(q: string): Promise<{ total: number; ids: string[] }> {
    const res = await fetch(`${server.baseUrl}/${q}`);
    expect(res.status, q).toBe(200);
    const bundle = (await res.json()) as Bundle;
    return { total: bundle.total ?? -1, ids: (bundle.entry ?? []).map((e) => e.resource?.id ?? '').sort() };
  }

  it('answers 503 with Retry-After while loading, then serves every patient', async () => {
    expect(whileLoading).toEqual({ status: 503, retryAfter: '1' });
    expect(lines.at(-1)).toBe(`FHIR server listening at ${server.baseUrl}`);
    expect((await search('Patient?_summary=count')).total).toBe(FILES.length * COPIES);
  });

  it('resolves every conditional Practitioner reference by identifier, with no warning', async () => {
    expect(errors).toEqual([]);
    const roles = await fetch(`${server.baseUrl}/PractitionerRole?_count=1000`).then((r) => r.json() as Promise<Bundle<PractitionerRole>>);
    const practitioners = (roles.entry ?? []).map((e) => e.resource?.practitioner?.reference);
    expect(practitioners).toHaveLength(FILES.length * COPIES);
    expect(new Set(practitioners)).toEqual(new Set(Array.from({ length: PRACTITIONERS }, (_, k) => `Practitioner/shared-practitioner-${k}`)));
  });

  it('answers patient=, subject= and beneficiary= from the index with the matches of a full scan', async () => {
    // A sorted search is not answered by the index: the repository's full scan is the reference.
    const scan = (q: string) => search(`${q}&_sort=_id&_count=1000`);
    for (const { resources } of patients) {
      const id = patientsIn(resources)[0].patientId;
      for (const type of ['Condition', 'Procedure', 'MedicationRequest', 'Observation']) {
        const own = resources.filter((r) => r.resourceType === type).length;
        const expected = await scan(`${type}?subject=Patient/${id}`);
        expect(expected.total, `${type} of ${id}`).toBe(own);
        expect(await search(`${type}?patient=${id}&_count=1000`)).toEqual(expected);
        expect(await search(`${type}?subject=Patient/${id}&_count=1000`)).toEqual(expected);
        expect(await search(`${type}?subject:Patient=${id}&_count=1000`)).toEqual(expected);
      }
      const coverage = await scan(`Coverage?beneficiary=Patient/${id}`);
      expect(coverage.total).toBe(resources.filter((r) => r.resourceType === 'Coverage').length);
      expect(await search(`Coverage?beneficiary=${id}`)).toEqual(coverage);
      expect(await search(`Coverage?patient=${id}&status=active`)).toEqual(await scan(`Coverage?patient=${id}&status=active`));
    }
    // Paging over the index: a page of one, the total of all.
    const { resources } = patients.find((p) => p.resources.filter((r) => r.resourceType === 'Procedure').length > 1)!;
    const page = await search(`Procedure?patient=${patientsIn(resources)[0].patientId}&_count=1`);
    expect(page.total).toBe(resources.filter((r) => r.resourceType === 'Procedure').length);
    expect(page.ids).toHaveLength(1);
  });

  it('the service reads patients among the 600 through the fallback, with the default timeouts, and decides as with prefetch', async () => {
    const defaults = testConfig();
    expect(defaults.fhirTimeoutMs).toBe(1500);
    const { app } = createApp(testConfig({ fhirServerAllowlist: [server.baseUrl] }), { library: loadLibrary() });
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

  it('follows writes through the REST API: a PUT is found by patient=, a DELETE is gone', async () => {
    const id = patientsIn(patients[0].resources)[0].patientId;
    const before = (await search(`Condition?patient=${id}`)).total;
    const put = await fetch(`${server.baseUrl}/Condition/added-by-put`, {
      method: 'PUT',
      headers: { 'content-type': 'application/fhir+json' },
      body: JSON.stringify({ resourceType: 'Condition', id: 'added-by-put', subject: { reference: `Patient/${id}` } }),
    });
    expect(put.status).toBeLessThan(300);
    expect((await search(`Condition?patient=${id}`)).ids).toContain('added-by-put');
    expect((await search(`Condition?patient=${id}`)).total).toBe(before + 1);
    expect((await fetch(`${server.baseUrl}/Condition/added-by-put`, { method: 'DELETE' })).status).toBeLessThan(300);
    expect((await search(`Condition?patient=${id}`)).total).toBe(before);
    expect(await search(`Condition?patient=${id}`)).toEqual(await search(`Condition?patient=${id}&_sort=_id`));
  });
});
