/**
 * `Claim/$submit` and `Claim/$inquire` as the PAS server checks exercise them: approval A1 with an
 * authorization number, denial A3 with the criterion, pended A4 naming the documentation, every item
 * sequence and fullUrl echoed, the X12 306 code system, and nonconformant Bundles answered 4xx.
 */
import type { Claim, OperationOutcome, Parameters, Questionnaire } from 'fhir/r4.js';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app.js';
import { testConfig } from '../../src/config/config.js';
import { X12_886 } from '../../src/pas/response.js';
import { answer, claimResponseOf, itemsOf, orderAuthored, pasFixture, withResponse, X12_306, type PasBundle as Bundle } from './support.js';


const { app } = createApp(testConfig());
const submit = (body: unknown) => request(app).post('/fhir/Claim/$submit').set('content-type', 'application/fhir+json').send(JSON.stringify(body));
const inquire = (body: unknown) => request(app).post('/fhir/Claim/$inquire').set('content-type', 'application/fhir+json').send(JSON.stringify(body));

const APPROVE_KP = 'kp-wa-lumbar-mri/I.B-cauda-equina-saddle-numbness-urinary-retention.json';
const DENY_KP = 'kp-wa-lumbar-mri/I.A-stable-exam-no-red-flags-not-indicated.json';
const DOC_MA = 'medicare-advantage-lumbar-mri/IND.5-repeat-reason-undocumented.json';
const APPROVE_MA = 'medicare-advantage-lumbar-mri/IND.1.4-cauda-equina-syndrome.json';
const DENY_MA = 'medicare-advantage-lumbar-mri/NON.1-mri-6-weeks-ago-no-change.json';
const REVIEW_KP = 'kp-wa-lumbar-mri/I.C.risk-only-one-factor-not-indicated.json';

function claimOf(bundle: Bundle): Claim {
  const c = bundle.entry![0]!.resource!;
  if (c.resourceType !== 'Claim') throw new Error('no claim');
  return c;
}

