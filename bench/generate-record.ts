/**
 * Benchmark records: a fixture's hook request with years of unrelated history added, the way an
 * EHR's record looks (Synthea-like visits: an Encounter, vital signs, sometimes a lab panel with its
 * DiagnosticReport, a screening procedure, a chronic medication). The history uses codes no value
 * set matches and dates well before the episode, so the decision is the fixture's own; bench/run.ts
 * checks that.
 *
 *   tsx bench/generate-record.ts [resources ...]   -> bench/.generated/record-<n>.json
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Bundle, BundleEntry, Resource } from 'fhir/r4.js';
import { addDays } from '../src/fhir/dates.js';
import { SYSTEMS } from '../src/terminology/valueSets.js';

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
export const GENERATED_DIR = join(BENCH_DIR, '.generated');
/** The base record: acute back pain, not indicated (KP). */
export const BASE_FIXTURE = join(BENCH_DIR, '..', 'cds-services', 'kp-wa-lumbar-mri', 'fixtures', 'NI-uncomplicated-acute-low-back-pain.json');

export type HookRequestJson = Record<string, unknown> & {
  context: { patientId: string; userId?: string; draftOrders: Bundle };
  prefetch: Record<string, Resource | null>;
};

const OBS_CATEGORY = 'http://terminology.hl7.org/CodeSystem/observation-category';
const US_CORE = 'http://hl7.org/fhir/us/core/StructureDefinition';

interface Measure {
  readonly code: string;
  readonly display: string;
  readonly unit: string;
  readonly ucum: string;
  readonly base: number;
  readonly spread: number;
  readonly low?: number;
  readonly high?: number;
}

const VITALS: readonly Measure[] = [
  { code: '8302-2', display: 'Body height', unit: 'cm', ucum: 'cm', base: 176, spread: 0.5 },
  { code: '29463-7', display: 'Body weight', unit: 'kg', ucum: 'kg', base: 82, spread: 3 },
  { code: '39156-5', display: 'Body mass index (BMI) [Ratio]', unit: 'kg/m2', ucum: 'kg/m2', base: 26.5, spread: 1 },
  { code: '8480-6', display: 'Systolic blood pressure', unit: 'mm[Hg]', ucum: 'mm[Hg]', base: 128, spread: 10 },
  { code: '8462-4', display: 'Diastolic blood pressure', unit: 'mm[Hg]', ucum: 'mm[Hg]', base: 82, spread: 6 },
  { code: '8867-4', display: 'Heart rate', unit: '/min', ucum: '/min', base: 72, spread: 8 },
  { code: '9279-1', display: 'Respiratory rate', unit: '/min', ucum: '/min', base: 15, spread: 2 },
  // A normal temperature: read by the fever fact's FHIRPath `where`, never true.
  { code: '8310-5', display: 'Body temperature', unit: 'Cel', ucum: 'Cel', base: 36.8, spread: 0.3 },
  { code: '72514-3', display: 'Pain severity - 0-10 verbal numeric rating [Score] - Reported', unit: '{score}', ucum: '{score}', base: 2, spread: 2 },
];

