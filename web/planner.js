/* global document, window, FormData, setTimeout, URL, Blob */
// The planners' page (issue 6): start replays, list them, compare two. Every request carries the
// planner role's API key (web/key.js), asked for once.
import { apiKey, keyedFetch } from '/web/key.js';

const auth = { key: '' };
const fetch = keyedFetch('planner', auth);
const $ = (s) => document.querySelector(s);
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
let runs = [];
const pct = (v) => (v === null || v === undefined ? 'n/a' : `${(v * 100).toFixed(1)} %`);
const KPIS = [
  ['onTimeRate', 'on time (all of the order, over all orders)', pct, +1],
  ['costPerOrder', 'money / order (freight + transfers + storage, all orders)', (v) => v.toFixed(2), -1],
  ['penaltyPerOrder', 'penalties / order (decision weights, not money)', (v) => (v ?? 0).toFixed(2), 0],
  ['freightCnyPerOrder', 'freight / order (CNY, courier freight only)', (v) => (v ?? 0).toFixed(2), -1],
  ['freightCnyPer1000CnyGoods', 'freight / 1,000 CNY of goods ordered (CNY)', (v) => (v ?? 0).toFixed(3), -1],
  ['merging.mergedGroups', 'merged groups', (v) => String(v ?? 0), 0],
  ['merging.freightSavedCny', 'freight saved by joins (CNY)', (v) => (v ?? 0).toFixed(2), +1],
  ['lots.nearExpiryUnitsShipped', 'near-expiry units shipped (lots)', (v) => (v === undefined ? 'n/a' : String(v)), 0],
  ['lots.writtenOffUnits', 'written off at the end (units)', (v) => (v === undefined ? 'n/a' : String(v)), -1],
  ['lots.writtenOffValueCny', 'written off at the end (CNY, list price)', (v) => (v === undefined ? 'n/a' : v.toFixed(2)), -1],
  ['gapCaptured', 'gap captured (myopic → clairvoyant)', pct, +1],
  ['splitRate', 'split', pct, -1],
  ['transfers', 'transfers', String, -1],
  ['backorders', 'orders with backorders', String, -1],
  ['backorderedUnits', 'backordered units', String, -1],
  ['backorderedValueCny', 'backordered value (CNY)', (v) => (v ?? 0).toFixed(0), -1],
  ['partialOrders', 'partial orders', String, -1],
  ['failedDispatches', 'failed dispatches', String, -1],
  ['reroutes', 'reroutes', String, 0],
  ['decisionMicrosP99', 'decision µs p99', String, -1],
];

async function refresh() {
  const r = await fetch('/v1/scenarios');
  runs = (await r.json()).items;
  $('#runs tbody').innerHTML = runs.map((j) => `<tr data-id="${esc(j.id)}"><td>${esc(j.scenario)}</td><td>${esc(j.policies.join(', '))}</td>
    <td class="status-${esc(j.status)}">${esc(j.status)}${j.current ? ` · ${esc(j.current)}` : ''}</td>
    <td><progress max="1" value="${j.progress}"></progress></td><td>${esc((j.startedAt ?? j.createdAt).slice(5, 16).replace('T', ' '))}</td>
    <td>${j.status === 'done' ? `<a href="${esc(j.links.report)}" data-report="${esc(j.links.report)}">HTML</a>` : ''}</td></tr>`).join('');
  const done = runs.filter((j) => j.status === 'done');
  for (const sel of [$('#left'), $('#right')]) {
    const keep = sel.value;
    sel.innerHTML = done.map((j) => `<option value="${esc(j.id)}">${esc(j.scenario)} · ${esc(j.finishedAt.slice(11, 19))}</option>`).join('');
    if (done.some((j) => j.id === keep)) sel.value = keep;
  }
  if (!$('#right').value && done[0]) $('#right').value = done[0].id;
  if ($('#left').value === $('#right').value && done[1]) $('#left').value = done[1].id;
  await compare();
  if (runs.some((j) => j.status === 'queued' || j.status === 'running')) setTimeout(refresh, 1500);
}

async function compare() {
  const ids = [$('#left').value, $('#right').value].filter(Boolean);
  if (ids.length === 0) return;
  const full = await Promise.all(ids.map(async (id) => (await fetch(`/v1/scenarios/${id}`)).json()));
  const cols = full.flatMap((j, k) => Object.keys(j.result.policies).map((p) => ({ side: k, label: `${j.scenario} · ${p}`, kpi: j.result.policies[p], policy: p })));
  $('#comparison thead').innerHTML = `<tr><th></th>${cols.map((c) => `<th>${esc(c.label)}</th>`).join('')}</tr>`;
  // A key may name a nested figure (merging.mergedGroups).
  const at = (kpi, key) => key.split('.').reduce((o, k) => (o === null || o === undefined ? undefined : o[k]), kpi);
  $('#comparison tbody').innerHTML = KPIS.map(([key, label, fmt, dir]) => `<tr><td>${esc(label)}</td>${cols.map((c) => {
    const twin = cols.find((o) => o.side !== c.side && o.policy === c.policy);
    const v = at(c.kpi, key);
    const w = twin ? at(twin.kpi, key) : undefined;
    const cls = c.side === 1 && twin && dir !== 0 && v !== null && v !== undefined && w !== null && w !== undefined && v !== w ? ((v - w) * dir > 0 ? 'better' : 'worse') : '';
    return `<td class="${cls}">${esc(fmt(v))}</td>`;
  }).join('')}</tr>`).join('');
}

$('#start').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  const body = { bundled: f.get('bundled'), policies: f.getAll('policy') };
  const r = await fetch('/v1/scenarios', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const j = await r.json();
  $('#start-msg').textContent = r.ok ? `started ${j.id}` : `${j.error.code}: ${j.error.message}`;
  await apiKey('planner').then((k) => {
  auth.key = k;
  return refresh();
});
});
// The report needs the key too, which a plain link cannot send: fetch it, show it from a blob: URL.
$('#runs').addEventListener('click', async (ev) => {
  const a = ev.target.closest('a[data-report]');
  if (!a) return;
  ev.preventDefault();
  const w = window.open('', '_blank');
  const r = await fetch(a.dataset.report);
  const html = await r.text();
  const url = URL.createObjectURL(new Blob([html], { type: 'text/html' }));
  if (w) w.location.href = url;
  else window.location.href = url;
});
$('#left').addEventListener('change', compare);
$('#right').addEventListener('change', compare);
apiKey('planner').then((k) => {
  auth.key = k;
  return refresh();
});