describe('Claim/$submit: review actions', () => {
  it.each([
    [APPROVE_KP, 'A1', /criterion I\.B/],
    [APPROVE_MA, 'A1', /criterion IND\.1\.4/],
  ])('%s: A1 with an authorization number, its period, and the criterion', async (path, code, criterion) => {
    const res = await submit(pasFixture(path));
    expect(res.status).toBe(200);
    const [item] = itemsOf(res.body as Bundle);
    expect(item).toMatchObject({ sequence: 1, code, system: X12_306 });
    expect(item!.number).toMatch(/^PA-[0-9a-f]{18}$/);
    expect(item!.period?.start).toBeTruthy();
    expect(item!.period!.end! > item!.period!.start!).toBe(true);
    expect(item!.notes.join(' ')).toMatch(criterion);
    // Certified with a number: no reason to give; the item's trace number comes back with it.
    expect(item!.reason).toBeUndefined();
    const claim = claimOf(pasFixture(path));
    const trace = claim.item![0]!.extension!.find((e) => e.url.endsWith('/extension-itemTraceNumber'))!.valueIdentifier!.value;
    expect(item!.traceNumbers).toEqual([trace]);
    const cr = claimResponseOf(res.body as Bundle);
    expect(cr).toMatchObject({ use: 'preauthorization', status: 'active', outcome: 'complete', preAuthRef: item!.number });
  });

  it.each([
    [DENY_KP, /Not certified: .*KP.*no criterion|Not certified: .*criterion/i],
    [DENY_MA, /Not certified: .*criterion NON\.1/],
  ])('%s: A3 with the criterion and reason in processNote, no number', async (path, reason) => {
    const res = await submit(pasFixture(path));
    expect(res.status).toBe(200);
    const [item] = itemsOf(res.body as Bundle);
    expect(item).toMatchObject({ sequence: 1, code: 'A3', system: X12_306, reason: { system: X12_886, code: '0F' } });
    expect(item!.number).toBeUndefined();
    expect(item!.notes[0]).toMatch(reason);
  });

  it('documentation missing: A4 pended, naming the criterion, what to document and the DTR questionnaire', async () => {
    const res = await submit(pasFixture(DOC_MA));
    expect(res.status).toBe(200);
    const [item] = itemsOf(res.body as Bundle);
    expect(item).toMatchObject({ sequence: 1, code: 'A4', system: X12_306, reason: { system: X12_886, code: '0U' } });
    expect(item!.number).toBeUndefined();
    expect(item!.notes[0]).toMatch(/^Pended: documentation needed for criterion IND\.5/);
    expect(item!.notes[0]).toMatch(/\/fhir\/Questionnaire\/medicare-advantage-lumbar-mri-/);
  });

  it('physician review: A4 pended, reason X12 886 0V (requires medical review), the criterion in processNote', async () => {
    const res = await submit(pasFixture(REVIEW_KP));
    expect(res.status).toBe(200);
    const [item] = itemsOf(res.body as Bundle);
    expect(item).toMatchObject({ sequence: 1, code: 'A4', system: X12_306, reason: { system: X12_886, code: '0V' } });
    expect(item!.number).toBeUndefined();
    expect(item!.notes[0]).toMatch(/^Pended for physician review: .*criterion RED-FLAG/);
  });

  it('KP WA Medicare (no review required): A1 with no number, reason X12 886 0H, no claim-level authorization', async () => {
    const body = pasFixture(APPROVE_KP);
    for (const e of body.entry!) if (e.resource?.resourceType === 'Coverage') e.resource.type = { coding: [{ system: 'https://nahdo.org/sopt', code: '121', display: 'Medicare FFS' }] };
    const res = await submit(body);
    expect(res.status).toBe(200);
    const [item] = itemsOf(res.body as Bundle);
    expect(item).toMatchObject({ sequence: 1, code: 'A1', reason: { system: X12_886, code: '0H' } });
    expect(item!.number).toBeUndefined();
    expect(claimResponseOf(res.body as Bundle).preAuthRef).toBeUndefined();
  });

  it('echoes the Bundle identifier, every fullUrl and id, and the request reference; the ClaimResponse comes first', async () => {
    const body = pasFixture(APPROVE_KP);
    const res = await submit(body);
    const out = res.body as Bundle;
    expect(out.resourceType).toBe('Bundle');
    expect(out.type).toBe('collection');
    expect(out.identifier).toEqual(body.identifier);
    expect(out.entry![0]!.resource!.resourceType).toBe('ClaimResponse');
    expect(out.entry!.slice(1).map((e) => [e.fullUrl, e.resource?.id])).toEqual(body.entry!.map((e) => [e.fullUrl, e.resource?.id]));
    expect(claimResponseOf(out).request?.reference).toBe(body.entry![0]!.fullUrl);
    expect(claimResponseOf(out).identifier).toEqual(claimOf(body).identifier);
  });

  it('every item.sequence is echoed, and an item this payer does not decide is a business error (X12 901 AG) on that item', async () => {
    const body = structuredClone(pasFixture(APPROVE_KP));
    const claim = claimOf(body);
    const cervical = { ...structuredClone(claim.item![0]!), sequence: 7, extension: [], productOrService: { coding: [{ system: 'http://www.ama-assn.org/go/cpt', code: '72141' }] } };
    claim.item = [claim.item![0]!, cervical];
    const res = await submit(body);
    expect(res.status).toBe(200);
    expect(itemsOf(res.body as Bundle).map((i) => [i.sequence, i.code])).toEqual([[1, 'A1'], [7, undefined]]);
    const cr = claimResponseOf(res.body as Bundle);
    expect(cr.outcome).toBe('partial');
    expect(cr.error).toEqual([expect.objectContaining({ itemSequence: 7, code: expect.objectContaining({ coding: [expect.objectContaining({ system: 'https://codesystem.x12.org/005010/901', code: 'AG' })] }) })]);
  });

  it('a coverage this payer has no policy for: 200 with ClaimResponse.error, outcome error', async () => {
    const body = structuredClone(pasFixture(APPROVE_KP));
    for (const e of body.entry!) if (e.resource?.resourceType === 'Coverage') e.resource.status = 'cancelled';
    const res = await submit(body);
    expect(res.status).toBe(200);
    const cr = claimResponseOf(res.body as Bundle);
    expect(cr.outcome).toBe('error');
    expect(cr.error?.[0]?.code.coding?.[0]?.code).toBe('75');
    expect(itemsOf(res.body as Bundle)[0]!.code).toBeUndefined();
  });
});

