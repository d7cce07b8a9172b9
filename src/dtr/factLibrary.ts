import type { Library } from 'fhir/r4.js';
import type { FactCatalogue, FactExpr, FactSource } from '../facts/catalogue.js';
import { canonicalSystem, normalizeCode, SYSTEM_ALIASES, SYSTEMS, type ValueSetIndex } from '../terminology/valueSets.js';
import {
  ageInYearsAt,
  and,
  bool,
  coalesce,
  type Cql,
  daysBetween,
  type ElmExpression,
  equal,
  exists,
  first,
  greater,
  greaterOrEqual,
  ifThenElse,
  inList,
  int,
  isNull,
  last,
  less,
  lessOrEqual,
  list,
  not,
  NULL,
  or,
  param,
  prop,
  query,
  ref,
  replaceMatches,
  retrieve,
  startsWith,
  str,
  toDate,
  upper,
  value,
} from './cql.js';

/**
 * The CQL library a DTR client runs to pre-populate the documentation form from the EHR's record:
 * one definition per fact of `cds-services/common/facts.json` or a policy folder's `facts.json` that can be read from the record alone,
 * generated from the same fact data the hook decides with (FactContext), as ELM JSON with the CQL
 * text beside it. Facts it cannot express are listed with the reason, never guessed.
 */

export const FACT_LIBRARY_NAME = 'LumbarMriFacts';
export const DATE_OF_SERVICE = 'DateOfService';

export interface FactLibrary {
  readonly name: string;
  readonly version: string;
  readonly cql: string;
  readonly elm: { readonly library: Record<string, unknown> };
  /** Fact id -> definition name (the fact id itself). */
  readonly covered: ReadonlySet<string>;
  /** Fact id -> why the record alone cannot answer it in CQL. */
  readonly uncovered: ReadonlyMap<string, string>;
  /** Value sets the definitions read. */
  readonly valueSets: ReadonlySet<string>;
  /**
   * Documentation-finding code -> the definition that pre-populates its item: a covered fact that
   * reads the finding or coded data for the same finding (`any` of sources), else the finding as documented.
   */
  readonly answerFor: ReadonlyMap<string, string>;
}

class NotExpressible extends Error {}

/** What each source's CQL needs: the value sets, and shared definitions (the engine evaluates each once). */
interface Build {
  readonly valueSets: ValueSetIndex;
  /** A reference to a shared definition, defined on first use. */
  shared(name: string, body: () => Cql): Cql;
}

/** `[Type] R where R's code is in the value set`, defined once per type and value set. */
function coded(b: Build, type: string, valueSetId: string): Cql {
  return b.shared(`${type} in ${valueSetId}`, () =>
    query(retrieve(type), 'R', (r) =>
      type === 'ImagingStudy' ? conceptsIn(r, 'procedureCode', valueSetId, b.valueSets, 'X') : conceptIn(r, CODE_ELEMENT[type] ?? 'code', valueSetId, b.valueSets, 'X'),
    ),
  );
}

/** Where each type carries the code value sets match (src/record/PatientRecord.ts). */
const CODE_ELEMENT: Record<string, string> = { MedicationRequest: 'medicationCodeableConcept', MedicationStatement: 'medicationCodeableConcept', Device: 'type' };

/** Every name a system goes by in real data (the value-set index matches them all). */
function systemNames(system: string): string[] {
  const canonical = canonicalSystem(system);
  return [canonical, ...Object.entries(SYSTEM_ALIASES).filter(([, c]) => c === canonical).map(([alias]) => alias)];
}

/** A Coding (`X`) in a value set: exact codes and prefixes, ICD-10-CM compared without dots, as the index does. */
function codingInValueSet(x: Cql, valueSetId: string, valueSets: ValueSetIndex): Cql {
  const def = valueSets.definitions[valueSetId];
  const system = value(x, 'system');
  const code = value(x, 'code');
  const parts = def.include.map((inc) => {
    const canonical = canonicalSystem(inc.system);
    const icd = canonical === SYSTEMS.icd10cm;
    const normalized = icd ? upper(replaceMatches(code, '\\.', '')) : code;
    const codeTests: Cql[] = [];
    if (inc.codes.length) codeTests.push(inList(normalized, list(inc.codes.map((c) => str(normalizeCode(canonical, c))))));
    for (const p of inc.prefixes) codeTests.push(startsWith(normalized, str(normalizeCode(canonical, p))));
    return and(inList(system, list(systemNames(canonical).map(str))), or(...codeTests));
  });
  return or(...parts);
}

