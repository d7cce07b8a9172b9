/**
 * Small, Synthea-shaped R4 data for the FHIR test server tests: a transaction Bundle whose
 * entries use `urn:uuid:` fullUrls and references, as Synthea writes them, with a conditional
 * Practitioner reference, for patient `pat-1` (low back pain history) and `pat-2` (unrelated).
 */
import type { Bundle, Condition, Observation, Patient } from '@medplum/fhirtypes';

export const SNOMED = 'http://snomed.info/sct';
/** SNOMED CT 278860009: Chronic low back pain. */
export const CHRONIC_LBP = '278860009';

const PAT1_URN = 'urn:uuid:6f1c1c1e-3c1a-4a43-9a51-8a3a1f0b0001';
const PAT2_URN = 'urn:uuid:6f1c1c1e-3c1a-4a43-9a51-8a3a1f0b0002';
const ENC1_URN = 'urn:uuid:6f1c1c1e-3c1a-4a43-9a51-8a3a1f0b0101';
const NPI = 'http://hl7.org/fhir/sid/us-npi';

function condition(
  id: string,
  patientUrn: string,
  code: string,
  display: string,
  onset: string
): Condition {
  return {
    resourceType: 'Condition',
    id,
    meta: { profile: ['http://hl7.org/fhir/us/core/StructureDefinition/us-core-condition'] },
    clinicalStatus: {
      coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }],
    },
    verificationStatus: {
      coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status', code: 'confirmed' }],
    },
    category: [
      {
        coding: [
          {
            system: 'http://terminology.hl7.org/CodeSystem/condition-category',
            code: 'encounter-diagnosis',
            display: 'Encounter Diagnosis',
          },
        ],
      },
    ],
    code: { coding: [{ system: SNOMED, code, display }], text: display },
    subject: { reference: patientUrn },
    encounter: { reference: ENC1_URN },
    onsetDateTime: onset,
    recordedDate: onset,
  };
}

const pat1: Patient = {
  resourceType: 'Patient',
  id: 'pat-1',
  identifier: [{ system: 'https://github.com/synthetichealth/synthea', value: '6f1c1c1e-0001' }],
  name: [{ use: 'official', family: 'Lindgren', given: ['Marcus'] }],
  gender: 'male',
  birthDate: '1968-04-12',
};

const pat2: Patient = {
  resourceType: 'Patient',
  id: 'pat-2',
  name: [{ use: 'official', family: 'Okafor', given: ['Ada'] }],
  gender: 'female',
  birthDate: '1990-09-30',
};

const painScore: Observation = {
  resourceType: 'Observation',
  id: 'obs-pain-1',
  status: 'final',
  category: [
    {
      coding: [
        { system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'survey', display: 'Survey' },
      ],
    },
  ],
  code: {
    coding: [
      {
        system: 'http://loinc.org',
        code: '72514-3',
        display: 'Pain severity - 0-10 verbal numeric rating [Score] - Reported',
      },
    ],
  },
  subject: { reference: PAT1_URN },
  encounter: { reference: ENC1_URN },
  effectiveDateTime: '2024-03-04T10:15:00-08:00',
  valueQuantity: { value: 7, unit: '{score}', system: 'http://unitsofmeasure.org', code: '{score}' },
};

/** Five Conditions for pat-1 (two chronic low back pain) and one for pat-2. */
export const syntheaBundle: Bundle = {
  resourceType: 'Bundle',
  type: 'transaction',
  entry: [
    { fullUrl: PAT1_URN, resource: pat1, request: { method: 'POST', url: 'Patient' } },
    { fullUrl: PAT2_URN, resource: pat2, request: { method: 'POST', url: 'Patient' } },
    {
      fullUrl: ENC1_URN,
      resource: {
        resourceType: 'Encounter',
        id: 'enc-1',
        status: 'finished',
        class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' },
        subject: { reference: PAT1_URN },
        participant: [{ individual: { reference: `Practitioner?identifier=${NPI}|9999912345` } }],
        period: { start: '2024-03-04T10:00:00-08:00', end: '2024-03-04T10:30:00-08:00' },
      },
      request: { method: 'POST', url: 'Encounter' },
    },
    ...[
      condition('cond-1', PAT1_URN, CHRONIC_LBP, 'Chronic low back pain (finding)', '2021-06-01T09:00:00-07:00'),
      condition('cond-2', PAT1_URN, '23056005', 'Sciatica (disorder)', '2023-02-10T09:00:00-08:00'),
      condition('cond-3', PAT1_URN, '279039007', 'Low back pain (finding)', '2023-11-20T09:00:00-08:00'),
      condition('cond-4', PAT1_URN, CHRONIC_LBP, 'Chronic low back pain (finding)', '2024-03-04T10:00:00-08:00'),
      condition('cond-5', PAT1_URN, '44054006', 'Diabetes mellitus type 2 (disorder)', '2019-01-15T09:00:00-08:00'),
      condition('cond-6', PAT2_URN, CHRONIC_LBP, 'Chronic low back pain (finding)', '2024-01-05T09:00:00-08:00'),
    ].map((resource) => ({
      fullUrl: `urn:uuid:${resource.id}-0000-4000-8000-000000000000`,
      resource,
      request: { method: 'POST' as const, url: 'Condition' },
    })),
    { fullUrl: 'urn:uuid:obs-pain-1', resource: painScore, request: { method: 'POST', url: 'Observation' } },
  ],
};

/** Synthea writes practitioners in a separate bundle, referenced by NPI from patient bundles. */
export const practitionerBundle: Bundle = {
  resourceType: 'Bundle',
  type: 'transaction',
  entry: [
    {
      fullUrl: 'urn:uuid:0000016f-57cb-cdaa-0000-000000000004',
      resource: {
        resourceType: 'Practitioner',
        id: 'prac-1',
        identifier: [{ system: NPI, value: '9999912345' }],
        name: [{ family: 'Nguyen', given: ['Lan'], prefix: ['Dr.'] }],
      },
      request: { method: 'POST', url: 'Practitioner', ifNoneExist: `identifier=${NPI}|9999912345` },
    },
  ],
};
