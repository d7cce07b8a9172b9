import { LUMBAR_MRI_CPT } from '../decision/decideOrder.js';
import type { PasPriority } from './request.js';
import type { PriorAuthDetermination } from './store.js';

/**
 * The CMS-0057-F prior authorization metrics (42 CFR 422.122(c) and the parallel rules), from the
 * decision records: PAS submissions and the order-sign calls that issued an authorization. One
 * request is one order (patient, ServiceRequest, code) that needed prior authorization: its first
 * determination opens it; later ones (resubmission with documentation, appeal) continue it.
 */

export type ReportGranularity = 'year' | 'quarter' | 'month';

export interface Figures {
  readonly requests: number;
  /** Approved on the first determination. */
  readonly approved: number;
  readonly approvedPct: number;
  /** Denied and not approved since. */
  readonly denied: number;
  readonly deniedPct: number;
  /** Approved after an earlier denial (A3) or pend (A4) for the same order. */
  readonly approvedAfterResubmission: number;
  readonly approvedAfterResubmissionPct: number;
  /** Pended and not yet decided. */
  readonly pending: number;
  readonly pendingPct: number;
  /** Hours from the request (its first determination asked) to the first approval or denial; null when none. */
  readonly averageHoursToDecision: number | null;
  readonly medianHoursToDecision: number | null;
  readonly byCode: Readonly<Record<string, number>>;
}

export interface PeriodReport {
  readonly period: string;
  readonly all: Figures;
  readonly standard: Figures;
  readonly expedited: Figures;
}

export interface PriorAuthReport {
  readonly generatedAt: string;
  readonly granularity: ReportGranularity;
  readonly from?: string;
  readonly to?: string;
  /** The items this service requires (and decides) prior authorization for. */
  readonly itemsRequiringPriorAuthorization: readonly { readonly system: string; readonly code: string }[];
  readonly periods: readonly PeriodReport[];
}

type Status = 'approved' | 'denied' | 'approved-after-resubmission' | 'pending';

interface RequestHistory {
  readonly priority: PasPriority;
  readonly code: string;
  readonly openedAt: string;
  readonly status: Status;
  readonly hoursToDecision?: number;
}

function periodOf(iso: string, g: ReportGranularity): string {
  const year = iso.slice(0, 4);
  const month = Number(iso.slice(5, 7));
  if (g === 'year') return year;
  if (g === 'quarter') return `${year}-Q${Math.ceil(month / 3)}`;
  return iso.slice(0, 7);
}

/**
 * Each order's determinations in order of receipt (PAS submissions and order-sign approvals alike),
 * reduced to how its request ended (so far). The first opens the request; its priority is the first
 * PAS submission's (an order-sign alone is standard).
 */
function histories(determinations: readonly PriorAuthDetermination[]): RequestHistory[] {
  const byOrder = new Map<string, { priority?: PasPriority; code: string; openedAt: string; steps: { decidedAt: string; action: string }[] }>();
  for (const d of [...determinations].sort((a, b) => a.receivedAt.localeCompare(b.receivedAt))) {
    // An approval without a number is "no review required": no prior authorization was needed.
    if (d.reviewAction === 'A1' && !d.authorizationNumber) continue;
    const key = `${d.patientRef}|${d.orderRef}|${d.billingCode}`;
    const h = byOrder.get(key) ?? { code: d.billingCode, openedAt: d.receivedAt, steps: [] };
    h.priority ??= d.priority;
    h.steps.push({ decidedAt: d.decidedAt, action: d.reviewAction });
    byOrder.set(key, h);
  }
  return [...byOrder.values()].map(({ openedAt, ...h }) => {
    const firstDetermination = h.steps.find((s) => s.action === 'A1' || s.action === 'A3');
    const approvedAt = h.steps.findIndex((s) => s.action === 'A1');
    const status: Status =
      approvedAt === 0 ? 'approved' : approvedAt > 0 ? 'approved-after-resubmission' : h.steps.some((s) => s.action === 'A3') ? 'denied' : 'pending';
    const hours = firstDetermination ? (Date.parse(firstDetermination.decidedAt) - Date.parse(openedAt)) / 3_600_000 : undefined;
    return { priority: h.priority ?? 'standard', code: h.code, openedAt, status, ...(hours !== undefined ? { hoursToDecision: hours } : {}) };
  });
}

