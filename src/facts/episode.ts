import type { Coding, Condition, Encounter, Resource } from 'fhir/r4.js';
import type { RecordSource } from '../record/PatientRecord.js';
import { conceptHasCoding, someCoding } from '../fhir/codings.js';
import type { ValueSetIndex } from '../terminology/valueSets.js';
import { minusMonths, toDay } from '../fhir/dates.js';
import { clinicalDate } from './paths.js';

/**
 * The current episode of back pain, as a clinician reads a problem list (interpretation of "for
 * current episode of back pain", "remote past history of physical therapy does not qualify" and
 * "onset within past 6 weeks"; the words are in cds-services/common/facts.json, fact `low-back-pain`):
 * - back pain activity is a low back pain (or ankylosing spondylitis) Condition dated by its onset or
 *   recorded date, or an Encounter whose reasonCode or diagnosis is one;
 * - activity more than `EPISODE_GAP_MONTHS` after the previous activity starts a new episode, and so
 *   does activity after a back pain Condition was resolved or abated;
 * - degenerative diagnoses (disc degeneration, spondylosis, stenosis, disc displacement) date the
 *   disease, not the pain: they never date an episode;
 * - a red-flag condition of the spine (cauda equina, spine infection, vertebral fracture) is activity:
 *   after a dormant history it dates a new episode;
 * - the current episode is the latest; its onset is its first activity.
 */
export const EPISODE_GAP_MONTHS = 6;

export interface Episode {
  readonly present: boolean;
  /** Onset of the current episode, when dated. */
  readonly onset?: string;
  /** A chronic low back pain code in the current episode (or undated) says chronic even without an onset date. */
  readonly chronicCoded: boolean;
  readonly evidence: readonly string[];
}

interface Activity {
  readonly date: string;
  readonly resource: Resource;
  /** An ankylosing spondylitis diagnosis names the cause of pain already present: it continues an episode, never starts one after a gap. */
  readonly continuesOnly: boolean;
}

