import { createHash } from 'node:crypto';
import type { ServiceRequest } from 'fhir/r4.js';
import { describe, expect, it } from 'vitest';
import { consultId, PAMA_CONSULT_ID_URL, PAMA_RATING_URL, withRatedSuggestions } from '../../src/cards/pamaRating.js';
import type { CdsCard } from '../../src/hooks/types.js';

const HOOK_INSTANCE = 'd1577c69-dfbe-44ad-ba6d-3e05e953b2ea';
const referral: ServiceRequest = { resourceType: 'ServiceRequest', status: 'draft', intent: 'order', subject: { reference: 'Patient/p1' }, extension: [{ url: 'http://example.org/kept', valueString: 'x' }] };

function card(suggestions: CdsCard['suggestions']): CdsCard {
  return { uuid: 'c1', summary: 'Consider', indicator: 'info', source: { label: 'payer' }, suggestions };
}

describe('withRatedSuggestions', () => {
  it('rates each written ServiceRequest with the consultation id of its suggestion, leaving deletes as they are', () => {
    const remove = { type: 'delete' as const, description: 'Remove', resourceId: 'ServiceRequest/sr1' };
    const [rated] = withRatedSuggestions([card([{ label: 'PT', uuid: 's-1', actions: [remove, { type: 'create', description: 'Create', resource: referral }] }])], HOOK_INSTANCE);
    const [first, second] = rated.suggestions?.[0]?.actions ?? [];
    expect(first).toBe(remove);
    if (second?.type !== 'create' || second.resource.resourceType !== 'ServiceRequest') throw new Error('expected the created ServiceRequest');
    expect(second.resource.extension?.map((e) => e.url)).toEqual(['http://example.org/kept', PAMA_RATING_URL, PAMA_CONSULT_ID_URL]);
    expect(second.resource.extension?.[2]?.valueUri).toBe(consultId(HOOK_INSTANCE, 's-1'));
    expect(referral.extension).toHaveLength(1);
  });

  it('leaves a suggestion that writes no ServiceRequest unrated', () => {
    const actions = [{ type: 'delete' as const, description: 'Remove', resourceId: 'ServiceRequest/sr1' }];
    const [rated] = withRatedSuggestions([card([{ label: 'Remove', uuid: 's-2', actions }])], HOOK_INSTANCE);
    expect(rated.suggestions?.[0]?.actions).toEqual(actions);
  });
});

describe('consultId', () => {
  it('is the SHA-256 of "pama|hookInstance|orderRef" shaped as a version-4 urn:uuid, as before the one-shot hash', () => {
    const h = createHash('sha256').update(`pama|${HOOK_INSTANCE}|ServiceRequest/sr1`).digest('hex');
    expect(consultId(HOOK_INSTANCE, 'ServiceRequest/sr1')).toBe(`urn:uuid:${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`);
  });
});