const LAB_PANELS: readonly { code: string; display: string; tests: readonly Measure[] }[] = [
  {
    code: '51990-0',
    display: 'Basic metabolic panel - Blood',
    tests: [
      { code: '2345-7', display: 'Glucose [Mass/volume] in Serum or Plasma', unit: 'mg/dL', ucum: 'mg/dL', base: 92, spread: 12, low: 70, high: 99 },
      { code: '2160-0', display: 'Creatinine [Mass/volume] in Serum or Plasma', unit: 'mg/dL', ucum: 'mg/dL', base: 0.95, spread: 0.15, low: 0.7, high: 1.3 },
      { code: '2951-2', display: 'Sodium [Moles/volume] in Serum or Plasma', unit: 'mmol/L', ucum: 'mmol/L', base: 140, spread: 2, low: 136, high: 145 },
      { code: '2823-3', display: 'Potassium [Moles/volume] in Serum or Plasma', unit: 'mmol/L', ucum: 'mmol/L', base: 4.2, spread: 0.3, low: 3.5, high: 5.1 },
      { code: '17861-6', display: 'Calcium [Mass/volume] in Serum or Plasma', unit: 'mg/dL', ucum: 'mg/dL', base: 9.4, spread: 0.3, low: 8.6, high: 10.3 },
    ],
  },
  {
    code: '57698-3',
    display: 'Lipid panel with direct LDL - Serum or Plasma',
    tests: [
      { code: '2093-3', display: 'Cholesterol [Mass/volume] in Serum or Plasma', unit: 'mg/dL', ucum: 'mg/dL', base: 195, spread: 20, high: 200 },
      { code: '2571-8', display: 'Triglyceride [Mass/volume] in Serum or Plasma', unit: 'mg/dL', ucum: 'mg/dL', base: 140, spread: 30, high: 150 },
      { code: '18262-6', display: 'Cholesterol in LDL [Mass/volume] in Serum or Plasma by Direct assay', unit: 'mg/dL', ucum: 'mg/dL', base: 118, spread: 15, high: 130 },
      { code: '2085-9', display: 'Cholesterol in HDL [Mass/volume] in Serum or Plasma', unit: 'mg/dL', ucum: 'mg/dL', base: 52, spread: 6, low: 40 },
    ],
  },
  {
    code: '58410-2',
    display: 'CBC panel - Blood by Automated count',
    tests: [
      { code: '6690-2', display: 'Leukocytes [#/volume] in Blood by Automated count', unit: '10*3/uL', ucum: '10*3/uL', base: 6.8, spread: 1.2, low: 4.5, high: 11 },
      { code: '718-7', display: 'Hemoglobin [Mass/volume] in Blood', unit: 'g/dL', ucum: 'g/dL', base: 14.6, spread: 0.8, low: 13.5, high: 17.5 },
      { code: '4544-3', display: 'Hematocrit [Volume Fraction] of Blood by Automated count', unit: '%', ucum: '%', base: 43, spread: 2, low: 41, high: 53 },
      { code: '777-3', display: 'Platelets [#/volume] in Blood by Automated count', unit: '10*3/uL', ucum: '10*3/uL', base: 250, spread: 40, low: 150, high: 400 },
    ],
  },
];

/** Chronic problems and past illnesses outside every value set (checked by bench/run.ts). */
const PROBLEMS: readonly { code: string; display: string; resolvedAfterDays?: number }[] = [
  { code: 'I10', display: 'Essential (primary) hypertension' },
  { code: 'E78.5', display: 'Hyperlipidemia, unspecified' },
  { code: 'K21.9', display: 'Gastro-esophageal reflux disease without esophagitis' },
  { code: 'J30.9', display: 'Allergic rhinitis, unspecified' },
  { code: 'F41.1', display: 'Generalized anxiety disorder' },
  { code: 'J06.9', display: 'Acute upper respiratory infection, unspecified', resolvedAfterDays: 10 },
  { code: 'M25.561', display: 'Pain in right knee', resolvedAfterDays: 60 },
  { code: 'R73.03', display: 'Prediabetes' },
  { code: 'H52.13', display: 'Myopia, bilateral' },
  { code: 'L70.0', display: 'Acne vulgaris', resolvedAfterDays: 400 },
];

const MEDICATIONS: readonly { code: string; display: string; chronic: boolean }[] = [
  { code: '314076', display: 'lisinopril 10 MG Oral Tablet', chronic: true },
  { code: '617310', display: 'atorvastatin 20 MG Oral Tablet', chronic: true },
  { code: '311372', display: 'loratadine 10 MG Oral Tablet', chronic: false },
  { code: '308182', display: 'amoxicillin 250 MG Oral Capsule', chronic: false },
  { code: '198053', display: 'omeprazole 20 MG Delayed Release Oral Capsule', chronic: true },
];

const SCREENINGS: readonly { code: string; display: string }[] = [
  { code: '430193006', display: 'Medication reconciliation (procedure)' },
  { code: '710824005', display: 'Assessment of health and social care needs (procedure)' },
  { code: '171207006', display: 'Depression screening (procedure)' },
  { code: '428211000124100', display: 'Assessment of substance use (procedure)' },
  { code: '183627004', display: 'Assessment of anxiety (procedure)' },
];

/** Deterministic pseudo-random numbers (mulberry32), so a size always yields the same record. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const round = (v: number, digits: number): number => Math.round(v * 10 ** digits) / 10 ** digits;

/**
 * The history resources of one patient, most recent visit first, starting `firstDaysAgo` before
 * the date of service (outside the current episode) and one visit every few weeks back in time.
 */
