/* global window, document, protobuf, performance, requestAnimationFrame, setInterval, setTimeout, fetch */
// The dispatchers' live map (issue 7). Plain ES module, no build step. Everything it loads comes
// from the service itself: MapLibre GL and protobufjs from node_modules (/vendor/), the socket.io
// client from the socket.io server, the schema from /live/dispatchd.proto (the same file the
// server encodes with), the region layers and radius rings from /live/*.geojson. No tile server,
// no glyphs or sprites: labels are HTML markers in the system CJK font.
import * as maplibregl from '/vendor/maplibre/maplibre-gl.mjs';
import { io } from '/socket.io/socket.io.esm.min.js';
import { apiKey, keyedFetch, refreshKey } from '/web/key.js';

// The dispatcher role's API key (web/key.js): sent with the socket handshake and every API read.
const auth = { key: '' };
const api = keyedFetch('dispatcher', auth);

const COURIER_COLORS = { STO: '#ff9f43', ZTO: '#4aa8ff', YUNDA: '#c08cff', SF: '#2fd08a' };
const PALETTE = ['#ff6b8b', '#ffd166', '#06d6a0', '#118ab2'];
const MAX_ARCS = 400;
const ARC_LIFE_MS = 90_000;
const TZ = 'Asia/Shanghai';

const state = {
  snapshot: false,
  warehouses: new Map(),
  couriers: [],
  courierColor: new Map(),
  stock: new Map(),
  capacity: null,
  kpis: new Map(), // instanceId -> Kpi
  decisions: [], // newest last
  byOrder: new Map(),
  filterWh: '',
  courierOff: new Set(),
  selected: null,
  received: 0,
  flashes: [],
  dirty: true,
};
window.__dispatchd = { state, map: null, ready: false, errors: [] };

