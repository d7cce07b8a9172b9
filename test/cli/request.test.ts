import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app.js';
import { main } from '../../src/cli/main.js';
import { testConfig } from '../../src/config/config.js';
import { PREFETCH } from '../../src/hooks/discovery.js';
import { observedDecision } from '../support/outcome.js';
import { captureIO } from './io.js';

async function run(...argv: string[]) {
  const io = captureIO();
  const code = await main(argv, io);
  return { code, out: io.stdout(), err: io.stderrText() };
}

describe('lumbar-mri-cds request', () => {
  it('builds an order-sign request with every prefetch key filled, which the service decides', async () => {
    const { code, out } = await run('request', 'fixtures/synthea/synthea-vertebral-fracture-ma.json');
    expect(code).toBe(0);
    const body = JSON.parse(out) as { hook: string; context: { patientId: string; userId: string; draftOrders: { entry: { resource: { code: { coding: { code: string }[] }; subject: { reference: string } } }[] } }; prefetch: Record<string, unknown>; fhirServer?: string };
    expect(body.hook).toBe('order-sign');
    expect(Object.keys(body.prefetch).sort()).toEqual(Object.keys(PREFETCH).sort());
    expect(body.fhirServer).toBeUndefined();
    const order = body.context.draftOrders.entry[0].resource;
    expect(order.code.coding[0].code).toBe('72148');
    // urn:uuid references of the Synthea bundle are rewritten to Type/id.
    expect(order.subject.reference).toBe(`Patient/${body.context.patientId}`);
    expect(JSON.stringify(body)).not.toContain('urn:uuid:');
    const { app } = createApp(testConfig());
    const res = await request(app).post('/cds-services/lumbar-mri-order-sign').send(body);
    expect(res.status).toBe(200);
    expect(observedDecision(res.body)).toMatchObject({ outcome: 'criteria-met', criterion: 'IND.1.5' });
  });

  it('builds an order for Synthea data that has none, with the CPT and date asked for', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-request-'));
    const bundle = JSON.parse(readFileSync('fixtures/synthea/synthea-vertebral-fracture-ma.json', 'utf8')) as { entry: { resource: { resourceType: string } }[] };
    bundle.entry = bundle.entry.filter((e) => e.resource.resourceType !== 'ServiceRequest');
    writeFileSync(join(dir, 'no-order.json'), JSON.stringify(bundle));
    const { code, out } = await run('request', join(dir, 'no-order.json'), '--order', '72158', '--date', '2025-11-04');
    expect(code).toBe(0);
    const body = JSON.parse(out) as { context: { draftOrders: { entry: { resource: { status: string; occurrenceDateTime: string; code: { coding: { code: string }[] } } }[] } } };
    const order = body.context.draftOrders.entry[0].resource;
    expect(order).toMatchObject({ status: 'draft', occurrenceDateTime: '2025-11-04' });
    expect(order.code.coding[0].code).toBe('72158');
  });

  it('leaves the prefetch out and names the FHIR server with --fhir-server', async () => {
    const { out } = await run('request', 'fixtures/synthea/synthea-vertebral-fracture-ma.json', '--fhir-server', 'http://127.0.0.1:8091/fhir/');
    const body = JSON.parse(out) as Record<string, unknown>;
    expect(body.prefetch).toBeUndefined();
    expect(body.fhirServer).toBe('http://127.0.0.1:8091/fhir');
  });

  it('asks which patient when the bundle holds several, and reports a bundle without any', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-request-'));
    const two = { resourceType: 'Bundle', type: 'collection', entry: [{ resource: { resourceType: 'Patient', id: 'p1' } }, { resource: { resourceType: 'Patient', id: 'p2' } }] };
    writeFileSync(join(dir, 'two.json'), JSON.stringify(two));
    const several = await run('request', join(dir, 'two.json'));
    expect(several.code).toBe(2);
    expect(several.err).toMatch(/2 patients; choose one with --patient \(p1, p2\)/);
    const chosen = await run('request', join(dir, 'two.json'), '--patient', 'p2');
    expect(chosen.code).toBe(0);
    expect((JSON.parse(chosen.out) as { context: { patientId: string } }).context.patientId).toBe('p2');
    writeFileSync(join(dir, 'none.json'), JSON.stringify({ resourceType: 'Bundle', type: 'collection', entry: [] }));
    const none = await run('request', join(dir, 'none.json'));
    expect(none.code).toBe(1);
    expect(none.err).toMatch(/none\.json: no Patient resource/);
  });
});
