import type { PolicyReport } from './engine.js';
import type { ReplayMarker, ReplayResult } from './run.js';

/**
 * The replay report as one self-contained HTML page (no script, no network): the KPI table of the
 * policies side by side (money and penalties apart, the gap captured and the hindsight bound when
 * known), inline SVG charts by hour (on time, money, penalties) with the scenario's events marked
 * on the time axis, the scarce resources' use against their limits per hour, units per warehouse
 * and parcels per courier.
 */

export type { ReplayResult };

const COLORS = ['#d9480f', '#1c7ed6', '#2b8a3e', '#862e9c', '#e67700', '#0b7285', '#5c940d', '#a61e4d'];
const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/** The hour label ("YYYY-MM-DD HH") of an ISO time with offset, in that offset's local time. */
const hourOfIso = (iso: string) => iso.slice(0, 13).replace('T', ' ');

interface Line {
  name: string;
  points: [string, number | null][];
  dashed?: boolean;
  color?: string;
}

function lineChart(title: string, series: Line[], unit: string, fmt: (v: number) => string, markers: ReplayMarker[] = [], opts: { min?: number; max?: number; id?: string } = {}): string {
  const W = 900;
  const H = 240;
  const pad = { l: 56, r: 12, t: 28, b: 40 };
  const xs = [...new Set(series.flatMap((s) => s.points.map((p) => p[0])))].sort();
  const vals = series.flatMap((s) => s.points.map((p) => p[1]).filter((v): v is number => v !== null));
  const attrs = `class="chart"${opts.id ? ` id="${esc(opts.id)}"` : ''}`;
  if (xs.length === 0 || vals.length === 0) return `<figure ${attrs}><figcaption>${esc(title)}</figcaption><p>no data</p></figure>`;
  const lo = opts.min ?? Math.min(0, ...vals);
  const hi = Math.max(opts.max ?? -Infinity, ...vals) || 1;
  const index = new Map(xs.map((v, i) => [v, i]));
  const x = (i: number) => pad.l + (xs.length === 1 ? 0 : (i / (xs.length - 1)) * (W - pad.l - pad.r));
  const y = (v: number) => pad.t + (1 - (v - lo) / (hi - lo)) * (H - pad.t - pad.b);
  const paths = series
    .map((s, k) => {
      const d = s.points
        .filter((p) => p[1] !== null)
        .map((p, i) => `${i === 0 ? 'M' : 'L'}${x(index.get(p[0])!).toFixed(1)},${y(p[1]!).toFixed(1)}`)
        .join(' ');
      return `<path class="series" d="${d}" fill="none" stroke="${s.color ?? COLORS[k % COLORS.length]}" stroke-width="${s.dashed ? 1.5 : 2}"${s.dashed ? ' stroke-dasharray="6 4"' : ''}><title>${esc(s.name)}</title></path>`;
    })
    .join('');
  const ticks = [lo, (lo + hi) / 2, hi].map((v) => `<text x="${pad.l - 6}" y="${y(v) + 4}" text-anchor="end">${esc(fmt(v))}</text><line x1="${pad.l}" x2="${W - pad.r}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/>`).join('');
  const step = Math.max(1, Math.ceil(xs.length / 10));
  const xlabels = xs.map((v, i) => (i % step === 0 ? `<text x="${x(i)}" y="${H - pad.b + 16}" text-anchor="middle">${esc(v.slice(5))}</text>` : '')).join('');
  // The scenario's events on the time axis: a dashed line at the first hour at or after each.
  const marks = markers
    .map((m, k) => {
      const h = hourOfIso(m.at);
      const i = xs.findIndex((v) => v >= h);
      if (i < 0) return '';
      const mx = x(i);
      return `<g class="marker"><line x1="${mx}" x2="${mx}" y1="${pad.t}" y2="${H - pad.b}" stroke="#c92a2a" stroke-dasharray="3 3"/><text x="${mx + 3}" y="${pad.t + 10 + (k % 3) * 12}" fill="#c92a2a">${esc(m.label)}</text><title>${esc(m.at)}: ${esc(m.label)}</title></g>`;
    })
    .join('');
  // The legend is HTML below the chart, so that long names wrap instead of running off the edge.
  const legend = series.map((s, k) => `<span style="color:${s.color ?? COLORS[k % COLORS.length]}">${s.dashed ? '┅' : '■'} ${esc(s.name)}</span>`).join(' ');
  return `<figure ${attrs}><svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(title)}"><text x="${pad.l}" y="16" font-weight="600">${esc(title)} (${esc(unit)})</text>${ticks}${marks}${paths}${xlabels}</svg><figcaption class="legend">${legend}</figcaption></figure>`;
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
  return `<figure class="chart"><svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(title)}"><text x="${pad}" y="16" font-weight="600">${esc(title)} (${esc(unit)})</text><text x="${W - 10}" y="16" text-anchor="end">${legend}</text>${bars}</svg></figure>`;
}

