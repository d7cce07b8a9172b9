import type {
  Condition,
  Device,
  MedicationRequest,
  MedicationStatement,
  Observation,
  PractitionerRole,
  Procedure,
  QuestionnaireResponse,
  Resource,
  ServiceRequest,
} from 'fhir/r4.js';
import type { FactProvider } from '../engine/evaluate.js';
import { and3, not3, or3 } from '../engine/logic.js';
import type { Truth } from '../engine/types.js';
import type { RecordSource } from '../record/PatientRecord.js';
import { codingsOf } from '../fhir/codings.js';
import { readAnswers, type FindingAnswer } from './questionnaireAnswers.js';
import { knownFindingCodes } from './documentationFindings.js';
import { SYSTEMS } from '../terminology/valueSets.js';
import type { CompiledFact, Derivation, FactCatalogue, FactSource } from './catalogue.js';
import { ageInYears, daysBetween, minusMonths, toDay } from '../fhir/dates.js';
import { currentEpisode, isActiveStatus, type Episode } from './episode.js';
import { clinicalDate, conditionOnset } from './paths.js';

export type { Episode } from './episode.js';

export interface FactValue {
  readonly value: Truth;
  readonly evidence: readonly string[];
}

const UNKNOWN: FactValue = { value: null, evidence: [] };
const FALSE: FactValue = { value: false, evidence: [] };

// The resource types each source searches, once (not a new list per fact).
const CONDITION = ['Condition'];
const OBSERVATION = ['Observation'];
const MEDICATIONS = ['MedicationRequest', 'MedicationStatement'];
const DEVICE = ['Device'];
const NOTES = ['Observation', 'QuestionnaireResponse'];
const PROCEDURE = ['Procedure'];
const TREATMENTS = ['Procedure', 'MedicationRequest', 'MedicationStatement'];

interface OrderReasons {
  readonly coded: ReadonlySet<string>;
  readonly referenced: readonly { readonly resource: Resource; readonly valueSets: ReadonlySet<string> }[];
}

/**
 * Facts for one order at one date of service: each computed once, on first use, from the record's
 * value-set index; FHIRPath runs only on the few candidates a value set selects.
 */
export class FactContext implements FactProvider {
  /**
   * Each fact's value by its place in the catalogue, once computed, and the facts in the order they
   * were first asked for (a list sized once, not a map grown fact by fact).
   */
  private readonly values: (FactValue | undefined)[];
  private readonly asked: CompiledFact[] = [];
  private episodeMemo: Episode | undefined;
  private findingsMemo: Map<string, { value: boolean; date?: string; ref: string }> | undefined;
  /** The order's reasons: every diagnosis fact reads them. */
  private orderReasonsMemo: OrderReasons | undefined;

  constructor(
    private readonly catalogue: FactCatalogue,
    private readonly record: RecordSource,
    private readonly order: ServiceRequest,
    readonly dateOfService: string,
    /** Questionnaire answers for this order (decideOrder reads them, attached ones included); else the record's. */
    private readonly answers?: readonly FindingAnswer[],
  ) {
    this.values = new Array<FactValue | undefined>(catalogue.size).fill(undefined);
  }

  fact(id: string): FactValue {
    const def = this.catalogue.compiledFact(id);
    if (!def) throw new Error(`unknown fact ${id}`);
    const memo = this.values[def.index];
    if (memo) return memo;
    this.values[def.index] = UNKNOWN; // a cycle in the catalogue reads as unknown, never loops
    this.asked.push(def);
    const coded = this.derive(def.derivation);
    // Every fact reads every source: a fact with a finding code also reads the clinician's note.
    const value = def.finding ? combine([coded, this.finding(def.finding, 'unknown', 180)], or3) : coded;
    this.values[def.index] = value;
    return value;
  }

  isFixed(id: string): boolean {
    return this.catalogue.compiledFact(id)?.fixed ?? false;
  }

  pointsToPath(id: string): boolean {
    return this.catalogue.compiledFact(id)?.pointsToPath ?? false;
  }

  isSpecific(id: string): boolean {
    return this.catalogue.compiledFact(id)?.specific ?? false;
  }

  /** Every fact computed so far (for the decision record and the cache key). */
  computed(): ReadonlyMap<string, FactValue> {
    return new Map(this.asked.map((def) => [def.id, this.values[def.index] ?? UNKNOWN]));
  }

