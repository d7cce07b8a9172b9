/**
 * The CMS-0057-F report, checked against decision records made in the test at known times: hook
 * calls (an order-sign that issued an authorization opens and approves its request; documentation
 * missing or not indicated on order-sign is no determination), `Claim/$submit` approvals, a denial,
 * a pend answered by resubmission, a pend still open, standard and expedited apart, per period; the
 * same figures after the service restarts on the same record file.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AddressInfo } from 'node:net';
import { createApp } from '../../src/http/app.js';
import { main } from '../../src/cli/main.js';
import { captureIO } from '../cli/io.js';
import { testConfig } from '../../src/config/config.js';
import type { CdsResponse } from '../../src/hooks/types.js';
import { loadLibrary } from '../../src/library/library.js';
import { questionnaireCanonical } from '../../src/questionnaire/questionnaire.js';
import type { DecisionRecords } from '../../src/records/setup.js';
import { priorAuthReport, type PriorAuthReport } from '../../src/pas/report.js';
import { submit } from '../../src/http/pasRoutes.js';
import type { PriorAuthStore } from '../../src/pas/store.js';
import { recordedApp } from '../helpers/recordedApp.js';
import { observedDecision } from '../support/outcome.js';
import { answer, hookFixture, pasFixture, orderAuthored, withResponse, type PasBundle } from './support.js';

const library = loadLibrary();
const questionnaireUrl = (policyId: string, version: string) => questionnaireCanonical('http://127.0.0.1:3000', { policyId, version });
const ADMIN = 'op-secret-report-0123456789abcdef';
const config = testConfig({ adminToken: ADMIN, recordDataDir: mkdtempSync(join(tmpdir(), 'lumbar-pa-report-')) });

let records: DecisionRecords;
let app: Awaited<ReturnType<typeof recordedApp>>['app'];
let store: PriorAuthStore;
/** The service's clock: hook calls are received at it. */
let clock = new Date('2026-01-01T00:00:00Z');

async function open(): Promise<void> {
  ({ app, records } = await recordedApp(config, undefined, { library, now: () => clock }));
  store = records.priorAuth;
}

/** Submits at `at`, answered `hours` later (the clock is read once on receipt, once on answering). */
async function submitAt(body: PasBundle, at: string, hours: number) {
  const times = [new Date(at), new Date(Date.parse(at) + hours * 3_600_000)];
  let i = 0;
  return submit(body, { library, store, questionnaireUrl, now: () => times[Math.min(i++, 1)]! });
}

/** The hook fixture signed at `at`: its outcome. */
async function signAt(path: string, at: string): Promise<string> {
  clock = new Date(at);
  const res = await request(app).post('/cds-services/lumbar-mri-order-sign').send(hookFixture(path));
  expect(res.status).toBe(200);
  return observedDecision(res.body as CdsResponse).outcome;
}

function expedited(b: PasBundle): PasBundle {
  const claim = b.entry![0]!.resource!;
  if (claim.resourceType === 'Claim') claim.priority = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/processpriority', code: 'stat' }] };
  return b;
}

const KP_APPROVE = 'kp-wa-lumbar-mri/I.B-cauda-equina-saddle-numbness-urinary-retention.json';
const KP_DOC = 'kp-wa-lumbar-mri/I.B.2-urinary-retention-saddle-sensation-undocumented-missing-doc.json';
const MA_DENY = 'medicare-advantage-lumbar-mri/NON.1-mri-6-weeks-ago-no-change.json';
const MA_DOC = 'medicare-advantage-lumbar-mri/IND.5-repeat-reason-undocumented.json';
const MA_APPROVE = 'medicare-advantage-lumbar-mri/IND.1.4-cauda-equina-syndrome.json';

