import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app.js';
import { main } from '../../src/cli/main.js';
import { testConfig } from '../../src/config/config.js';
import { loadFolder } from '../../tools/fhir-server/loadFolder.js';
import { observedDecision } from '../support/outcome.js';
import { captureIO } from './io.js';

async function run(...argv: string[]) {
  const io = captureIO();
  const code = await main(argv, io);
  return { code, out: io.stdout(), err: io.stderrText() };
}

/** No stack frame ("    at fn (file:line)") reaches the user. */
const STACK = /\n\s+at .+:\d+/;

describe('lumbar-mri-cds: messages instead of stack traces', () => {
  it('token with a key file that does not exist says so and exits 1', async () => {
    const r = await run('token', '--key', 'no/such/key.jwk.json', '--iss', 'https://ehr.example.org', '--aud', 'http://localhost:3000/cds-services/lumbar-mri-order-sign');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^unreadable: no\/such\/key\.jwk\.json: ENOENT/);
    expect(r.err).not.toMatch(STACK);
    expect(r.out).toBe('');
  });

  it('token with a file that is not a private JWK is wrong usage (exit 2)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-token-'));
    writeFileSync(join(dir, 'public.json'), JSON.stringify({ kty: 'EC', crv: 'P-384', kid: 'k1', alg: 'ES384', x: 'a', y: 'b' }));
    writeFileSync(join(dir, 'garbage.json'), 'not json');
    const pub = await run('token', '--key', join(dir, 'public.json'), '--iss', 'x', '--aud', 'http://localhost:3000/x');
    expect(pub.code).toBe(2);
    expect(pub.err).toMatch(/must be a private JWK/);
    const garbage = await run('token', '--key', join(dir, 'garbage.json'), '--iss', 'x', '--aud', 'http://localhost:3000/x');
    expect(garbage.code).toBe(1);
    expect(garbage.err).toMatch(/garbage\.json: .*JSON/);
    expect(garbage.err).not.toMatch(STACK);
  });

  it('upload to a server that does not answer says so and exits 1', async () => {
    const r = await run('upload', '--fhir-server', 'http://127.0.0.1:1/fhir', 'fixtures/synthea');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^error: cannot reach the FHIR server: http:\/\/127\.0\.0\.1:1\/fhir\/metadata did not answer/);
    expect(r.err).not.toMatch(STACK);
  });
});

describe('lumbar-mri-cds request: every input the CLI reads', () => {
  it('builds the request for one patient of an NDJSON file, and asks which when it holds several', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-request-ndjson-'));
    const fracture = await loadFolder('fixtures/synthea/synthea-vertebral-fracture-ma.json');
    const other = await loadFolder('fixtures/synthea/synthea-chronic-lbp-no-coverage.json');
    writeFileSync(join(dir, 'export.ndjson'), [...fracture.resources, ...other.resources].map((r) => JSON.stringify(r)).join('\n'));
    const several = await run('request', join(dir, 'export.ndjson'));
    expect(several.code).toBe(2);
    expect(several.err).toMatch(/holds 2 patients; choose one with --patient/);
    const patientId = fracture.resources.find((r) => r.resourceType === 'Patient')!.id!;
    const one = await run('request', join(dir, 'export.ndjson'), '--patient', patientId);
    expect(one.code).toBe(0);
    const { app } = createApp(testConfig());
    const res = await request(app).post('/cds-services/lumbar-mri-order-sign').send(JSON.parse(one.out) as object);
    expect(res.status).toBe(200);
    expect(observedDecision(res.body)).toMatchObject({ outcome: 'criteria-met', criterion: 'IND.1.5' });
  });

  it('says what is wrong with an NDJSON file that is not NDJSON, without a stack trace', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-request-ndjson-'));
    writeFileSync(join(dir, 'pretty.ndjson'), JSON.stringify({ resourceType: 'Patient', id: 'p1' }, null, 2));
    const r = await run('request', join(dir, 'pretty.ndjson'));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/pretty\.ndjson:1: invalid JSON/);
    expect(r.err).not.toMatch(STACK);
  });

  it("accepts the repository's own hook fixtures, with --date and --fhir-server applied", async () => {
    const file = 'cds-services/kp-wa-lumbar-mri/fixtures/I.B-cauda-equina-saddle-numbness-urinary-retention.json';
    const given = JSON.parse(readFileSync(file, 'utf8')) as { context: { patientId: string } };
    const r = await run('request', file);
    expect(r.code).toBe(0);
    const body = JSON.parse(r.out) as { hook: string; context: { patientId: string } };
    expect(body).toMatchObject({ hook: 'order-sign', context: { patientId: given.context.patientId } });
    const { app } = createApp(testConfig());
    const res = await request(app).post('/cds-services/lumbar-mri-order-sign').send(body);
    expect(observedDecision(res.body)).toMatchObject({ outcome: 'criteria-met', criterion: 'I.B' });

    const moved = JSON.parse((await run('request', file, '--date', '2024-07-01', '--fhir-server', 'http://127.0.0.1:8091/fhir')).out) as {
      prefetch?: unknown;
      fhirServer: string;
      context: { draftOrders: { entry: { resource: { occurrenceDateTime?: string } }[] } };
    };
    expect(moved.prefetch).toBeUndefined();
    expect(moved.fhirServer).toBe('http://127.0.0.1:8091/fhir');
    expect(moved.context.draftOrders.entry[0].resource.occurrenceDateTime).toBe('2024-07-01');
    const dir = mkdtempSync(join(tmpdir(), 'cli-request-hook-'));
    writeFileSync(join(dir, 'patient-view.json'), JSON.stringify({ hook: 'patient-view', hookInstance: 'x', context: { patientId: 'p1' } }));
    const otherHook = await run('request', join(dir, 'patient-view.json'));
    expect(otherHook.code).toBe(1);
    expect(otherHook.err).toMatch(/patient-view\.json: hook "patient-view" is not one this service answers/);
    expect(otherHook.err).not.toMatch(STACK);
    const wrongPatient = await run('request', file, '--patient', 'someone-else');
    expect(wrongPatient.code).toBe(2);
    expect(wrongPatient.err).toMatch(/is a hook request for patient "pat-6a1c9d09510c0767"/);
  });
});

describe('lumbar-mri-cds options', () => {
  it('--version prints the version of package.json', async () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    const r = await run('--version');
    expect(r.code).toBe(0);
    expect(r.out.trim()).toBe(pkg.version);
  });

  it('serve-fhir refuses --page-size 0 (and anything but 1 to 1000) as wrong usage', async () => {
    for (const size of ['0', '-5', '2.5', '1001', 'ten']) {
      const r = await run('serve-fhir', '--port', '0', '--page-size', size, 'fixtures/synthea');
      expect({ size, code: r.code }).toEqual({ size, code: 2 });
      expect(r.err).toMatch(/--page-size <n>' argument '.*' is invalid\. expected a whole number from 1 to 1000/);
    }
  });
});
