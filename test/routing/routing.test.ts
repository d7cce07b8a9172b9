/**
 * Coverage routing through the HTTP API (contract section 3): the fixtures of fixtures/routing/
 * (made from fixtures/scenarios/routing.json) and a deployment's own routing file.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bundle, Coverage, Organization } from 'fhir/r4.js';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app.js';
import { testConfig } from '../../src/config/config.js';
import { COVERAGE_INFORMATION_URL } from '../../src/cards/coverageInformation.js';
import type { CdsResponse } from '../../src/hooks/types.js';
import { observedDecision, type ObservedOutcome } from '../support/outcome.js';

const ROOT = join(import.meta.dirname, '..', '..');
const KP = 'Kaiser Foundation Health Plan of Washington';
const MA = 'Evergreen Medicare Advantage Plan';
const CASCADE = 'Cascade Mutual Health Insurance';

type HookBody = { prefetch: { coverage: Bundle } } & Record<string, unknown>;

function fixture(name: string): HookBody {
  return JSON.parse(readFileSync(join(ROOT, 'fixtures', 'routing', `${name}.json`), 'utf8')) as HookBody;
}

/** The id of the fixture's Coverage whose payor Organization has this name. */
function coverageOf(body: HookBody, payer: string): string {
  const resources = (body.prefetch.coverage.entry ?? []).map((e) => e.resource);
  const org = resources.find((r) => r?.resourceType === 'Organization' && (r as Organization).name === payer);
  const cov = resources.find(
    (r) => r?.resourceType === 'Coverage' && ((r as Coverage).payor ?? []).some((p) => p.reference === `Organization/${org?.id}`),
  );
  if (!cov?.id) throw new Error(`no Coverage of ${payer} in the fixture`);
  return cov.id;
}

function hasCoverageInformation(body: CdsResponse): boolean {
  return JSON.stringify(body.systemActions ?? []).includes(COVERAGE_INFORMATION_URL);
}

const { app } = createApp(testConfig());
const sign = (body: unknown, on = app) => request(on).post('/cds-services/lumbar-mri-order-sign').send(body as object);