beforeAll(async () => {
  await open();
  expect((await submitAt(pasFixture(MA_APPROVE), '2025-12-31T23:00:00Z', 0.5)).record.items[0]!.reviewAction).toBe('A1');
  // Signed with an authorization at 09:00 (the request opens and is approved there), then submitted at 10:00.
  expect(await signAt(KP_APPROVE, '2026-01-05T09:00:00Z')).toBe('criteria-met');
  expect((await submitAt(pasFixture(KP_APPROVE), '2026-01-05T10:00:00Z', 2)).record.items[0]!.reviewAction).toBe('A1');
  // Not indicated on order-sign is advice, not a determination: the request opens with the PAS denial.
  expect(await signAt(MA_DENY, '2026-01-06T09:00:00Z')).toBe('not-indicated');
  expect((await submitAt(pasFixture(MA_DENY), '2026-01-06T10:00:00Z', 4)).record.items[0]!.reviewAction).toBe('A3');
  const pended = await submitAt(expedited(pasFixture(MA_DOC)), '2026-02-01T00:00:00Z', 1);
  expect(pended.record.items[0]!.reviewAction).toBe('A4');
  // The documentation answered: the same order resubmitted two days later, approved.
  const q = (await request(createApp(testConfig()).app).get(new URL(pended.adjudication.items[0]!.questionnaire!).pathname)).body;
  const qr = answer(q, ['new-or-worsening-symptoms', 'prior-indeterminate-finding', 'monitoring-need-established'], true, 'qr-report', orderAuthored(pasFixture(MA_DOC)));
  expect((await submitAt(expedited(withResponse(pasFixture(MA_DOC), qr)), '2026-02-03T00:00:00Z', 1)).record.items[0]!.reviewAction).toBe('A1');
  expect(await signAt(KP_DOC, '2026-03-01T11:00:00Z')).toBe('documentation-missing');
  expect((await submitAt(pasFixture(KP_DOC), '2026-03-01T12:00:00Z', 1)).record.items[0]!.reviewAction).toBe('A4');
});

afterAll(async () => {
  await records.close();
  rmSync(config.recordDataDir, { recursive: true, force: true });
});