/** Some coding of a CodeableConcept element of `r` is in the value set. */
function conceptIn(r: Cql, element: string, valueSetId: string, valueSets: ValueSetIndex, name: string): Cql {
  return exists(query(prop(prop(r, element), 'coding'), name, (x) => codingInValueSet(x, valueSetId, valueSets)));
}

/** A list of CodeableConcepts (`ImagingStudy.procedureCode`): some coding of some concept. */
function conceptsIn(r: Cql, element: string, valueSetId: string, valueSets: ValueSetIndex, name: string): Cql {
  return exists(query(prop(r, element), `${name}C`, (cc) => exists(query(prop(cc, 'coding'), name, (x) => codingInValueSet(x, valueSetId, valueSets)))));
}

const dos = param(DATE_OF_SERVICE);
const day = (r: Cql, path: string): Cql => toDate(value(r, path));
const periodStart = (r: Cql, path: string): Cql => toDate(value(prop(r, path), 'start'));

/** The clinical date of each resource type, as src/facts/paths.ts reads it. */
const CLINICAL_DATE: Record<string, (r: Cql) => Cql> = {
  Condition: (r) => coalesce(day(r, 'onsetDateTime'), periodStart(r, 'onsetPeriod'), day(r, 'recordedDate')),
  Observation: (r) => coalesce(day(r, 'effectiveDateTime'), periodStart(r, 'effectivePeriod'), day(r, 'effectiveInstant'), day(r, 'issued')),
  Procedure: (r) => coalesce(day(r, 'performedDateTime'), periodStart(r, 'performedPeriod')),
  MedicationRequest: (r) => coalesce(day(r, 'authoredOn'), toDate(value(prop(prop(r, 'dispenseRequest'), 'validityPeriod'), 'start'))),
  MedicationStatement: (r) => coalesce(day(r, 'effectiveDateTime'), periodStart(r, 'effectivePeriod'), day(r, 'dateAsserted')),
  ImagingStudy: (r) => day(r, 'started'),
  DiagnosticReport: (r) => coalesce(day(r, 'effectiveDateTime'), periodStart(r, 'effectivePeriod'), day(r, 'issued')),
};

const firstCode = (r: Cql, element: string): Cql => value(first(prop(prop(r, element), 'coding')), 'code');
const status = (r: Cql): Cql => value(r, 'status');
const strs = (xs: readonly string[]): Cql => list(xs.map(str));

/** `onset is null or <test>`: an undated resource passes a date test, as FactContext lets it. */
const undatedOr = (d: Cql, test: Cql): Cql => or(isNull(d), test);

function conditionSource(s: Extract<FactSource, { source: 'condition' }>, b: Build): Cql {
  return exists(
    query(coded(b, 'Condition', s.valueSet), 'C', (c) => {
      const verification = firstCode(c, 'verificationStatus');
      const onset = CLINICAL_DATE.Condition(c);
      const tests: Cql[] = [
        or(isNull(verification), not(inList(verification, strs(['refuted', 'entered-in-error'])))),
      ];
      const suspected = and(not(isNull(verification)), inList(verification, strs(['provisional', 'differential', 'unconfirmed'])));
      if (s.verification === 'suspected') tests.push(suspected);
      if (s.verification === 'confirmed') tests.push(not(suspected));
      tests.push(undatedOr(onset, lessOrEqual(onset, dos)));
      if (s.status === 'active') {
        const clinical = firstCode(c, 'clinicalStatus');
        tests.push(or(isNull(clinical), inList(clinical, strs(['active', 'recurrence', 'relapse']))));
        const abated = coalesce(day(c, 'abatementDateTime'), toDate(value(prop(c, 'abatementPeriod'), 'end')), periodStart(c, 'abatementPeriod'));
        tests.push(or(isNull(abated), greater(abated, dos)));
      }
      if (s.recentDays !== undefined) tests.push(undatedOr(onset, lessOrEqual(daysBetween(onset, dos), int(s.recentDays))));
      return and(...tests);
    }),
  );
}