  episode(): Episode {
    this.episodeMemo ??= currentEpisode(this.record, this.catalogue.valueSets, this.dateOfService, this.orderReason('low-back-pain'));
    return this.episodeMemo;
  }

  private derive(d: Derivation): FactValue {
    switch (d.op) {
      case 'any':
        return combine(d.operands.map((x) => this.derive(x)), or3);
      case 'all':
        return combine(d.operands.map((x) => this.derive(x)), and3);
      case 'not': {
        const v = this.derive(d.operands[0]);
        return { value: not3(v.value), evidence: v.evidence };
      }
      case 'fact':
        return this.fact(d.fact);
      case 'source':
        return this.source(d.source);
    }
  }

  private source(s: FactSource): FactValue {
    switch (s.source) {
      case 'condition': {
        const hits = this.conditions(s.valueSet, s.verification, s.status, s.recentDays);
        const coded = this.found(CONDITION, hits);
        // The order's own reason is the clinician's indication now: a suspected diagnosis, never a confirmed one.
        if (coded.value === true || s.verification === 'confirmed') return coded;
        const reason = this.orderReason(s.valueSet);
        return reason.value === true ? reason : coded;
      }
      case 'observation': {
        const where = s.where ? this.catalogue.fhirpath(s.where) : undefined;
        const hits: Observation[] = [];
        for (const o of this.record.inValueSet<Observation>('Observation', s.valueSet)) {
          if (isFinal(o.status) && this.dated(clinicalDate(o), s.withinDays) && (!where || matches(where, o))) hits.push(o);
        }
        return this.found(OBSERVATION, hits);
      }
      case 'procedure': {
        const hits: { r: Resource; d: string }[] = [];
        for (const t of s.types) {
          for (const r of this.record.inValueSet(t, s.valueSet)) {
            if (!performed(r)) continue;
            const d = clinicalDate(r);
            if (d === undefined || d > this.dateOfService) continue;
            if (s.currentEpisode && !this.inCurrentEpisode(d)) continue;
            if (s.withinDays === undefined || daysBetween(d, this.dateOfService) <= s.withinDays) hits.push({ r, d });
          }
        }
        if (s.mostRecentAtLeastMonths !== undefined && hits.length > 0) {
          let latest = hits[0].d;
          for (const h of hits) if (h.d > latest) latest = h.d;
          // Calendar months, as the policies count "3 months": a year before 2024-06-12 is 2023-06-12, not 365 days.
          if (latest > minusMonths(this.dateOfService, s.mostRecentAtLeastMonths)) return FALSE;
          return this.found(s.types, hits.filter((h) => h.d === latest).map((h) => h.r));
        }
        return this.found(s.types, hits.map((h) => h.r));
      }
      case 'medication': {
        const hits: (MedicationRequest | MedicationStatement)[] = [];
        const take = (m: MedicationRequest | MedicationStatement): void => {
          if (isVoidMedication(m.status)) return;
          const d = clinicalDate(m);
          if (d !== undefined && d > this.dateOfService) return;
          if (m.status === 'active' || (d !== undefined && daysBetween(d, this.dateOfService) <= s.activeOrWithinDays)) hits.push(m);
        };
        for (const m of this.record.inValueSet<MedicationRequest>('MedicationRequest', s.valueSet)) take(m);
        for (const m of this.record.inValueSet<MedicationStatement>('MedicationStatement', s.valueSet)) take(m);
        if (s.minCourseDays !== undefined && !this.chronicCourse(hits, s.minCourseDays)) return this.absent(MEDICATIONS);
        return this.found(MEDICATIONS, hits);
      }
      case 'device':
        return this.found(
          DEVICE,
          this.record
            .inValueSet<Device>('Device', s.valueSet)
            .filter((d) => d.status === undefined || d.status === 'active'),
        );
      case 'finding':
        return this.finding(s.code, s.absent, s.withinDays);
      case 'age': {
        const birth = toDay(this.record.patient?.birthDate);
        if (!birth) return UNKNOWN;
        const age = ageInYears(birth, this.dateOfService);
        const ok =
          s.op === '<' ? age < s.years : s.op === '<=' ? age <= s.years : s.op === '>' ? age > s.years : age >= s.years;
        return { value: ok, evidence: ok ? [`Patient/${this.record.patient?.id ?? this.record.patientId}`] : [] };
      }
      case 'episode':
        return this.episodePhase(s.phase, s.days);
      case 'requester':
        return this.requester(s.valueSet);
      case 'orderReason':
        return this.orderReason(s.valueSet);
      case 'physicalTherapy':
        return this.physicalTherapy(s.withinMonths, s.minSpanDays);
      case 'conservativeCare':
        return this.conservativeCare(s.minDays);
      case 'treatmentSinceImaging':
        return this.treatmentSinceImaging(s.imaging, s.procedures, s.medications);
    }
  }

