/** Calendar arithmetic on FHIR dates at day precision (UTC), which is what the policies count in. */

const DAY_MS = 86_400_000;

/** `YYYY`, `YYYY-MM`, `YYYY-MM-DD` or a dateTime to `YYYY-MM-DD` (partial dates take the first day). */
export function toDay(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  // Most values start with their year: read by character, without a match or a trimmed copy.
  if (isDigit(value, 0)) return dayOfDigits(value);
  const m = /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?/.exec(value.trim());
  if (!m) return undefined;
  // Checked by arithmetic, not through a Date (this runs for every dated resource): impossible
  // calendar dates such as 2024-02-31 or month 13 are none.
  const month = m[2] === undefined ? 1 : Number(m[2]);
  const dayOfMonth = m[3] === undefined ? 1 : Number(m[3]);
  if (month < 1 || month > 12 || dayOfMonth < 1 || dayOfMonth > daysInMonth(Number(m[1]), month)) return undefined;
  return `${m[1]}-${m[2] ?? '01'}-${m[3] ?? '01'}`;
}

/** toDay of a value whose first character is a digit (nothing to trim before it; what follows the date is never read). */
function dayOfDigits(value: string): string | undefined {
  if (!(isDigit(value, 1) && isDigit(value, 2) && isDigit(value, 3))) return undefined;
  const hasMonth = value.charCodeAt(4) === DASH && isDigit(value, 5) && isDigit(value, 6);
  const hasDay = hasMonth && value.charCodeAt(7) === DASH && isDigit(value, 8) && isDigit(value, 9);
  const month = hasMonth ? twoDigits(value, 5) : 1;
  const dayOfMonth = hasDay ? twoDigits(value, 8) : 1;
  if (month < 1 || month > 12 || dayOfMonth < 1 || dayOfMonth > daysInMonth(fourDigits(value, 0), month)) return undefined;
  if (hasDay) return value.length === 10 ? value : value.slice(0, 10);
  return hasMonth ? `${value.slice(0, 7)}-01` : `${value.slice(0, 4)}-01-01`;
}

const DASH = 45;

function isDigit(s: string, i: number): boolean {
  const c = s.charCodeAt(i);
  return c >= 48 && c <= 57;
}

function twoDigits(s: string, i: number): number {
  return (s.charCodeAt(i) - 48) * 10 + (s.charCodeAt(i + 1) - 48);
}

function fourDigits(s: string, i: number): number {
  return twoDigits(s, i) * 100 + twoDigits(s, i + 2);
}

/** A `YYYY-MM-DD` shape (digits and dashes; not checked against the calendar). */
function isDayShape(s: string): boolean {
  return (
    s.length === 10 &&
    s.charCodeAt(4) === DASH &&
    s.charCodeAt(7) === DASH &&
    isDigit(s, 0) && isDigit(s, 1) && isDigit(s, 2) && isDigit(s, 3) && isDigit(s, 5) && isDigit(s, 6) && isDigit(s, 8) && isDigit(s, 9)
  );
}

/** Days in a month of the proleptic Gregorian calendar (month 1-12). */
function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil), month 1-12. */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}

export function dayNumber(day: string): number {
  // A calendar day (every day toDay gives) by arithmetic, without parsing a Date; anything else as Date.parse reads it.
  if (isDayShape(day)) {
    const year = fourDigits(day, 0);
    const month = twoDigits(day, 5);
    const dayOfMonth = twoDigits(day, 8);
    if (month >= 1 && month <= 12 && dayOfMonth >= 1 && dayOfMonth <= daysInMonth(year, month)) return daysFromCivil(year, month, dayOfMonth);
  }
  return Math.floor(Date.parse(`${day}T00:00:00Z`) / DAY_MS);
}

/** Whole days from `earlier` to `later` (negative when `earlier` is after `later`). */
export function daysBetween(earlier: string, later: string): number {
  return dayNumber(later) - dayNumber(earlier);
}

export function addDays(day: string, days: number): string {
  return new Date((dayNumber(day) + days) * DAY_MS).toISOString().slice(0, 10);
}

/** Calendar months back, clamped to the month's last day (2024-05-31 minus 3 months = 2024-02-29). */
export function minusMonths(day: string, months: number): string {
  if (!isDayShape(day) || !Number.isInteger(months)) return minusMonthsOf(day.split('-').map(Number), months);
  const total = fourDigits(day, 0) * 12 + (twoDigits(day, 5) - 1) - months;
  const year = Math.floor(total / 12);
  const month = total - year * 12 + 1;
  // Date.UTC reads years 0-99 as 1900-1999: those keep its reading.
  if (year < 1000 || year > 9999) return minusMonthsOf([fourDigits(day, 0), twoDigits(day, 5), twoDigits(day, 8)], months);
  const dayOfMonth = Math.min(twoDigits(day, 8), daysInMonth(year, month));
  return `${year}-${TWO_DIGITS[month]}-${TWO_DIGITS[dayOfMonth]}`;
}

/** `01` to `31`, by number. */
const TWO_DIGITS: readonly string[] = Array.from({ length: 32 }, (_, i) => String(i).padStart(2, '0'));

/** minusMonths of any year, or of what is not a `YYYY-MM-DD` (as `split('-')` reads it), through a Date. */
function minusMonthsOf([y, m, d]: readonly number[], months: number): string {
  const total = y * 12 + (m - 1) - months;
  const ny = Math.floor(total / 12);
  const nm = total - ny * 12;
  const last = new Date(Date.UTC(ny, nm + 1, 0)).getUTCDate();
  return `${String(ny).padStart(4, '0')}-${String(nm + 1).padStart(2, '0')}-${String(Math.min(d, last)).padStart(2, '0')}`;
}

/** Age in completed years at a date. */
export function ageInYears(birthDate: string, at: string): number {
  if (!isDayShape(birthDate) || !isDayShape(at)) return ageOf(birthDate.split('-').map(Number), at.split('-').map(Number));
  let age = fourDigits(at, 0) - fourDigits(birthDate, 0);
  // Month and day as one number: MMDD.
  if (twoDigits(at, 5) * 100 + twoDigits(at, 8) < twoDigits(birthDate, 5) * 100 + twoDigits(birthDate, 8)) age--;
  return age;
}

function ageOf([by, bm, bd]: readonly number[], [ay, am, ad]: readonly number[]): number {
  let age = ay - by;
  if (am < bm || (am === bm && ad < bd)) age--;
  return age;
}

export function todayUtc(now: Date = new Date()): string {
  return now.toISOString().slice(0, 10);
}