function* history(patientId: string, practitioner: string, dos: string, firstDaysAgo: number): Generator<Resource> {
  const rnd = random(0x5eed);
  const subject = { reference: `Patient/${patientId}` };
  const performer = [{ reference: practitioner }];
  let daysAgo = firstDaysAgo;
  for (let visit = 0; ; visit++) {
    const day = addDays(dos, -daysAgo);
    const when = `${day}T10:${String(visit % 60).padStart(2, '0')}:00-08:00`;
    const encounterId = `enc-h${visit}`;
    const encounter = { reference: `Encounter/${encounterId}` };
    yield {
      resourceType: 'Encounter',
      id: encounterId,
      meta: { profile: [`${US_CORE}/us-core-encounter`], lastUpdated: `${day}T18:00:00Z` },
      identifier: [{ system: 'https://ehr.example.org/encounter', value: `E${100000 + visit}` }],
      status: 'finished',
      class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB', display: 'ambulatory' },
      type: [{ coding: [{ system: SYSTEMS.snomed, code: '185349003', display: 'Encounter for check up (procedure)' }], text: 'Encounter for check up' }],
      subject,
      participant: [{ individual: { reference: practitioner } }],
      period: { start: when, end: `${day}T10:45:00-08:00` },
      serviceProvider: { display: 'Evergreen Family Medicine' },
    } as Resource;
    for (const m of VITALS) yield observation(`obs-h${visit}-${m.code}`, 'vital-signs', m, when, encounter, subject, performer, rnd);
    if (visit % 3 === 0) {
      const panel = LAB_PANELS[(visit / 3) % LAB_PANELS.length];
      const ids = panel.tests.map((t) => `lab-h${visit}-${t.code}`);
      for (const [i, t] of panel.tests.entries()) yield observation(ids[i], 'laboratory', t, when, encounter, subject, performer, rnd);
      yield {
        resourceType: 'DiagnosticReport',
        id: `dr-h${visit}`,
        meta: { profile: [`${US_CORE}/us-core-diagnosticreport-lab`] },
        status: 'final',
        category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0074', code: 'LAB', display: 'Laboratory' }] }],
        code: { coding: [{ system: SYSTEMS.loinc, code: panel.code, display: panel.display }], text: panel.display },
        subject,
        encounter,
        effectiveDateTime: when,
        issued: `${day}T16:00:00-08:00`,
        performer,
        result: ids.map((id) => ({ reference: `Observation/${id}` })),
      } as Resource;
    }
    const screening = SCREENINGS[visit % SCREENINGS.length];
    yield {
      resourceType: 'Procedure',
      id: `proc-h${visit}`,
      meta: { profile: [`${US_CORE}/us-core-procedure`] },
      status: 'completed',
      code: { coding: [{ system: SYSTEMS.snomed, code: screening.code, display: screening.display }], text: screening.display },
      subject,
      encounter,
      performedPeriod: { start: when, end: `${day}T10:40:00-08:00` },
      performer: [{ actor: { reference: practitioner } }],
    } as Resource;
    if (visit < PROBLEMS.length) {
      const p = PROBLEMS[visit];
      const resolved = p.resolvedAfterDays !== undefined;
      yield {
        resourceType: 'Condition',
        id: `cond-h${visit}`,
        meta: { profile: [`${US_CORE}/us-core-condition-problems-health-concerns`] },
        clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: resolved ? 'resolved' : 'active' }] },
        verificationStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status', code: 'confirmed' }] },
        category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-category', code: resolved ? 'encounter-diagnosis' : 'problem-list-item' }] }],
        code: { coding: [{ system: SYSTEMS.icd10cm, code: p.code, display: p.display }], text: p.display },
        subject,
        encounter,
        onsetDateTime: when,
        ...(resolved ? { abatementDateTime: `${addDays(day, p.resolvedAfterDays ?? 0)}T10:00:00-08:00` } : {}),
        recordedDate: when,
      } as Resource;
    }
    if (visit % 2 === 0) {
      const med = MEDICATIONS[(visit / 2) % MEDICATIONS.length];
      yield {
        resourceType: 'MedicationRequest',
        id: `med-h${visit}`,
        meta: { profile: [`${US_CORE}/us-core-medicationrequest`] },
        status: med.chronic && visit < 10 ? 'active' : 'completed',
        intent: 'order',
        medicationCodeableConcept: { coding: [{ system: SYSTEMS.rxnorm, code: med.code, display: med.display }], text: med.display },
        subject,
        encounter,
        authoredOn: when,
        requester: { reference: practitioner },
        dosageInstruction: [{ sequence: 1, text: 'Take 1 tablet by mouth daily', timing: { repeat: { frequency: 1, period: 1, periodUnit: 'd' } } }],
      } as Resource;
    }
    daysAgo += 21 + Math.floor(rnd() * 21);
  }
}

