import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Encounter, Patient, Resource } from 'fhir/r4.js';
import { beforeAll, describe, expect, it } from 'vitest';
import type { SurveyRow } from '../../src/cli/survey.js';
import { daysToShift } from '../../src/cli/survey.js';
import { shiftAllDates } from '../../tools/fhir-server/shiftDates.js';
import { main } from '../../src/cli/main.js';
import { loadLibrary, type PolicyLibrary } from '../../src/library/library.js';
import { captureIO } from './io.js';

let library: PolicyLibrary;
beforeAll(() => {
  library = loadLibrary();
});

async function run(...argv: string[]) {
  const io = captureIO();
  const code = await main(argv, io, () => library);
  return { code, out: io.stdout(), err: io.stderrText() };
}

const NO_BACK_PAIN = 'fixtures/synthea-public/synthea-public-no-back-pain.json';
/** Its own Coverage routes to the Medicare Advantage policy; its fracture meets IND.1.5. */
const FRACTURE_MA = 'fixtures/synthea/synthea-vertebral-fracture-ma.json';

describe('lumbar-mri-cds survey', () => {
  it('decides every patient under each payer, counts outcome by criterion and writes one JSON line per patient and payer', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-survey-'));
    const out = join(dir, 'rows.jsonl');
    const r = await run('survey', NO_BACK_PAIN, FRACTURE_MA, '--out', out);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const rows = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as SurveyRow);
    expect(rows).toHaveLength(4);
    const noPain = rows.filter((x) => x.file === NO_BACK_PAIN);
    expect(noPain.map((x) => [x.payer, x.dateOfService, x.outcome, x.assumedCoverage])).toEqual([
      ['kp', '2024-06-12', 'not-indicated', true],
      ['ma', '2025-11-01', 'not-indicated', true],
    ]);
    expect(noPain.map((x) => x.policy)).toEqual(['kp-wa-lumbar-mri@2024-01-01', 'medicare-advantage-lumbar-mri@1.1']);
    // The record's own coverage routes when it can: on 2025-11-01 its Medicare Advantage plan decides;
    // on 2024-06-12 the MA policy is not yet in force, so the surveyed KP coverage does.
    const fracture = rows.filter((x) => x.file === FRACTURE_MA);
    expect(fracture.map((x) => [x.payer, x.policy, x.outcome, x.criterion, x.assumedCoverage])).toEqual([
      ['kp', 'kp-wa-lumbar-mri@2024-01-01', 'not-indicated', undefined, true],
      ['ma', 'medicare-advantage-lumbar-mri@1.1', 'criteria-met', 'IND.1.5', false],
    ]);
    expect(r.out).toMatch(/payer kp: Kaiser Foundation Health Plan of Washington, commercial/);
    expect(r.out).toMatch(/order CPT 72148, date of service 2024-06-12, each record shifted/);
    expect(r.out).toMatch(/payer ma: [^\n]*\n[^\n]*\n[^\n]*coverage assumed for 1 of 2 orders/);
    expect(r.out).toMatch(/payer kp: [^\n]*\n[^\n]*\n[^\n]*coverage assumed for 2 of 2 orders/);
    expect(r.out).toMatch(/criteria-met\s+IND\.1\.5\s+1\n/);
    expect(r.out).toMatch(/2 patient\(s\)$/m);
  });

  it('--payer record --date --no-shift reads the records as they are, at that date', async () => {
    const r = await run('survey', '--json', '--payer', 'record', '--date', '2025-11-03', '--no-shift', NO_BACK_PAIN, FRACTURE_MA);
    expect(r.code).toBe(0);
    const { counts, patients } = JSON.parse(r.out) as { patients: number; counts: { payer: string; outcome: string; criterion: string; patients: number }[] };
    expect(patients).toBe(2);
    expect(counts).toEqual([
      { payer: 'record', outcome: 'criteria-met', criterion: 'IND.1.5', patients: 1 },
      { payer: 'record', outcome: 'no-coverage', criterion: '-', patients: 1 },
    ]);
  });

  it('refuses an unknown payer and says where the rows could not be written', async () => {
    const bad = await run('survey', '--payer', 'kp,aetna', NO_BACK_PAIN);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/expected a comma-separated list of kp, ma, record/);
    const unwritable = await run('survey', '--out', join(mkdtempSync(join(tmpdir(), 'cli-survey-')), 'no', 'such', 'dir.jsonl'), NO_BACK_PAIN);
    expect(unwritable.code).toBe(1);
    expect(unwritable.err).toMatch(/^unwritable: .*dir\.jsonl: ENOENT/);
  });

  it('skips the shared-resource files of a Synthea output folder and reports a hook request named on the line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-survey-'));
    writeFileSync(join(dir, 'hospitalInformation1559319163815.json'), JSON.stringify({ resourceType: 'Bundle', type: 'transaction', entry: [{ resource: { resourceType: 'Organization', id: 'o1', name: 'Hospital' } }] }));
    writeFileSync(join(dir, 'patient.json'), readFileSync(NO_BACK_PAIN));
    const r = await run('survey', '--json', '--payer', 'kp', dir, 'cds-services/kp-wa-lumbar-mri/fixtures/NI-uncomplicated-acute-low-back-pain.json');
    expect(r.code).toBe(1);
    const body = JSON.parse(r.out) as { patients: number; skipped: string[]; errors: { file: string; reason: string }[] };
    expect(body.patients).toBe(1);
    expect(body.skipped).toEqual([join(dir, 'hospitalInformation1559319163815.json')]);
    expect(body.errors).toEqual([{ file: 'cds-services/kp-wa-lumbar-mri/fixtures/NI-uncomplicated-acute-low-back-pain.json', reason: 'a hook request, not a patient record (use evaluate)' }]);
  });
});

describe('moving a record in time', () => {
  const patient: Patient = { resourceType: 'Patient', id: 'p', birthDate: '1960-03-01', deceasedDateTime: undefined };
  const visit = (id: string, start: string): Encounter => ({ resourceType: 'Encounter', id, status: 'finished', class: { code: 'AMB' }, period: { start } });

  it('puts the last encounter on the day before the date of service', () => {
    const record: Resource[] = [patient, visit('e1', '2019-01-10T09:00:00-05:00'), visit('e2', '2019-05-30T09:00:00-04:00')];
    const days = daysToShift(record, '2024-06-12');
    const moved = shiftAllDates(record, days);
    expect((moved[2] as Encounter).period?.start?.slice(0, 10)).toBe('2024-06-11');
    // Every date moves by the same days: intervals and the age at the visit are kept.
    expect((moved[0] as Patient).birthDate).toBe('1965-03-14');
    expect(Date.parse((moved[2] as Encounter).period!.start!) - Date.parse((moved[1] as Encounter).period!.start!)).toBe(
      Date.parse('2019-05-30T09:00:00-04:00') - Date.parse('2019-01-10T09:00:00-05:00'),
    );
    // The input is not changed; a record with no encounter is not moved.
    expect((record[2] as Encounter).period?.start).toBe('2019-05-30T09:00:00-04:00');
    expect(daysToShift([patient], '2024-06-12')).toBe(0);
  });

  it('anchors on the death of a patient who died after the last encounter', () => {
    const died: Patient = { ...patient, deceasedDateTime: '2020-02-01T00:00:00Z' };
    expect(daysToShift([died, visit('e1', '2019-05-30')], '2020-02-03')).toBe(1);
  });
});