/** One policy's scarce resources of a kind: each one's use as a share of its limit in force, per hour, against the 100 % line. */
function resourceChart(policy: string, p: PolicyReport, kind: 'warehouse' | 'courier', markers: ReplayMarker[]): string {
  const series = p.resources.series.filter((s) => s.kind === kind);
  const what = kind === 'warehouse' ? 'warehouse outbound parcels' : 'courier parcels per destination province';
  if (series.length === 0) return '';
  const hours = p.resources.hours;
  const lines: Line[] = series.map((s) => ({
    name: `${s.id} (at most ${Math.max(...s.used)} parcels booked in a day)`,
    points: hours.map((h, i) => [h, s.limit[i] ? (100 * s.used[i]!) / s.limit[i]! : null] as [string, number | null]),
  }));
  lines.push({ name: 'limit', points: hours.map((h) => [h, 100] as [string, number | null]), dashed: true, color: '#495057' });
  return lineChart(`${policy}: ${what}, the day's bookings so far against the limit in force`, lines, '% of limit', (v) => `${Math.round(v)}`, markers, { min: 0, max: 100, id: `resources-${policy}-${kind}` });
}

export function renderReport(r: ReplayResult): string {
  const names = Object.keys(r.policies);
  const pct = (v: number) => `${(v * 100).toFixed(1)} %`;
  const cny = (v: number) => v.toFixed(2);
  const h = r.hindsight;
  const rows: [string, (p: PolicyReport) => string][] = [
    ['on time (all of the order by the promise, over all orders)', (p) => pct(p.onTimeRate)],
    ['money per order (freight + transfers + storage, over all orders, CNY)', (p) => cny(p.costPerOrder)],
    ['penalties per order (lateness + split: decision weights, not money, CNY)', (p) => cny(p.penaltyPerOrder)],
    ['freight per order (courier freight only, over all orders, CNY)', (p) => cny(p.freightCnyPerOrder)],
    ['freight per 1,000 CNY of goods ordered (CNY; compares split and unsplit purchases)', (p) => p.freightCnyPer1000CnyGoods.toFixed(3)],
    ['waybills · shipments joined to another order\'s', (p) => `${p.merging.waybills} · ${p.merging.joinedShipments}`],
    ['merged groups (MERGE_MIN_ORDERS or more orders on a waybill) · orders in them', (p) => `${p.merging.mergedGroups} · ${p.merging.ordersInMergedGroups}`],
    ['freight saved by joins (base rates not paid, CNY) · merge window', (p) => `${cny(p.merging.freightSavedCny)} · ${p.merging.windowMinutes === 0 ? 'merging off' : `${p.merging.windowMinutes} min`}`],
    // Shelf-life lots (issue 21 item 5): units, with their value in CNY apart.
    ['shelf-life lots (dated from the stream\'s first local day)', (p) => (p.lots.enabled ? `from ${p.lots.seededOn ?? ''}` : 'off (no lots)')],
    ['near-expiry units shipped (lots within NEAR_EXPIRY_WINDOW_DAYS of their last sellable day)', (p) => String(p.lots.nearExpiryUnitsShipped)],
    ['written off at the end of the stream\'s last local day: units (value at list price, CNY)', (p) => `${p.lots.writtenOffUnits} (${cny(p.lots.writtenOffValueCny)})`],
    ['written off at the start, before any order: units (value, CNY)', (p) => `${p.lots.writtenOffUnitsAtStart} (${cny(p.lots.writtenOffValueCnyAtStart)})`],
    ['gap captured (myopic → clairvoyant, money)', (p) => (p.gapCaptured === null || p.gapCaptured === undefined ? 'n/a' : pct(p.gapCaptured))],
    ['gap to the clairvoyant LP bound (money)', (p) => (h?.lpBound ? pct(p.costPerOrder / h.lpBound - 1) : 'n/a')],
    ['split rate (of orders that ship)', (p) => pct(p.splitRate)],
    ['orders with transfers', (p) => String(p.transfers)],
    ['orders with backorders', (p) => String(p.backorders)],
    ['backordered units (value, CNY)', (p) => `${p.backorderedUnits} (${cny(p.backorderedValueCny)})`],
    ['partial orders', (p) => String(p.partialOrders)],
    ['failed dispatches', (p) => String(p.failedDispatches)],
    ['reroutes', (p) => String(p.reroutes)],
    ['parcels that waited for a later wave', (p) => String(p.overflowParcels)],
    ['decision µs p50 / p99 (after a warm-up pass)', (p) => `${p.decisionMicrosP50} / ${p.decisionMicrosP99}`],
  ];
  const fmtOr = (v: number | null | undefined, f: (x: number) => string) => (v === null || v === undefined ? 'not computed' : f(v));
  const hindsightRows = [
    `<tr><th>clairvoyant LP bound (money per order, CNY)</th><td colspan="${names.length}">${fmtOr(h?.lpBound, cny)}</td></tr>`,
    `<tr><th>hindsight plan: money per order (CNY) · on time</th><td colspan="${names.length}">${fmtOr(h?.costPerOrder, cny)} · ${fmtOr(h?.onTimeRate, pct)}</td></tr>`,
    h?.clairvoyant
      ? `<tr id="clairvoyant"><th>clairvoyant model (the whole stream at once, HiGHS)</th><td colspan="${names.length}">LP bound ${cny(h.clairvoyant.lpBound ?? 0)} CNY per order, valid for plans backordering at most ${h.clairvoyant.lpBackorderedUnits} units (${h.clairvoyant.model.columns} columns of ${h.clairvoyant.model.candidateOptions} options priced in, ${h.clairvoyant.model.lpRounds} rounds)${
          h.clairvoyant.plan
            ? `; plan: penalties ${cny(h.clairvoyant.plan.penaltyPerOrder)} CNY per order (apart from money), ${h.clairvoyant.plan.backorderedUnits} units backordered (${h.clairvoyant.plan.repairedOrders} of ${h.clairvoyant.plan.shortOrders} orders the MIP left short repaired), on time by its ETAs (no courier delays), MIP ${esc(h.clairvoyant.plan.status)}${h.clairvoyant.plan.mipGap === null ? '' : ` (gap ${(h.clairvoyant.plan.mipGap * 100).toFixed(2)} %)`}`
            : ''
        }; ${h.clairvoyant.seconds.cpu} s CPU</td></tr>`
      : '',
    h?.perOrder
      ? `<tr><th>per-order hindsight (each order alone, all the stock, no capacity)</th><td colspan="${names.length}">objective ${cny(h.perOrder.costPerOrder)} CNY per order that ships (a bound on money + weights); its plans' money ${cny(h.perOrder.moneyPerOrder)} CNY per order${h.perOrder.unproven ? `; ${h.perOrder.unproven} orders not proven optimal` : ''}</td></tr>`
      : '',
  ].join('');
  const table = `<table id="kpis"><thead><tr><th></th>${names.map((n) => `<th>${esc(n)}</th>`).join('')}</tr></thead><tbody>${rows
    .map(([label, f]) => `<tr><th>${esc(label)}</th>${names.map((n) => `<td>${esc(f(r.policies[n]!))}</td>`).join('')}</tr>`)
    .join('')}${hindsightRows}</tbody></table>`;
  const perHour = (key: 'onTimeRate' | 'costPerOrder' | 'penaltyPerOrder') => names.map((n) => ({ name: n, points: r.policies[n]!.hours.map((x) => [x.hour, x[key]] as [string, number | null]) }));
  const warehouses = [...new Set(names.flatMap((n) => Object.keys(r.policies[n]!.warehouseLoad)))].sort();
  const couriers = [...new Set(names.flatMap((n) => Object.keys(r.policies[n]!.courierMix)))].sort();
  const events = r.events ?? [];
  const eventList = events.length === 0 ? '<p>No world events in this scenario (orders only).</p>' : `<ul id="events">${events.map((e) => `<li>${esc(e.at)}: ${esc(e.label)}</li>`).join('')}</ul>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>dispatchd replay: ${esc(r.scenario)}</title>
<style>body{font:14px system-ui,sans-serif;margin:24px;color:#222;max-width:1000px}table{border-collapse:collapse;margin:12px 0}th,td{border-bottom:1px solid #ddd;padding:4px 10px;text-align:right}th:first-child{text-align:left;font-weight:500}svg text{font-size:11px;fill:#333}figure{margin:16px 0}figcaption.legend{font-size:12px;margin-left:56px;max-width:840px;line-height:1.6}figcaption.legend span{margin-right:10px;white-space:nowrap}h2{font-size:16px;margin-top:28px}</style>
</head><body>
<h1>Replay: ${esc(r.scenario)}</h1>
<p>${r.orders} orders, policies ${names.map(esc).join(', ')}. Money is what the customer pays (freight, transfers, storage) over all orders; penalties are the decisions' weights, shown apart; an order is on time only when all of it arrived by its promise. Money in CNY.</p>
${table}
<h2>Scenario events</h2>
${eventList}
<h2>By hour (events marked on the time axis)</h2>
${lineChart('On time by hour of order', perHour('onTimeRate'), '%', (v) => `${Math.round(v * 100)}`, events, { id: 'chart-on-time' })}
${lineChart('Money per order by hour of order', perHour('costPerOrder'), 'CNY', (v) => v.toFixed(0), events, { id: 'chart-money' })}
${lineChart('Penalties per order by hour of order (decision weights)', perHour('penaltyPerOrder'), 'CNY', (v) => v.toFixed(0), events, { id: 'chart-penalties' })}
<h2>Scarce resources against their limits</h2>
${names.map((n) => resourceChart(n, r.policies[n]!, 'warehouse', events) + resourceChart(n, r.policies[n]!, 'courier', events)).join('\n')}
<h2>Where it shipped</h2>
${barChart('Warehouse load', warehouses, names.map((n) => ({ name: n, values: r.policies[n]!.warehouseLoad })), 'units shipped')}
${barChart('Courier mix', couriers, names.map((n) => ({ name: n, values: r.policies[n]!.courierMix })), 'parcels')}
</body></html>
`;
}