/** Most recent documentation-finding Observation (a later note can document a finding as resolved). */
function findingSource(s: Extract<FactSource, { source: 'finding' }>, b: Build): Cql {
  const documented = b.shared('Documentation findings', () =>
    query(retrieve('Observation'), 'O', (o) => {
      const d = CLINICAL_DATE.Observation(o);
      return and(
        inList(status(o), strs(['final', 'amended', 'corrected'])),
        not(isNull(value(o, 'valueBoolean'))),
        exists(query(prop(prop(o, 'code'), 'coding'), 'X', (x) => equal(value(x, 'system'), str(SYSTEMS.finding)))),
        undatedOr(d, lessOrEqual(d, dos)),
      );
    }),
  );
  const ofCode = b.shared(`Finding ${s.code}`, () =>
    query(documented, 'F', (f) => exists(query(prop(prop(f, 'code'), 'coding'), 'X', (x) => and(equal(value(x, 'system'), str(SYSTEMS.finding)), equal(value(x, 'code'), str(s.code)))))),
  );
  const candidates = (_name: string): Cql => ofCode;
  // Undated statements sort first, as in FactContext; among equal dates the later one wins (Last).
  const sortKey = (r: Cql): Cql => coalesce(CLINICAL_DATE.Observation(r), toDate(str('0001-01-01')));
  const latest = last(query(candidates('O'), 'L', (l) => not(exists(query(candidates('P'), 'Q', (q) => greater(sortKey(q), sortKey(l)))))));
  const absent = s.absent === 'false' ? bool(false) : NULL;
  const d = CLINICAL_DATE.Observation(latest);
  return ifThenElse(
    isNull(latest),
    absent,
    ifThenElse(and(not(isNull(d)), greater(daysBetween(d, dos), int(s.withinDays))), absent, value(latest, 'valueBoolean')),
  );
}

function procedureSource(s: Extract<FactSource, { source: 'procedure' }>, b: Build): Cql {
  if (s.mostRecentAtLeastMonths !== undefined) throw new NotExpressible('compares the most recent procedure in calendar months (not written in CQL yet)');
  if (s.currentEpisode) throw new NotExpressible("needs the current back-pain episode's onset, which also reads the order's reason");
  const perType = s.types.map((t) =>
    exists(
      query(coded(b, t, s.valueSet), t[0], (r) => {
        const d = CLINICAL_DATE[t](r);
        const performed = t === 'Procedure' ? equal(status(r), str('completed')) : or(isNull(status(r)), not(inList(status(r), strs(['cancelled', 'entered-in-error']))));
        const tests = [performed, not(isNull(d)), lessOrEqual(d, dos)];
        if (s.withinDays !== undefined) tests.push(lessOrEqual(daysBetween(d, dos), int(s.withinDays)));
        return and(...tests);
      }),
    ),
  );
  return or(...perType);
}

function medicationSource(s: Extract<FactSource, { source: 'medication' }>, b: Build): Cql {
  // A chronic course (orders spanning minCourseDays) compares dates across orders; not written in CQL yet.
  if (s.minCourseDays !== undefined) throw new NotExpressible(`needs a ${s.minCourseDays}-day course of ${s.valueSet} across orders`);
  const perType = (['MedicationRequest', 'MedicationStatement'] as const).map((t) =>
    exists(
      query(coded(b, t, s.valueSet), t === 'MedicationRequest' ? 'M' : 'S', (m) => {
        const d = CLINICAL_DATE[t](m);
        return and(
          not(inList(status(m), strs(['entered-in-error', 'cancelled', 'not-taken', 'draft']))),
          undatedOr(d, lessOrEqual(d, dos)),
          or(equal(status(m), str('active')), and(not(isNull(d)), lessOrEqual(daysBetween(d, dos), int(s.activeOrWithinDays)))),
        );
      }),
    ),
  );
  return or(...perType);
}

function deviceSource(s: Extract<FactSource, { source: 'device' }>, b: Build): Cql {
  return exists(query(coded(b, 'Device', s.valueSet), 'D', (d) => or(isNull(status(d)), equal(status(d), str('active')))));
}

function ageSource(s: Extract<FactSource, { source: 'age' }>): Cql {
  const age = ageInYearsAt(value(ref('Patient'), 'birthDate'), dos);
  const cmp = { '<': less, '<=': lessOrEqual, '>': greater, '>=': greaterOrEqual }[s.op];
  return cmp(age, int(s.years));
}