describe('Claim/$submit: nonconformant Bundles get one OperationOutcome naming the element', () => {
  const cases: [string, () => unknown, number, string][] = [
    ['an empty Bundle', () => ({ resourceType: 'Bundle', type: 'collection', identifier: { value: 'x' }, timestamp: '2025-11-05T08:00:00Z', entry: [] }), 400, 'Bundle.entry'],
    ['no entries at all', () => ({ resourceType: 'Bundle', type: 'collection', identifier: { value: 'x' }, timestamp: '2025-11-05T08:00:00Z' }), 400, 'Bundle.entry'],
    ['not a Bundle', () => ({ resourceType: 'Claim' }), 400, 'Bundle.resourceType'],
    ['a transaction Bundle', () => ({ ...pasFixture(APPROVE_KP), type: 'transaction' }), 400, 'Bundle.type'],
    ['no Bundle.identifier', () => ({ ...pasFixture(APPROVE_KP), identifier: undefined }), 400, 'Bundle.identifier'],
    ['an entry without fullUrl', () => { const b = pasFixture(APPROVE_KP); delete b.entry![2]!.fullUrl; return b; }, 400, 'Bundle.entry[2].fullUrl'],
    ['the Claim not first', () => { const b = pasFixture(APPROVE_KP); b.entry!.reverse(); return b; }, 400, 'Bundle.entry[0].resource'],
    ['Claim.use claim', () => { const b = pasFixture(APPROVE_KP); claimOf(b).use = 'claim'; return b; }, 400, 'Claim.use'],
    ['an item without sequence', () => { const b = pasFixture(APPROVE_KP); delete (claimOf(b).item![0] as { sequence?: number }).sequence; return b; }, 400, 'Claim.item[0].sequence'],
    ['a repeated item sequence', () => { const b = pasFixture(APPROVE_KP); const c = claimOf(b); c.item = [c.item![0]!, c.item![0]!]; return b; }, 400, 'Claim.item[1].sequence'],
    ['a patient not in the Bundle', () => { const b = pasFixture(APPROVE_KP); claimOf(b).patient = { reference: 'Patient/elsewhere' }; return b; }, 400, 'Claim.patient'],
    ['a coverage not in the Bundle', () => { const b = pasFixture(APPROVE_KP); claimOf(b).insurance![0]!.coverage = { reference: 'Coverage/elsewhere' }; return b; }, 400, 'Claim.insurance[0].coverage'],
    ['a requestedService not in the Bundle', () => { const b = pasFixture(APPROVE_KP); claimOf(b).item![0]!.extension!.find((e) => e.url.endsWith('requestedService'))!.valueReference = { reference: 'ServiceRequest/elsewhere' }; return b; }, 400, 'Claim.item[0].extension:requestedService'],
    // Wrong types where the service reads the Claim (each answered 500 before the schema covered them).
    ['a requestedService reference that is not a string', () => { const b = pasFixture(APPROVE_KP); const ext = claimOf(b).item![0]!.extension!; const i = ext.findIndex((e) => e.url.endsWith('requestedService')); (ext[i]!.valueReference as Record<string, unknown>).reference = [{ id: 'x' }]; return b; }, 400, `Claim.item[0].extension[${claimOf(pasFixture(APPROVE_KP)).item![0]!.extension!.findIndex((e) => e.url.endsWith('requestedService'))}].valueReference.reference`],
    ['item.extension not a list', () => { const b = pasFixture(APPROVE_KP); Object.assign(claimOf(b).item![0]!, { extension: { url: 'x' } }); return b; }, 400, 'Claim.item[0].extension'],
    ['a null item extension', () => { const b = pasFixture(APPROVE_KP); (claimOf(b).item![0]!.extension as unknown[])[0] = null; return b; }, 400, 'Claim.item[0].extension[0]'],
    ['Claim.identifier not a list', () => { const b = pasFixture(APPROVE_KP); Object.assign(claimOf(b), { identifier: 'x' }); return b; }, 400, 'Claim.identifier'],
  ];
  it.each(cases)('%s: %i naming %s', async (_name, make, status, element) => {
    const res = await submit(make());
    expect(res.status).toBe(status);
    const oo = res.body as OperationOutcome;
    expect(oo.resourceType).toBe('OperationOutcome');
    expect(oo.issue).toHaveLength(1);
    expect(oo.issue[0]!.expression).toEqual([element]);
  });

  it('a body that is not JSON: 400 OperationOutcome', async () => {
    const res = await request(app).post('/fhir/Claim/$submit').set('content-type', 'application/fhir+json').send('{"resourceType":');
    expect(res.status).toBe(400);
    expect(res.body.resourceType).toBe('OperationOutcome');
  });

  it('an unknown operation: 404 OperationOutcome', async () => {
    const res = await request(app).post('/fhir/Claim/$validate').set('content-type', 'application/fhir+json').send('{}');
    expect(res.status).toBe(404);
    expect(res.body.resourceType).toBe('OperationOutcome');
  });
});