  /**
   * Treatment after the latest study of `imaging` and by the date of service: completed procedures
   * (therapy, injections, surgery) and medication orders or statements. Unknown without a dated study.
   */
  private treatmentSinceImaging(imaging: string, procedures: readonly string[], medications: readonly string[]): FactValue {
    const imagingTypes = ['Procedure', 'ImagingStudy', 'DiagnosticReport'];
    const studies = imagingTypes
      .flatMap((t) => this.record.inValueSet(t, imaging))
      .filter(performed)
      .map((r) => clinicalDate(r))
      .filter((d): d is string => d !== undefined && d <= this.dateOfService)
      .sort();
    const last = studies.at(-1);
    if (last === undefined) return UNKNOWN;
    const after = (r: Resource): boolean => {
      const d = clinicalDate(r);
      return d !== undefined && d > last && d <= this.dateOfService;
    };
    const hits: Resource[] = [
      ...procedures.flatMap((vs) => this.record.inValueSet<Procedure>('Procedure', vs)).filter((p) => performed(p) && after(p)),
      ...medications.flatMap((vs) => [
        ...this.record.inValueSet<MedicationRequest>('MedicationRequest', vs),
        ...this.record.inValueSet<MedicationStatement>('MedicationStatement', vs),
      ]).filter((m) => !isVoidMedication(m.status) && after(m)),
    ];
    return this.found(TREATMENTS, [...new Set(hits)]);
  }

  /**
   * A course of at least `minDays`: the orders span that long (first to last), or one still active
   * began that long before the date of service. A single short burst (five days of prednisone) is not.
   */
  private chronicCourse(hits: readonly (MedicationRequest | MedicationStatement)[], minDays: number): boolean {
    let first: string | undefined;
    let last: string | undefined;
    for (const m of hits) {
      const d = clinicalDate(m);
      if (d === undefined) continue;
      if (first === undefined || d < first) first = d;
      if (last === undefined || d > last) last = d;
    }
    if (first === undefined || last === undefined) return false;
    if (daysBetween(first, last) >= minDays) return true;
    return hits.some((m) => {
      const d = clinicalDate(m);
      return d !== undefined && m.status === 'active' && daysBetween(d, this.dateOfService) >= minDays;
    });
  }

  /** Conditions in a value set, filtered by clinical and verification status at the date of service. */
  private conditions(
    valueSet: string,
    verification: 'any' | 'confirmed' | 'suspected',
    status: 'active' | 'ever',
    recentDays?: number,
  ): Condition[] {
    const dos = this.dateOfService;
    const hits: Condition[] = [];
    for (const c of this.record.inValueSet<Condition>('Condition', valueSet)) {
      if (this.conditionHolds(c, dos, verification, status, recentDays)) hits.push(c);
    }
    return hits;
  }

  private conditionHolds(
    c: Condition,
    dos: string,
    verification: 'any' | 'confirmed' | 'suspected',
    status: 'active' | 'ever',
    recentDays: number | undefined,
  ): boolean {
    const v = c.verificationStatus?.coding?.[0]?.code;
    if (v === 'refuted' || v === 'entered-in-error') return false;
    const suspected = v === 'provisional' || v === 'differential' || v === 'unconfirmed';
    if (verification === 'suspected' && !suspected) return false;
    if (verification === 'confirmed' && suspected) return false;
    const onset = conditionOnset(c);
    if (onset !== undefined && onset > dos) return false;
    if (status === 'active') {
      const cs = c.clinicalStatus?.coding?.[0]?.code;
      if (cs !== undefined && !isActiveStatus(cs)) return false;
      const abated = toDay(c.abatementDateTime ?? c.abatementPeriod?.end ?? c.abatementPeriod?.start);
      if (abated !== undefined && abated <= dos) return false;
    }
    if (recentDays !== undefined && onset !== undefined && daysBetween(onset, dos) > recentDays) {
      // With history counted, a condition resolved within the window is recent (a treated infection is still the risk).
      const abated = status === 'ever' ? toDay(c.abatementDateTime ?? c.abatementPeriod?.end) : undefined;
      return abated !== undefined && abated <= dos && daysBetween(abated, dos) <= recentDays;
    }
    return true;
  }