function observation(
  id: string,
  category: 'vital-signs' | 'laboratory',
  m: Measure,
  when: string,
  encounter: { reference: string },
  subject: { reference: string },
  performer: { reference: string }[],
  rnd: () => number,
): Resource {
  const value = round(m.base + (rnd() * 2 - 1) * m.spread, m.base < 10 ? 2 : 1);
  const quantity = (v: number) => ({ value: v, unit: m.unit, system: 'http://unitsofmeasure.org', code: m.ucum });
  const range = m.low !== undefined || m.high !== undefined;
  return {
    resourceType: 'Observation',
    id,
    meta: { profile: [`${US_CORE}/${category === 'vital-signs' ? 'us-core-vital-signs' : 'us-core-observation-lab'}`] },
    status: 'final',
    category: [{ coding: [{ system: OBS_CATEGORY, code: category, display: category === 'vital-signs' ? 'Vital Signs' : 'Laboratory' }] }],
    code: { coding: [{ system: SYSTEMS.loinc, code: m.code, display: m.display }], text: m.display },
    subject,
    encounter,
    effectiveDateTime: when,
    issued: when.replace(/T\d\d:/, 'T16:'),
    performer,
    valueQuantity: quantity(value),
    ...(range
      ? {
          referenceRange: [{ ...(m.low !== undefined ? { low: quantity(m.low) } : {}), ...(m.high !== undefined ? { high: quantity(m.high) } : {}) }],
          interpretation: [
            {
              coding: [
                {
                  system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation',
                  code: m.high !== undefined && value > m.high ? 'H' : m.low !== undefined && value < m.low ? 'L' : 'N',
                },
              ],
            },
          ],
        }
      : {}),
  } as Resource;
}

const PREFETCH_KEY: Record<string, string> = {
  Observation: 'observations',
  Procedure: 'procedures',
  MedicationRequest: 'medicationRequests',
  DiagnosticReport: 'diagnosticReports',
  Condition: 'conditions',
  // Not a key the service declares: clients send Encounters anyway and the service reads them as record.
  Encounter: 'encounters',
};

/** Resources in the request's prefetch (bundles flattened). */
export function countResources(req: HookRequestJson): number {
  let n = 0;
  for (const v of Object.values(req.prefetch)) {
    if (!v) continue;
    n += v.resourceType === 'Bundle' ? ((v as Bundle).entry ?? []).length : 1;
  }
  return n;
}

/** The request with history added until its prefetch holds exactly `resources` resources. */
export function withHistory(base: HookRequestJson, resources: number): HookRequestJson {
  const req = structuredClone(base);
  const order = req.context.draftOrders.entry?.[0]?.resource as { occurrenceDateTime?: string; authoredOn?: string } | undefined;
  const dos = (order?.occurrenceDateTime ?? order?.authoredOn ?? '2024-06-12').slice(0, 10);
  const practitioner = String(req.context.userId ?? 'Practitioner/unknown');
  let n = countResources(req);
  // History begins 120 days before the order: before any episode a fixture describes.
  const stream = history(req.context.patientId, practitioner, dos, 120);
  while (n < resources) {
    const r = stream.next().value as Resource;
    const key = PREFETCH_KEY[r.resourceType];
    let bundle = req.prefetch[key] as Bundle | null | undefined;
    if (!bundle) {
      bundle = { resourceType: 'Bundle', type: 'searchset', total: 0, entry: [] };
      req.prefetch[key] = bundle;
    }
    const entry: BundleEntry = { fullUrl: `https://ehr.example.org/fhir/${r.resourceType}/${r.id}`, resource: r, search: { mode: 'match' } };
    (bundle.entry ??= []).push(entry);
    bundle.total = bundle.entry.length;
    n++;
  }
  return req;
}

export function readFixture(file: string = BASE_FIXTURE): HookRequestJson {
  const json = JSON.parse(readFileSync(file, 'utf8')) as HookRequestJson & { description?: string };
  delete json.description;
  return json;
}

/** Writes bench/.generated/record-<n>.json and returns its path. */
export function writeRecord(resources: number, base: HookRequestJson = readFixture()): string {
  mkdirSync(GENERATED_DIR, { recursive: true });
  const file = join(GENERATED_DIR, `record-${resources}.json`);
  writeFileSync(file, JSON.stringify(withHistory(base, resources)));
  return file;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const sizes = process.argv.slice(2).map(Number);
  for (const n of sizes.length ? sizes : [60, 500, 2000, 5000]) {
    const file = writeRecord(n);
    console.log(`${file} (${n} resources, ${(readFileSync(file).length / 1e6).toFixed(2)} MB)`);
  }
}