describe('CMS-0057-F report', () => {
  it('per year: counts, percentages and hours to decision, standard and expedited apart', async () => {
    const determinations = await store.determinations();
    // One order-sign issued an authorization; the other two signed (not indicated, documentation missing) are no determination.
    expect(determinations.filter((d) => d.source === 'order-sign').map((d) => [d.receivedAt, d.reviewAction])).toEqual([['2026-01-05T09:00:00.000Z', 'A1']]);
    const report = priorAuthReport(determinations);
    expect(report.itemsRequiringPriorAuthorization.map((i) => i.code)).toEqual(['72148', '72149', '72158']);
    expect(report.periods.map((p) => p.period)).toEqual(['2025', '2026']);
    const y2026 = report.periods[1]!;
    expect(y2026.all).toMatchObject({
      requests: 4, approved: 1, approvedPct: 25, denied: 1, deniedPct: 25, approvedAfterResubmission: 1, approvedAfterResubmissionPct: 25, pending: 1, pendingPct: 25,
      // 0 h (approved on order-sign), 4 h, and 49 h from the first submission (Feb 1, 00:00) to the approval (Feb 3, 01:00).
      averageHoursToDecision: 17.67, medianHoursToDecision: 4, byCode: { '72148': 4 },
    });
    expect(y2026.standard).toMatchObject({ requests: 3, approved: 1, denied: 1, pending: 1, approvedAfterResubmission: 0, averageHoursToDecision: 2, medianHoursToDecision: 2 });
    expect(y2026.expedited).toMatchObject({ requests: 1, approvedAfterResubmission: 1, approvedAfterResubmissionPct: 100, averageHoursToDecision: 49, medianHoursToDecision: 49 });
    expect(report.periods[0]!.all).toMatchObject({ requests: 1, approved: 1, approvedPct: 100, averageHoursToDecision: 0.5 });
  });

  it('per month; a window opened after the first submission does not count the resubmission as a new request', async () => {
    const monthly = priorAuthReport(await store.determinations(), { granularity: 'month', from: '2026-01-01T00:00:00.000Z' });
    expect(monthly.periods.map((p) => [p.period, p.all.requests])).toEqual([['2026-01', 2], ['2026-02', 1], ['2026-03', 1]]);
    const fromFeb2 = priorAuthReport(await store.determinations(), { from: '2026-02-02T00:00:00.000Z' });
    expect(fromFeb2.periods.map((p) => [p.period, p.all.requests, p.all.pending])).toEqual([['2026', 1, 1]]);
  });

  describe('operator endpoint', () => {
    const get = (q: string, token = ADMIN) => request(app).get(`/prior-authorization-report${q}`).set('authorization', `Bearer ${token}`);

    it('JSON: the same figures as the report', async () => {
      const res = await get('?from=2026-01-01');
      expect(res.status).toBe(200);
      const body = res.body as PriorAuthReport;
      expect(body.periods.map((p) => p.period)).toEqual(['2026']);
      expect(body.periods[0]!.all).toEqual(priorAuthReport(await store.determinations(), { from: '2026-01-01T00:00:00.000Z' }).periods[0]!.all);
    });

    it('CSV: one row per period and priority', async () => {
      const res = await get('?format=csv&from=2026-01-01');
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/csv/);
      const [header, ...rows] = res.text.trim().split('\n');
      expect(header).toBe('period,priority,requests,approved,approved_pct,denied,denied_pct,approved_after_resubmission,approved_after_resubmission_pct,pending,pending_pct,average_hours_to_decision,median_hours_to_decision,requests_72148,requests_72149,requests_72158');
      expect(rows).toEqual(['2026,all,4,1,25,1,25,1,25,1,25,17.67,4,4,0,0', '2026,standard,3,1,33.3,1,33.3,0,0,1,33.3,2,2,3,0,0', '2026,expedited,1,0,0,0,0,1,100,0,0,49,49,1,0,0']);
    });

    it('without the operator token: 401; without ADMIN_TOKEN configured: 403; bad parameters: 400 naming them', async () => {
      expect((await get('', 'wrong-token-value')).status).toBe(401);
      const closed = createApp(testConfig({ adminToken: undefined }), { library, priorAuth: store }).app;
      expect((await request(closed).get('/prior-authorization-report')).status).toBe(403);
      const bad = await get('?granularity=week');
      expect(bad.status).toBe(400);
      expect(bad.body.issue[0].expression).toEqual(['granularity']);
      expect((await get('?from=yesterday')).body.issue[0].expression).toEqual(['from']);
    });
  });

  it('the CLI prints it (pa-report), as CSV or JSON', async () => {
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const service = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const saved = process.env.ADMIN_TOKEN;
    process.env.ADMIN_TOKEN = ADMIN;
    try {
      const csv = captureIO();
      expect(await main(['pa-report', '--service', service, '--from', '2026-01-01', '--granularity', 'quarter'], csv)).toBe(0);
      expect(csv.stdout().split('\n').slice(1, 4)).toEqual(['2026-Q1,all,4,1,25,1,25,1,25,1,25,17.67,4,4,0,0', '2026-Q1,standard,3,1,33.3,1,33.3,0,0,1,33.3,2,2,3,0,0', '2026-Q1,expedited,1,0,0,0,0,1,100,0,0,49,49,1,0,0']);
      const json = captureIO();
      expect(await main(['pa-report', '--service', service, '--json'], json)).toBe(0);
      expect((JSON.parse(json.stdout()) as PriorAuthReport).periods.map((p) => p.period)).toEqual(['2025', '2026']);
      process.env.ADMIN_TOKEN = 'not-the-operator-token';
      const denied = captureIO();
      expect(await main(['pa-report', '--service', service], denied)).toBe(1);
      expect(denied.stderrText()).toContain('401');
    } finally {
      if (saved === undefined) delete process.env.ADMIN_TOKEN;
      else process.env.ADMIN_TOKEN = saved;
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('the same figures after the service restarts on the same record file', async () => {
    const now = new Date('2026-06-01T00:00:00Z');
    const before = priorAuthReport(await store.determinations(), { now });
    await records.close();
    await open();
    expect(priorAuthReport(await store.determinations(), { now })).toEqual(before);
    const res = await request(app).get('/prior-authorization-report?from=2026-01-01').set('authorization', `Bearer ${ADMIN}`);
    expect((res.body as PriorAuthReport).periods[0]!.all).toMatchObject({ requests: 4, approved: 1, denied: 1, approvedAfterResubmission: 1, pending: 1, averageHoursToDecision: 17.67 });
  });
});
