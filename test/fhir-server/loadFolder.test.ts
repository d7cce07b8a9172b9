import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bundle, Coverage, Patient, ServiceRequest } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFhirServer } from '../../tools/fhir-server/FhirTestServer.js';
import { loadFolder } from '../../tools/fhir-server/loadFolder.js';
import { practitionerBundle, syntheaBundle } from './fixtures.js';

/** A CDS Hooks order-select body as the sandbox sends it (draftOrders Bundle without type). */
const cdsRequest = {
  hookInstance: 'a32723a2-6194-47e1-8f37-e9d444d2a49b',
  hook: 'order-select',
  fhirServer: 'http://127.0.0.1:8091/fhir',
  context: {
    patientId: 'pat-lbp-1',
    userId: 'Practitioner/COREPRACTITIONER1',
    selections: ['ServiceRequest/example-request-id'],
    draftOrders: {
      resourceType: 'Bundle',
      entry: [
        {
          resource: {
            resourceType: 'ServiceRequest',
            id: 'example-request-id',
            status: 'draft',
            intent: 'plan',
            code: { coding: [{ system: 'http://www.ama-assn.org/go/cpt', code: '72148' }] },
            subject: { reference: 'Patient/pat-lbp-1' },
          } satisfies ServiceRequest,
        },
      ],
    },
  },
  prefetch: {
    patient: { resourceType: 'Patient', id: 'pat-lbp-1', birthDate: '1970-01-01' } satisfies Patient,
    coverage: {
      resourceType: 'Bundle',
      type: 'searchset',
      total: 1,
      entry: [
        {
          fullUrl: 'http://127.0.0.1:8091/fhir/Coverage/cov-1',
          resource: {
            resourceType: 'Coverage',
            id: 'cov-1',
            status: 'active',
            beneficiary: { reference: 'Patient/pat-lbp-1' },
            payor: [{ display: 'Kaiser Foundation Health Plan of Washington' }],
          } satisfies Coverage,
        },
      ],
    } satisfies Bundle,
    conditions: { resourceType: 'Bundle', type: 'searchset', total: 0, entry: [] } satisfies Bundle,
    procedures: null,
  },
};

describe('loadFolder', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fhir-load-'));
    await mkdir(join(dir, 'synthea'));
    await writeFile(join(dir, 'synthea', 'practitionerInformation1.json'), JSON.stringify(practitionerBundle));
    await writeFile(join(dir, 'synthea', 'Marcus_Lindgren.json'), JSON.stringify(syntheaBundle));
    await writeFile(join(dir, 'order-select.json'), JSON.stringify(cdsRequest));
    await writeFile(join(dir, 'broken.json'), '{"resourceType": "Patient", ');
    await writeFile(join(dir, 'other.json'), JSON.stringify({ hello: 'world' }));
    await writeFile(join(dir, 'README.md'), 'not data');
    await writeFile(
      join(dir, 'Observation.ndjson'),
      [
        JSON.stringify({ resourceType: 'Observation', id: 'nd-1', status: 'final', code: { text: 'a' } }),
        '',
        '{oops',
      ].join('\n')
    );
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads Bundles, CDS Hooks requests and NDJSON, and reports bad files by name', async () => {
    const result = await loadFolder(dir);
    expect(result.files.map((f) => [f.file.slice(dir.length + 1), f.kind, f.resources])).toEqual([
      ['Observation.ndjson', 'ndjson', 1],
      ['order-select.json', 'cds-hooks-request', 3],
      ['synthea/Marcus_Lindgren.json', 'bundle', 10],
      ['synthea/practitionerInformation1.json', 'bundle', 1],
    ]);
    expect(result.errors.map((e) => e.file.slice(dir.length + 1))).toEqual([
      'broken.json',
      'Observation.ndjson:3',
      'other.json',
    ]);
    expect(result.errors[0]?.reason).toMatch(/^invalid JSON/);
    expect(result.errors[2]?.reason).toMatch(/neither a FHIR resource/);
    expect(result.warnings).toEqual([]);
    expect(result.resources.map((r) => `${r.resourceType}/${r.id}`)).toContain('ServiceRequest/example-request-id');
  });

  it('loads into the server so that searches by patient work', async () => {
    const server = await startFhirServer();
    try {
      const { resources } = await loadFolder(dir);
      const loaded = await server.load(resources);
      expect(loaded.loaded).toBe(15);
      expect(loaded.warnings).toEqual([]);
      const conditions = (await (await fetch(`${server.baseUrl}/Condition?patient=pat-1`)).json()) as Bundle;
      expect(conditions.total).toBe(5);
      const coverage = (await (await fetch(`${server.baseUrl}/Coverage?patient=pat-lbp-1`)).json()) as Bundle;
      expect(coverage.entry?.[0]?.resource?.id).toBe('cov-1');
      const order = await fetch(`${server.baseUrl}/ServiceRequest/example-request-id`);
      expect(order.status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it('reads a single file', async () => {
    const result = await loadFolder(join(dir, 'order-select.json'));
    expect(result.resources.map((r) => r.resourceType).sort()).toEqual(['Coverage', 'Patient', 'ServiceRequest']);
  });

  it('reports a missing path instead of throwing', async () => {
    const result = await loadFolder(join(dir, 'nope'));
    expect(result.resources).toEqual([]);
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]?.reason).toContain('ENOENT');
  });
});
