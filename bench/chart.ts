/**
 * The bench's chart as hand-written SVG (no dependency): throughput (requests/s) and p99 latency
 * (ms) of the service and the floor against record size, both axes logarithmic.
 */
export interface ChartPoint {
  readonly resources: number;
  readonly serviceRps: number;
  readonly floorRps: number;
  readonly serviceP99Ms: number;
  readonly floorP99Ms: number;
}

const W = 360;
const H = 240;
const M = { left: 56, right: 16, top: 34, bottom: 44 };

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

/** Powers of ten (and 2x, 5x) covering [lo, hi], for the ticks of a log axis. */
function logTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v >= lo * 0.999 && v <= hi * 1.001) out.push(v);
    }
  }
  return out;
}

const fmt = (v: number): string => (v >= 1000 ? `${v / 1000}k` : String(v));

function panel(x0: number, title: string, unit: string, points: readonly ChartPoint[], series: readonly { name: string; color: string; dash?: string; value: (p: ChartPoint) => number }[]): string {
  const xs = points.map((p) => p.resources);
  const ys = points.flatMap((p) => series.map((s) => Math.max(0.1, s.value(p))));
  const xLo = 10 ** Math.floor(Math.log10(Math.min(...xs)));
  const xHi = 10 ** Math.ceil(Math.log10(Math.max(...xs)));
  const yLo = 10 ** Math.floor(Math.log10(Math.min(...ys)));
  const yHi = 10 ** Math.ceil(Math.log10(Math.max(...ys)));
  const px = (v: number) => x0 + M.left + ((Math.log10(v) - Math.log10(xLo)) / (Math.log10(xHi) - Math.log10(xLo))) * (W - M.left - M.right);
  const py = (v: number) => M.top + (1 - (Math.log10(Math.max(0.1, v)) - Math.log10(yLo)) / (Math.log10(yHi) - Math.log10(yLo))) * (H - M.top - M.bottom);
  const parts: string[] = [];
  parts.push(`<text x="${x0 + W / 2}" y="18" text-anchor="middle" font-weight="bold">${esc(title)}</text>`);
  parts.push(`<rect x="${x0 + M.left}" y="${M.top}" width="${W - M.left - M.right}" height="${H - M.top - M.bottom}" fill="none" stroke="#999"/>`);
  for (const t of logTicks(yLo, yHi)) {
    parts.push(`<line x1="${x0 + M.left}" x2="${x0 + W - M.right}" y1="${py(t).toFixed(1)}" y2="${py(t).toFixed(1)}" stroke="#eee"/>`);
    parts.push(`<text x="${x0 + M.left - 4}" y="${(py(t) + 4).toFixed(1)}" text-anchor="end">${fmt(t)}</text>`);
  }
  for (const t of logTicks(xLo, xHi)) {
    parts.push(`<text x="${px(t).toFixed(1)}" y="${H - M.bottom + 14}" text-anchor="middle">${fmt(t)}</text>`);
  }
  parts.push(`<text x="${x0 + M.left + (W - M.left - M.right) / 2}" y="${H - 8}" text-anchor="middle">resources in the record</text>`);
  parts.push(`<text transform="translate(${x0 + 12} ${M.top + (H - M.top - M.bottom) / 2}) rotate(-90)" text-anchor="middle">${esc(unit)}</text>`);
  series.forEach((s, i) => {
    const pts = points.map((p) => `${px(p.resources).toFixed(1)},${py(s.value(p)).toFixed(1)}`);
    parts.push(`<polyline points="${pts.join(' ')}" fill="none" stroke="${s.color}" stroke-width="2"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`);
    for (const p of points) parts.push(`<circle cx="${px(p.resources).toFixed(1)}" cy="${py(s.value(p)).toFixed(1)}" r="3" fill="${s.color}"><title>${esc(`${s.name}: ${s.value(p)} ${unit} at ${p.resources} resources`)}</title></circle>`);
    parts.push(`<line x1="${x0 + W - M.right - 92}" x2="${x0 + W - M.right - 74}" y1="${M.top + 12 + i * 14}" y2="${M.top + 12 + i * 14}" stroke="${s.color}" stroke-width="2"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`);
    parts.push(`<text x="${x0 + W - M.right - 70}" y="${M.top + 16 + i * 14}">${esc(s.name)}</text>`);
  });
  return parts.join('\n');
}

export function chartSvg(points: readonly ChartPoint[], caption: string): string {
  const service = { name: 'service', color: '#1f77b4' };
  const floor = { name: 'floor', color: '#888', dash: '5 3' };
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${2 * W}" height="${H + 20}" viewBox="0 0 ${2 * W} ${H + 20}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    panel(0, 'Throughput', 'requests/s', points, [
      { ...service, value: (p) => p.serviceRps },
      { ...floor, value: (p) => p.floorRps },
    ]),
    panel(W, 'p99 latency (10 connections)', 'ms', points, [
      { ...service, value: (p) => p.serviceP99Ms },
      { ...floor, value: (p) => p.floorP99Ms },
    ]),
    `<text x="${W}" y="${H + 14}" text-anchor="middle" fill="#555">${esc(caption)}</text>`,
    '</svg>',
    '',
  ].join('\n');
}
