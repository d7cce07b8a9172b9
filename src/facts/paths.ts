import fhirpath from 'fhirpath';
import type { Condition, Resource } from 'fhir/r4.js';
import { toDay } from '../fhir/dates.js';

/**
 * The clinical date of each resource type, as FHIRPath compiled once at start-up. Evaluated only on
 * the candidates a value set has already selected, never over the whole record.
 */
export const DATE_EXPRESSIONS: Readonly<Record<string, string>> = {
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

/** One step of a member path: the element, and its primitive-extension twin (`_element`) that FHIRPath also reads. */
interface Step {
  readonly name: string;
  readonly extension: string;
}

interface DateExpression {
  /**
   * Each member path of the union, compiled alone and read in order: the first date of `a | b` is the
   * first date of `a`, else of `b` (the union only drops repeats), and FHIRPath's union compares every
   * item with every other, so a date element sent as a list of thousands took seconds to tens of seconds.
   */
  readonly compiled: readonly Compiled[];
  /** The union's member paths (`a | b.c`), read directly when the data has the plain shape. */
  readonly paths: readonly (readonly Step[])[];
}

const MEMBER_PATH = /^[A-Za-z]+(\.[A-Za-z]+)*$/;

function dateExpression(expr: string): DateExpression {
  const paths = expr.split('|').map((p) => p.trim());
  if (!paths.every((p) => MEMBER_PATH.test(p))) throw new Error(`a clinical date is a union of member paths: ${expr}`);
  return {
    // Synchronous evaluation: the evaluator returns the result list, never a promise.
    compiled: paths.map((p) => fhirpath.compile(p, undefined, { async: false })),
    paths: paths.map((p) => p.split('.').map((name) => ({ name, extension: `_${name}` }))),
  };
}

const COMPILED = new Map<string, DateExpression>(Object.entries(DATE_EXPRESSIONS).map(([type, expr]) => [type, dateExpression(expr)]));

/**
 * FHIRPath's reading of a resource's date, computed once: facts ask for the same candidates' dates
 * many times per request. Weak keys: entries go with the request. (Plain shapes are read directly
 * each time: a few property reads cost less than a weak-map lookup.)
 */
const DATES = new WeakMap<Resource, string | null>();

/** The first date the resource's clinical-date expression yields, at day precision. */
export function clinicalDate(r: Resource): string | undefined {
  if (typeof r !== 'object' || r === null) return undefined; // WeakMap keys must be objects
  const expr = COMPILED.get(r.resourceType);
  if (!expr) return undefined;
  const plain = plainDate(r, expr.paths);
  if (plain !== NOT_PLAIN) return plain;
  const known = DATES.get(r);
  if (known !== undefined) return known ?? undefined;
  const d = evaluateDate(r, expr.compiled);
  DATES.set(r, d ?? null);
  return d;
}

function evaluateDate(r: Resource, compiled: readonly Compiled[]): string | undefined {
  let values: unknown[][];
  try {
    // Every path first, as the union reads them: one that throws makes the date unknown, as the union's throw did.
    values = compiled.map((path) => path(r));
  } catch {
    // A malformed element makes the date unknown, never the request fail.
    return undefined;
  }
  for (const list of values) {
    for (const v of list) {
      const d = toDay(v);
      if (d) return d;
    }
  }
  return undefined;
}

const NOT_PLAIN = Symbol('not plain');

/**
 * The expression's date read as plain properties, when every path ends in a string or nothing and
 * passes only through objects: there FHIRPath yields exactly those strings, in order, and cannot
 * throw. Anything else (lists, numbers, nulls, primitive extensions `_x`, a `resourceType` inside)
 * is NOT_PLAIN and goes through FHIRPath, whose reading of such data is its own.
 */
function plainDate(r: Resource, paths: readonly (readonly Step[])[]): string | undefined | typeof NOT_PLAIN {
  let found: string | undefined;
  // Every path is checked, not only up to the first date: a later one may be what FHIRPath reads differently.
  for (const path of paths) {
    let value: unknown = r;
    for (let i = 0; i < path.length && value !== undefined; i++) {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return NOT_PLAIN;
      const element = value as Record<string, unknown>;
      if (element[path[i].extension] !== undefined || (i > 0 && element.resourceType !== undefined)) return NOT_PLAIN;
      value = element[path[i].name];
    }
    if (value === undefined) continue;
    if (typeof value !== 'string') return NOT_PLAIN;
    found ??= toDay(value);
  }
  return found;
}

export function conditionOnset(c: Condition): string | undefined {
  return clinicalDate(c);
}
