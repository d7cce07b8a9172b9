/**
 * The hook request's FHIR content is checked in plain code for the common case and by its zod shape
 * for the words of an issue (src/hooks/schema.ts): the two must agree on every value, or a value
 * the shape refuses would pass unchecked.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bundleShape, hookRequestSchema, isBundleShaped, isHookRequestShaped, isResourceShaped, parseHookRequest, resourceShape } from '../../src/hooks/schema.js';

const resourceType = fc.oneof(fc.constantFrom('Bundle', 'Patient', '', 'x'.repeat(64), 'x'.repeat(65)), fc.string({ maxLength: 70 }), fc.integer(), fc.constant(null));
const resource = fc.oneof(
  fc.record({ resourceType }, { requiredKeys: [] }),
  fc.record({ resourceType, id: fc.string() }),
  fc.jsonValue(),
  fc.constant(undefined),
  fc.array(fc.record({ resourceType })),
);
const entry = fc.oneof(
  { arbitrary: fc.record({ resource: fc.record({ resourceType: fc.constantFrom('Patient', 'Observation') }) }), weight: 4 },
  fc.record({ resource }, { requiredKeys: [] }),
  fc.record({ fullUrl: fc.string(), resource }),
  fc.jsonValue(),
);
const bundle = fc.oneof(
  { arbitrary: fc.record({ resourceType: fc.constant('Bundle'), type: fc.constant('searchset'), entry: fc.array(entry, { maxLength: 4 }) }), weight: 3 },
  fc.record({ resourceType: fc.oneof(fc.constant('Bundle'), resourceType), entry: fc.oneof(fc.array(entry, { maxLength: 4 }), fc.jsonValue(), fc.constant(undefined)) }, { requiredKeys: ['resourceType'] }),
  resource,
);

describe('the FHIR shapes of a hook request', () => {
  it('a resource: plain code and zod agree', () => {
    const agree = fc.property(resource, (v) => {
      expect(isResourceShaped(v)).toBe(resourceShape.safeParse(v).success);
    });
    fc.assert(agree, { numRuns: 5000 });
  });

  it('a Bundle and its entries: plain code and zod agree', () => {
    const agree = fc.property(bundle, (v) => {
      expect(isBundleShaped(v)).toBe(bundleShape.safeParse(v).success);
    });
    fc.assert(agree, { numRuns: 5000 });
    // A hole in the entries (not JSON, but a value in process) is refused by both.
    const holed: unknown[] = [{ resource: { resourceType: 'Patient' } }];
    holed.length = 2;
    expect(isBundleShaped({ resourceType: 'Bundle', entry: holed })).toBe(false);
    expect(bundleShape.safeParse({ resourceType: 'Bundle', entry: holed }).success).toBe(false);
  });
});

/** A value of `good` most of the time, else anything JSON (or absent): mostly valid requests, each field broken in turn. */
const mostly = <T>(good: fc.Arbitrary<T>) => fc.oneof({ arbitrary: good, weight: 40 }, fc.jsonValue(), fc.constant(undefined));
const text = (min: number, max: number) => fc.oneof({ arbitrary: fc.string({ minLength: min, maxLength: Math.min(max, 12) }), weight: 12 }, fc.constantFrom('', 'x'.repeat(max), 'x'.repeat(max + 1)));
const url = fc.oneof({ arbitrary: fc.constant('https://ehr.example.org/fhir'), weight: 8 }, fc.constantFrom('http://localhost:8080/r4', 'ftp://x.org/fhir', 'not a url', `https://x.org/${'p'.repeat(2030)}`, `https://x.org/${'p'.repeat(2040)}`));
const authorization = fc.record(
  { access_token: mostly(text(1, 20)), token_type: mostly(text(0, 8)), expires_in: mostly(fc.integer()), scope: mostly(fc.string()), subject: mostly(fc.string()), patient: mostly(fc.string()) },
  { requiredKeys: [] },
);
const hookRequest = fc.record(
  {
    hook: mostly(fc.constantFrom('order-sign', 'order-select', '')),
    hookInstance: mostly(text(0, 256)),
    fhirServer: mostly(url),
    fhirAuthorization: mostly(authorization),
    context: mostly(
      fc.record(
        {
          userId: mostly(text(0, 512)),
          patientId: mostly(text(0, 256)),
          encounterId: mostly(text(0, 256)),
          selections: mostly(fc.array(mostly(text(0, 512)), { maxLength: 3 })),
          draftOrders: mostly(bundle),
        },
        { requiredKeys: ['userId', 'patientId', 'draftOrders'] },
      ),
    ),
    prefetch: mostly(fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(resource, fc.constant(null)), { maxKeys: 4 })),
    extension: mostly(fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue(), { maxKeys: 2 })),
    unknownField: fc.jsonValue(),
  },
  { requiredKeys: ['hook', 'hookInstance', 'context'] },
);

describe('the hook request as a whole', () => {
  it('plain code and zod agree on what conforms', () => {
    let conforming = 0;
    const agree = fc.property(hookRequest, (v) => {
      const accepted = hookRequestSchema.safeParse(v).success;
      expect(isHookRequestShaped(v)).toBe(accepted);
      if (accepted) conforming++;
    });
    fc.assert(agree, { numRuns: 10_000 });
    // The generator reaches both sides: the agreement is not all refusals.
    expect(conforming).toBeGreaterThan(150);
  });

  it('a conforming request reads the same through either path: what zod would give, field by field', () => {
    const agree = fc.property(hookRequest, (v) => {
      const parsed = hookRequestSchema.safeParse(v);
      if (!parsed.success || (v.hook !== 'order-sign' && v.hook !== 'order-select') || (v.hook === 'order-select' && !Array.isArray((v.context as { selections?: unknown }).selections))) return;
      expect(parseHookRequest(v, v.hook)).toEqual({ ...parsed.data, hook: v.hook });
    });
    fc.assert(agree, { numRuns: 5000 });
  });
});

