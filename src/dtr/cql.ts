/**
 * A small expression builder that writes each CQL expression twice, as CQL text for people and as
 * ELM JSON for engines, from one call: no Java translator is available, and writing the two by hand
 * would let them drift. Only the operators the fact library needs are here.
 */

/** One ELM expression node (https://cql.hl7.org/elm.html): a `type` and its operands. */
export interface ElmExpression {
  readonly type: string;
  readonly [key: string]: unknown;
}

/** The same expression as CQL text and as ELM. */
export interface Cql {
  readonly cql: string;
  readonly elm: ElmExpression;
}

const SYSTEM_TYPE = (name: string): string => `{urn:hl7-org:elm-types:r1}${name}`;
export const FHIR_TYPE = (name: string): string => `{http://hl7.org/fhir}${name}`;

const quote = (s: string): string => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

export function str(value: string): Cql {
  return { cql: quote(value), elm: { type: 'Literal', valueType: SYSTEM_TYPE('String'), value } };
}

export function int(value: number): Cql {
  return { cql: String(value), elm: { type: 'Literal', valueType: SYSTEM_TYPE('Integer'), value: String(value) } };
}

export function bool(value: boolean): Cql {
  return { cql: String(value), elm: { type: 'Literal', valueType: SYSTEM_TYPE('Boolean'), value: String(value) } };
}

export const NULL: Cql = { cql: 'null', elm: { type: 'Null' } };

export function list(items: readonly Cql[]): Cql {
  return { cql: `{ ${items.map((i) => i.cql).join(', ')} }`, elm: { type: 'List', element: items.map((i) => i.elm) } };
}

/** `[Type]`: every resource of one FHIR type in the patient's record. */
export function retrieve(resourceType: string): Cql {
  return {
    cql: `[${resourceType}]`,
    elm: { type: 'Retrieve', dataType: FHIR_TYPE(resourceType), templateId: `http://hl7.org/fhir/StructureDefinition/${resourceType}` },
  };
}

export function alias(name: string): Cql {
  return { cql: name, elm: { type: 'AliasRef', name } };
}

/** `source.path`; a FHIR primitive still needs `.value` to become a CQL value. */
export function prop(source: Cql, path: string): Cql {
  return { cql: `${source.cql}.${path}`, elm: { type: 'Property', path, source: source.elm } };
}

/** The CQL value of a FHIR primitive element (`source.path.value`). */
export function value(source: Cql, path: string): Cql {
  return prop(prop(source, path), 'value');
}

export function ref(name: string): Cql {
  return { cql: `"${name}"`, elm: { type: 'ExpressionRef', name } };
}

export function param(name: string): Cql {
  return { cql: `"${name}"`, elm: { type: 'ParameterRef', name } };
}

function nary(type: string, word: string, operands: readonly Cql[]): Cql {
  if (operands.length === 1) return operands[0];
  // ELM And/Or are binary: fold left, as the translator does.
  return operands.slice(1).reduce<Cql>(
    (acc, next) => ({ cql: `(${acc.cql} ${word} ${next.cql})`, elm: { type, operand: [acc.elm, next.elm] } }),
    operands[0],
  );
}

export const and = (...operands: Cql[]): Cql => nary('And', 'and', operands);
export const or = (...operands: Cql[]): Cql => nary('Or', 'or', operands);

function unary(type: string, render: (x: string) => string): (x: Cql) => Cql {
  return (x) => ({ cql: render(x.cql), elm: { type, operand: x.elm } });
}

export const not = unary('Not', (x) => `not (${x})`);
export const exists = unary('Exists', (x) => `exists (${x})`);
export const isNull = unary('IsNull', (x) => `(${x} is null)`);
export const upper = unary('Upper', (x) => `Upper(${x})`);
export const toDate = unary('ToDate', (x) => `ToDate(${x})`);
export const first = (x: Cql): Cql => ({ cql: `First(${x.cql})`, elm: { type: 'First', source: x.elm } });
export const last = (x: Cql): Cql => ({ cql: `Last(${x.cql})`, elm: { type: 'Last', source: x.elm } });

function binary(type: string, op: string): (a: Cql, b: Cql) => Cql {
  return (a, b) => ({ cql: `(${a.cql} ${op} ${b.cql})`, elm: { type, operand: [a.elm, b.elm] } });
}

export const equal = binary('Equal', '=');
export const inList = binary('In', 'in');
export const less = binary('Less', '<');
export const lessOrEqual = binary('LessOrEqual', '<=');
export const greater = binary('Greater', '>');
export const greaterOrEqual = binary('GreaterOrEqual', '>=');

export function startsWith(s: Cql, prefix: Cql): Cql {
  return { cql: `StartsWith(${s.cql}, ${prefix.cql})`, elm: { type: 'StartsWith', operand: [s.elm, prefix.elm] } };
}

export function replaceMatches(s: Cql, pattern: string, substitution: string): Cql {
  return {
    cql: `ReplaceMatches(${s.cql}, ${quote(pattern)}, ${quote(substitution)})`,
    elm: { type: 'ReplaceMatches', operand: [s.elm, str(pattern).elm, str(substitution).elm] },
  };
}

export function coalesce(...operands: Cql[]): Cql {
  if (operands.length === 1) return operands[0];
  return { cql: `Coalesce(${operands.map((o) => o.cql).join(', ')})`, elm: { type: 'Coalesce', operand: operands.map((o) => o.elm) } };
}

export function ifThenElse(condition: Cql, then: Cql, otherwise: Cql): Cql {
  return {
    cql: `if ${condition.cql} then ${then.cql} else ${otherwise.cql}`,
    elm: { type: 'If', condition: condition.elm, then: then.elm, else: otherwise.elm },
  };
}

/** Whole days from `a` to `b` (both Dates). */
export function daysBetween(a: Cql, b: Cql): Cql {
  return { cql: `days between ${a.cql} and ${b.cql}`, elm: { type: 'DurationBetween', precision: 'Day', operand: [a.elm, b.elm] } };
}

export function ageInYearsAt(birthDate: Cql, at: Cql): Cql {
  return { cql: `AgeInYearsAt(${birthDate.cql}, ${at.cql})`, elm: { type: 'CalculateAgeAt', precision: 'Year', operand: [birthDate.elm, at.elm] } };
}

/** `source X where condition` (optionally `return` an expression of X). */
export function query(source: Cql, name: string, where: (x: Cql) => Cql, returning?: (x: Cql) => Cql): Cql {
  const x = alias(name);
  const w = where(x);
  const r = returning?.(x);
  return {
    cql: `(${source.cql} ${name} where ${w.cql}${r ? ` return ${r.cql}` : ''})`,
    elm: {
      type: 'Query',
      source: [{ alias: name, expression: source.elm }],
      relationship: [],
      where: w.elm,
      ...(r ? { return: { distinct: false, expression: r.elm } } : {}),
    },
  };
}