const WHY_NOT: Partial<Record<FactSource['source'], string>> = {
  episode: "the episode's onset also reads the draft order's reason, which is not in the EHR record a DTR client queries",
  orderReason: "reads the draft order's reasonCode, which is not in the EHR record a DTR client queries",
  requester: "reads the draft order's requester, which is not in the EHR record a DTR client queries",
  physicalTherapy: "counts only therapy in the current episode, whose onset also reads the draft order's reason",
  conservativeCare: "counts only care in the current episode, whose onset also reads the draft order's reason",
  observation: 'filters Observations with a FHIRPath expression (values and units), not translated to CQL',
};

function sourceCql(s: FactSource, b: Build): Cql {
  switch (s.source) {
    case 'condition':
      return conditionSource(s, b);
    case 'finding':
      return findingSource(s, b);
    case 'procedure':
      return procedureSource(s, b);
    case 'medication':
      return medicationSource(s, b);
    case 'device':
      return deviceSource(s, b);
    case 'age':
      return ageSource(s);
    default:
      throw new NotExpressible(WHY_NOT[s.source] ?? `source ${s.source} is not written in CQL`);
  }
}

function valueSetsOf(e: FactExpr, out: Set<string>): void {
  if ('any' in e) e.any.forEach((x) => valueSetsOf(x, out));
  else if ('all' in e) e.all.forEach((x) => valueSetsOf(x, out));
  else if ('not' in e) valueSetsOf(e.not, out);
  else if ('valueSet' in e) out.add(e.valueSet);
}

/** Builds the library once per catalogue (the fact data does not change while the service runs). */
const BUILT = new WeakMap<FactCatalogue, FactLibrary>();

export function factLibrary(facts: FactCatalogue, version = '1.0.0'): FactLibrary {
  const known = BUILT.get(facts);
  if (known) return known;
  const valueSets = facts.valueSets;
  const covered = new Set<string>();
  const uncovered = new Map<string, string>();
  const statements: { name: string; body: Cql }[] = [];
  const usedValueSets = new Set<string>();
  const visiting = new Set<string>();
  const sharedDefs = new Map<string, Cql>();
  const build: Build = {
    valueSets,
    shared(name, body) {
      if (!sharedDefs.has(name)) sharedDefs.set(name, body());
      return ref(name);
    },
  };

  const expr = (e: FactExpr): Cql => {
    if ('any' in e) return or(...e.any.map(expr));
    if ('all' in e) return and(...e.all.map(expr));
    if ('not' in e) return not(expr(e.not));
    if ('fact' in e) {
      define(e.fact);
      if (!covered.has(e.fact)) throw new NotExpressible(`refers to ${e.fact}, which ${uncovered.get(e.fact) ?? 'is not covered'}`);
      return ref(e.fact);
    }
    return sourceCql(e, build);
  };
  const define = (id: string): void => {
    if (covered.has(id) || uncovered.has(id) || visiting.has(id)) return;
    const def = facts.get(id);
    if (!def) return;
    visiting.add(id);
    try {
      const coded = expr(def.derive);
      // A fact with its own finding is also read from a note, as FactContext does (unknown when absent).
      const body = def.finding ? or(coded, findingSource({ source: 'finding', code: def.finding, absent: 'unknown', withinDays: 180 }, build)) : coded;
      statements.push({ name: id, body });
      covered.add(id);
      valueSetsOf(def.derive, usedValueSets);
    } catch (err) {
      if (!(err instanceof NotExpressible)) throw err;
      uncovered.set(id, err.message);
    } finally {
      visiting.delete(id);
    }
  };
  for (const id of Object.keys(facts.definitions)) define(id);

  const answerFor = new Map<string, string>();
  const isSourceOf = (e: FactExpr, code: string): boolean =>
    ('source' in e && e.source === 'finding' && e.code === code) ||
    ('any' in e && e.any.some((x) => 'source' in x && x.source === 'finding' && x.code === code) && e.any.every((x) => 'source' in x));
  for (const code of [...facts.findingCodes()].sort()) {
    const direct = [...covered].find((id) => isSourceOf(facts.get(id)?.derive ?? { fact: id }, code) || (facts.get(id)?.finding === code && 'source' in (facts.get(id)?.derive ?? {})));
    if (direct) {
      answerFor.set(code, direct);
      continue;
    }
    const name = `Documented ${code}`;
    statements.push({ name, body: findingSource({ source: 'finding', code, absent: 'unknown', withinDays: 180 }, build) });
    answerFor.set(code, name);
  }

  const patient: Cql = first(retrieve('Patient'));
  const cql = [
    `library ${FACT_LIBRARY_NAME} version '${version}'`,
    '',
    "using FHIR version '4.0.1'",
    '',
    `// Generated from the fact catalogue (cds-services/common/facts.json and each policy folder's facts.json): each definition is the fact of the same id.`,
    `parameter "${DATE_OF_SERVICE}" Date default Today()`,
    '',
    'context Patient',
    '',
    `define "Patient": ${patient.cql}`,
    ...[...sharedDefs].flatMap(([name, body]) => ['', `define "${name}":`, `  ${body.cql}`]),
    ...statements.flatMap((s) => ['', `// ${facts.get(s.name)?.text ?? s.name}`, `define "${s.name}":`, `  ${s.body.cql}`]),
    '',
  ].join('\n');
  const def = (name: string, expression: ElmExpression) => ({ name, context: 'Patient', accessLevel: 'Public', expression });
  const elm = {
    library: {
      identifier: { id: FACT_LIBRARY_NAME, version },
      schemaIdentifier: { id: 'urn:hl7-org:elm', version: 'r1' },
      usings: {
        def: [
          { localIdentifier: 'System', uri: 'urn:hl7-org:elm-types:r1' },
          { localIdentifier: 'FHIR', uri: 'http://hl7.org/fhir', version: '4.0.1' },
        ],
      },
      parameters: {
        def: [
          {
            name: DATE_OF_SERVICE,
            accessLevel: 'Public',
            default: { type: 'Today' },
            parameterTypeSpecifier: { type: 'NamedTypeSpecifier', name: '{urn:hl7-org:elm-types:r1}Date' },
          },
        ],
      },
      contexts: { def: [{ name: 'Patient' }] },
      statements: { def: [def('Patient', patient.elm), ...[...sharedDefs].map(([name, body]) => def(name, body.elm)), ...statements.map((s) => def(s.name, s.body.elm))] },
    },
  };
  const built: FactLibrary = { name: FACT_LIBRARY_NAME, version, cql, elm, covered, uncovered, valueSets: usedValueSets, answerFor };
  BUILT.set(facts, built);
  return built;
}

