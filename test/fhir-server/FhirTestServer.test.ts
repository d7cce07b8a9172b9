import type {
  Bundle,
  CapabilityStatement,
  Condition,
  Encounter,
  OperationOutcome,
  Patient,
  Resource,
} from '@medplum/fhirtypes';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFhirServer } from '../../tools/fhir-server/FhirTestServer.js';
import type { FhirTestServer } from '../../tools/fhir-server/FhirTestServer.js';
import { CHRONIC_LBP, SNOMED, practitionerBundle, syntheaBundle } from './fixtures.js';

async function getJson<T>(url: string, init?: RequestInit): Promise<{ status: number; body: T; headers: Headers }> {
  const res = await fetch(url, init);
  return { status: res.status, body: (await res.json()) as T, headers: res.headers };
}

function ids(bundle: Bundle): string[] {
  return (bundle.entry ?? []).map((e) => e.resource?.id ?? '?').sort();
}

describe('FhirTestServer', () => {
  let server: FhirTestServer;

  beforeAll(async () => {
    server = await startFhirServer();
    await server.load(practitionerBundle);
    const result = await server.load(syntheaBundle);
    expect(result.warnings).toEqual([]);
    expect(result.loaded).toBe(10);
  });
  afterAll(async () => {
    await server.close();
  });
  beforeEach(() => server.clearRequests());

  it('binds to loopback and reports its base URL', () => {
    expect(server.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/fhir$/);
  });

  describe('loading', () => {
    it('keeps given ids and rewrites urn:uuid references to Type/id', async () => {
      const condition = await server.repo.readResource<Condition>('Condition', 'cond-1');
      expect(condition.subject?.reference).toBe('Patient/pat-1');
      expect(condition.encounter?.reference).toBe('Encounter/enc-1');
    });

    it('resolves conditional references against already loaded data', async () => {
      const encounter = await server.repo.readResource<Encounter>('Encounter', 'enc-1');
      expect(encounter.participant?.[0]?.individual?.reference).toBe('Practitioner/prac-1');
    });

    it('takes the id from a urn:uuid fullUrl when the resource has none', async () => {
      const result = await server.load({
        resourceType: 'Bundle',
        type: 'collection',
        entry: [
          { fullUrl: 'urn:uuid:1b3f1d4e-aaaa-4bbb-8ccc-000000000777', resource: { resourceType: 'Patient' } },
          {
            resource: {
              resourceType: 'Coverage',
              id: 'cov-777',
              status: 'active',
              beneficiary: { reference: 'urn:uuid:1b3f1d4e-aaaa-4bbb-8ccc-000000000777' },
              payor: [{ display: 'Kaiser Foundation Health Plan of Washington' }],
            },
          },
        ],
      } satisfies Bundle);
      expect(result.references).toEqual(['Patient/1b3f1d4e-aaaa-4bbb-8ccc-000000000777', 'Coverage/cov-777']);
      const { body } = await getJson<Bundle>(`${server.baseUrl}/Coverage?patient=1b3f1d4e-aaaa-4bbb-8ccc-000000000777`);
      expect(ids(body)).toEqual(['cov-777']);
    });

    it('reports what it cannot load instead of throwing', async () => {
      const result = await server.load([
        // Deliberately invalid input, as a hand-written file might hold.
        { resourceType: 'NotAType', id: 'x' } as unknown as Resource,
        {
          resourceType: 'Condition',
          id: 'cond-dangling',
          subject: { reference: 'urn:uuid:00000000-dead-4000-8000-000000000000' },
        } satisfies Condition,
      ]);
      expect(result.loaded).toBe(1);
      expect(result.warnings.map((w) => w.message)).toEqual([
        'unknown resourceType "NotAType", skipped',
        'unresolved reference "urn:uuid:00000000-dead-4000-8000-000000000000" in Condition/cond-dangling',
      ]);
      await server.repo.deleteResource('Condition', 'cond-dangling');
    });
  });

  describe('read', () => {
    it('returns the resource with ETag', async () => {
      const { status, body, headers } = await getJson<Patient>(`${server.baseUrl}/Patient/pat-1`);
      expect(status).toBe(200);
      expect(body).toMatchObject<Patient>({ resourceType: 'Patient', id: 'pat-1', birthDate: '1968-04-12' });
      expect(headers.get('etag')).toMatch(/^W\/"/);
      expect(headers.get('content-type')).toContain('application/fhir+json');
    });

    it('answers 404 with an OperationOutcome for an unknown id', async () => {
      const { status, body } = await getJson<OperationOutcome>(`${server.baseUrl}/Patient/nobody`);
      expect(status).toBe(404);
      expect(body.resourceType).toBe('OperationOutcome');
    });
  });

  describe('search', () => {
    it('finds Conditions by patient (bare id, Type/id, and subject)', async () => {
      const queries = ['patient=pat-1', 'patient=Patient/pat-1', 'subject=Patient/pat-1', 'subject:Patient=pat-1'];
      for (const query of queries) {
        const { status, body } = await getJson<Bundle>(`${server.baseUrl}/Condition?${query}`);
        expect(status, query).toBe(200);
        expect(body.type).toBe('searchset');
        expect(body.total, query).toBe(5);
        expect(ids(body), query).toEqual(['cond-1', 'cond-2', 'cond-3', 'cond-4', 'cond-5']);
      }
    });

    it('accepts an absolute reference on this server', async () => {
      const patient = encodeURIComponent(`${server.baseUrl}/Patient/pat-1`);
      const { body } = await getJson<Bundle>(`${server.baseUrl}/Condition?patient=${patient}`);
      expect(body.total).toBe(5);
    });

    it('finds Conditions by system|code, encoded or not, with patient', async () => {
      const raw = await getJson<Bundle>(`${server.baseUrl}/Condition?patient=pat-1&code=${SNOMED}|${CHRONIC_LBP}`);
      expect(ids(raw.body)).toEqual(['cond-1', 'cond-4']);
      const encoded = await getJson<Bundle>(
        `${server.baseUrl}/Condition?patient=pat-1&code=${encodeURIComponent(`${SNOMED}|${CHRONIC_LBP}`)}`
      );
      expect(ids(encoded.body)).toEqual(['cond-1', 'cond-4']);
      const anyPatient = await getJson<Bundle>(`${server.baseUrl}/Condition?code=${SNOMED}|${CHRONIC_LBP}`);
      expect(ids(anyPatient.body)).toEqual(['cond-1', 'cond-4', 'cond-6']);
      const list = await getJson<Bundle>(
        `${server.baseUrl}/Condition?patient=pat-1&code=${SNOMED}|23056005,${SNOMED}|279039007`
      );
      expect(ids(list.body)).toEqual(['cond-2', 'cond-3']);
    });

    it('finds Conditions by date, with a range from repeated parameters', async () => {
      const since = await getJson<Bundle>(`${server.baseUrl}/Condition?patient=pat-1&onset-date=ge2023-01-01`);
      expect(ids(since.body)).toEqual(['cond-2', 'cond-3', 'cond-4']);
      const range = await getJson<Bundle>(
        `${server.baseUrl}/Condition?patient=pat-1&recorded-date=ge2023-01-01&recorded-date=lt2024-01-01`
      );
      expect(ids(range.body)).toEqual(['cond-2', 'cond-3']);
      const obs = await getJson<Bundle>(`${server.baseUrl}/Observation?patient=pat-1&date=ge2024-03-01`);
      expect(ids(obs.body)).toEqual(['obs-pain-1']);
    });

    it('answers 400 for a parameter the type does not define (R4 Condition has no "date")', async () => {
      const { status, body } = await getJson<OperationOutcome>(`${server.baseUrl}/Condition?patient=pat-1&date=ge2023`);
      expect(status).toBe(400);
      expect(body.issue?.[0]?.details?.text).toContain('unknown search parameter "date" for Condition');
      expect(body.issue?.[0]?.expression).toEqual(['date']);
    });

    it('finds by _id and status', async () => {
      const byId = await getJson<Bundle>(`${server.baseUrl}/Condition?_id=cond-2,cond-6`);
      expect(ids(byId.body)).toEqual(['cond-2', 'cond-6']);
      const byStatus = await getJson<Bundle>(`${server.baseUrl}/Observation?status=final&subject=Patient/pat-1`);
      expect(ids(byStatus.body)).toEqual(['obs-pain-1']);
      const none = await getJson<Bundle>(`${server.baseUrl}/Observation?status=preliminary`);
      expect(none.body).toMatchObject({ total: 0 });
      expect(none.body.entry).toBeUndefined();
    });

    it('gives entries a fullUrl on this server and search.mode match', async () => {
      const { body } = await getJson<Bundle>(`${server.baseUrl}/Patient?_id=pat-1`);
      expect(body.entry?.[0]).toMatchObject({
        fullUrl: `${server.baseUrl}/Patient/pat-1`,
        search: { mode: 'match' },
      });
    });

    it('pages with _count, and the next links work to the end', async () => {
      const seen: string[] = [];
      let url: string | undefined = `${server.baseUrl}/Condition?patient=pat-1&_count=2`;
      let pages = 0;
      while (url) {
        expect(url.startsWith(`${server.baseUrl}/Condition?`)).toBe(true);
        const { status, body }: { status: number; body: Bundle } = await getJson<Bundle>(url);
        expect(status).toBe(200);
        expect(body.total).toBe(5);
        expect(body.link?.find((l) => l.relation === 'self')?.url).toBe(url);
        seen.push(...(body.entry ?? []).map((e) => e.resource?.id ?? '?'));
        url = body.link?.find((l) => l.relation === 'next')?.url;
        pages++;
      }
      expect(pages).toBe(3);
      expect(seen.sort()).toEqual(['cond-1', 'cond-2', 'cond-3', 'cond-4', 'cond-5']);
    });

    it('pages by default when _count is absent', async () => {
      const small = await startFhirServer({ defaultPageSize: 4 });
      try {
        await small.load(syntheaBundle);
        const { body } = await getJson<Bundle>(`${small.baseUrl}/Condition`);
        expect(body.entry).toHaveLength(4);
        expect(body.total).toBe(6);
        expect(body.link?.find((l) => l.relation === 'next')?.url).toBe(
          `${small.baseUrl}/Condition?_count=4&_offset=4`
        );
      } finally {
        await small.close();
      }
    });

    it('supports _summary=count, _sort and _include', async () => {
      const count = await getJson<Bundle>(`${server.baseUrl}/Condition?patient=pat-1&_summary=count`);
      expect(count.body.total).toBe(5);
      expect(count.body.entry).toBeUndefined();

      const sorted = await getJson<Bundle>(`${server.baseUrl}/Condition?patient=pat-1&_sort=-onset-date&_count=2`);
      expect(sorted.body.entry?.map((e) => e.resource?.id)).toEqual(['cond-4', 'cond-3']);

      const included = await getJson<Bundle>(`${server.baseUrl}/Condition?_id=cond-1&_include=Condition:subject`);
      expect(included.body.entry?.map((e) => [e.resource?.id, e.search?.mode])).toEqual([
        ['cond-1', 'match'],
        ['pat-1', 'include'],
      ]);
    });

    it('answers the POST _search form (x-www-form-urlencoded), as the CDS Hooks sandbox sends', async () => {
      const res = await fetch(`${server.baseUrl}/Condition/_search`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: 'Bearer abc' },
        body: new URLSearchParams({ patient: 'pat-1', code: `${SNOMED}|${CHRONIC_LBP}`, _count: '1' }).toString(),
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('access-control-allow-origin')).toBe('*');
      const body = (await res.json()) as Bundle;
      expect(body.total).toBe(2);
      expect(body.entry).toHaveLength(1);
      const next = body.link?.find((l) => l.relation === 'next')?.url;
      expect(next).toBeDefined();
      const page2 = await getJson<Bundle>(next ?? '');
      expect(page2.body.entry).toHaveLength(1);

      expect(server.requests[0]).toMatchObject({
        method: 'POST',
        path: '/fhir/Condition/_search',
        hasAuthorization: true,
        authorization: 'Bearer abc',
      });
      expect(server.requests[0]?.body).toContain('patient=pat-1');
    });
  });

  describe('HTTP surface', () => {
    it('answers CORS preflight', async () => {
      const res = await fetch(`${server.baseUrl}/Condition/_search`, {
        method: 'OPTIONS',
        headers: {
          Origin: 'http://localhost:8080',
          'Access-Control-Request-Method': 'POST',
          'Access-Control-Request-Headers': 'authorization,content-type',
        },
      });
      expect(res.status).toBe(204);
      expect(res.headers.get('access-control-allow-origin')).toBe('*');
      expect(res.headers.get('access-control-allow-headers')).toMatch(/authorization, content-type/);
      for (const method of ['GET', 'POST', 'PUT', 'OPTIONS']) {
        expect(res.headers.get('access-control-allow-methods')).toContain(method);
      }
      const get = await fetch(`${server.baseUrl}/Patient/pat-1`);
      expect(get.headers.get('access-control-allow-origin')).toBe('*');
    });

    it('serves a CapabilityStatement at /metadata', async () => {
      const { status, body } = await getJson<CapabilityStatement>(`${server.baseUrl}/metadata`);
      expect(status).toBe(200);
      expect(body).toMatchObject({ resourceType: 'CapabilityStatement', fhirVersion: '4.0.1', kind: 'instance' });
      const condition = body.rest?.[0]?.resource?.find((r) => r.type === 'Condition');
      expect(condition?.searchParam?.map((p) => p.name)).toContain('patient');
    });

    it('logs each request with its Authorization header', async () => {
      await fetch(`${server.baseUrl}/Patient/pat-1`, { headers: { Authorization: 'Bearer t0k' } });
      await fetch(`${server.baseUrl}/Condition?patient=pat-1`);
      expect(server.requests.map((r) => [r.method, r.url, r.hasAuthorization, r.authorization])).toEqual([
        ['GET', '/fhir/Patient/pat-1', true, 'Bearer t0k'],
        ['GET', '/fhir/Condition?patient=pat-1', false, undefined],
      ]);
      expect(server.requests[1]?.query).toEqual({ patient: ['pat-1'] });
    });

    it('creates and updates single resources (POST and PUT)', async () => {
      const created = await fetch(`${server.baseUrl}/Observation`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/fhir+json' },
        body: JSON.stringify({
          resourceType: 'Observation',
          status: 'final',
          code: { text: 'Straight leg raise' },
          subject: { reference: 'Patient/pat-2' },
        }),
      });
      expect(created.status).toBe(201);
      expect(created.headers.get('location')).toMatch(new RegExp(`^${server.baseUrl}/Observation/[^/]+/_history/`));

      const put = await fetch(`${server.baseUrl}/Patient/pat-3`, {
        method: 'PUT',
        headers: { 'Content-Type': 'application/fhir+json' },
        body: JSON.stringify({ resourceType: 'Patient', id: 'pat-3', gender: 'other' } satisfies Patient),
      });
      expect(put.status).toBe(200);
      expect((await getJson<Patient>(`${server.baseUrl}/Patient/pat-3`)).body.gender).toBe('other');
    });

    it('accepts a transaction Bundle upload, keeping ids', async () => {
      const fresh = await startFhirServer();
      try {
        const res = await fetch(`${fresh.baseUrl}`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/fhir+json' },
          body: JSON.stringify(syntheaBundle),
        });
        expect(res.status).toBe(200);
        const response = (await res.json()) as Bundle;
        expect(response.type).toBe('transaction-response');
        expect(response.entry).toHaveLength(10);
        expect(response.entry?.[0]?.response).toMatchObject({ status: '201 Created', location: 'Patient/pat-1' });
        const { body } = await getJson<Bundle>(`${fresh.baseUrl}/Condition?patient=pat-1`);
        expect(body.total).toBe(5);
      } finally {
        await fresh.close();
      }
    });

    it('runs batch Bundles with reads through medplum', async () => {
      const { status, body } = await getJson<Bundle>(`${server.baseUrl}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/fhir+json' },
        body: JSON.stringify({
          resourceType: 'Bundle',
          type: 'batch',
          entry: [{ request: { method: 'GET', url: 'Patient/pat-1' } }],
        } satisfies Bundle),
      });
      expect(status).toBe(200);
      expect(body.type).toBe('batch-response');
      expect(body.entry?.[0]?.resource).toMatchObject({ resourceType: 'Patient', id: 'pat-1' });
    });

    it('answers 400 for a body that is not JSON', async () => {
      const res = await fetch(`${server.baseUrl}/Patient`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/fhir+json' },
        body: '{"resourceType":',
      });
      expect(res.status).toBe(400);
    });

    it('can require a bearer token (metadata and preflight stay open)', async () => {
      const secured = await startFhirServer({ requiredBearerToken: 's3cret', initialData: syntheaBundle });
      try {
        expect((await fetch(`${secured.baseUrl}/Patient/pat-1`)).status).toBe(401);
        expect(
          (await fetch(`${secured.baseUrl}/Patient/pat-1`, { headers: { Authorization: 'Bearer wrong' } })).status
        ).toBe(401);
        expect(
          (await fetch(`${secured.baseUrl}/Patient/pat-1`, { headers: { Authorization: 'Bearer s3cret' } })).status
        ).toBe(200);
        expect((await fetch(`${secured.baseUrl}/metadata`)).status).toBe(200);
        expect((await fetch(`${secured.baseUrl}/Patient`, { method: 'OPTIONS' })).status).toBe(204);
      } finally {
        await secured.close();
      }
    });
  });
});
