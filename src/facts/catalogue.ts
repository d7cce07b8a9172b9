import fhirpath from 'fhirpath';
import { z } from 'zod';
import { jsonPath, PolicyLoadError, type LoadProblem } from '../config/loadError.js';
import type { Assert, SchemaAgrees } from '../config/schemaAgrees.js';
import type { ValueSetIndex } from '../terminology/valueSets.js';

/**
 * The fact catalogue (`cds-services/common/facts.json` and each policy folder's `facts.json`): every
 * named clinical fact the policies use, each derived from the record by a small expression over a
 * fixed set of source kinds.
 */

const comparator = z.enum(['<', '<=', '>', '>=']);

const sourceSchema = z.discriminatedUnion('source', [
  z
    .object({
      source: z.literal('condition'),
      valueSet: z.string(),
      /** `suspected`: provisional, differential or unconfirmed; `confirmed`: confirmed or not stated. */
      verification: z.enum(['any', 'confirmed', 'suspected']).default('any'),
      /** `active`: active, recurrence or relapse at the date of service; `ever`: history counts too. */
      status: z.enum(['active', 'ever']).default('active'),
      /**
       * Onset (or recorded date) within this many days before the date of service, when dated; with
       * `ever`, a condition resolved within the window counts too (a treated infection is the risk).
       */
      recentDays: z.number().int().positive().optional(),
    })
    .strict(),
  z
    .object({
      source: z.literal('observation'),
      valueSet: z.string(),
      withinDays: z.number().int().positive().optional(),
      /** FHIRPath on the Observation that must be true (compiled once at load). */
      where: z.string().optional(),
    })
    .strict(),
  z
    .object({
      source: z.literal('procedure'),
      valueSet: z.string(),
      /** Resource types searched: prior imaging lives in Procedure, ImagingStudy and DiagnosticReport. */
      types: z.array(z.enum(['Procedure', 'ImagingStudy', 'DiagnosticReport'])).default(['Procedure']),
      withinDays: z.number().int().positive().optional(),
      /** True only if the most recent one is at least this many calendar months before the date of service ("at least 1 year" = 12). */
      mostRecentAtLeastMonths: z.number().int().positive().optional(),
      /** Only procedures on or after the onset of the current back pain episode. */
      currentEpisode: z.boolean().default(false),
    })
    .strict(),
  z
    .object({
      source: z.literal('medication'),
      valueSet: z.string(),
      /** Active at the date of service, or authored within this many days. */
      activeOrWithinDays: z.number().int().positive().default(180),
      /** Chronic use only: the orders found span at least this many days, or one still active began that long ago. */
      minCourseDays: z.number().int().positive().optional(),
    })
    .strict(),
  z.object({ source: z.literal('device'), valueSet: z.string() }).strict(),
  z
    .object({
      source: z.literal('finding'),
      /** A code of the documentation-finding code system (contract section 7). */
      code: z.string(),
      /** Note-only findings are unknown when absent; `false` where absence itself is the record. */
      absent: z.enum(['unknown', 'false']).default('unknown'),
      withinDays: z.number().int().positive().default(180),
    })
    .strict(),
  z.object({ source: z.literal('age'), op: comparator, years: z.number().int().nonnegative() }).strict(),
  z
    .object({
      source: z.literal('episode'),
      /**
       * acute: onset within the past 6 weeks (<= 42 days); subacute: over 6 weeks and not over 3 months;
       * chronic: over 3 calendar months; present: a low back pain episode is on record;
       * over-days: onset more than `days` days ago.
       */
      phase: z.enum(['acute', 'subacute', 'chronic', 'present', 'over-days']),
      days: z.number().int().positive().optional(),
    })
    .strict(),
  z.object({ source: z.literal('requester'), valueSet: z.string() }).strict(),
  z
    .object({
      source: z.literal('treatmentSinceImaging'),
      /** The imaging whose latest study starts the interval (Procedure, ImagingStudy, DiagnosticReport). */
      imaging: z.string(),
      /** Procedures that are treatment (therapy, injections, surgery). */
      procedures: z.array(z.string()).min(1),
      /** Medication orders or statements that are treatment. */
      medications: z.array(z.string()).default([]),
    })
    .strict(),
  z.object({ source: z.literal('orderReason'), valueSet: z.string() }).strict(),
  z
    .object({
      source: z.literal('physicalTherapy'),
      /** Physical therapy must fall within this many months before the date of service. */
      withinMonths: z.number().int().positive(),
      /** From the first to the last session ("at least 4 weeks"). */
      minSpanDays: z.number().int().positive().default(28),
    })
    .strict(),
  z
    .object({
      source: z.literal('conservativeCare'),
      /** From the first conservative treatment of the episode to the date of service. */
      minDays: z.number().int().positive(),
    })
    .strict(),
]);

