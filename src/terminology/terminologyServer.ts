import type { Parameters, Resource } from 'fhir/r4.js';
import { codingsOf } from '../fhir/codings.js';
import { canonicalSystem, SYSTEMS, valueSetOid, type FhirValueSet, type ValueSetIndex } from './valueSets.js';

/** What `refine` needs of a patient record (record/PatientRecord implements it): declared here, by its user. */
export interface RefinableRecord {
  ofType<T extends Resource = Resource>(type: string): readonly T[];
  learnMembership(coding: { readonly system: string; readonly code: string }, valueSetId: string): void;
}

/**
 * Optional membership check against a FHIR terminology server (`TERMINOLOGY_SERVER_URL`): local
 * value sets list the descendants real data has sent so far; a server that holds the published
 * value set (VSAC, by OID) also knows the ones it has not. Asked only for SNOMED CT and RxNorm codes
 * of diagnoses and drugs that no local set holds, with a short timeout; answers are cached; when the
 * server is absent, slow or down, the local expansions decide alone.
 */
export interface TerminologyServerOptions {
  readonly baseUrl: string;
  readonly timeoutMs?: number;
  readonly cacheTtlMs?: number;
  readonly maxCacheEntries?: number;
  /** At most this many `$validate-code` calls per request (the rest are left to the local sets). */
  readonly maxCallsPerRecord?: number;
  /** After a failure, the server is not asked again for this long. */
  readonly backoffMs?: number;
}

/** The canonical URL a published value set is asked by (VSAC's FHIR API). */
export function publishedValueSetUrl(vs: FhirValueSet): string | undefined {
  const oid = valueSetOid(vs);
  return oid ? `http://cts.nlm.nih.gov/fhir/ValueSet/${oid}` : undefined;
}

const ASKED_SYSTEMS: ReadonlySet<string> = new Set([SYSTEMS.snomed, SYSTEMS.rxnorm]);
const ASKED_TYPES = ['Condition', 'MedicationRequest', 'MedicationStatement'];

export class TerminologyServer {
  private readonly cache = new Map<string, { member: boolean; at: number }>();
  private downUntil = 0;
  readonly baseUrl: string;

  constructor(private readonly opts: TerminologyServerOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
  }

  /** `ValueSet/$validate-code`: true or false, or undefined when the server could not say. */
  async validateCode(valueSetUrl: string, system: string, code: string): Promise<boolean | undefined> {
    const key = `${valueSetUrl}|${system}|${code}`;
    const now = Date.now();
    const hit = this.cache.get(key);
    if (hit && now - hit.at < (this.opts.cacheTtlMs ?? 24 * 3600_000)) return hit.member;
    if (now < this.downUntil) return undefined;
    const url = `${this.baseUrl}/ValueSet/$validate-code?${new URLSearchParams({ url: valueSetUrl, system, code })}`;
    try {
      const res = await fetch(url, { headers: { accept: 'application/fhir+json' }, signal: AbortSignal.timeout(this.opts.timeoutMs ?? 800) });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const body = (await res.json()) as Parameters;
      const result = body?.resourceType === 'Parameters' ? body.parameter?.find((p) => p.name === 'result')?.valueBoolean : undefined;
      if (typeof result !== 'boolean') throw new Error('no result parameter');
      if (this.cache.size >= (this.opts.maxCacheEntries ?? 50_000)) this.cache.delete(this.cache.keys().next().value as string);
      this.cache.set(key, { member: result, at: now });
      return result;
    } catch {
      this.downUntil = Date.now() + (this.opts.backoffMs ?? 60_000);
      return undefined;
    }
  }

  /**
   * Adds to the record the memberships the server confirms for codes no local set holds. Returns the
   * number of memberships learnt.
   */
  async refine(record: RefinableRecord, index: ValueSetIndex): Promise<number> {
    const candidates = new Map<string, { system: string; code: string }>();
    for (const type of ASKED_TYPES) {
      for (const r of record.ofType(type)) {
        const concept = type === 'Condition' ? (r as { code?: unknown }).code : (r as { medicationCodeableConcept?: unknown }).medicationCodeableConcept;
        for (const c of codingsOf([concept])) {
          const system = canonicalSystem(typeof c.system === 'string' ? c.system : undefined);
          if (!ASKED_SYSTEMS.has(system) || typeof c.code !== 'string' || !c.code) continue;
          if (index.memberships({ system, code: c.code }).length > 0) continue;
          candidates.set(`${system}|${c.code}`, { system, code: c.code });
        }
      }
    }
    let calls = 0;
    let learnt = 0;
    const budget = this.opts.maxCallsPerRecord ?? 40;
    for (const { system, code } of candidates.values()) {
      for (const vs of index.resources) {
        const url = publishedValueSetUrl(vs);
        if (!url || !vs.compose.include.some((inc) => canonicalSystem(inc.system) === system)) continue;
        if (calls++ >= budget) return learnt;
        if ((await this.validateCode(url, system, code)) === true) {
          record.learnMembership({ system, code }, vs.id);
          learnt++;
        }
      }
    }
    return learnt;
  }
}