  /** Nothing found is false only if every type searched could be read: what could not be read is unknown, not absent. */
  private absent(types: readonly string[]): FactValue {
    return types.some((t) => this.record.unavailable.has(t)) ? UNKNOWN : FALSE;
  }

  private found(types: readonly string[], hits: readonly Resource[]): FactValue {
    return hits.length ? { value: true, evidence: hits.map(ref) } : this.absent(types);
  }

  private dated(date: string | undefined, withinDays: number | undefined): boolean {
    if (date === undefined) return withinDays === undefined;
    if (date > this.dateOfService) return false;
    return withinDays === undefined || daysBetween(date, this.dateOfService) <= withinDays;
  }

  private inCurrentEpisode(date: string): boolean {
    const onset = this.episode().onset;
    return onset === undefined || date >= onset;
  }

  private episodePhase(phase: 'acute' | 'subacute' | 'chronic' | 'present' | 'over-days', days?: number): FactValue {
    const ep = this.episode();
    if (!ep.present) return this.absent(CONDITION);
    const evidence = ep.evidence;
    if (phase === 'present') return { value: true, evidence };
    if (ep.onset === undefined) {
      if (ep.chronicCoded) return { value: phase === 'chronic' || phase === 'over-days', evidence };
      return UNKNOWN;
    }
    const dos = this.dateOfService;
    const elapsed = daysBetween(ep.onset, dos);
    const chronic = ep.onset < minusMonths(dos, 3);
    let value: boolean;
    switch (phase) {
      case 'acute':
        value = elapsed <= 42 && !ep.chronicCoded;
        break;
      case 'subacute':
        value = elapsed > 42 && !chronic && !ep.chronicCoded;
        break;
      case 'chronic':
        value = chronic || ep.chronicCoded;
        break;
      case 'over-days':
        value = elapsed > (days ?? 0);
        break;
    }
    return { value, evidence: value ? evidence : [] };
  }

  /** Documentation findings: Observations in our code system, or answers to our questionnaire. */
  private finding(code: string, absent: 'unknown' | 'false', withinDays: number): FactValue {
    const all = this.findings();
    const hit = all.get(code);
    if (!hit || (hit.date !== undefined && !this.dated(hit.date, withinDays))) {
      return absent === 'false' ? this.absent(NOTES) : UNKNOWN;
    }
    return { value: hit.value, evidence: [hit.ref] };
  }

  private findings(): Map<string, { value: boolean; date?: string; ref: string }> {
    if (this.findingsMemo) return this.findingsMemo;
    const out = new Map<string, { value: boolean; date?: string; ref: string }>();
    const offer = (code: string, value: boolean, date: string | undefined, r: string): void => {
      if (date !== undefined && date > this.dateOfService) return;
      const prev = out.get(code);
      // The most recent statement wins: a later note can document a finding as resolved.
      if (!prev || (date ?? '') >= (prev.date ?? '')) out.set(code, { value, date, ref: r });
    };
    for (const o of this.record.ofType<Observation>('Observation')) {
      // Most observations are measurements: the value's type rules them out first.
      if (typeof o.valueBoolean !== 'boolean' || !isFinal(o.status)) continue;
      for (const c of codingsOf([o.code])) {
        if (c.system === SYSTEMS.finding && typeof c.code === 'string') offer(c.code, o.valueBoolean, clinicalDate(o), ref(o));
      }
    }
    // Only items whose linkId is one of our finding codes, answered with valueBoolean (src/questionnaire/answers.ts).
    const answers =
      this.answers ??
      readAnswers(
        this.record.ofType<QuestionnaireResponse>('QuestionnaireResponse').map((response) => ({ response, addressed: false })),
        knownFindingCodes(this.catalogue),
      ).answers;
    for (const a of answers) offer(a.code, a.value, a.date, a.ref);
    this.findingsMemo = out;
    return out;
  }

