import type { CodeableConcept, Resource } from 'fhir/r4.js';
import { clinicalDate } from '../facts/paths.js';
import type { RecordSource } from '../record/PatientRecord.js';

const SYSTEM_NAMES: Readonly<Record<string, string>> = {
  'http://hl7.org/fhir/sid/icd-10-cm': 'ICD-10-CM',
  'http://snomed.info/sct': 'SNOMED CT',
  'http://loinc.org': 'LOINC',
  'http://www.ama-assn.org/go/cpt': 'CPT',
  'http://www.nlm.nih.gov/research/umls/rxnorm': 'RxNorm',
  'http://nucc.org/provider-taxonomy': 'NUCC',
  'http://lumbar-mri-cds.org/fhir/CodeSystem/documentation-finding': 'documented finding',
};

function conceptOf(r: Resource): CodeableConcept | undefined {
  const x = r as { code?: CodeableConcept; medicationCodeableConcept?: CodeableConcept; type?: CodeableConcept; specialty?: CodeableConcept[] };
  return x.code ?? x.medicationCodeableConcept ?? x.type ?? x.specialty?.[0];
}

/**
 * One evidence line a clinician can read: what the resource says, its code and date, and its reference,
 * e.g. "Retention of urine, unspecified (ICD-10-CM R33.9), 2024-06-10: Condition/cond-1".
 */
export function describeEvidence(record: RecordSource, ref: string): string {
  const r = record.resolve(ref);
  if (!r) return ref;
  const concept = conceptOf(r);
  const coding = concept?.coding?.find((c) => c && typeof c.code === 'string');
  const words = (typeof concept?.text === 'string' && concept.text) || coding?.display || (r.resourceType === 'Patient' ? 'Patient (age, date of birth)' : undefined);
  const code = coding ? `${SYSTEM_NAMES[coding.system ?? ''] ?? coding.system ?? ''} ${coding.code}`.trim() : undefined;
  const flag = (r as { valueBoolean?: unknown }).valueBoolean;
  const value = typeof flag === 'boolean' ? (flag ? 'present' : 'absent') : undefined;
  const quantity = (r as { valueQuantity?: { value?: number; unit?: string } }).valueQuantity;
  const measured = quantity && typeof quantity.value === 'number' ? `${quantity.value} ${quantity.unit ?? ''}`.trim() : undefined;
  const date = clinicalDate(r);
  const parts = [words, code ? `(${code})` : undefined].filter(Boolean).join(' ');
  const extras = [value, measured, date].filter(Boolean).join(', ');
  const label = [parts, extras].filter(Boolean).join(', ');
  return label ? `${label}: ${ref}` : ref;
}
