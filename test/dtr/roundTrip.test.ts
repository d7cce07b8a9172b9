/**
 * The documentation loop a DTR client runs knowing only the CDS Hooks response: order-sign says
 * documentation missing -> `$questionnaire-package` with the coverage-assertion-id -> the form's
 * shortest-path items answered -> the completed response in the next order-sign -> covered.
 * Every documentation-missing case of every criteria policy version.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Bundle, Extension, Questionnaire, QuestionnaireResponse, QuestionnaireResponseItem, ServiceRequest } from 'fhir/r4.js';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NEEDED_GROUP } from '../../src/dtr/form.js';
import type { CdsResponse } from '../../src/hooks/types.js';
import { observedDecision } from '../support/outcome.js';
import { coverageOf, dtrApp, loadFixture, packageRequest } from './helpers.js';

const ROOT = join(import.meta.dirname, '..', '..');
const VERSIONS = ['kp-wa-lumbar-mri/2024-01-01', 'kp-wa-lumbar-mri/until-2024-01-01', 'medicare-advantage-lumbar-mri/1.1'];

interface Case {
  readonly fixture: string;
  readonly outcome: string;
  readonly criterion?: string;
}

const cases = VERSIONS.flatMap((v) =>
  (JSON.parse(readFileSync(join(ROOT, 'cds-services', v, 'cases.json'), 'utf8')) as Case[])
    .filter((c) => c.outcome === 'documentation-missing')
    .map((c) => ({ ...c, version: v })),
);

/** The draft response completed: its answers kept, every item of the shortest path answered yes. */
function complete(q: Questionnaire, draft: QuestionnaireResponse, authored: string | undefined): QuestionnaireResponse {
  const needed = (q.item ?? []).find((g) => g.linkId === NEEDED_GROUP);
  const neededItems: QuestionnaireResponseItem[] = (needed?.item ?? []).map((i) => ({ linkId: i.linkId, text: i.text, answer: [{ valueBoolean: true }] }));
  const kept = (draft.item ?? []).filter((g) => g.linkId !== NEEDED_GROUP);
  return { ...draft, id: 'qr-dtr-roundtrip', status: 'completed', authored: authored ?? draft.authored, item: [{ linkId: NEEDED_GROUP, item: neededItems }, ...kept] };
}

describe('DTR round trip per policy and section', () => {
  let dtr: Awaited<ReturnType<typeof dtrApp>>;
  beforeAll(async () => {
    dtr = await dtrApp();
  }, 120_000);
  afterAll(async () => {
    await dtr.records.close();
  });

  it('has documentation-missing cases for every criteria policy version', () => {
    for (const v of VERSIONS) expect(cases.filter((c) => c.version === v).length, v).toBeGreaterThan(0);
  });

  it.each(cases.map((c) => [c.fixture, c] as const))('%s', async (_name, c) => {
    const body = loadFixture(c.fixture);
    const first = await request(dtr.app).post('/cds-services/lumbar-mri-order-sign').send(body);
    const seen = observedDecision(first.body as CdsResponse);
    expect(seen.outcome).toBe('documentation-missing');
    const id = seen.extension?.extension?.find((e: Extension) => e.url === 'coverage-assertion-id')?.valueString;
    const pkg = await request(dtr.app).post('/fhir/Questionnaire/$questionnaire-package').send(packageRequest(coverageOf(body), id));
    expect(pkg.status).toBe(200);
    const bundle = pkg.body.parameter[0].resource as Bundle;
    const q = bundle.entry![0].resource as Questionnaire;
    const draft = bundle.entry!.at(-1)!.resource as QuestionnaireResponse;
    // The clinician completes the form when signing the order (the fixtures are dated in the past).
    const order = body.context.draftOrders.entry?.find((e) => e.resource?.resourceType === 'ServiceRequest')?.resource as ServiceRequest | undefined;
    const answers = complete(q, draft, order?.authoredOn);
    const again = loadFixture(c.fixture);
    again.prefetch.questionnaireResponses = { resourceType: 'Bundle', type: 'searchset', entry: [{ resource: answers }] };
    const second = await request(dtr.app).post('/cds-services/lumbar-mri-order-sign').send(again);
    expect(second.status).toBe(200);
    const needed = (q.item ?? []).some((g) => g.linkId === NEEDED_GROUP);
    // A path that lacks a coded datum (the onset date of the episode) has no form item: the card asks
    // for it to be recorded in the chart, and answering the form cannot pretend to complete it.
    // A path that also lacks the episode's onset date (degenerative diagnoses date the disease, not the
    // pain) stays open after the form: the card asks for the onset to be recorded in the chart.
    const asksOnset = /Date of onset/i.test(JSON.stringify(first.body.cards));
    expect(observedDecision(second.body as CdsResponse).outcome).toBe(needed && !asksOnset ? 'criteria-met' : 'documentation-missing');
    if (!needed || asksOnset) expect(JSON.stringify(second.body.cards)).toMatch(/onset/i);
  });
});
