import fhirpath from 'fhirpath';
import type { Condition, Resource } from 'fhir/r4.js';
import { toDay } from '../fhir/dates.js';

/**
 * The clinical date of each resource type, as FHIRPath compiled once at start-up. Evaluated only on
 * the candidates a value set has already selected, never over the whole record.
 */
const DATE_EXPRESSIONS: Record<string, string> = {
  Condition: 'onsetDateTime | onsetPeriod.start | recordedDate',
  Observation: 'effectiveDateTime | effectivePeriod.start | effectiveInstant | issued',
  Procedure: 'performedDateTime | performedPeriod.start',
  MedicationRequest: 'authoredOn | dispenseRequest.validityPeriod.start',
  MedicationStatement: 'effectiveDateTime | effectivePeriod.start | dateAsserted',
  ImagingStudy: 'started',
  DiagnosticReport: 'effectiveDateTime | effectivePeriod.start | issued',
  Encounter: 'period.start',
  QuestionnaireResponse: 'authored',
};

type Compiled = (resource: unknown) => unknown[];

const COMPILED = new Map<string, Compiled>(
  // Synchronous evaluation: the evaluator returns the result list, never a promise.
  Object.entries(DATE_EXPRESSIONS).map(([type, expr]) => [type, fhirpath.compile(expr, undefined, { async: false })]),
);

/**
 * Each resource's date, computed once: facts ask for the same candidates' dates many times per
 * request (profiling: FHIRPath was a fifth of evaluation). Weak keys: entries go with the request.
 */
const DATES = new WeakMap<Resource, string | null>();

/** The first date the resource's clinical-date expression yields, at day precision. */
export function clinicalDate(r: Resource): string | undefined {
  if (typeof r !== 'object' || r === null) return undefined; // WeakMap keys must be objects
  const known = DATES.get(r);
  if (known !== undefined) return known ?? undefined;
  const d = evaluateDate(r);
  DATES.set(r, d ?? null);
  return d;
}

function evaluateDate(r: Resource): string | undefined {
  const fn = COMPILED.get(r.resourceType);
  if (!fn) return undefined;
  try {
    for (const v of fn(r)) {
      const d = toDay(v);
      if (d) return d;
    }
  } catch {
    // A malformed element makes the date unknown, never the request fail.
  }
  return undefined;
}

export function conditionOnset(c: Condition): string | undefined {
  return clinicalDate(c);
}
