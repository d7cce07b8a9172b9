/**
 * `lumbar-mri-cds survey`: every patient of a data set (Synthea bundles, a bulk export) decided
 * under each payer, as if a lumbar MRI (72148) were ordered for them, counted by outcome and
 * deciding criterion. It is how the service is read against records nobody wrote for it: public
 * Synthea patients carry no Coverage and no order, so the survey gives each the payer's coverage
 * (when the record has none that routes) and dates the order inside the payer's policy.
 */
import type { Coverage, Encounter, Organization, Patient, Resource } from 'fhir/r4.js';
import { shiftAllDates } from '../../tools/fhir-server/shiftDates.js';
import { daysBetween, toDay, todayUtc } from '../fhir/dates.js';
import type { PolicyLibrary } from '../library/library.js';
import { evaluationContext, evaluateRequest, inputUnits, NotPatientDataError, readUnit, type EvaluationRow, type InputError, type InputFiles } from './evaluate.js';
import { buildOrderSignRequest, type LumbarMriCpt, type PatientResources } from './hookRequest.js';
import { parseHookRequest } from '../hooks/schema.js';

export const SURVEY_PAYERS = ['kp', 'ma', 'record'] as const;
export type SurveyPayer = (typeof SURVEY_PAYERS)[number];

interface PayerPlan {
  readonly description: string;
  /** Date of service when `--date` is not given: inside the policy version the survey means to read. */
  readonly date?: string;
  /** The coverage given to a patient whose record has none that routes (CRD: coverage is mandatory). */
  readonly coverage?: { readonly payor: string; readonly sopt: { readonly code: string; readonly display: string } };
}

export const PAYER_PLANS: Readonly<Record<SurveyPayer, PayerPlan>> = {
  kp: {
    description: 'Kaiser Foundation Health Plan of Washington, commercial (KP WA criteria, text effective 2024-01-01)',
    date: '2024-06-12',
    coverage: { payor: 'Kaiser Foundation Health Plan of Washington', sopt: { code: '512', display: 'Commercial Managed Care - PPO' } },
  },
  ma: {
    description: 'a Medicare Advantage plan, SOPT 111 (Cohere MA policy, LCD L34220, from 2025-10-02)',
    date: '2025-11-01',
    coverage: { payor: 'Survey Medicare Advantage Plan', sopt: { code: '111', display: 'Medicare HMO' } },
  },
  record: { description: 'the coverage in the record only (none: no-coverage)' },
};

export interface SurveyOptions {
  readonly payers: readonly SurveyPayer[];
  /** One date of service for every payer; else each payer's own (PAYER_PLANS). */
  readonly date?: string;
  readonly cpt?: LumbarMriCpt;
  /**
   * Move every date of each record by whole days so its last encounter (or death) falls the day
   * before the date of service: a data set generated years ago is then read as a current record,
   * with the patient's age, episode and course of care as they were at that last visit.
   */
  readonly shift: boolean;
}

export interface SurveyRow extends EvaluationRow {
  readonly payer: SurveyPayer;
  /** Days every date of the record was moved by (0 when not shifted). */
  readonly shiftDays: number;
  /** Whether the survey supplied the coverage (the record had none that routes). */
  readonly assumedCoverage: boolean;
  /** The record says the patient died on or before the date of service (no order should be decided). */
  readonly deceased: boolean;
}

export interface SurveyReport {
  readonly patients: number;
  readonly rows: readonly SurveyRow[];
  readonly errors: readonly InputError[];
  readonly skipped: readonly string[];
}

const ASSUMED_COVERAGE_ID = 'survey-assumed-coverage';

/** Decides every patient under each payer; `onRow` sees each row as it is made (the JSON lines file). */
export async function surveyFiles(input: InputFiles, library: PolicyLibrary, opts: SurveyOptions, onRow: (row: SurveyRow) => void = () => undefined): Promise<SurveyReport> {
  const rows: SurveyRow[] = [];
  const errors: InputError[] = [];
  const skipped: string[] = [];
  let patients = 0;
  const plans = opts.payers.map((payer) => {
    const date = opts.date ?? PAYER_PLANS[payer].date ?? todayUtc();
    return { payer, date, context: evaluationContext(library, date) };
  });
  for (const unit of inputUnits(input.files)) {
    let found: readonly PatientResources[];
    try {
      const read = await readUnit(unit);
      if ('request' in read) throw new NotPatientDataError('a hook request, not a patient record (use evaluate)');
      found = read.patients;
    } catch (err) {
      if (err instanceof NotPatientDataError && input.walked.has(unit.label)) skipped.push(unit.label);
      else errors.push({ file: unit.label, reason: err instanceof Error ? err.message : String(err) });
      continue;
    }
    patients += found.length;
    for (const patient of found) {
      for (const { payer, date, context } of plans) {
        const shiftDays = opts.shift ? daysToShift(patient.resources, date) : 0;
        const resources = shiftDays ? shiftAllDates(patient.resources, shiftDays) : patient.resources;
        const assumed = assumedCoverage(payer, patient.patientId);
        const body = buildOrderSignRequest({ patientId: patient.patientId, resources: [...resources, ...assumed] }, { cpt: opts.cpt, date });
        for (const row of await evaluateRequest(unit.label, parseHookRequest(body, 'order-sign'), context)) {
          const out: SurveyRow = { payer, shiftDays, assumedCoverage: row.coverage === `Coverage/${ASSUMED_COVERAGE_ID}`, deceased: diedBy(resources, date), ...row };
          rows.push(out);
          onRow(out);
        }
      }
    }
  }
  return { patients, rows, errors, skipped };
}

