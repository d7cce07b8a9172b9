import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app.js';
import type { EvaluationRow } from '../../src/cli/evaluate.js';
import { main } from '../../src/cli/main.js';
import { testConfig } from '../../src/config/config.js';
import { loadFolder } from '../../tools/fhir-server/loadFolder.js';
import { loadLibrary, type PolicyLibrary } from '../../src/library/library.js';
import { observedDecision } from '../support/outcome.js';
import { captureIO } from './io.js';

const SYNTHEA = 'fixtures/synthea';
let library: PolicyLibrary;

beforeAll(() => {
  library = loadLibrary();
});

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = captureIO();
  const code = await main(argv, io, () => library);
  return { code, out: io.stdout(), err: io.stderrText() };
}

async function evaluateJson(...argv: string[]): Promise<{ code: number; results: EvaluationRow[]; errors: { file: string; reason: string }[] }> {
  const r = await run('evaluate', '--json', ...argv);
  return { code: r.code, ...(JSON.parse(r.out) as { results: EvaluationRow[]; errors: { file: string; reason: string }[] }) };
}

const byFile = (rows: readonly EvaluationRow[]) => new Map(rows.map((r) => [r.file.split(/[\\/]/).pop()!.replace(/\.json$/, ''), r]));

describe('lumbar-mri-cds evaluate', () => {
  it('decides every Synthea bundle in a folder, with the criterion by outline number', async () => {
    const { code, results, errors } = await evaluateJson(SYNTHEA);
    expect(code).toBe(0);
    expect(errors).toEqual([]);
    const rows = byFile(results);
    expect(rows.size).toBe(6);
    expect(rows.get('synthea-chronic-lbp-pt-no-improvement-kp')).toMatchObject({ outcome: 'criteria-met', policy: 'kp-wa-lumbar-mri@2024-01-01', criterion: 'III.A.2', cpt: '72148', dateOfService: '2024-06-12' });
    expect(rows.get('synthea-vertebral-fracture-ma')).toMatchObject({ outcome: 'criteria-met', policy: 'medicare-advantage-lumbar-mri@1.1', criterion: 'IND.1.5', dateOfService: '2025-11-03' });
    expect(rows.get('synthea-chronic-lbp-pt-opioids-kp')).toMatchObject({ outcome: 'not-indicated', policy: 'kp-wa-lumbar-mri@2024-01-01' });
    expect(rows.get('synthea-chronic-lbp-no-coverage')).toMatchObject({ outcome: 'no-coverage' });
    expect(rows.get('synthea-chronic-lbp-no-coverage')?.policy).toBeUndefined();
  });

  it('gives the same decision as the service does for the same patient sent as a hook request', async () => {
    const { app } = createApp(testConfig(), { library });
    const { results } = await evaluateJson(SYNTHEA);
    for (const [name, row] of byFile(results)) {
      const body = JSON.parse(readFileSync(`fixtures/synthea-requests/${name}.json`, 'utf8')) as Record<string, unknown>;
      const res = await request(app).post('/cds-services/lumbar-mri-order-sign').send(body);
      expect(res.status).toBe(200);
      const seen = observedDecision(res.body);
      expect({ name, outcome: row.outcome, criterion: row.criterion }).toEqual({ name, outcome: seen.outcome, criterion: seen.criterion });
    }
  });

  it('prints a readable table per patient with outcome, criterion and suggestions', async () => {
    const { code, out } = await run('evaluate', 'cds-services/kp-wa-lumbar-mri/fixtures/NI-uncomplicated-acute-low-back-pain.json', 'cds-services/kp-wa-lumbar-mri/fixtures/I.B-cauda-equina-saddle-numbness-urinary-retention.json');
    expect(code).toBe(0);
    expect(out).toMatch(/outcome\s+not-indicated/);
    expect(out).toMatch(/suggestions\s+- No imaging now: refer to physical therapy/);
    expect(out).toMatch(/outcome\s+criteria-met/);
    expect(out).toMatch(/criterion\s+I\.B\n/);
    expect(out).toMatch(/2 file\(s\), 2 order\(s\) evaluated: 1 not-indicated, 1 criteria-met/);
  });

  it('lists the missing documentation when a path to approval is open', async () => {
    const { results } = await evaluateJson('fixtures/synthea/synthea-chronic-lbp-pt-no-improvement-kp.json', '--date', '2024-06-12');
    expect(results[0].outcome).toBe('criteria-met');
    // The same patient without the clinician's findings: the coded course of care is there, the notes are not.
    const dir = mkdtempSync(join(tmpdir(), 'cli-missing-'));
    const bundle = JSON.parse(readFileSync('fixtures/synthea/synthea-chronic-lbp-pt-no-improvement-kp.json', 'utf8')) as { entry: { resource: { resourceType: string; code?: { coding?: { code?: string }[] } } }[] };
    bundle.entry = bundle.entry.filter((e) => !(e.resource.resourceType === 'Observation' && e.resource.code?.coding?.[0]?.code === 'no-improvement-after-conservative-care'));
    writeFileSync(join(dir, 'p.json'), JSON.stringify(bundle));
    const { results: again } = await evaluateJson(join(dir, 'p.json'));
    expect(again[0].outcome).toBe('documentation-missing');
    expect(again[0].missing.join('\n')).toMatch(/no significant improvement.*\(serves III\.A/i);
  });

  it('--policy judges a patient without coverage against the named policy', async () => {
    const { code, results } = await evaluateJson('fixtures/synthea/synthea-chronic-lbp-no-coverage.json', '--policy', 'kp-wa-lumbar-mri');
    expect(code).toBe(0);
    expect(results[0]).toMatchObject({ outcome: 'not-indicated', policy: 'kp-wa-lumbar-mri@2024-01-01', coverage: 'Coverage/assumed-by-cli-policy-option' });
  });

  it('--policy bypasses routing even when the coverage routes elsewhere', async () => {
    const { results } = await evaluateJson('fixtures/synthea/synthea-vertebral-fracture-ma.json', '--policy', 'kp-wa-lumbar-mri', '--date', '2024-06-12');
    expect(results[0].policy).toBe('kp-wa-lumbar-mri@2024-01-01');
    expect(results[0].dateOfService).toBe('2024-06-12');
  });

  it('--date picks the policy version in force', async () => {
    const before = await evaluateJson('fixtures/synthea/synthea-chronic-lbp-pt-no-improvement-kp.json', '--date', '2023-06-12');
    expect(before.results[0].policy).toMatch(/^kp-wa-lumbar-mri@/);
    expect(before.results[0].policy).not.toBe('kp-wa-lumbar-mri@2024-01-01');
    expect(before.results[0].dateOfService).toBe('2023-06-12');
  });

  it('--order sets the CPT of the order', async () => {
    const { results } = await evaluateJson('fixtures/synthea/synthea-chronic-lbp-pt-no-improvement-kp.json', '--order', '72158');
    expect(results[0].cpt).toBe('72158');
    // The criterion met names MRI without contrast: the service suggests it instead.
    expect(results[0].suggestions.join(' ')).toMatch(/without contrast/i);
  });

  it('reads hook requests and NDJSON as well as bundles', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-ndjson-'));
    const bundle = JSON.parse(readFileSync('fixtures/synthea/synthea-vertebral-fracture-ma.json', 'utf8')) as { entry: { resource: unknown }[] };
    writeFileSync(join(dir, 'export.ndjson'), bundle.entry.map((e) => JSON.stringify(e.resource)).join('\n'));
    const { code, results } = await evaluateJson(join(dir, 'export.ndjson'), 'fixtures/synthea-requests/synthea-vertebral-fracture-ma.json');
    expect(code).toBe(0);
    expect(results.map((r) => r.outcome)).toEqual(['criteria-met', 'criteria-met']);
  });

  it('names each unreadable input with its reason, evaluates the rest and exits 1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-bad-'));
    writeFileSync(join(dir, 'a-broken.json'), '{"resourceType": "Bundle", ');
    writeFileSync(join(dir, 'b-no-patient.json'), JSON.stringify({ resourceType: 'Bundle', type: 'collection', entry: [{ resource: { resourceType: 'Organization', id: 'o1' } }] }));
    writeFileSync(join(dir, 'c-not-fhir.json'), JSON.stringify({ hello: 'world' }));
    writeFileSync(join(dir, 'd-bad-hook.json'), JSON.stringify({ hook: 'patient-view', hookInstance: 'x', context: {} }));
    writeFileSync(join(dir, 'e-good.json'), readFileSync('fixtures/synthea/synthea-vertebral-fracture-ma.json'));
    const r = await run('evaluate', dir, join(dir, 'missing.json'), join(dir, 'b-no-patient.json'), join(dir, 'c-not-fhir.json'));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/a-broken\.json: .*JSON/);
    expect(r.err).toMatch(/d-bad-hook\.json: hook "patient-view"/);
    expect(r.err).toMatch(/missing\.json: ENOENT/);
    // Named one by one, files that are not patient data are errors; met in the folder, they are skipped.
    expect(r.err).toMatch(/b-no-patient\.json: no Patient resource/);
    expect(r.err).toMatch(/c-not-fhir\.json: neither a FHIR resource/);
    expect(r.err.match(/b-no-patient|c-not-fhir/g)).toHaveLength(2);
    expect(r.out).toMatch(/outcome\s+criteria-met/);
    expect(r.out).toMatch(/; 5 unreadable\n$/);
  });

  it('skips the case tables met in a folder and exits 0 (evaluate fixtures)', async () => {
    const r = await evaluateJson('fixtures/scenarios', SYNTHEA);
    expect(r.errors).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.results).toHaveLength(6);
    const { skipped } = JSON.parse((await run('evaluate', '--json', 'fixtures/scenarios')).out) as { skipped: string[] };
    expect(skipped.map((f) => f.split(/[\\/]/).pop())).toContain('routing.json');
  });

  it('says why a row is not indicated: the deciding criterion, the reason and what would change it', async () => {
    const { results } = await evaluateJson('cds-services/kp-wa-lumbar-mri/fixtures/NI-uncomplicated-acute-low-back-pain.json', 'fixtures/synthea/synthea-chronic-lbp-pt-opioids-kp.json');
    const [acute, chronic] = results;
    expect(acute).toMatchObject({ outcome: 'not-indicated', criterion: 'NI' });
    expect(acute.reason).toMatch(/^criterion NI: Uncomplicated acute \(<6 weeks\) low back pain/);
    expect(chronic.outcome).toBe('not-indicated');
    expect(chronic.reason).toMatch(/^no criterion of the policy is met/);
    // The closest paths, by outline number, with what each lacks.
    expect(chronic.wouldChange.length).toBeGreaterThan(0);
    expect(chronic.wouldChange[0]).toMatch(/^III\.A\.\d: .*no significant improvement/i);
    const table = (await run('evaluate', 'cds-services/kp-wa-lumbar-mri/fixtures/NI-uncomplicated-acute-low-back-pain.json')).out;
    expect(table).toMatch(/reason\s+criterion NI: Uncomplicated acute/);
    expect(table).toMatch(/would change\s+- I\.\w+: /);
  });

  it('decides each patient of a bulk-export folder from all its files (one NDJSON file per resource type)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-bulk-'));
    const load = await loadFolder('fixtures/synthea/synthea-vertebral-fracture-ma.json');
    const other = await loadFolder('fixtures/synthea/synthea-chronic-lbp-no-coverage.json');
    const byType = new Map<string, unknown[]>();
    for (const r of [...load.resources, ...other.resources]) byType.set(r.resourceType, [...(byType.get(r.resourceType) ?? []), r]);
    for (const [type, list] of byType) writeFileSync(join(dir, `${type}.000.ndjson`), list.map((r) => JSON.stringify(r)).join('\n'));
    // The export's own log is not FHIR: it contributes nothing.
    writeFileSync(join(dir, 'log.ndjson'), JSON.stringify({ exportId: 'x', eventId: 'kickoff' }));
    const { code, results, errors } = await evaluateJson(dir);
    expect(errors).toEqual([]);
    expect(code).toBe(0);
    expect(results).toHaveLength(2);
    const fracture = results.find((r) => r.outcome !== 'no-coverage');
    // Decided from the Condition, Coverage and order files, as from the bundle.
    expect(fracture).toMatchObject({ outcome: 'criteria-met', criterion: 'IND.1.5', file: dir });
    expect(results.filter((r) => r.outcome === 'no-coverage')).toHaveLength(1);
  });

  it('refuses wrong usage with exit 2: unknown policy, bad date, bad CPT', async () => {
    const policy = await run('evaluate', SYNTHEA, '--policy', 'nope');
    expect(policy.code).toBe(2);
    expect(policy.err).toMatch(/no policy "nope"; known: .*kp-wa-lumbar-mri/);
    expect((await run('evaluate', SYNTHEA, '--date', '2024-02-31')).code).toBe(2);
    expect((await run('evaluate', SYNTHEA, '--order', '72100')).code).toBe(2);
  });
});