export type FactSource = z.infer<typeof sourceSchema>;

export type FactExpr =
  | FactSource
  | { readonly any: readonly FactExpr[] }
  | { readonly all: readonly FactExpr[] }
  | { readonly not: FactExpr }
  | { readonly fact: string };

// Recursive like a criterion tree: `exprSchema` parses the whole expression, `exprLevel` one level
// whose operands are `FactExpr`s; checking that level against `FactExpr` checks every level.
const exprSchema: z.ZodType<FactExpr> = z.lazy(() => exprLevel);
const exprLevel = z.union([
  z.object({ any: z.array(exprSchema).min(1) }).strict(),
  z.object({ all: z.array(exprSchema).min(1) }).strict(),
  z.object({ not: exprSchema }).strict(),
  z.object({ fact: z.string() }).strict(),
  sourceSchema,
]);
type _ExprAgrees = Assert<SchemaAgrees<typeof exprLevel, FactExpr>>;

const factSchema = z
  .object({
    /** Plain clinical words, as a card would say them. */
    text: z.string().min(1),
    /** What to document, phrased as a request (documentation cards and the questionnaire). */
    ask: z.string().optional(),
    /** A diagnosis, finding or test (true) rather than context such as duration or age (false). */
    specific: z.boolean(),
    /** A fact no care can change before this order (the episode's duration, age): a path it fails is not offered as "what would change the answer". */
    fixed: z.boolean().optional(),
    /** Care completed on record (a treatment course): not a diagnosis, but when true it points down the paths it serves. */
    pointsToPath: z.boolean().optional(),
    /**
     * The documentation-finding code (contract section 7) that documents this fact in a note: the fact
     * reads it as well as its coded sources (true when either says so; unknown, not false, when the
     * record has neither), so a clinician can document what the record does not code.
     */
    finding: z.string().regex(/^[a-z0-9-]+$/).optional(),
    /** How we read a seed sentence: the seed's words and our reading (listed in docs/criteria). */
    interpretation: z.array(z.object({ seed: z.string().min(1), reading: z.string().min(1) }).strict()).optional(),
    derive: exprSchema,
  })
  .strict();

export const factFileSchema = z.record(z.string().regex(/^[a-z0-9-]+$/), factSchema);
export type FactDefinition = z.infer<typeof factSchema>;
export type FactFile = z.infer<typeof factFileSchema>;

type Compiled = (resource: unknown) => unknown[];

/**
 * A fact's derivation as evaluated: every node of one shape, so evaluation reads `op` and its fields
 * at one place in memory (a FactExpr has as many shapes as there are kinds of source).
 */
export type Derivation =
  | { readonly op: 'any' | 'all'; readonly operands: readonly Derivation[]; readonly fact: undefined; readonly source: undefined }
  | { readonly op: 'not'; readonly operands: readonly [Derivation]; readonly fact: undefined; readonly source: undefined }
  | { readonly op: 'fact'; readonly operands: readonly []; readonly fact: string; readonly source: undefined }
  | { readonly op: 'source'; readonly operands: readonly []; readonly fact: undefined; readonly source: FactSource };

/** A fact ready to evaluate: its derivation, and the documentation-finding code it reads as well. */
export interface CompiledFact {
  readonly id: string;
  /** Its place among the catalogue's facts (0 to size - 1): a request keeps its facts' values in a list by it. */
  readonly index: number;
  readonly derivation: Derivation;
  readonly finding: string | undefined;
  /** The definition's flags the engine asks about for every fact node it reads. */
  readonly specific: boolean;
  readonly fixed: boolean;
  readonly pointsToPath: boolean;
}

function derivation(e: FactExpr): Derivation {
  if ('any' in e) return { op: 'any', operands: e.any.map(derivation), fact: undefined, source: undefined };
  if ('all' in e) return { op: 'all', operands: e.all.map(derivation), fact: undefined, source: undefined };
  if ('not' in e) return { op: 'not', operands: [derivation(e.not)], fact: undefined, source: undefined };
  if ('fact' in e) return { op: 'fact', operands: [], fact: e.fact, source: undefined };
  return { op: 'source', operands: [], fact: undefined, source: e };
}

