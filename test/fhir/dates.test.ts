import { describe, expect, it } from 'vitest';
import { addDays, ageInYears, dayNumber, minusMonths, toDay } from '../../src/fhir/dates.js';

describe('toDay', () => {
  it('takes the day of a date, a partial date or a dateTime', () => {
    expect(toDay('2024-06-12')).toBe('2024-06-12');
    expect(toDay(' 2024-06-12T23:59:59-08:00 ')).toBe('2024-06-12');
    expect(toDay('2024-06')).toBe('2024-06-01');
    expect(toDay('2024')).toBe('2024-01-01');
  });

  it('rejects impossible calendar dates, leap years by the Gregorian rule', () => {
    expect(toDay('2024-02-29')).toBe('2024-02-29');
    expect(toDay('2000-02-29')).toBe('2000-02-29');
    expect(toDay('2023-02-29')).toBeUndefined();
    expect(toDay('1900-02-29')).toBeUndefined();
    expect(toDay('2024-04-31')).toBeUndefined();
    expect(toDay('2024-12-31')).toBe('2024-12-31');
    expect(toDay('2024-13-01')).toBeUndefined();
    expect(toDay('2024-00')).toBeUndefined();
    expect(toDay('2024-05-00')).toBeUndefined();
  });

  it('is none for what is not a date', () => {
    expect(toDay(undefined)).toBeUndefined();
    expect(toDay(20240612)).toBeUndefined();
    expect(toDay('June 2024')).toBeUndefined();
  });
});

describe('day arithmetic without Date objects', () => {
  it('numbers every calendar day as Date.parse does, 1600 to 2400', () => {
    const wrong: string[] = [];
    for (let t = Date.UTC(1600, 0, 1); t <= Date.UTC(2400, 11, 31); t += 86_400_000) {
      const day = new Date(t).toISOString().slice(0, 10);
      if (dayNumber(day) !== t / 86_400_000) wrong.push(day);
    }
    expect(wrong).toEqual([]);
  });

  it('leaves what is not a calendar day to Date.parse', () => {
    expect(dayNumber('2024-02-30')).toBe(Math.floor(Date.parse('2024-02-30T00:00:00Z') / 86_400_000));
    expect(dayNumber('June 2024')).toBeNaN();
  });

  it('counts calendar months back, clamped to the end of the month', () => {
    expect(minusMonths('2024-05-31', 3)).toBe('2024-02-29');
    expect(minusMonths('2023-05-31', 3)).toBe('2023-02-28');
    expect(minusMonths('2024-06-12', 12)).toBe('2023-06-12');
    expect(minusMonths('2024-01-15', 1)).toBe('2023-12-15');
    expect(minusMonths(addDays('2024-01-01', 0), 0)).toBe('2024-01-01');
  });

  it('counts completed years of age, a birthday on the day counting', () => {
    expect(ageInYears('1954-06-12', '2024-06-12')).toBe(70);
    expect(ageInYears('1954-06-13', '2024-06-12')).toBe(69);
    expect(ageInYears('1954-07-01', '2024-06-12')).toBe(69);
    expect(ageInYears('2000-02-29', '2024-02-28')).toBe(23);
  });
});