/** The FHIR Library resource (CQL and ELM, base64), canonical under this service's base URL. */
export function factLibraryResource(lib: FactLibrary, publicBaseUrl: string, valueSetUrl: (id: string) => string): Library {
  return {
    resourceType: 'Library',
    id: lib.name,
    meta: { profile: ['http://hl7.org/fhir/uv/cql/StructureDefinition/cql-library', 'http://hl7.org/fhir/uv/cql/StructureDefinition/elm-json-library'] },
    url: `${publicBaseUrl}/fhir/Library/${lib.name}`,
    version: lib.version,
    name: lib.name,
    title: 'Lumbar MRI facts from the EHR record',
    status: 'active',
    type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/library-type', code: 'logic-library' }] },
    description:
      'One definition per fact of the lumbar MRI policies that the EHR record can answer, generated from the service\'s fact data (the same data the CDS hook decides with). Parameter "DateOfService" defaults to today.',
    relatedArtifact: [...lib.valueSets].sort().map((id) => ({ type: 'depends-on' as const, resource: `${valueSetUrl(id)}|${lib.version}` })),
    parameter: [
      { name: DATE_OF_SERVICE, use: 'in', min: 0, max: '1', type: 'date' },
      ...[...new Set([...lib.covered, ...lib.answerFor.values()])].map((name) => ({ name, use: 'out' as const, min: 0, max: '1', type: 'boolean' as const })),
    ],
    dataRequirement: (['Patient', 'Condition', 'Observation', 'Procedure', 'ImagingStudy', 'DiagnosticReport', 'MedicationRequest', 'MedicationStatement', 'Device'] as const).map((type) => ({ type })),
    content: [
      { contentType: 'text/cql', data: Buffer.from(lib.cql, 'utf8').toString('base64') },
      { contentType: 'application/elm+json', data: Buffer.from(JSON.stringify(lib.elm), 'utf8').toString('base64') },
    ],
  };
}