/** The catalogue with its FHIRPath compiled once, checked against the value sets it names. */
export class FactCatalogue {
  private readonly compiled = new Map<string, Compiled>();
  private readonly compiledFacts = new Map<string, CompiledFact>();

  /**
   * `fileOf` names the file defining a fact, for load errors (the loader merges several files);
   * `mayUse` says whether one fact may be built on another (a shared fact not on one policy's own).
   */
  constructor(
    readonly definitions: FactFile,
    readonly valueSets: ValueSetIndex,
    fileOf: (factId: string) => string = () => 'facts.json',
    mayUse: (factId: string, used: string) => true | string = () => true,
  ) {
    const problems: LoadProblem[] = [];
    for (const [id, def] of Object.entries(definitions)) {
      this.check(def.derive, [id, 'derive'], (path, message) => problems.push({ file: fileOf(id), path: jsonPath(path), message }), (used) => mayUse(id, used));
    }
    if (problems.length) throw new PolicyLoadError(problems);
    for (const [id, def] of Object.entries(definitions)) {
      this.compiledFacts.set(id, {
        id,
        index: this.compiledFacts.size,
        derivation: derivation(def.derive),
        finding: def.finding,
        specific: def.specific,
        fixed: def.fixed ?? false,
        pointsToPath: def.pointsToPath ?? false,
      });
    }
  }

  get(id: string): FactDefinition | undefined {
    return Object.hasOwn(this.definitions, id) ? this.definitions[id] : undefined;
  }

  /** The fact as evaluated (undefined for a fact not in the catalogue). */
  compiledFact(id: string): CompiledFact | undefined {
    return this.compiledFacts.get(id);
  }

  /** The number of facts in the catalogue. */
  get size(): number {
    return this.compiledFacts.size;
  }

  fhirpath(expression: string): Compiled {
    const fn = this.compiled.get(expression);
    if (!fn) throw new Error(`FHIRPath not compiled at load: ${expression}`);
    return fn;
  }

  private findingCodesMemo: ReadonlySet<string> | undefined;

  /** Codes of the documentation-finding code system the catalogue reads (computed once). */
  findingCodes(): ReadonlySet<string> {
    if (this.findingCodesMemo) return this.findingCodesMemo;
    const out = new Set<string>();
    const walk = (e: FactExpr): void => {
      if ('any' in e) e.any.forEach(walk);
      else if ('all' in e) e.all.forEach(walk);
      else if ('not' in e) walk(e.not);
      else if ('source' in e && e.source === 'finding') out.add(e.code);
    };
    for (const def of Object.values(this.definitions)) {
      walk(def.derive);
      if (def.finding) out.add(def.finding);
    }
    this.findingCodesMemo = out;
    return out;
  }

  private check(
    e: FactExpr,
    at: readonly PropertyKey[],
    problem: (path: readonly PropertyKey[], message: string) => void,
    mayUse: (used: string) => true | string,
  ): void {
    if ('any' in e) return e.any.forEach((x, i) => this.check(x, [...at, 'any', i], problem, mayUse));
    if ('all' in e) return e.all.forEach((x, i) => this.check(x, [...at, 'all', i], problem, mayUse));
    if ('not' in e) return this.check(e.not, [...at, 'not'], problem, mayUse);
    if ('fact' in e) {
      const allowed = this.get(e.fact) ? mayUse(e.fact) : `unknown fact ${e.fact}`;
      if (allowed !== true) problem([...at, 'fact'], allowed);
      return;
    }
    const sets: [readonly PropertyKey[], string][] =
      'valueSet' in e
        ? [[['valueSet'], e.valueSet]]
        : e.source === 'treatmentSinceImaging'
          ? [[['imaging'], e.imaging], ...e.procedures.map((v, i): [PropertyKey[], string] => [['procedures', i], v]), ...e.medications.map((v, i): [PropertyKey[], string] => [['medications', i], v])]
          : [];
    for (const [key, vs] of sets) if (!this.valueSets.has(vs)) problem([...at, ...key], `unknown value set ${vs}`);
    if (e.source === 'observation' && e.where && !this.compiled.has(e.where)) {
      try {
        // Synchronous evaluation: the evaluator returns the result list, never a promise.
        this.compiled.set(e.where, fhirpath.compile(e.where, undefined, { async: false }));
      } catch (err) {
        problem([...at, 'where'], `FHIRPath does not compile: ${e.where}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }
}
