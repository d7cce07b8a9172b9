import type { CdsServiceDefinition, HookName } from './types.js';

/**
 * Prefetch templates for every resource type the criteria read (contract section 1). Keys are ours;
 * each maps to one FHIR search that the record module repeats against `fhirServer` when missing.
 */
export const PREFETCH: Readonly<Record<string, string>> = {
  patient: 'Patient/{{context.patientId}}',
  coverage: 'Coverage?patient={{context.patientId}}&status=active',
  conditions: 'Condition?patient={{context.patientId}}',
  observations: 'Observation?patient={{context.patientId}}',
  procedures: 'Procedure?patient={{context.patientId}}',
  medicationRequests: 'MedicationRequest?patient={{context.patientId}}',
  medicationStatements: 'MedicationStatement?patient={{context.patientId}}',
  serviceRequests: 'ServiceRequest?patient={{context.patientId}}',
  diagnosticReports: 'DiagnosticReport?patient={{context.patientId}}',
  imagingStudies: 'ImagingStudy?patient={{context.patientId}}',
  questionnaireResponses: 'QuestionnaireResponse?patient={{context.patientId}}',
  devices: 'Device?patient={{context.patientId}}',
  practitionerRoles: 'PractitionerRole?practitioner={{userPractitionerId}}',
};

/** Resource types each prefetch key yields, to know what could not be read. */
export const PREFETCH_TYPES: Readonly<Record<string, readonly string[]>> = {
  patient: ['Patient'],
  coverage: ['Coverage'],
  conditions: ['Condition'],
  observations: ['Observation'],
  procedures: ['Procedure'],
  medicationRequests: ['MedicationRequest'],
  medicationStatements: ['MedicationStatement'],
  serviceRequests: ['ServiceRequest'],
  diagnosticReports: ['DiagnosticReport'],
  imagingStudies: ['ImagingStudy'],
  questionnaireResponses: ['QuestionnaireResponse'],
  devices: ['Device'],
  practitionerRoles: ['PractitionerRole'],
};

const CONFIGURATION_OPTIONS = [
  { code: 'coverage-info', type: 'boolean', name: 'Coverage information', description: 'Return the coverage-information system action (and its cards) for each lumbar MRI order.', default: true },
  { code: 'therapy-alternatives-opt', type: 'boolean', name: 'Alternative imaging', description: 'Suggest the imaging (or no imaging) the policy prefers: contrast, radiographs first, CT when MRI is contraindicated, physical therapy.', default: true },
  { code: 'guideline', type: 'boolean', name: 'Policy notes', description: 'Informational notes from the policy (e.g. claustrophobia, pregnancy: at the provider\'s discretion).', default: true },
  { code: 'unsolicited-determ', type: 'boolean', name: 'Authorization numbers', description: 'Issue a prior-authorization number (satisfied-pa-id) when the criteria are met; false asks "what if" only, and no number is issued.', default: true },
  { code: 'max-cards', type: 'integer', name: 'Maximum cards', description: 'The most cards to return per request.', default: 10 },
] as const;

/** CRD versions answered: `2.0` (2.0.1, the default) and `2.2` (on `davinci-crd.requestedVersion`). */
export const CRD_VERSIONS = ['2.0', '2.2'] as const;
export type CrdVersion = (typeof CRD_VERSIONS)[number];

export const SERVICE_IDS: Readonly<Record<HookName, string>> = {
  'order-select': 'lumbar-mri-order-select',
  'order-sign': 'lumbar-mri-order-sign',
};

export function serviceDefinitions(): CdsServiceDefinition[] {
  // CRD 2.2 discovery SHALL list the versions; 2.0.1 output is the default, 2.2 when a request asks for it.
  const extension = { 'davinci-crd.configuration-options': CONFIGURATION_OPTIONS, 'davinci-crd.version': CRD_VERSIONS };
  return [
    {
      hook: 'order-select',
      id: SERVICE_IDS['order-select'],
      title: 'Lumbar spine MRI: medical necessity guidance',
      description:
        'Early guidance while a lumbar spine MRI (CPT 72148, 72149, 72158) is selected: whether the payer policy\'s criteria are met, what is missing, and better alternatives.',
      prefetch: PREFETCH,
      usageRequirements: 'Evaluates ServiceRequests coded CPT 72148, 72149 or 72158 named in context.selections.',
      extension,
    },
    {
      hook: 'order-sign',
      id: SERVICE_IDS['order-sign'],
      title: 'Lumbar spine MRI: coverage requirements (Da Vinci CRD)',
      description:
        'Decides whether each draft lumbar spine MRI order meets the payer\'s medical-necessity criteria and writes Da Vinci CRD coverage information onto the order.',
      prefetch: PREFETCH,
      usageRequirements: 'Evaluates every draft ServiceRequest coded CPT 72148, 72149 or 72158.',
      extension,
    },
  ];
}

export function hookForService(id: string): HookName | undefined {
  return (Object.keys(SERVICE_IDS) as HookName[]).find((h) => SERVICE_IDS[h] === id);
}
