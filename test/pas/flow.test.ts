/**
 * CRD -> DTR -> PAS against this one service, for each policy's approve, document-then-approve and
 * deny cases: the hook's coverage information, the documentation questionnaire answered, then
 * `Claim/$submit` and `$inquire`. The same patient and order get the same decision and the same
 * authorization number through the hook (`satisfied-pa-id`) and through PAS (`reviewAction.number`).
 * The service keeps decision records as it runs, and the CMS-0057-F report shows those requests.
 */
import type { Questionnaire } from 'fhir/r4.js';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testConfig } from '../../src/config/config.js';
import type { CdsResponse } from '../../src/hooks/types.js';
import type { PriorAuthReport } from '../../src/pas/report.js';
import type { DecisionRecords } from '../../src/records/setup.js';
import { recordedApp } from '../helpers/recordedApp.js';
import { observedDecision } from '../support/outcome.js';
import { answer, hookFixture, itemsOf, orderAuthored, pasFixture, withResponse, type PasBundle as Bundle } from './support.js';

const ADMIN = 'operator-token-pas-flow-0123456789abcdef';
let app: Awaited<ReturnType<typeof recordedApp>>['app'];
let records: DecisionRecords;
beforeAll(async () => {
  ({ app, records } = await recordedApp(testConfig({ adminToken: ADMIN })));
});
afterAll(async () => {
  await records.close();
});
const sign = (body: unknown) => request(app).post('/cds-services/lumbar-mri-order-sign').send(body as object);
const submit = (body: unknown) => request(app).post('/fhir/Claim/$submit').set('content-type', 'application/fhir+json').send(JSON.stringify(body));
const inquire = (body: unknown) => request(app).post('/fhir/Claim/$inquire').set('content-type', 'application/fhir+json').send(JSON.stringify(body));

function paId(body: CdsResponse): string | undefined {
  return observedDecision(body).extension?.extension?.find((e) => e.url === 'satisfied-pa-id')?.valueString;
}

describe.each([
  { policy: 'KP WA', approve: 'kp-wa-lumbar-mri/I.B-cauda-equina-saddle-numbness-urinary-retention.json', document: 'kp-wa-lumbar-mri/I.B.2-urinary-retention-saddle-sensation-undocumented-missing-doc.json', deny: 'kp-wa-lumbar-mri/I.A-stable-exam-no-red-flags-not-indicated.json' },
  { policy: 'Cohere MA', approve: 'medicare-advantage-lumbar-mri/IND.1.4-cauda-equina-syndrome.json', document: 'medicare-advantage-lumbar-mri/IND.5-repeat-reason-undocumented.json', deny: 'medicare-advantage-lumbar-mri/NON.1-mri-6-weeks-ago-no-change.json' },
])('$policy: CRD -> DTR -> PAS', ({ approve, document, deny }) => {
  it('approve: criteria met on order-sign, A1 on $submit with the same authorization number', async () => {
    const hook = await sign(hookFixture(approve));
    expect(observedDecision(hook.body).outcome).toBe('criteria-met');
    const crdNumber = paId(hook.body);
    expect(crdNumber).toMatch(/^PA-/);
    const pas = await submit(pasFixture(approve));
    const [item] = itemsOf(pas.body as Bundle);
    expect(item).toMatchObject({ code: 'A1', number: crdNumber });
  });

  it('document then approve: documentation missing -> questionnaire answered -> A4 becomes A1 on resubmission, and $inquire shows it', async () => {
    const hook = await sign(hookFixture(document));
    const seen = observedDecision(hook.body);
    expect(seen.outcome).toBe('documentation-missing');
    const q = (await request(app).get(new URL(seen.questionnaire!).pathname)).body as Questionnaire;
    const card = (hook.body as CdsResponse).cards.find((c) => c.summary.startsWith('Documentation needed'));
    const asked = (q.item ?? []).flatMap((g) => g.item ?? []).filter((i) => i.text && card?.detail?.includes(i.text)).map((i) => i.linkId);
    expect(asked.length).toBeGreaterThan(0);

    const pended = await submit(pasFixture(document));
    expect(itemsOf(pended.body as Bundle)[0]).toMatchObject({ code: 'A4' });

    const qr = answer(q, asked, true, 'qr-dtr-pas', orderAuthored(pasFixture(document)));
    const resubmitted = await submit(withResponse(pasFixture(document), qr));
    const [item] = itemsOf(resubmitted.body as Bundle);
    expect(item!.code).toBe('A1');
    expect(item!.number).toMatch(/^PA-/);

    // The hook, signed again with the same answers, issues the same number.
    const again = hookFixture(document) as { prefetch: Record<string, unknown> };
    again.prefetch.questionnaireResponses = { resourceType: 'Bundle', type: 'searchset', entry: [{ resource: qr }] };
    const rehook = await sign(again);
    expect(observedDecision(rehook.body).outcome).toBe('criteria-met');
    expect(paId(rehook.body)).toBe(item!.number);

    const inquiry = await inquire(pasFixture(document));
    const latest = inquiry.body.parameter[0].resource as Bundle;
    expect(itemsOf(latest)[0]).toMatchObject({ code: 'A1', number: item!.number });
  });

  it('deny: not covered on order-sign, A3 on $submit with no number and a reason, and $inquire shows it', async () => {
    const hook = await sign(hookFixture(deny));
    expect(observedDecision(hook.body).outcome).toBe('not-indicated');
    expect(paId(hook.body)).toBeUndefined();
    const [item] = itemsOf((await submit(pasFixture(deny))).body as Bundle);
    expect(item).toMatchObject({ code: 'A3', reason: { code: '0F' } });
    expect(item!.number).toBeUndefined();
    const inquiry = await inquire(pasFixture(deny));
    expect(itemsOf(inquiry.body.parameter[0].resource as Bundle)[0]).toMatchObject({ code: 'A3' });
  });
});

describe('the CMS-0057-F report over those decision records', () => {
  it('shows the six requests: per policy one approved, one approved after resubmission, one denied', async () => {
    const res = await request(app).get('/prior-authorization-report').set('authorization', `Bearer ${ADMIN}`);
    expect(res.status).toBe(200);
    const report = res.body as PriorAuthReport;
    expect(report.periods).toHaveLength(1);
    expect(report.periods[0]!.all).toMatchObject({
      requests: 6, approved: 2, denied: 2, approvedAfterResubmission: 2, pending: 0, byCode: { '72148': 6 },
    });
    expect(report.periods[0]!.expedited.requests).toBe(0);
    expect(report.periods[0]!.all.medianHoursToDecision).toBeLessThan(0.01);
  });
});