  /** The order's own reason (reasonCode, or a reasonReference's code) in the value set: the order and those references. */
  private orderReason(valueSet: string): FactValue {
    const { coded, referenced } = this.orderReasons();
    let evidence: string[] | undefined;
    if (coded.has(valueSet)) evidence = [`ServiceRequest/${this.order.id ?? 'draft'}`];
    for (const r of referenced) if (r.valueSets.has(valueSet)) (evidence ??= [`ServiceRequest/${this.order.id ?? 'draft'}`]).push(ref(r.resource));
    return evidence ? { value: true, evidence } : FALSE;
  }

  /** The value sets of the order's reasonCode, and each resource its reasonReference names with its code's value sets: read once. */
  private orderReasons(): OrderReasons {
    if (this.orderReasonsMemo) return this.orderReasonsMemo;
    const index = this.catalogue.valueSets;
    const valueSetsOf = (concepts: unknown): Set<string> => {
      const sets = new Set<string>();
      for (const c of codingsOf(concepts)) for (const vs of index.memberships(c)) sets.add(vs);
      return sets;
    };
    const referenced: { resource: Resource; valueSets: ReadonlySet<string> }[] = [];
    const reasons: unknown = this.order.reasonReference;
    for (const r of Array.isArray(reasons) ? (reasons as unknown[]) : []) {
      const reference = (r as { reference?: unknown } | null | undefined)?.reference;
      const resource = typeof reference === 'string' ? this.record.resolve(reference) : undefined;
      if (resource !== undefined) referenced.push({ resource, valueSets: valueSetsOf([(resource as Condition).code]) });
    }
    this.orderReasonsMemo = { coded: valueSetsOf(this.order.reasonCode ?? []), referenced };
    return this.orderReasonsMemo;
  }

  /** The requester's PractitionerRole (specialty or code), found directly or through its practitioner. */
  private requester(valueSet: string): FactValue {
    const reference: unknown = this.order.requester?.reference;
    if (typeof reference !== 'string' || !reference) return UNKNOWN;
    const roles: PractitionerRole[] = [];
    const direct = this.record.resolve<PractitionerRole>(reference);
    if (direct?.resourceType === 'PractitionerRole') roles.push(direct);
    else {
      for (const role of this.record.ofType<PractitionerRole>('PractitionerRole')) {
        const p: unknown = role.practitioner?.reference;
        if (typeof p === 'string' && p && (p === reference || p.endsWith(`/${reference}`) || reference.endsWith(`/${p}`))) roles.push(role);
      }
    }
    if (roles.length === 0) return this.record.unavailable.has('PractitionerRole') ? UNKNOWN : UNKNOWN;
    const index = this.catalogue.valueSets;
    // codingsOf takes one concept or a list, so a client's single CodeableConcept (or junk) cannot throw here.
    const hits = roles.filter((r) => [...codingsOf(r.specialty), ...codingsOf(r.code)].some((c) => index.contains(valueSet, c)));
    return hits.length ? { value: true, evidence: hits.map(ref) } : FALSE;
  }

  /**
   * At least `minSpanDays` of physical therapy within the window, in the current episode, "including
   * an initial evaluation with PT and at least one follow up": the evaluation must fall inside the
   * window. Only when the record codes no PT evaluation at all (Synthea writes none) does the first
   * session in the window stand in for it.
   */
  private physicalTherapy(withinMonths: number, minSpanDays: number): FactValue {
    const from = minusMonths(this.dateOfService, withinMonths);
    const dated = (list: readonly Procedure[]): { p: Procedure; d: string }[] =>
      list
        .filter((p) => performed(p))
        .map((p) => ({ p, d: clinicalDate(p) }))
        .filter((x): x is { p: Procedure; d: string } => x.d !== undefined && x.d <= this.dateOfService)
        .sort((a, b) => a.d.localeCompare(b.d));
    const sessions = dated(this.record.inValueSet<Procedure>('Procedure', 'physical-therapy')).filter((x) => x.d >= from && this.inCurrentEpisode(x.d));
    if (sessions.length < 2) return this.absent(PROCEDURE);
    const evaluationsCoded = dated(this.record.inValueSet<Procedure>('Procedure', 'physical-therapy-evaluation'));
    const firstEval = evaluationsCoded.length === 0 ? sessions[0] : sessions.find((s) => evaluationsCoded.some((e) => e.p === s.p));
    // An evaluation is coded, but none in the window: the course in the window has no initial evaluation.
    if (firstEval === undefined) return FALSE;
    const followUps = sessions.filter((s) => s.d > firstEval.d);
    if (followUps.length === 0) return FALSE;
    const last = followUps[followUps.length - 1];
    if (daysBetween(firstEval.d, last.d) < minSpanDays) return FALSE;
    return { value: true, evidence: sessions.filter((s) => s.d >= firstEval.d).map((s) => ref(s.p)) };
  }

