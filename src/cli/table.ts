import type { EvaluationReport, EvaluationRow } from './evaluate.js';

/** One block per evaluated order: a two-column table a person reads down. */
export function formatRow(row: EvaluationRow): string {
  const lines: [string, string][] = [
    ['patient', row.patientId],
    ['order', `${row.orderRef} (CPT ${row.cpt}), date of service ${row.dateOfService}`],
    ['outcome', row.outcome],
  ];
  if (row.policy) lines.push(['policy', row.policy]);
  if (row.coverage) lines.push(['coverage', row.coverage]);
  if (row.criterion) lines.push(['criterion', row.criterion]);
  if (row.reason) lines.push(['reason', row.reason]);
  const width = Math.max(...['would change', ...lines.map(([k]) => k)].map((k) => k.length));
  const out = lines.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`);
  const list = (label: string, items: readonly string[]) => {
    items.forEach((item, i) => out.push(`  ${(i === 0 ? label : '').padEnd(width)}  - ${item}`));
  };
  list('missing', row.missing);
  list('would change', row.wouldChange);
  list('suggestions', row.suggestions);
  list('notes', row.notes);
  return `${row.file}\n${out.join('\n')}`;
}

export function formatReport(report: EvaluationReport): string {
  const blocks = report.rows.map(formatRow);
  const counts = new Map<string, number>();
  for (const r of report.rows) counts.set(r.outcome, (counts.get(r.outcome) ?? 0) + 1);
  const tally = [...counts].map(([k, n]) => `${n} ${k}`).join(', ');
  const summary = `${report.files} file(s), ${report.rows.length} order(s) evaluated${tally ? `: ${tally}` : ''}${report.errors.length ? `; ${report.errors.length} unreadable` : ''}${report.skipped.length ? `; ${report.skipped.length} skipped (no patient data, no hook request)` : ''}`;
  return [...blocks, summary].join('\n\n');
}
