/**
 * Serving a fixture "as of" a date: every date in a CDS Hooks request file moves by the same
 * number of days, so that its case's date of service (the draft order's) falls on the chosen day.
 * A client that sends no date of its own (the CDS Hooks sandbox judges at today) then sees the
 * patient as the case table does: onsets, durations, ages and coverage periods keep their spacing.
 */
import type { ServiceRequest } from 'fhir/r4.js';
import { dateOfService } from '../../src/decision/decideOrder.js';
import { addDays, toDay } from '../../src/fhir/dates.js';

/** A FHIR date, dateTime or instant that names a day (YYYY-MM-DD, with or without a time). */
const DAY = /^(\d{4}-\d{2}-\d{2})(T.*)?$/;

/** One value moved by `days`, its time of day and zone kept; anything else (not a real day) unchanged. */
export function shiftDay(value: string, days: number): string {
  const m = DAY.exec(value);
  const day = m ? toDay(m[1]) : undefined;
  return m && day ? addDays(day, days) + (m[2] ?? '') : value;
}

/** A copy of `json` with every day-precision date string moved by `days`. */
export function shiftAllDates<T>(json: T, days: number): T {
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return shiftDay(v, days);
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(json) as T;
}

/** The case's date of service: that of the request's first draft ServiceRequest, if it has one. */
export function caseDateOfService(request: { context: { draftOrders?: unknown } }): string | undefined {
  const bundle = request.context.draftOrders;
  if (!bundle || typeof bundle !== 'object' || !('entry' in bundle) || !Array.isArray(bundle.entry)) return undefined;
  for (const e of bundle.entry as unknown[]) {
    const r = e && typeof e === 'object' && 'resource' in e ? e.resource : undefined;
    if (r && typeof r === 'object' && 'resourceType' in r && r.resourceType === 'ServiceRequest') {
      // The sentinel tells "no date on the order" apart from a dated one.
      const day = dateOfService(r as ServiceRequest, 'none');
      return day === 'none' ? undefined : day;
    }
  }
  return undefined;
}
