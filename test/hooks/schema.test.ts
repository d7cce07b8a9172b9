/**
 * The hook request's FHIR content is checked in plain code for the common case and by its zod shape
 * for the words of an issue (src/hooks/schema.ts): the two must agree on every value, or a value
 * the shape refuses would pass unchecked.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bundleShape, isBundleShaped, isResourceShaped, resourceShape } from '../../src/hooks/schema.js';

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
