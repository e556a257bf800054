import type { PolicyReport } from './engine.js';

/**
 * The replay report as one self-contained HTML page (no script, no network): the KPI table of the
 * policies side by side, and inline SVG charts of on-time rate and cost per order by hour, units
 * per warehouse and parcels per courier.
 */

export interface ReplayResult {
  scenario: string;
  orders: number;
  policies: Record<string, PolicyReport>;
  hindsight: { costPerOrder: number; unproven?: number; method?: string } | null;
}

const COLORS = ['#d9480f', '#1c7ed6', '#2b8a3e', '#862e9c', '#e67700'];
const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

function lineChart(title: string, series: { name: string; points: [string, number | null][] }[], unit: string, fmt: (v: number) => string): string {
  const W = 640;
  const H = 220;
  const pad = { l: 56, r: 12, t: 28, b: 40 };
  const xs = [...new Set(series.flatMap((s) => s.points.map((p) => p[0])))].sort();
  const vals = series.flatMap((s) => s.points.map((p) => p[1]).filter((v): v is number => v !== null));
  if (xs.length === 0 || vals.length === 0) return `<figure><figcaption>${esc(title)}</figcaption><p>no data</p></figure>`;
  const lo = Math.min(0, ...vals);
  const hi = Math.max(...vals) || 1;
  const x = (i: number) => pad.l + (xs.length === 1 ? 0 : (i / (xs.length - 1)) * (W - pad.l - pad.r));
  const y = (v: number) => pad.t + (1 - (v - lo) / (hi - lo)) * (H - pad.t - pad.b);
  const paths = series
    .map((s, k) => {
      const d = s.points
        .filter((p) => p[1] !== null)
        .map((p, i) => `${i === 0 ? 'M' : 'L'}${x(xs.indexOf(p[0])).toFixed(1)},${y(p[1]!).toFixed(1)}`)
        .join(' ');
      return `<path d="${d}" fill="none" stroke="${COLORS[k % COLORS.length]}" stroke-width="2"/>`;
    })
    .join('');
  const ticks = [lo, (lo + hi) / 2, hi].map((v) => `<text x="${pad.l - 6}" y="${y(v) + 4}" text-anchor="end">${esc(fmt(v))}</text><line x1="${pad.l}" x2="${W - pad.r}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/>`).join('');
  const step = Math.max(1, Math.ceil(xs.length / 8));
  const xlabels = xs.map((v, i) => (i % step === 0 ? `<text x="${x(i)}" y="${H - pad.b + 16}" text-anchor="middle">${esc(v.slice(5))}</text>` : '')).join('');
  const legend = series.map((s, k) => `<tspan fill="${COLORS[k % COLORS.length]}">■ ${esc(s.name)}</tspan>`).join(' ');
  return `<figure><svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(title)}"><text x="${pad.l}" y="16" font-weight="600">${esc(title)} (${esc(unit)})</text><text x="${W - pad.r}" y="16" text-anchor="end">${legend}</text>${ticks}${paths}${xlabels}</svg></figure>`;
}

function barChart(title: string, groups: string[], series: { name: string; values: Record<string, number> }[], unit: string): string {
  const W = 640;
  const rowH = 10 * series.length + 8;
  const H = 40 + groups.length * rowH;
  const max = Math.max(1, ...series.flatMap((s) => Object.values(s.values)));
  const pad = 70;
  const bars = groups
    .map((g, gi) => {
      const y0 = 30 + gi * rowH;
      const rects = series
        .map((s, k) => {
          const v = s.values[g] ?? 0;
          return `<rect x="${pad}" y="${y0 + k * 10}" width="${((W - pad - 80) * v) / max}" height="8" fill="${COLORS[k % COLORS.length]}"><title>${esc(s.name)} ${v}</title></rect><text x="${pad + ((W - pad - 80) * v) / max + 4}" y="${y0 + k * 10 + 8}">${v}</text>`;
        })
        .join('');
      return `<text x="${pad - 6}" y="${y0 + rowH / 2}" text-anchor="end">${esc(g)}</text>${rects}`;
    })
    .join('');
  const legend = series.map((s, k) => `<tspan fill="${COLORS[k % COLORS.length]}">■ ${esc(s.name)}</tspan>`).join(' ');
  return `<figure><svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(title)}"><text x="${pad}" y="16" font-weight="600">${esc(title)} (${esc(unit)})</text><text x="${W - 10}" y="16" text-anchor="end">${legend}</text>${bars}</svg></figure>`;
}