describe('coverage routing (contract section 3)', () => {
  const routed: { name: string; outcome: ObservedOutcome; policy: string; payer: string }[] = [
    { name: 'kp-commercial', outcome: 'criteria-met', policy: 'Kaiser', payer: KP },
    { name: 'kp-commercial-payor-organization-only', outcome: 'criteria-met', policy: 'Kaiser', payer: KP },
    { name: 'kp-medicare', outcome: 'no-review-required', policy: 'L37281', payer: KP },
    { name: 'kp-medicare-sopt-oid', outcome: 'no-review-required', policy: 'L37281', payer: KP },
    { name: 'medicare-advantage', outcome: 'criteria-met', policy: 'Cohere Medicare Advantage', payer: MA },
    { name: 'medicare-advantage-sopt-oid', outcome: 'criteria-met', policy: 'Cohere Medicare Advantage', payer: MA },
    { name: 'expired-kp-active-medicare-advantage', outcome: 'criteria-met', policy: 'Cohere Medicare Advantage', payer: MA },
    { name: 'two-coverages-kp-primary', outcome: 'criteria-met', policy: 'Kaiser', payer: KP },
    { name: 'two-coverages-medicare-advantage-primary', outcome: 'criteria-met', policy: 'Cohere Medicare Advantage', payer: MA },
    { name: 'unknown-payer-primary-medicare-advantage-secondary', outcome: 'criteria-met', policy: 'Cohere Medicare Advantage', payer: MA },
  ];
  for (const c of routed) {
    it(`${c.name} -> ${c.outcome}, coverage information names the ${c.payer} Coverage`, async () => {
      const body = fixture(c.name);
      const res = await sign(body);
      expect(res.status).toBe(200);
      const seen = observedDecision(res.body);
      expect(seen.outcome).toBe(c.outcome);
      expect(seen.coverage).toBe(`Coverage/${coverageOf(body, c.payer)}`);
      const reason = seen.extension?.extension?.find((e) => e.url === 'reason')?.valueCodeableConcept?.text;
      expect(reason).toContain(c.policy);
    });
  }

  it('KP Medicare: covered, pa-needed no-auth, no documentation asked', async () => {
    const res = await sign(fixture('kp-medicare'));
    const ext = observedDecision(res.body).extension;
    const get = (url: string) => ext?.extension?.find((e) => e.url === url);
    expect(get('covered')?.valueCode).toBe('covered');
    expect(get('pa-needed')?.valueCode).toBe('no-auth');
    expect(get('doc-needed')).toBeUndefined();
  });

  const unrouted: { name: string; says: string }[] = [
    { name: 'no-coverage', says: 'No Coverage was found' },
    { name: 'expired-coverage', says: 'No active Coverage covers the date of service 2025-11-05' },
    { name: 'coverage-starts-after-date-of-service', says: 'No active Coverage covers the date of service 2025-11-05' },
    { name: 'cancelled-coverage', says: 'No Coverage was found' },
    { name: 'unknown-payer', says: `${CASCADE}` },
  ];
  for (const c of unrouted) {
    it(`${c.name} -> info card, no coverage information`, async () => {
      const res = await sign(fixture(c.name));
      expect(res.status).toBe(200);
      expect(hasCoverageInformation(res.body)).toBe(false);
      const card = (res.body as CdsResponse).cards.find((x) => x.summary.startsWith('No coverage decision'));
      expect(card?.indicator).toBe('info');
      expect(card?.detail).toContain(c.says);
    });
  }

  it('a cancelled Coverage sent by a client that does not filter by status is not used', async () => {
    const body = fixture('kp-commercial');
    const cov = (body.prefetch.coverage.entry ?? []).find((e) => e.resource?.resourceType === 'Coverage')?.resource as Coverage;
    cov.status = 'cancelled';
    const res = await sign(body);
    expect(res.status).toBe(200);
    expect(hasCoverageInformation(res.body)).toBe(false);
    expect(JSON.stringify(res.body.cards)).toContain('No active Coverage covers the date of service');
  });
});

describe("a deployment's own routing file (ROUTING_FILE)", () => {
  const dir = mkdtempSync(join(tmpdir(), 'routing-'));
  const defaults = JSON.parse(readFileSync(join(ROOT, 'cds-services', 'routing.json'), 'utf8')) as { rules: unknown[] };

  it('adds a payer without code changes', async () => {
    const file = join(dir, 'routing.json');
    const rule = { id: 'cascade-mutual', description: 'Cascade Mutual follows the KP WA criteria', payorNames: [CASCADE], policyId: 'kp-wa-lumbar-mri' };
    writeFileSync(file, JSON.stringify({ rules: [...defaults.rules, rule] }));
    const { app: deployed } = createApp(testConfig({ routingFile: file }));
    const body = fixture('unknown-payer');
    const res = await sign(body, deployed);
    const seen = observedDecision(res.body);
    expect(seen.outcome).toBe('criteria-met');
    expect(seen.criterion).toBe('I.B');
    expect(seen.coverage).toBe(`Coverage/${coverageOf(body, CASCADE)}`);
    // The default routing still answers "no policy" for the same patient.
    expect(hasCoverageInformation((await sign(body)).body)).toBe(false);
  });

  it('is checked at start-up: a rule naming an unknown policy is refused with the rule id', () => {
    const file = join(dir, 'bad-routing.json');
    writeFileSync(file, JSON.stringify({ rules: [{ id: 'typo', payorNames: [CASCADE], policyId: 'kp-wa-lumbar-mir' }] }));
    expect(() => createApp(testConfig({ routingFile: file }))).toThrow(/rule typo: no policy kp-wa-lumbar-mir/);
  });
});
