import { describe, expect, it } from 'vitest';
import { toDay } from '../../src/fhir/dates.js';

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