/**
 * The payer's Coverage and payor Organization, added after the record's own resources: an active
 * coverage the record already has is listed first and still routes.
 */
function assumedCoverage(payer: SurveyPayer, patientId: string): Resource[] {
  const plan = PAYER_PLANS[payer].coverage;
  if (!plan) return [];
  const org: Organization = { resourceType: 'Organization', id: `${ASSUMED_COVERAGE_ID}-payor`, active: true, name: plan.payor };
  const coverage: Coverage = {
    resourceType: 'Coverage',
    id: ASSUMED_COVERAGE_ID,
    status: 'active',
    type: { coding: [{ system: 'https://nahdo.org/sopt', code: plan.sopt.code, display: plan.sopt.display }] },
    beneficiary: { reference: `Patient/${patientId}` },
    relationship: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/subscriber-relationship', code: 'self' }] },
    payor: [{ reference: `Organization/${org.id}`, display: plan.payor }],
  };
  return [coverage, org];
}

function diedBy(resources: readonly Resource[], date: string): boolean {
  const patient = resources.find((r): r is Patient => r.resourceType === 'Patient');
  if (patient?.deceasedBoolean === true) return true;
  const day = toDay(patient?.deceasedDateTime);
  return day !== undefined && day <= date;
}

/** Whole days from the record's last encounter (or death) to the day before the date of service. */
export function daysToShift(resources: readonly Resource[], dateOfService: string): number {
  let last: string | undefined;
  const see = (value: unknown) => {
    const day = toDay(value);
    if (day !== undefined && (last === undefined || day > last)) last = day;
  };
  const isEncounter = (r: Resource): r is Encounter => r.resourceType === 'Encounter';
  const isPatient = (r: Resource): r is Patient => r.resourceType === 'Patient';
  for (const r of resources) {
    if (isEncounter(r)) see(r.period?.start);
    if (isPatient(r)) see(r.deceasedDateTime);
  }
  return last === undefined ? 0 : daysBetween(last, dateOfService) - 1;
}

/** Patients per payer by outcome and deciding criterion, largest groups first. */
export function surveyCounts(rows: readonly SurveyRow[]): { payer: SurveyPayer; outcome: string; criterion: string; patients: number }[] {
  const counts = new Map<string, { payer: SurveyPayer; outcome: string; criterion: string; patients: number }>();
  for (const r of rows) {
    const criterion = r.criterion ?? '-';
    const key = `${r.payer}\u0000${r.outcome}\u0000${criterion}`;
    const c = counts.get(key) ?? { payer: r.payer, outcome: r.outcome, criterion, patients: 0 };
    c.patients += 1;
    counts.set(key, c);
  }
  return [...counts.values()].sort((a, b) => a.payer.localeCompare(b.payer) || b.patients - a.patients || a.outcome.localeCompare(b.outcome) || a.criterion.localeCompare(b.criterion));
}

/** The counts as a table a person reads, each payer headed by what was assumed. */
export function formatSurvey(report: SurveyReport, opts: SurveyOptions): string {
  const counts = surveyCounts(report.rows);
  const blocks = opts.payers.map((payer) => {
    const plan = PAYER_PLANS[payer];
    const date = opts.date ?? plan.date ?? 'today';
    const mine = counts.filter((c) => c.payer === payer);
    const assumed = report.rows.filter((r) => r.payer === payer && r.assumedCoverage).length;
    const head = [
      `payer ${payer}: ${plan.description}`,
      `  order CPT ${opts.cpt ?? '72148'}, date of service ${date}${opts.shift ? ', each record shifted so its last encounter is the day before' : ''}`,
      ...(plan.coverage ? [`  coverage assumed for ${assumed} of ${report.rows.filter((r) => r.payer === payer).length} orders (the rest routed on the record's own)`] : []),
      `  ${report.rows.filter((r) => r.payer === payer && r.deceased).length} of the patients had died by the date of service`,
    ];
    const width = Math.max(8, ...mine.map((c) => c.outcome.length));
    const cwidth = Math.max(9, ...mine.map((c) => c.criterion.length));
    const table = [`  ${'outcome'.padEnd(width)}  ${'criterion'.padEnd(cwidth)}  patients`, ...mine.map((c) => `  ${c.outcome.padEnd(width)}  ${c.criterion.padEnd(cwidth)}  ${String(c.patients).padStart(8)}`)];
    return [...head, ...table].join('\n');
  });
  const tail = `${report.patients} patient(s)${report.skipped.length ? `; ${report.skipped.length} file(s) skipped (no patient data)` : ''}${report.errors.length ? `; ${report.errors.length} unreadable` : ''}`;
  return [...blocks, tail].join('\n\n');
}
