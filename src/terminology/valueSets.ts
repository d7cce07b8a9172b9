import { z } from 'zod';

/** Canonical system URIs, and the aliases real data uses for them. */
export const SYSTEMS = {
  icd10cm: 'http://hl7.org/fhir/sid/icd-10-cm',
  snomed: 'http://snomed.info/sct',
  loinc: 'http://loinc.org',
  cpt: 'http://www.ama-assn.org/go/cpt',
  rxnorm: 'http://www.nlm.nih.gov/research/umls/rxnorm',
  nucc: 'http://nucc.org/provider-taxonomy',
  sopt: 'https://nahdo.org/sopt',
  finding: 'http://lumbar-mri-cds.org/fhir/CodeSystem/documentation-finding',
} as const;

export const SYSTEM_ALIASES: Readonly<Record<string, string>> = {
  'urn:oid:2.16.840.1.113883.3.221.5': SYSTEMS.sopt,
  'http://www.nahdo.org/sopt': SYSTEMS.sopt,
  'urn:oid:2.16.840.1.113883.6.96': SYSTEMS.snomed,
  'http://snomed.info/sct/731000124108': SYSTEMS.snomed,
  'urn:oid:2.16.840.1.113883.6.90': SYSTEMS.icd10cm,
  'http://hl7.org/fhir/sid/icd-10': SYSTEMS.icd10cm,
  'urn:oid:2.16.840.1.113883.6.12': SYSTEMS.cpt,
  'http://www.ama-assn.org/go/cpt/': SYSTEMS.cpt,
  'urn:oid:2.16.840.1.113883.6.1': SYSTEMS.loinc,
  'urn:oid:2.16.840.1.113883.6.88': SYSTEMS.rxnorm,
  'urn:oid:2.16.840.1.113883.6.101': SYSTEMS.nucc,
};

export function canonicalSystem(system: string | undefined): string {
  if (!system) return '';
  return SYSTEM_ALIASES[system] ?? system;
}

/** ICD-10-CM codes appear with or without the dot (`M54.50` / `M5450`): compare them without. */
export function normalizeCode(system: string, code: string): string {
  const c = code.trim();
  return system === SYSTEMS.icd10cm ? c.replace(/\./g, '').toUpperCase() : c;
}

const includeSchema = z
  .object({
    system: z.string().min(1),
    codes: z.array(z.string().min(1)).default([]),
    /** Codes that stand for their whole subtree (ICD-10-CM and SOPT codes extend their parent's code character by character). */
    prefixes: z.array(z.string().min(1)).default([]),
    /** Displays for the questionnaire and the criteria table (optional, never matched on). */
    displays: z.record(z.string(), z.string()).optional(),
  })
  .strict();

/** The index's view of the value sets: id -> codes to match (built from the FHIR ValueSets). */
export const valueSetFileSchema = z.record(
  z.string().regex(/^[a-z0-9-]+$/, 'value set ids are lower-case-with-dashes'),
  z
    .object({
      title: z.string().min(1),
      /** Where the codes come from: the published value set (VSAC OID, expansion) or why a hand list. */
      source: z.string().optional(),
      include: z.array(includeSchema).min(1),
    })
    .strict(),
);

export type ValueSetFile = z.infer<typeof valueSetFileSchema>;

/**
 * Code systems whose codes form a hierarchy by extension: an ICD-10-CM category (`C18`) covers its
 * subcodes (`C18.7`), a SOPT code (`11`) its children (`111`). A listed code matches its whole subtree.
 */
const HIERARCHICAL: ReadonlySet<string> = new Set([SYSTEMS.icd10cm, SYSTEMS.sopt]);

/** The part of a FHIR R4 `ValueSet` this service reads (`cds-services/common/valuesets/<id>.json`). */
export const fhirValueSetSchema = z.object({
  resourceType: z.literal('ValueSet'),
  id: z.string().regex(/^[a-z0-9-]+$/, 'value set ids are lower-case-with-dashes'),
  url: z.string().url(),
  version: z.string().min(1),
  name: z.string().min(1),
  title: z.string().min(1),
  status: z.enum(['draft', 'active', 'retired', 'unknown']),
  identifier: z.array(z.object({ system: z.string().optional(), value: z.string() })).optional(),
  description: z.string().min(1),
  compose: z.object({
    include: z
      .array(
        z
          .object({
            system: z.string().min(1),
            concept: z.array(z.object({ code: z.string().min(1), display: z.string().optional() }).strict()).min(1),
          })
          .strict(),
      )
      .min(1),
  }),
});
export type FhirValueSet = z.infer<typeof fhirValueSetSchema>;

/** The published value set a FHIR ValueSet is taken from (`urn:oid:...`), if any. */
export function valueSetOid(vs: FhirValueSet): string | undefined {
  return vs.identifier?.find((i) => i.value.startsWith('urn:oid:'))?.value.slice('urn:oid:'.length);
}