const pct = (n: number, d: number): number => (d === 0 ? 0 : Math.round((n / d) * 1000) / 10);
const round = (x: number): number => Math.round(x * 100) / 100;

function median(xs: readonly number[]): number | null {
  const s = [...xs].sort((a, b) => a - b);
  // The middle value of an odd count, the middle two of an even one; none of an empty list.
  const middle = s.slice(Math.floor((s.length - 1) / 2), Math.floor(s.length / 2) + 1);
  return middle.length ? round(middle.reduce((a, b) => a + b, 0) / middle.length) : null;
}

function figures(hs: readonly RequestHistory[]): Figures {
  const count = (s: Status) => hs.filter((h) => h.status === s).length;
  const n = hs.length;
  const times = hs.map((h) => h.hoursToDecision).filter((x): x is number => x !== undefined);
  const byCode: Record<string, number> = {};
  for (const h of hs) byCode[h.code] = (byCode[h.code] ?? 0) + 1;
  const approved = count('approved');
  const denied = count('denied');
  const after = count('approved-after-resubmission');
  const pending = count('pending');
  return {
    requests: n,
    approved,
    approvedPct: pct(approved, n),
    denied,
    deniedPct: pct(denied, n),
    approvedAfterResubmission: after,
    approvedAfterResubmissionPct: pct(after, n),
    pending,
    pendingPct: pct(pending, n),
    averageHoursToDecision: times.length ? round(times.reduce((a, b) => a + b, 0) / times.length) : null,
    medianHoursToDecision: median(times),
    byCode,
  };
}

/**
 * The report over the determinations given: requests opened in [from, to) (earlier determinations
 * are read too, so a resubmission is never taken for a new request), grouped by the period their
 * first determination falls in, standard and expedited apart.
 */
export function priorAuthReport(
  determinations: readonly PriorAuthDetermination[],
  opts: { granularity?: ReportGranularity; from?: string; to?: string; now?: Date } = {},
): PriorAuthReport {
  const granularity = opts.granularity ?? 'year';
  const byPeriod = new Map<string, RequestHistory[]>();
  for (const h of histories(determinations)) {
    if ((opts.from && h.openedAt < opts.from) || (opts.to && h.openedAt >= opts.to)) continue;
    const p = periodOf(h.openedAt, granularity);
    byPeriod.set(p, [...(byPeriod.get(p) ?? []), h]);
  }
  return {
    generatedAt: (opts.now ?? new Date()).toISOString(),
    granularity,
    ...(opts.from ? { from: opts.from } : {}),
    ...(opts.to ? { to: opts.to } : {}),
    itemsRequiringPriorAuthorization: LUMBAR_MRI_CPT.map((code) => ({ system: 'http://www.ama-assn.org/go/cpt', code })),
    // Periods in name order (keys are distinct, so no tie): 2024 < 2024-Q2 < 2025.
    periods: [...byPeriod]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([period, hs]) => ({ period, all: figures(hs), standard: figures(hs.filter((h) => h.priority === 'standard')), expedited: figures(hs.filter((h) => h.priority === 'expedited')) })),
  };
}

const CSV_COLUMNS = [
  'period', 'priority', 'requests', 'approved', 'approved_pct', 'denied', 'denied_pct',
  'approved_after_resubmission', 'approved_after_resubmission_pct', 'pending', 'pending_pct',
  'average_hours_to_decision', 'median_hours_to_decision', ...LUMBAR_MRI_CPT.map((c) => `requests_${c}`),
] as const;

/** One row per period and priority (all, standard, expedited). */
export function reportCsv(report: PriorAuthReport): string {
  const rows: string[] = [CSV_COLUMNS.join(',')];
  for (const p of report.periods) {
    for (const priority of ['all', 'standard', 'expedited'] as const) {
      const f = p[priority];
      rows.push(
        [
          p.period, priority, f.requests, f.approved, f.approvedPct, f.denied, f.deniedPct,
          f.approvedAfterResubmission, f.approvedAfterResubmissionPct, f.pending, f.pendingPct,
          f.averageHoursToDecision ?? '', f.medianHoursToDecision ?? '', ...LUMBAR_MRI_CPT.map((c) => f.byCode[c] ?? 0),
        ].join(','),
      );
    }
  }
  return `${rows.join('\n')}\n`;
}