describe('Claim/$inquire', () => {
  it('returns the latest response for the claim, Parameters-wrapped (2.2.1); a pended request stays queryable', async () => {
    const body = pasFixture(DOC_MA);
    const first = await submit(body);
    const res = await inquire(body);
    expect(res.status).toBe(200);
    const params = res.body as Parameters;
    expect(params.resourceType).toBe('Parameters');
    expect(params.parameter).toHaveLength(1);
    expect(params.parameter![0]!.name).toBe('return');
    const bundle = params.parameter![0]!.resource as Bundle;
    expect(claimResponseOf(bundle).id).toBe(claimResponseOf(first.body as Bundle).id);
    expect(itemsOf(bundle)[0]!.code).toBe('A4');
  });

  it('PAS 2.0.1 (profile |2.0.1): the response Bundle itself', async () => {
    const body = pasFixture(DENY_MA);
    body.meta = { profile: ['http://hl7.org/fhir/us/davinci-pas/StructureDefinition/profile-pas-request-bundle|2.0.1'] };
    await submit(body);
    const res = await inquire(body);
    expect(res.body.resourceType).toBe('Bundle');
    expect(itemsOf(res.body as Bundle)[0]!.code).toBe('A3');
  });

  it('a PAS Claim Update (related.claim naming the pended claim) with the answers: $inquire on the original claim shows the approval', async () => {
    const original = pasFixture(DOC_MA);
    const pended = await submit(original);
    const [asked] = itemsOf(pended.body as Bundle);
    expect(asked!.code).toBe('A4');
    const questionnaireUrl = /questionnaire (\S+) /.exec(asked!.notes[0]!)![1]!;
    const q = (await request(app).get(new URL(questionnaireUrl).pathname)).body as Questionnaire;
    const linkIds = (q.item ?? []).flatMap((g) => g.item ?? []).map((i) => i.linkId).filter((l) => ['new-or-worsening-symptoms', 'prior-indeterminate-finding', 'monitoring-need-established'].includes(l));
    const update = withResponse(pasFixture(DOC_MA), answer(q, linkIds, true, 'qr-update', orderAuthored(original)));
    const claim = claimOf(update);
    claim.related = [{ claim: { identifier: claimOf(original).identifier![0] }, relationship: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/related-claim-relationship', code: 'prior' }] } }];
    claim.identifier = [{ system: 'urn:trnorg:9012345678', value: 'LMRI-update-0001' }];
    expect(itemsOf((await submit(update)).body as Bundle)[0]!.code).toBe('A1');
    const res = await inquire(original);
    expect(itemsOf((res.body as Parameters).parameter![0]!.resource as Bundle)[0]!.code).toBe('A1');
  });

  it('a claim never submitted: no responses', async () => {
    const body = pasFixture(APPROVE_MA);
    claimOf(body).identifier = [{ system: 'urn:trnorg:9012345678', value: 'never-submitted' }];
    const res = await inquire(body);
    expect(res.status).toBe(200);
    expect((res.body as Parameters).parameter ?? []).toHaveLength(0);
  });
});