/** FHIR ValueSets -> the index's definitions (hierarchical systems match by subtree). */
export function fromFhirValueSets(sets: readonly FhirValueSet[]): ValueSetFile {
  const out: ValueSetFile = {};
  for (const vs of sets) {
    if (Object.hasOwn(out, vs.id)) throw new Error(`duplicate value set ${vs.id}`);
    out[vs.id] = {
      title: vs.title,
      source: vs.description,
      include: vs.compose.include.map((inc) => {
        const hierarchical = HIERARCHICAL.has(canonicalSystem(inc.system));
        const codes = inc.concept.map((c) => c.code);
        const displays = Object.fromEntries(inc.concept.filter((c) => c.display).map((c) => [c.code, c.display as string]));
        return { system: inc.system, codes: hierarchical ? [] : codes, prefixes: hierarchical ? codes : [], displays };
      }),
    };
  }
  return out;
}

export interface Coding {
  readonly system?: string;
  readonly code?: string;
}

/**
 * Every value set of every policy, indexed once at start-up so that a coding's memberships
 * cost a few map lookups: exact codes by `system|code`, prefixes by `system|prefix`.
 */
export class ValueSetIndex {
  private readonly exact = new Map<string, string[]>();
  private readonly prefixes = new Map<string, string[]>();
  private readonly maxPrefixLength = new Map<string, number>();
  /**
   * Memberships already looked up, by the coding's system and code as sent: records repeat the same
   * codes (vital signs, common diagnoses), so most lookups cost two map reads and no string. Private
   * fields: the index is part of the library the decision-cache key hashes as JSON, which must not
   * change as decisions fill the memo (two instances would key the same decision apart).
   */
  readonly #memo = new Map<string, Map<string, readonly string[]>>();
  #memoSize = 0;

  constructor(
    readonly definitions: ValueSetFile,
    /** The FHIR ValueSets the definitions come from (served and cited), when loaded from them. */
    readonly resources: readonly FhirValueSet[] = [],
  ) {
    for (const [id, vs] of Object.entries(definitions)) {
      for (const inc of vs.include) {
        const system = canonicalSystem(inc.system);
        for (const code of inc.codes) push(this.exact, `${system}|${normalizeCode(system, code)}`, id);
        for (const prefix of inc.prefixes) {
          const p = normalizeCode(system, prefix);
          push(this.prefixes, `${system}|${p}`, id);
          this.maxPrefixLength.set(system, Math.max(this.maxPrefixLength.get(system) ?? 0, p.length));
        }
      }
    }
  }

  has(id: string): boolean {
    return Object.hasOwn(this.definitions, id);
  }

  /** The value sets a coding belongs to (may be empty; shared, never to be changed). */
  memberships(coding: Coding): readonly string[] {
    const code = coding.code;
    if (typeof code !== 'string' || code.length === 0) return NO_MEMBERSHIPS;
    const system = typeof coding.system === 'string' ? coding.system : '';
    const bySystem = this.#memo.get(system);
    const known = bySystem?.get(code);
    if (known) return known;
    const found = this.lookUp(system, code);
    // Bounded whatever clients send: only code-sized strings are kept, and a full memo starts over.
    if (code.length <= MEMO_MAX_CODE_LENGTH && system.length <= MEMO_MAX_SYSTEM_LENGTH) {
      if (this.#memoSize >= MEMO_MAX_ENTRIES) {
        this.#memo.clear();
        this.#memoSize = 0;
      }
      let codes = this.#memo.get(system);
      if (!codes) this.#memo.set(system, (codes = new Map()));
      codes.set(code, found);
      this.#memoSize++;
    }
    return found;
  }

  contains(id: string, coding: Coding): boolean {
    return this.memberships(coding).includes(id);
  }

  private lookUp(rawSystem: string, rawCode: string): readonly string[] {
    const system = canonicalSystem(rawSystem);
    const code = normalizeCode(system, rawCode);
    const out = [...(this.exact.get(`${system}|${code}`) ?? [])];
    const max = Math.min(this.maxPrefixLength.get(system) ?? 0, code.length);
    for (let len = 1; len <= max; len++) {
      const hit = this.prefixes.get(`${system}|${code.slice(0, len)}`);
      if (hit) out.push(...hit);
    }
    return out.length ? out : NO_MEMBERSHIPS;
  }
}

/** Shared, never to be changed; not frozen, as loops over frozen and plain arrays alike lose V8's fast path. */
const NO_MEMBERSHIPS: readonly string[] = [];
const MEMO_MAX_ENTRIES = 20_000;
const MEMO_MAX_CODE_LENGTH = 64;
const MEMO_MAX_SYSTEM_LENGTH = 256;

function push(map: Map<string, string[]>, key: string, value: string): void {
  const list = map.get(key);
  if (list) {
    if (!list.includes(value)) list.push(value);
  } else map.set(key, [value]);
}