  /** From the first conservative treatment of this episode (therapy or medication) to the date of service. */
  private conservativeCare(minDays: number): FactValue {
    const treatments: Resource[] = [
      ...this.record.inValueSet('Procedure', 'physical-therapy').filter(performed),
      ...this.record.inValueSet('MedicationRequest', 'conservative-medication'),
      ...this.record.inValueSet('MedicationStatement', 'conservative-medication'),
    ];
    const dated = treatments
      .map((r) => ({ r, d: clinicalDate(r) }))
      .filter((x): x is { r: Resource; d: string } => x.d !== undefined && x.d <= this.dateOfService)
      .filter((x) => this.inCurrentEpisode(x.d))
      .sort((a, b) => a.d.localeCompare(b.d));
    if (dated.length === 0) return this.absent(TREATMENTS);
    const ok = daysBetween(dated[0].d, this.dateOfService) >= minDays;
    return ok ? { value: true, evidence: dated.slice(0, 5).map((x) => ref(x.r)) } : this.absent(TREATMENTS);
  }
}

function isFinal(status: unknown): boolean {
  return status === 'final' || status === 'amended' || status === 'corrected';
}

function isVoidMedication(status: unknown): boolean {
  return status === 'entered-in-error' || status === 'cancelled' || status === 'not-taken' || status === 'draft';
}

function performed(r: Resource): boolean {
  const status = (r as { status?: string }).status;
  if (r.resourceType === 'Procedure') return status === 'completed';
  if (r.resourceType === 'ImagingStudy') return status !== 'cancelled' && status !== 'entered-in-error';
  if (r.resourceType === 'DiagnosticReport') return status !== 'cancelled' && status !== 'entered-in-error';
  return true;
}

function ref(r: Resource): string {
  return `${r.resourceType}/${r.id ?? 'unidentified'}`;
}

/**
 * A `where` filter on one candidate. FHIRPath throws (not always an Error) on data of the wrong
 * shape, e.g. a valueQuantity.value that is an object: that candidate does not match, and the
 * request goes on.
 */
function matches(where: (r: unknown) => unknown[], resource: unknown): boolean {
  try {
    return truthy(where(resource));
  } catch {
    return false;
  }
}

function truthy(result: unknown[]): boolean {
  return result.length > 0 && result.every((x) => x === true);
}

/** `op` over the values; when true, the evidence of the true ones, each once, in order. */
function combine(values: readonly FactValue[], op: (v: Truth[]) => Truth): FactValue {
  const value = op(values.map((v) => v.value));
  if (value !== true) return value === null ? UNKNOWN : FALSE;
  let only: readonly string[] | undefined;
  let trueCount = 0;
  for (const v of values) {
    if (v.value !== true) continue;
    trueCount++;
    only = v.evidence;
  }
  // One true value with at most one piece of evidence: its list as it is (nothing to merge or repeat).
  if (trueCount === 1 && only !== undefined && only.length <= 1) return { value, evidence: only };
  return { value, evidence: distinctEvidence(values) };
}

/** Evidence of the true values, first occurrence kept: a search of a short list, a Set past a few dozen. */
function distinctEvidence(values: readonly FactValue[]): string[] {
  const out: string[] = [];
  let seen: Set<string> | undefined;
  for (const v of values) {
    if (v.value !== true) continue;
    for (const e of v.evidence) {
      if (seen ? seen.has(e) : out.includes(e)) continue;
      out.push(e);
      if (seen) seen.add(e);
      else if (out.length > 32) seen = new Set(out);
    }
  }
  return out;
}
