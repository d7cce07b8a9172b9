/**
 * The prefetch bytes the decision-cache key hashes: exactly the member's value as sent, and nothing
 * when the body is ambiguous (the member twice, an escaped top-level name), so a key can never
 * stand for bytes other than those JSON.parse read.
 */
import { describe, expect, it } from 'vitest';
import { rawMember } from '../../src/hooks/rawMember.js';

const member = (json: string, name = 'prefetch'): string | undefined => {
  const raw = rawMember(Buffer.from(json), name);
  return raw === undefined ? undefined : Buffer.from(raw).toString();
};

describe('rawMember', () => {
  it('gives the bytes of a top-level member whatever its place and its neighbours hold', () => {
    expect(member('{"hook":"order-sign","prefetch":{"a":[1,{"prefetch":2}],"s":"}\\"],{"},"x":1}')).toBe('{"a":[1,{"prefetch":2}],"s":"}\\"],{"}');
    expect(member('{"prefetch": {"p": null} }')).toBe(' {"p": null} ');
    expect(member('{"context":{"prefetch":"nested"},"prefetch":null}')).toBe('null');
    expect(member('{"a":"\\\\","prefetch":[1]}')).toBe('[1]');
  });

  it('parses to the value JSON.parse gives the member', () => {
    const body = JSON.stringify({ hook: 'order-sign', context: { patientId: 'p' }, prefetch: { patient: { resourceType: 'Patient', name: [{ text: 'a "quoted" } name' }] } } });
    expect(JSON.parse(member(body) as string)).toEqual(JSON.parse(body).prefetch);
  });

  it('gives nothing when it is absent, twice, or a top-level name has an escape', () => {
    expect(member('{"hook":"order-sign"}')).toBeUndefined();
    expect(member('{"prefetch":{"a":1},"prefetch":{"a":2}}')).toBeUndefined();
    // JSON.parse reads the second as "prefetch": the bytes of the first are not what it kept.
    expect(member('{"prefetch":{"a":1},"pre\\u0066etch":{"a":2}}')).toBeUndefined();
    expect(member('[{"prefetch":1}]')).toBeUndefined();
    expect(member('{"prefetch":{"a":1}')).toBeUndefined();
  });
});
