/**
 * The CMS-0057-F report's arithmetic on determinations written by hand (test/pas/report.test.ts
 * runs it on real submissions): the median of an even count, figures with no decision yet, the
 * request opened by its first determination, periods in order.
 */
import { describe, expect, it } from 'vitest';
import type { ReviewAction } from '../../src/pas/adjudicate.js';
import { priorAuthReport } from '../../src/pas/report.js';
import type { PriorAuthDetermination } from '../../src/pas/store.js';

function determination(order: string, receivedAt: string, hours: number, reviewAction: ReviewAction, priority: 'standard' | 'expedited' = 'standard'): PriorAuthDetermination {
  return {
    source: 'Claim/$submit',
    patientRef: 'Patient/p1',
    orderRef: `ServiceRequest/${order}`,
    billingCode: '72148',
    priority,
    receivedAt,
    decidedAt: new Date(Date.parse(receivedAt) + hours * 3_600_000).toISOString(),
    reviewAction,
    ...(reviewAction === 'A1' ? { authorizationNumber: `AUTH-${order}` } : {}),
  };
}

const determinations = [
  determination('r1', '2026-01-01T00:00:00.000Z', 1, 'A1'),
  determination('r2', '2026-01-02T00:00:00.000Z', 2, 'A3'),
  determination('r3', '2026-01-03T00:00:00.000Z', 3, 'A1'),
  // Pended, then approved on resubmission: 10 hours from the first submission to the approval.
  determination('r4', '2026-01-04T00:00:00.000Z', 0, 'A4'),
  determination('r4', '2026-01-04T06:00:00.000Z', 4, 'A1'),
  // Still pending: no hours to decision at all.
  determination('r5', '2025-11-01T00:00:00.000Z', 0, 'A4', 'expedited'),
];

describe('prior authorization report figures', () => {
  const report = priorAuthReport(determinations, { granularity: 'quarter', now: new Date('2026-04-01T00:00:00Z') });

  it('lists periods in order, each request in the period of its first determination', () => {
    expect(report.periods.map((p) => [p.period, p.all.requests])).toEqual([
      ['2025-Q4', 1],
      ['2026-Q1', 4],
    ]);
  });

  it('an even count of decision times: the median is the mean of the middle two', () => {
    const q1 = report.periods[1];
    expect(q1?.all).toMatchObject({ approved: 2, denied: 1, approvedAfterResubmission: 1, pending: 0, averageHoursToDecision: 4, medianHoursToDecision: 2.5 });
  });

  it('no decision yet: no average and no median', () => {
    const q4 = report.periods[0];
    expect(q4?.expedited).toMatchObject({ requests: 1, pending: 1, averageHoursToDecision: null, medianHoursToDecision: null });
    expect(q4?.standard).toMatchObject({ requests: 0, pendingPct: 0, medianHoursToDecision: null });
  });
});