const $ = (id) => document.getElementById(id);
const fmtTime = new Intl.DateTimeFormat('zh-CN', { timeZone: TZ, hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
const fmtDateTime = new Intl.DateTimeFormat('zh-CN', { timeZone: TZ, month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hour12: false });
const cny = (x) => `¥${x.toFixed(2)}`;
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
const colorOf = (courierId) => state.courierColor.get(courierId) ?? '#aab4c8';

// ---------------------------------------------------------------- map
const map = new maplibregl.Map({
  container: 'map',
  style: {
    version: 8,
    sources: {},
    layers: [{ id: 'bg', type: 'background', paint: { 'background-color': '#09101c' } }],
  },
  center: [119.6, 31.4],
  zoom: 5.9,
  minZoom: 3,
  maxZoom: 11,
  attributionControl: false,
  fadeDuration: 0,
});
window.__dispatchd.map = map;
map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-left');
map.on('error', (e) => window.__dispatchd.errors.push(String(e?.error?.message ?? e)));

const mapLoaded = new Promise((resolve) => map.on('load', resolve));

function labelPoint(geometry) {
  // Area-weighted centroid of the largest outer ring: good enough to place a label.
  const polys = geometry.type === 'Polygon' ? [geometry.coordinates] : geometry.coordinates;
  let best = null;
  let bestArea = 0;
  for (const p of polys) {
    const ring = p[0];
    let a = 0, cx = 0, cy = 0;
    for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      const f = ring[j][0] * ring[i][1] - ring[i][0] * ring[j][1];
      a += f;
      cx += (ring[j][0] + ring[i][0]) * f;
      cy += (ring[j][1] + ring[i][1]) * f;
    }
    if (Math.abs(a) > bestArea) {
      bestArea = Math.abs(a);
      best = [cx / (3 * a), cy / (3 * a)];
    }
  }
  return best;
}

async function addBaseLayers() {
  const [regions, rings] = await Promise.all([
    fetch('/live/regions.geojson').then((r) => r.json()),
    api('/live/rings.geojson').then((r) => r.json()),
  ]);
  map.addSource('regions', { type: 'geojson', data: regions });
  map.addLayer({ id: 'prov-fill', type: 'fill', source: 'regions', filter: ['==', ['get', 'level'], 'province'], paint: { 'fill-color': '#0f1828' } });
  map.addLayer({ id: 'pref-fill', type: 'fill', source: 'regions', filter: ['==', ['get', 'level'], 'prefecture'], paint: { 'fill-color': '#142038' } });
  map.addLayer({ id: 'prov-line', type: 'line', source: 'regions', filter: ['==', ['get', 'level'], 'province'], paint: { 'line-color': '#26365a', 'line-width': 0.8 } });
  map.addLayer({ id: 'pref-line', type: 'line', source: 'regions', filter: ['==', ['get', 'level'], 'prefecture'], paint: { 'line-color': '#2b3d63', 'line-width': 0.6 } });
  map.addSource('rings', { type: 'geojson', data: rings });
  map.addLayer({ id: 'rings-fill', type: 'fill', source: 'rings', paint: { 'fill-color': '#4fd1c5', 'fill-opacity': 0.035 } });
  map.addLayer({ id: 'rings-line', type: 'line', source: 'rings', paint: { 'line-color': '#4fd1c5', 'line-opacity': 0.35, 'line-width': 1, 'line-dasharray': [3, 2] } });
  map.addSource('arcs', { type: 'geojson', data: { type: 'FeatureCollection', features: [] } });
  map.addLayer({
    id: 'arcs',
    type: 'line',
    source: 'arcs',
    layout: { 'line-cap': 'round' },
    paint: { 'line-color': ['get', 'color'], 'line-width': ['case', ['get', 'sel'], 3.5, 1.6], 'line-opacity': ['get', 'opacity'] },
  });
  map.addSource('dest', { type: 'geojson', data: { type: 'FeatureCollection', features: [] } });
  map.addLayer({
    id: 'dest',
    type: 'circle',
    source: 'dest',
    paint: {
      'circle-radius': ['case', ['get', 'sel'], 6, 3],
      'circle-color': ['get', 'color'],
      'circle-opacity': ['get', 'opacity'],
      'circle-stroke-color': '#09101c',
      'circle-stroke-width': 0.5,
    },
  });
  map.addSource('flash', { type: 'geojson', data: { type: 'FeatureCollection', features: [] } });
  map.addLayer({ id: 'flash', type: 'line', source: 'flash', paint: { 'line-color': '#ff4d6d', 'line-width': 4, 'line-opacity': ['get', 'opacity'] } });
  map.addSource('wh', { type: 'geojson', data: { type: 'FeatureCollection', features: [] } });
  map.addLayer({ id: 'wh', type: 'circle', source: 'wh', paint: { 'circle-radius': 5, 'circle-color': ['case', ['==', ['get', 'kind'], 'national'], '#a98bff', '#4fd1c5'], 'circle-stroke-color': '#fff', 'circle-stroke-width': 1.2 } });

  // Region labels as HTML markers (Chinese names in the system font).
  for (const f of regions.features) {
    const p = f.properties;
    const at = labelPoint(f.geometry);
    if (!at) continue;
    const el = document.createElement('div');
    el.className = p.level === 'province' ? 'rl prov' : 'rl';
    el.textContent = p.nameZh ?? p.name;
    new maplibregl.Marker({ element: el }).setLngLat(at).addTo(map);
  }

  for (const id of ['arcs', 'dest']) {
    map.on('click', id, (e) => {
      const f = e.features?.[0];
      if (f) select(f.properties.orderId, f.properties.shipment);
    });
    map.on('mouseenter', id, () => (map.getCanvas().style.cursor = 'pointer'));
    map.on('mouseleave', id, () => (map.getCanvas().style.cursor = ''));
  }
}

function arcCoords(from, to) {
  // A gentle great-arc-like curve: quadratic Bézier bent to the left of the direction of travel.
  const [x0, y0] = from;
  const [x1, y1] = to;
  const dx = x1 - x0, dy = y1 - y0;
  const len = Math.hypot(dx, dy) || 1e-9;
  const bend = Math.min(0.25 * len, 1.2);
  const cx = (x0 + x1) / 2 - (dy / len) * bend;
  const cy = (y0 + y1) / 2 + (dx / len) * bend;
  const pts = [];
  for (let i = 0; i <= 24; i++) {
    const t = i / 24;
    pts.push([(1 - t) * (1 - t) * x0 + 2 * (1 - t) * t * cx + t * t * x1, (1 - t) * (1 - t) * y0 + 2 * (1 - t) * t * cy + t * t * y1]);
  }
  return pts;
}

function visible(d, s) {
  if (state.filterWh && s.warehouseId !== state.filterWh) return false;
  if (state.courierOff.has(s.courierId)) return false;
  return true;
}

let drawnArcs = 0;
function redrawArcs(now) {
  const arcs = [];
  const dests = [];
  const sel = state.selected;
  for (const d of state.decisions) {
    if (!d.destination) continue;
    const age = now - d.receivedAt;
    if (age > ARC_LIFE_MS && !(sel && sel.orderId === d.orderId)) continue;
    const opacity = Math.max(0.12, 1 - age / ARC_LIFE_MS);
    const to = [d.destination.lon, d.destination.lat];
    d.shipments.forEach((s, i) => {
      const w = state.warehouses.get(s.warehouseId);
      if (!w || !visible(d, s)) return;
      const isSel = !!sel && sel.orderId === d.orderId;
      const props = { orderId: d.orderId, shipment: i, color: colorOf(s.courierId), opacity: isSel ? 1 : opacity * 0.85, sel: isSel };
      arcs.push({ type: 'Feature', properties: props, geometry: { type: 'LineString', coordinates: arcCoords([w.lon, w.lat], to) } });
      dests.push({ type: 'Feature', properties: props, geometry: { type: 'Point', coordinates: to } });
    });
  }
  map.getSource('arcs')?.setData({ type: 'FeatureCollection', features: arcs });
  map.getSource('dest')?.setData({ type: 'FeatureCollection', features: dests });
  drawnArcs = arcs.length;
  window.__dispatchd.arcs = arcs.length;
}

function redrawFlashes(now) {
  state.flashes = state.flashes.filter((f) => now - f.at < 3000);
  const features = state.flashes.map((f) => ({
    type: 'Feature',
    properties: { opacity: 0.3 + 0.7 * Math.abs(Math.sin(((now - f.at) / 250) * Math.PI)) },
    geometry: { type: 'LineString', coordinates: f.coords },
  }));
  map.getSource('flash')?.setData({ type: 'FeatureCollection', features });
}

// ---------------------------------------------------------------- warehouses
const whMarkers = new Map();
function drawWarehouses() {
  map.getSource('wh')?.setData({
    type: 'FeatureCollection',
    features: [...state.warehouses.values()].map((w) => ({ type: 'Feature', properties: { id: w.id, kind: w.kind }, geometry: { type: 'Point', coordinates: [w.lon, w.lat] } })),
  });
  for (const w of state.warehouses.values()) {
    if (whMarkers.has(w.id)) continue;
    const el = document.createElement('div');
    el.className = `wh ${w.kind}`;
    el.dataset.warehouse = w.id;
    el.innerHTML = `<div class="lbl"><b>${esc(w.cityZh)}</b><span>${esc(w.id)}</span></div><div class="gauge" title="free stock"><i style="width:100%"></i></div>`;
    el.addEventListener('click', () => {
      $('f-wh').value = state.filterWh === w.id ? '' : w.id;
      state.filterWh = $('f-wh').value;
      state.dirty = true;
    });
    const m = new maplibregl.Marker({ element: el, anchor: 'top', offset: [0, 8] }).setLngLat([w.lon, w.lat]).addTo(map);
    whMarkers.set(w.id, { m, el });
  }
  updateGauges();
}

function updateGauges() {
  for (const [id, { el }] of whMarkers) {
    const s = state.stock.get(id);
    if (!s) continue;
    const frac = s.onHand > 0 ? s.free / s.onHand : 0;
    const i = el.querySelector('.gauge i');
    i.style.width = `${Math.round(frac * 100)}%`;
    i.style.background = frac < 0.25 ? 'var(--bad)' : frac < 0.5 ? 'var(--warn)' : 'var(--accent)';
    el.querySelector('.gauge').title =
      `free ${s.free.toLocaleString()} / on hand ${s.onHand.toLocaleString()} units · reserved ${s.reserved.toLocaleString()} · ` +
      `${s.skusOut} SKUs out, ${s.skusLow} low (≤${s.lowThreshold})`;
  }
}

// ---------------------------------------------------------------- panel
function fillFilters() {
  const sel = $('f-wh');
  for (const w of state.warehouses.values()) {
    if (sel.querySelector(`option[value="${w.id}"]`)) continue;
    const o = document.createElement('option');
    o.value = w.id;
    o.textContent = `${w.id} ${w.cityZh} ${w.city}`;
    sel.appendChild(o);
  }
  sel.onchange = () => {
    state.filterWh = sel.value;
    state.dirty = true;
    renderFeed();
  };
  const chips = $('f-courier');
  chips.innerHTML = '';
  for (const c of state.couriers) {
    const el = document.createElement('span');
    el.className = 'chip';
    el.dataset.courier = c.id;
    el.innerHTML = `<i class="dot" style="background:${colorOf(c.id)}"></i>${esc(c.id)}`;
    el.onclick = () => {
      if (state.courierOff.has(c.id)) state.courierOff.delete(c.id);
      else state.courierOff.add(c.id);
      el.classList.toggle('offc', state.courierOff.has(c.id));
      state.dirty = true;
      renderFeed();
    };
    chips.appendChild(el);
  }
  $('legend').innerHTML =
    state.couriers.map((c) => `<span><i class="dot" style="background:${colorOf(c.id)}"></i>${esc(c.name || c.id)}</span>`).join('') +
    '<span><i class="dot" style="background:#4fd1c5"></i>仓库 · 服务半径 warehouse · radius</span><span><i class="dot" style="background:#ff4d6d"></i>改派 reroute</span>';
}

function renderKpi() {
  let orders = 0, perMin = 0, cost = 0, penalty = 0, split = 0, back = 0, backUnits = 0, backValue = 0;
  let groups = 0, mergeSaved = 0, moved = 0, moveSaved = 0, near = 0;
  let onTimeKnown = false;
  const byCourier = new Map();
  // Written-off stock is the state of a store, not a sum over decisions: instances sharing a store
  // report the same figure under one storeId, so each store counts once (its newest reading).
  const byStore = new Map();
  const now = Date.now();
  for (const [id, k] of state.kpis) {
    if (now - k.receivedAt > 10_000 && state.kpis.size > 1) {
      state.kpis.delete(id);
      continue;
    }
    orders += k.orders;
    perMin += k.ordersPerMin;
    cost += k.costTotal;
    penalty += k.penaltyTotal ?? 0;
    backUnits += k.backorderedUnits ?? 0;
    backValue += k.backorderedValueCny ?? 0;
    split += k.splitOrders;
    back += k.backorderedOrders;
    groups += k.mergedGroups ?? 0;
    mergeSaved += k.mergeSavedCny ?? 0;
    moved += k.reoptimizedShipments ?? 0;
    moveSaved += k.reoptimizationSavingCny ?? 0;
    near += k.nearExpiryUnits ?? 0;
    if (k.writtenOffUnits !== undefined && k.writtenOffUnits !== null) {
      const at = Number(k.atMs);
      const prev = byStore.get(k.storeId);
      if (!prev || at > prev.at) byStore.set(k.storeId, { at, units: k.writtenOffUnits, value: k.writtenOffValueCny ?? 0 });
    }
    if (k.onTimePct !== undefined && k.onTimePct !== null) onTimeKnown = true;
    for (const c of k.couriers) byCourier.set(c.courierId, (byCourier.get(c.courierId) ?? 0) + c.shipments);
  }
  $('kpi-opm').textContent = perMin.toFixed(perMin < 10 ? 1 : 0);
  // Money per order over every decision (freight, transfers, storage); penalties are decision weights, shown apart.
  $('kpi-cpo').textContent = orders > 0 ? cny(cost / orders) : '–';
  $('kpi-cpo').title = orders > 0 ? `money only, over all ${orders} orders; penalties (lateness, split) ${cny(penalty / orders)} per order apart` : '';
  const ot = $('kpi-ontime');
  if (onTimeKnown) {
    const vals = [...state.kpis.values()].filter((k) => k.onTimePct !== undefined);
    ot.textContent = `${(vals.reduce((s, k) => s + k.onTimePct, 0) / vals.length).toFixed(1)}%`;
    ot.classList.remove('na');
  } else {
    ot.textContent = 'n/a';
    ot.classList.add('na');
  }
  $('kpi-split').textContent = orders > 0 ? `${((split / orders) * 100).toFixed(1)}% · ${((back / orders) * 100).toFixed(1)}% (${backUnits} u, ${cny(backValue)})` : '–';
  $('kpi-merge').textContent = `${groups} 组 · ${cny(mergeSaved)}`;
  $('kpi-reopt').textContent = `${moved} 件 · ${cny(moveSaved)}`;
  $('kpi-near').textContent = `${near} 件`;
  if (byStore.size > 0) {
    const stores = [...byStore.values()];
    const value = stores.reduce((n, x) => n + x.value, 0);
    // Large sums (a demo stock past its lots' days runs to millions) in whole yuan with separators, so the tile stays readable.
    $('kpi-wo').textContent = `${stores.reduce((n, x) => n + x.units, 0).toLocaleString('en-US')} 件 · ${value >= 10_000 ? `¥${Math.round(value).toLocaleString('en-US')}` : cny(value)}`;
  } else $('kpi-wo').textContent = '–';
  $('instances').textContent = `${state.kpis.size} instance${state.kpis.size === 1 ? '' : 's'}`;

  // Courier bars: share of shipments in the window; thin bar: busiest destination province today vs its cap.
  const total = [...byCourier.values()].reduce((a, b) => a + b, 0) || 1;
  const busiest = new Map();
  for (const r of state.capacity?.couriers ?? []) {
    if (r.limitParcels === undefined) continue;
    const frac = r.usedParcels / r.limitParcels;
    const prev = busiest.get(r.courierId);
    if (!prev || frac > prev.frac) busiest.set(r.courierId, { frac, used: r.usedParcels, limit: r.limitParcels, prov: r.provinceCode });
  }
  $('couriers').innerHTML = state.couriers
    .map((c) => {
      const n = byCourier.get(c.id) ?? 0;
      const b = busiest.get(c.id);
      const cap = b
        ? `<div class="bar cap" title="busiest province today ${b.prov}: ${b.used}/${b.limit} parcels"><i style="width:${Math.min(100, b.frac * 100).toFixed(1)}%;background:${b.frac > 0.9 ? 'var(--bad)' : b.frac > 0.7 ? 'var(--warn)' : '#8aa0c8'}"></i></div>`
        : '<div class="bar cap" title="no daily cap"><i style="width:0"></i></div>';
      return `<div class="row" data-courier="${esc(c.id)}"><div class="name"><i class="dot" style="background:${colorOf(c.id)}"></i>${esc(c.id)}</div>
        <div><div class="bar"><i style="width:${((n / total) * 100).toFixed(1)}%;background:${colorOf(c.id)}"></i></div>${cap}</div>
        <div class="num" title="shipments in the window · busiest province's share of its daily cap">${n} · ${b ? `${Math.round(b.frac * 100)}%` : '∞'}</div></div>`;
    })
    .join('');
}

function renderFeed() {
  const ol = $('feed');
  const rows = [];
  for (let i = state.decisions.length - 1; i >= 0 && rows.length < 60; i--) {
    const d = state.decisions[i];
    const s = d.shipments.find((x) => visible(d, x));
    if (!s && (state.filterWh || state.courierOff.size > 0)) continue;
    const sel = state.selected?.orderId === d.orderId ? ' sel' : '';
    const mark = d.rerouted ? ' <span style="color:#ff4d6d" title="rerouted">⟳</span>' : '';
    const route = d.shipments.length === 0 ? '<span style="color:var(--bad)">缺货 backordered</span>' : d.shipments.map((x) => `<span style="color:${colorOf(x.courierId)}">${esc(x.warehouseId)}·${esc(x.courierId)}</span>`).join(' + ');
    rows.push(
      `<li class="${sel}" data-order="${esc(d.orderId)}"><span class="t">${fmtTime.format(d.decidedAtMs)}</span><span>${route}<br><span class="m">${esc(d.orderId)} · ${esc(d.mode)}${mark}</span></span><span class="c">${cny(d.totalCost)}</span></li>`,
    );
  }
  ol.innerHTML = rows.join('');
  $('feed-count').textContent = `${state.received} received`;
}
// The list holds still while the pointer is over it, so a dispatcher (or a test) can click a row.
let feedHover = false;
$('feed').addEventListener('mouseenter', () => (feedHover = true));
$('feed').addEventListener('mouseleave', () => (feedHover = false));
$('feed').addEventListener('click', (e) => {
  const li = e.target.closest('li[data-order]');
  if (li) select(li.dataset.order, 0);
});

function select(orderId, shipment) {
  const d = state.byOrder.get(orderId);
  if (!d) return;
  state.selected = { orderId, shipment: Number(shipment) || 0 };
  state.dirty = true;
  const s = d.shipments[state.selected.shipment];
  const el = $('detail');
  el.classList.remove('hidden');
  el.dataset.order = orderId;
  const tl = [
    ['下单 placed', d.placedAtMs],
    ['决策 decided', d.decidedAtMs],
    ['预计 ETA', s?.etaMs],
    ['承诺 promised', d.promisedByMs],
  ]
    .filter(([, t]) => t)
    .map(([k, t]) => `<div class="${k.startsWith('预计') && d.promisedByMs && t > d.promisedByMs ? 'late' : ''}"><b>${k}</b>${fmtDateTime.format(t)}</div>`)
    .join('');
  const reasonRows = (list) =>
    list
      .map((r) => `<tr><td><span class="code">${esc(r.code)}</span>${r.warehouseId ? ` · <b>${esc(r.warehouseId)}</b>` : ''}${r.costDelta !== undefined && r.costDelta !== null ? ` <span style="color:var(--warn)">+${cny(r.costDelta)}</span>` : ''}<br>${esc(r.detail)}</td></tr>`)
      .join('');
  const reasons = reasonRows(d.reasons);
  const ships = d.shipments
    .map(
      (x, i) =>
        `<tr${i === state.selected.shipment ? ' style="background:#1a2742"' : ''}><td><i class="dot" style="background:${colorOf(x.courierId)}"></i> ${esc(x.warehouseId)} → ${esc(x.courierId)}</td><td>${x.lines.map((l) => `${esc(l.sku)}×${l.qty}`).join(', ')}<br><span class="muted">${x.distanceKm.toFixed(0)} km · ${x.weightKg.toFixed(1)} kg · ${x.parcels} parcel(s) · ${cny(x.cost.total)}</span></td></tr>`,
    )
    .join('');
  el.innerHTML = `<span class="close" id="detail-close">✕</span><h4>${esc(d.orderId)} <span class="muted">${esc(d.status)} · ${esc(d.mode)}${d.solver !== d.mode ? ` · ${esc(d.solver)}` : ''} · ${(d.decideMicros / 1000).toFixed(1)} ms</span></h4>
    <div class="muted">${esc(d.customerId)} ${esc(d.address)}</div>
    <div class="tl">${tl}</div>
    <table>${ships}</table>
    ${d.backordered.length ? `<div style="color:var(--bad)">backordered: ${d.backordered.map((l) => `${esc(l.sku)}×${l.qty}`).join(', ')}</div>` : ''}
    <h4 style="margin-top:8px">决策原因 Reasons</h4><table class="reasons">${reasons}</table>
    ${d.reasonsOmitted > 0 ? `<div class="muted" id="more-reasons">+ ${d.reasonsOmitted} reasons about the other warehouses…</div>` : ''}`;
  // The shipment's scans (WMS tracking), when the service tracks them: GET /v1/orders/{id}/timeline.
  api(`/v1/orders/${encodeURIComponent(orderId)}/timeline`)
    .then((r) => (r.ok ? r.json() : null))
    .then((t) => {
      if (!t || state.selected?.orderId !== orderId || !Array.isArray(t.events) || t.events.length === 0) return;
      const rows = t.events
        .map((e) => `<tr><td class="muted" style="white-space:nowrap">${fmtDateTime.format(Date.parse(e.at))}</td><td>${esc(e.labelZh ?? '')} ${esc(e.label ?? e.code)}${e.location ? ` <span class="muted">${esc(e.location)}</span>` : ''}</td></tr>`)
        .join('');
      el.insertAdjacentHTML('beforeend', `<h4 style="margin-top:8px">轨迹 Tracking <span class="muted">${esc(t.stateLabel ?? '')}</span></h4><table class="scans">${rows}</table>`);
    })
    .catch(() => undefined);
  if (d.reasonsOmitted > 0) {
    // The stream carries the reasons about the shipping warehouses; the full list is one request away.
    api(`/v1/orders/${encodeURIComponent(orderId)}`)
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`HTTP ${r.status}`))))
      .then((view) => {
        if (state.selected?.orderId !== orderId) return;
        const all = view.decision.reasons.map((r) => ({ ...r, warehouseId: r.warehouseId ?? undefined }));
        el.querySelector('table.reasons').innerHTML = reasonRows(all);
        el.querySelector('#more-reasons')?.remove();
      })
      .catch(() => {
        const more = el.querySelector('#more-reasons');
        if (more) more.textContent = `+ ${d.reasonsOmitted} reasons not available from this instance`;
      });
  }
  $('detail-close').onclick = () => {
    el.classList.add('hidden');
    state.selected = null;
    state.dirty = true;
    renderFeed();
  };
  renderFeed();
}