export function currentEpisode(
  record: RecordSource,
  valueSets: ValueSetIndex,
  dateOfService: string,
  orderReason: { readonly value: boolean | null; readonly evidence: readonly string[] },
): Episode {
  const usable = (c: Condition): boolean => {
    const v = c.verificationStatus?.coding?.[0]?.code;
    if (v === 'refuted' || v === 'entered-in-error') return false;
    const d = clinicalDate(c);
    return d === undefined || d <= dateOfService;
  };
  const closedAt = (c: Condition): string | undefined => {
    const abated = toDay(c.abatementDateTime ?? c.abatementPeriod?.end ?? c.abatementPeriod?.start);
    if (abated !== undefined && abated <= dateOfService) return abated;
    const cs = c.clinicalStatus?.coding?.[0]?.code;
    if (cs !== undefined && !isActiveStatus(cs)) return clinicalDate(c) ?? '0000-01-01';
    return undefined;
  };
  const lowBackPain = record.inValueSet<Condition>('Condition', 'low-back-pain');
  const spondylitis = new Set(record.inValueSet<Condition>('Condition', 'ankylosing-spondylitis'));
  // A condition in both sets is one condition.
  const painConditions: Condition[] = [];
  for (const c of lowBackPain) if (usable(c)) painConditions.push(c);
  for (const c of spondylitis) if (!lowBackPain.includes(c) && usable(c)) painConditions.push(c);
  const degenerative = new Set(record.inValueSet<Condition>('Condition', 'degenerative-spine'));
  const active: Condition[] = [];
  // The last time a back pain episode was closed: visits up to that day belong to the closed episode.
  let lastClosed: string | undefined;
  for (const c of painConditions) {
    const closed = closedAt(c);
    if (closed === undefined) active.push(c);
    else if (lastClosed === undefined || closed > lastClosed) lastClosed = closed;
  }

  const activity: Activity[] = [];
  const offer = (resource: Resource, date: string | undefined, continuesOnly = false): void => {
    if (date === undefined || date > dateOfService) return;
    // Visits up to a resolution belong to the closed episode; a Condition still active is its own evidence.
    if (resource.resourceType !== 'Condition' && lastClosed !== undefined && date <= lastClosed) return;
    activity.push({ date, resource, continuesOnly });
  };
  const datingPain = active.filter((c) => !degenerative.has(c) || isAlsoPain(c, valueSets));
  for (const c of datingPain) offer(c, clinicalDate(c), spondylitis.has(c) && !isAlsoPain(c, valueSets));
  for (const c of record.inValueSet<Condition>('Condition', 'spine-red-flag')) {
    if (usable(c) && closedAt(c) === undefined) offer(c, clinicalDate(c));
  }
  const isPain = (coding: Coding): boolean => isPainCoding(valueSets, coding);
  const isPainReference = (r: unknown): boolean => {
    const reference = (r as { reference?: unknown } | undefined)?.reference;
    const c = typeof reference === 'string' ? record.resolve<Condition>(reference) : undefined;
    return c?.resourceType === 'Condition' && !degenerative.has(c) && conceptHasCoding(c.code, isPain);
  };
  for (const e of record.ofType<Encounter>('Encounter')) {
    if (e.status === 'cancelled' || e.status === 'entered-in-error') continue;
    if (encounterIsForPain(e, isPain, isPainReference)) offer(e, clinicalDate(e));
  }
  activity.sort((a, b) => a.date.localeCompare(b.date));

  // Walk forward: a gap of more than EPISODE_GAP_MONTHS starts a new episode.
  let start = 0;
  for (let i = 1; i < activity.length; i++) {
    if (!activity[i].continuesOnly && activity[i - 1].date < minusMonths(activity[i].date, EPISODE_GAP_MONTHS)) start = i;
  }
  const current = activity.slice(start);
  // Pain on the problem list with no date at all cannot be placed: the episode's onset is then unknown.
  const undated = datingPain.some((c) => clinicalDate(c) === undefined);
  const onset = undated ? undefined : current[0]?.date;
  const inEpisode = (c: Condition): boolean => {
    const d = clinicalDate(c);
    return d === undefined || onset === undefined || d >= onset;
  };
  const chronicCoded = record.inValueSet<Condition>('Condition', 'chronic-low-back-pain').some((c) => usable(c) && closedAt(c) === undefined && inEpisode(c));
  // Each resource once: the current pain conditions, then the episode's activity; then the order's reason.
  const cited = new Set<string>();
  for (const c of active) if (inEpisode(c)) cited.add(ref(c));
  for (const a of current) cited.add(ref(a.resource));
  const evidence = [...cited];
  for (const e of orderReason.evidence) evidence.push(e);
  return {
    present: active.length > 0 || orderReason.value === true || current.some((a) => a.resource.resourceType === 'Encounter'),
    onset,
    chronicCoded,
    evidence,
  };
}

/** A Condition clinical status that is current (the facts read it too). */
export function isActiveStatus(status: unknown): boolean {
  return status === 'active' || status === 'recurrence' || status === 'relapse';
}

/** A degenerative code that is also a pain code of its own (e.g. a disc disorder with radiculopathy) still dates pain. */
function isAlsoPain(c: Condition, valueSets: ValueSetIndex): boolean {
  return conceptHasCoding(c.code, (coding) => {
    const sets = valueSets.memberships(coding);
    return sets.includes('low-back-pain') && !sets.includes('degenerative-spine');
  });
}

function isPainCoding(valueSets: ValueSetIndex, coding: Coding): boolean {
  const sets = valueSets.memberships(coding);
  return (sets.includes('low-back-pain') || sets.includes('ankylosing-spondylitis')) && !sets.includes('degenerative-spine');
}

/** An encounter for back pain: a pain reason code, else a reason or diagnosis that is a pain Condition (not a degenerative one). */
function encounterIsForPain(e: Encounter, isPain: (coding: Coding) => boolean, isPainReference: (reference: unknown) => boolean): boolean {
  if (someCoding(e.reasonCode, isPain)) return true;
  // Its reasons first, then its diagnoses.
  const reasons: unknown = e.reasonReference;
  if (Array.isArray(reasons) && reasons.some(isPainReference)) return true;
  const diagnoses: unknown = e.diagnosis;
  return Array.isArray(diagnoses) && (diagnoses as unknown[]).some((d) => isPainReference((d as { condition?: unknown } | null | undefined)?.condition));
}

function ref(r: Resource): string {
  return `${r.resourceType}/${r.id ?? 'unidentified'}`;
}