export function renderReport(r: ReplayResult): string {
  const names = Object.keys(r.policies);
  const pct = (v: number) => `${(v * 100).toFixed(1)} %`;
  const rows: [string, (p: PolicyReport) => string][] = [
    ['on-time rate', (p) => pct(p.onTimeRate)],
    ['logistics cost per order (CNY)', (p) => p.costPerOrder.toFixed(2)],
    ['split rate', (p) => pct(p.splitRate)],
    ['orders with transfers', (p) => String(p.transfers)],
    ['orders with backorders', (p) => String(p.backorders)],
    ['failed dispatches', (p) => String(p.failedDispatches)],
    ['reroutes', (p) => String(p.reroutes)],
    ['decision µs p50 / p99', (p) => `${p.decisionMicrosP50} / ${p.decisionMicrosP99}`],
    ['gap to the hindsight bound', (p) => (r.hindsight && r.hindsight.costPerOrder > 0 ? pct(p.costPerOrder / r.hindsight.costPerOrder - 1) : 'n/a')],
  ];
  const table = `<table><thead><tr><th></th>${names.map((n) => `<th>${esc(n)}</th>`).join('')}</tr></thead><tbody>${rows
    .map(([label, f]) => `<tr><th>${esc(label)}</th>${names.map((n) => `<td>${esc(f(r.policies[n]!))}</td>`).join('')}</tr>`)
    .join('')}<tr><th>hindsight bound (CNY/order)</th><td colspan="${names.length}">${r.hindsight ? `${r.hindsight.costPerOrder.toFixed(2)}${r.hindsight.unproven ? ` (${r.hindsight.unproven} orders not proven optimal)` : ''}` : 'not computed'}</td></tr></tbody></table>`;
  const perHour = (key: 'onTimeRate' | 'costPerOrder') => names.map((n) => ({ name: n, points: r.policies[n]!.hours.map((h) => [h.hour, h[key]] as [string, number | null]) }));
  const warehouses = [...new Set(names.flatMap((n) => Object.keys(r.policies[n]!.warehouseLoad)))].sort();
  const couriers = [...new Set(names.flatMap((n) => Object.keys(r.policies[n]!.courierMix)))].sort();
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>dispatchd replay: ${esc(r.scenario)}</title>
<style>body{font:14px system-ui,sans-serif;margin:24px;color:#222;max-width:1000px}table{border-collapse:collapse;margin:12px 0}th,td{border-bottom:1px solid #ddd;padding:4px 10px;text-align:right}th:first-child{text-align:left}svg text{font-size:11px;fill:#333}figure{margin:16px 0}</style>
</head><body>
<h1>Replay: ${esc(r.scenario)}</h1>
<p>${r.orders} orders, policies ${names.map(esc).join(', ')}. Rates are fractions of orders that ship; money in CNY.</p>
${table}
${lineChart('On-time rate by hour', perHour('onTimeRate'), '%', (v) => `${Math.round(v * 100)}`)}
${lineChart('Cost per order by hour', perHour('costPerOrder'), 'CNY', (v) => v.toFixed(0))}
${barChart('Warehouse load', warehouses, names.map((n) => ({ name: n, values: r.policies[n]!.warehouseLoad })), 'units shipped')}
${barChart('Courier mix', couriers, names.map((n) => ({ name: n, values: r.policies[n]!.courierMix })), 'parcels')}
</body></html>
`;
}