// ---------------------------------------------------------------- stream
function addDecisions(items) {
  const now = performance.now();
  for (const d of items) {
    // A decision made while this client joined can come in the snapshot and again in a batch.
    if (state.byOrder.has(d.orderId)) continue;
    d.receivedAt = now;
    state.decisions.push(d);
    state.byOrder.set(d.orderId, d);
  }
  state.received += items.length;
  while (state.decisions.length > MAX_ARCS) state.byOrder.delete(state.decisions.shift().orderId);
  state.dirty = true;
  feedDirty = true;
}
let feedDirty = false;

async function start() {
  const root = await protobuf.load('/live/dispatchd.proto');
  const types = {
    snapshot: root.lookupType('dispatchd.live.v1.Snapshot'),
    decision: root.lookupType('dispatchd.live.v1.DecisionBatch'),
    reroute: root.lookupType('dispatchd.live.v1.RerouteBatch'),
    status: root.lookupType('dispatchd.live.v1.StatusBatch'),
    stock: root.lookupType('dispatchd.live.v1.StockUpdate'),
    capacity: root.lookupType('dispatchd.live.v1.CapacityUpdate'),
    kpi: root.lookupType('dispatchd.live.v1.Kpi'),
    goodbye: root.lookupType('dispatchd.live.v1.Goodbye'),
  };
  const decode = (ev, buf) => types[ev].toObject(types[ev].decode(new Uint8Array(buf)), { longs: Number, defaults: true, arrays: true });
  auth.key = await apiKey('dispatcher');
  await mapLoaded;
  await addBaseLayers();

  const socket = io('/live', { transports: ['websocket'], auth: (cb) => cb({ key: auth.key }) });
  // A refused handshake (no key, a revoked one, a key without the dispatcher role): ask for
  // another once, then stay offline saying why.
  let askedAgain = false;
  socket.on('connect_error', async (err) => {
    const code = err?.data?.code;
    $('conn').textContent = `${code ?? 'offline'}: ${err.message}`;
    $('conn').className = 'pill off';
    if ((code === 'DSP_UNAUTHENTICATED' || code === 'DSP_FORBIDDEN') && !askedAgain) {
      askedAgain = true;
      auth.key = await refreshKey('dispatcher');
      socket.connect();
    }
  });
  // The server says why it closes this socket: shutting down (reconnect: another instance
  // answers) or the key was revoked (ask for another).
  socket.on('goodbye', (buf) => {
    const g = decode('goodbye', buf);
    window.__dispatchd.goodbye = g;
    $('conn').textContent = `${g.code}: ${g.detail}`;
    $('conn').className = 'pill off';
    if (g.code === 'DSP_SHUTTING_DOWN') setTimeout(() => socket.connect(), 1_000 + Math.random() * 2_000);
    else if (!askedAgain) {
      askedAgain = true;
      refreshKey('dispatcher').then((k) => {
        auth.key = k;
        socket.connect();
      });
    }
  });
  socket.on('connect', () => {
    askedAgain = false;
    $('conn').textContent = '实时 live';
    $('conn').className = 'pill on';
  });
  socket.on('disconnect', () => {
    $('conn').textContent = '断开 offline';
    $('conn').className = 'pill off';
  });
  socket.on('snapshot', (buf) => {
    const s = decode('snapshot', buf);
    state.warehouses = new Map(s.warehouses.map((w) => [w.id, w]));
    state.couriers = s.couriers;
    s.couriers.forEach((c, i) => state.courierColor.set(c.id, COURIER_COLORS[c.id] ?? PALETTE[i % PALETTE.length]));
    for (const w of s.stock?.warehouses ?? []) state.stock.set(w.warehouseId, w);
    state.capacity = s.capacity ?? null;
    if (s.kpi) state.kpis.set(s.kpi.instanceId, { ...s.kpi, receivedAt: Date.now() });
    state.decisions = [];
    state.byOrder.clear();
    addDecisions(s.recent);
    if (!state.snapshot) {
      // Frame the regional network (the national warehouse far north stays one pan away).
      const reg = s.warehouses.filter((w) => w.kind !== 'national');
      if (reg.length > 0) {
        const lons = reg.map((w) => w.lon), lats = reg.map((w) => w.lat);
        map.fitBounds([[Math.min(...lons) - 1.2, Math.min(...lats) - 1.0], [Math.max(...lons) + 1.2, Math.max(...lats) + 0.8]], { padding: 20, animate: false });
      }
    }
    state.snapshot = true;
    drawWarehouses();
    fillFilters();
    renderKpi();
    renderFeed();
    window.__dispatchd.ready = true;
  });
  socket.on('decision', (buf) => addDecisions(decode('decision', buf).items));
  socket.on('reroute', (buf) => {
    for (const r of decode('reroute', buf).items) {
      const d = state.byOrder.get(r.orderId);
      const s = d?.shipments[r.shipment];
      if (s) {
        // The arc takes the new courier's colour.
        s.courierId = r.toCourierId;
        if (r.etaMs) s.etaMs = r.etaMs;
        d.rerouted = (d.rerouted ?? 0) + 1;
        state.dirty = true;
        feedDirty = true;
      }
      const dest = r.destination ?? d?.destination;
      const to = state.warehouses.get(r.toWarehouseId || s?.warehouseId);
      if (to && dest) state.flashes.push({ at: performance.now(), coords: arcCoords([to.lon, to.lat], [dest.lon, dest.lat]) });
      state.reroutes = (state.reroutes ?? 0) + 1;
    }
  });
  socket.on('status', (buf) => {
    window.__dispatchd.lastStatus = decode('status', buf).items;
  });
  socket.on('stock', (buf) => {
    for (const w of decode('stock', buf).warehouses) state.stock.set(w.warehouseId, w);
    updateGauges();
  });
  socket.on('capacity', (buf) => {
    state.capacity = decode('capacity', buf);
    renderKpi();
  });
  socket.on('kpi', (buf) => {
    const k = decode('kpi', buf);
    state.kpis.set(k.instanceId, { ...k, receivedAt: Date.now() });
    renderKpi();
  });

  // Drawing is paced by the browser: map sources are updated at most ~4 times a second.
  let lastDraw = 0;
  const loop = (t) => {
    if (state.flashes.length > 0) redrawFlashes(t);
    if ((state.dirty && t - lastDraw > 250) || t - lastDraw > 2000) {
      state.dirty = false;
      lastDraw = t;
      redrawArcs(t);
      if (feedDirty && !feedHover) {
        feedDirty = false;
        renderFeed();
      }
    }
    requestAnimationFrame(loop);
  };
  requestAnimationFrame(loop);
}

setInterval(() => {
  $('clock').textContent = `${fmtTime.format(Date.now())} CST`;
}, 1000);
start().catch((err) => {
  window.__dispatchd.errors.push(String(err?.stack ?? err));
  $('conn').textContent = `error: ${err.message}`;
});
export { drawnArcs };
