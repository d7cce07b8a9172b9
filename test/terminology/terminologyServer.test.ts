/**
 * The optional terminology server (TERMINOLOGY_SERVER_URL): a loopback fake answering
 * `ValueSet/$validate-code` as a server holding the VSAC cancer value set would. A pancreatic cancer
 * code the local list lacks is recognised through it, answers are cached, and with the server down the
 * local expansions decide (no error reaches the EHR).
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app.js';
import { testConfig } from '../../src/config/config.js';
import { observedDecision } from '../support/outcome.js';

const ROOT = join(import.meta.dirname, '..', '..');
const PANCREAS = '363418001'; // Malignant tumor of pancreas (disorder): not in the local cancer list
const CANCER_VS = 'http://cts.nlm.nih.gov/fhir/ValueSet/2.16.840.1.113762.1.4.1111.161';

let server: Server;
let baseUrl: string;
const calls: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    calls.push(url.search);
    const member = url.pathname.endsWith('/ValueSet/$validate-code') && url.searchParams.get('url') === CANCER_VS && url.searchParams.get('code') === PANCREAS;
    res.setHeader('content-type', 'application/fhir+json');
    res.end(JSON.stringify({ resourceType: 'Parameters', parameter: [{ name: 'result', valueBoolean: member }] }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/fhir`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** The Synthea colon cancer patient, with pancreatic cancer instead (a code only the server knows). */
function pancreaticCancerPatient(): Record<string, unknown> {
  const body = JSON.parse(readFileSync(join(ROOT, 'cds-services/medicare-advantage-lumbar-mri/fixtures/IND.1-colon-cancer-synthea-snomed-met.json'), 'utf8'));
  for (const e of body.prefetch.conditions.entry) {
    const coding = e.resource.code.coding[0];
    if (coding.code === '363406005') Object.assign(coding, { code: PANCREAS, display: 'Malignant tumor of pancreas (disorder)' });
  }
  return body;
}

describe('membership checked against a FHIR terminology server', () => {
  it('without a server, a cancer code the local list lacks is not recognised', async () => {
    const { app } = createApp(testConfig());
    const res = await request(app).post('/cds-services/lumbar-mri-order-sign').send(pancreaticCancerPatient());
    expect(res.status).toBe(200);
    expect(observedDecision(res.body).criterion).not.toBe('IND.1.7');
  });

  it('with the server, $validate-code against the VSAC value set recognises it, and the answer is cached', async () => {
    const { app } = createApp(testConfig({ terminologyServerUrl: baseUrl }));
    calls.length = 0;
    const res = await request(app).post('/cds-services/lumbar-mri-order-sign').send(pancreaticCancerPatient());
    expect(observedDecision(res.body)).toMatchObject({ outcome: 'criteria-met', criterion: 'IND.1.7' });
    expect(calls.some((q) => q.includes(PANCREAS) && q.includes(encodeURIComponent(CANCER_VS)))).toBe(true);
    const first = calls.length;
    await request(app).post('/cds-services/lumbar-mri-order-sign').send(pancreaticCancerPatient());
    expect(calls.length).toBe(first);
  });

  it('with the server down, the local expansions decide and the EHR gets its answer', async () => {
    const { app } = createApp(testConfig({ terminologyServerUrl: 'http://127.0.0.1:9/fhir' }));
    const res = await request(app).post('/cds-services/lumbar-mri-order-sign').send(pancreaticCancerPatient());
    expect(res.status).toBe(200);
    expect(observedDecision(res.body).outcome).not.toBe('criteria-met');
    const colon = JSON.parse(readFileSync(join(ROOT, 'cds-services/medicare-advantage-lumbar-mri/fixtures/IND.1-colon-cancer-synthea-snomed-met.json'), 'utf8'));
    expect(observedDecision((await request(app).post('/cds-services/lumbar-mri-order-sign').send(colon)).body)).toMatchObject({ outcome: 'criteria-met', criterion: 'IND.1.7' });
  });
});
