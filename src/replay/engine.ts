import { Allocator } from '../allocate/allocator.js';
import { localDay, toIsoWithOffset } from '../allocate/time.js';
import { Rerouter, type Reroute } from '../allocate/reroute.js';
import type { Config } from '../config.js';
import { generateOrders } from '../demo/orders.js';
import type { AllocateRequest, Decision } from '../domain/schemas.js';
import { DspError } from '../errors.js';
import type { NetworkContext } from '../network/context.js';
import type { Solver } from '../solve/pool.js';
import { MemoryStore } from '../store/memory.js';
import type { StatusMachine } from '../tracking/status.js';
import { mulberry32 } from '../util/prng.js';
import type { Scenario, ScenarioEvent } from './scenario.js';

/**
 * The replay engine (issue 6): the service's own allocation pipeline (Allocator, candidates,
 * solver, reservations, reroutes) run in simulated time on a fresh embedded store per policy,
 * with a seeded delivery simulator. No second implementation of any decision logic.
 */

export type Policy = 'nearest' | 'radius-rule' | 'optimized';

export interface PolicyKpis {
  orders: number;
  /** Delivered by promisedBy / orders shipped, 0..1. */
  onTimeRate: number;
  /** Mean logistics cost per order that ships, CNY (the decisions' totals, reroutes applied). */
  costPerOrder: number;
  /** Orders in more than one shipment / orders that ship, 0..1. */
  splitRate: number;
  /** Orders that use a line-haul transfer. */
  transfers: number;
  /** Orders with any unit backordered. */
  backorders: number;
  /** Orders that could not be dispatched: refused with an error, or nothing shipped at all. */
  failedDispatches: number;
  reroutes: number;
  decisionMicrosP50: number;
  decisionMicrosP99: number;
}

export interface PolicyReport extends PolicyKpis {
  /** The same KPIs per local day. */
  days: Record<string, PolicyKpis>;
  /** Per hour (local, "YYYY-MM-DD HH"): orders, on-time rate and cost per order (charts). */
  hours: { hour: string; orders: number; onTimeRate: number | null; costPerOrder: number | null }[];
  /** Units shipped per warehouse, parcels per courier. */
  warehouseLoad: Record<string, number>;
  courierMix: Record<string, number>;
}

interface Row {
  day: string;
  hour: string;
  ok: boolean;
  shipped: boolean;
  onTime: boolean;
  cost: number;
  split: boolean;
  transfer: boolean;
  backordered: boolean;
  micros: number;
  reroutes: number;
}

const HOUR_MS = 3_600_000;

/** Every event of the scenario in time order: inline, from the file, and generated (demand factor applied). */
export function scenarioEvents(s: Scenario, fileEvents: ScenarioEvent[], net: NetworkContext): ScenarioEvent[] {
  const out: ScenarioEvent[] = [...(s.events ?? []), ...fileEvents];
  if (s.generator) {
    const g = s.generator;
    const factor = s.overrides?.demandFactor ?? 1;
    const start = Date.parse(`${g.startDate}T00:00:00Z`);
    for (let d = 0; d < g.days; d++) {
      const date = new Date(start + d * 24 * HOUR_MS).toISOString().slice(0, 10);
      // Demand x f: whole draws of the day's stream (distinct seeds and ids), then the fraction of one more.
      const draws = Math.ceil(factor);
      for (let k = 0; k < draws; k++) {
        let orders = generateOrders(net.network, net.regionsGeoJson, { seed: g.seed + 1_000 * k, profile: g.profile, date });
        if (k === draws - 1 && factor < draws) orders = orders.filter((_, i) => (i * 0.618_034) % 1 < factor - (draws - 1));
        for (const o of orders) out.push({ at: o.placedAt, type: 'order', order: { ...o, orderId: k === 0 ? o.orderId : `${o.orderId}-x${k}` } });
      }
    }
  }
  for (const c of s.overrides?.closures ?? []) out.push({ at: c.from, type: 'closure', warehouseId: c.warehouseId, until: c.to });
  // At one instant, changes to the world (closures, capacity, receipts) come before the orders.
  return out
    .map((e, i) => ({ e, i, t: Date.parse(e.at), o: e.type === 'order' ? 1 : 0 }))
    .sort((a, b) => a.t - b.t || a.o - b.o || a.i - b.i)
    .map((x) => x.e);
}

export interface ReplayOptions {
  net: NetworkContext;
  config: Config;
  solver: Solver;
  machine: StatusMachine;
  /** Called every few hundred events with (done, total). */
  onProgress?: (done: number, total: number) => void;
}

/** Replays the events under one policy and returns its KPIs. */
export async function replayPolicy(scenario: Scenario, events: ScenarioEvent[], policy: Policy, opts: ReplayOptions): Promise<PolicyReport> {
  const { net } = opts;
  const cfg: Config = Object.freeze({ ...opts.config, policy, solveTimeoutMs: opts.config.replaySolveTimeoutMs, ...(scenario.overrides?.radiusLockFactor ? { radiusLockFactor: scenario.overrides.radiusLockFactor } : {}) });
  let now = events.length > 0 ? Date.parse(events[0]!.at) : Date.now();
  const clock = () => now;
  const store = new MemoryStore(net.network.stock, { clock });
  const allocator = new Allocator(net, cfg, store, opts.solver, clock);
  const rerouter = new Rerouter(net, cfg, store, allocator.book, opts.machine, clock);
  const reroutesByOrder = new Map<string, number>();
  rerouter.listeners.push((orderId: string, _r: Reroute) => reroutesByOrder.set(orderId, (reroutesByOrder.get(orderId) ?? 0) + 1));
  const rand = mulberry32(scenario.seed ?? 1);
  const closures: { warehouseId: string; until: number }[] = [];
  const capacityFactors = scenario.overrides?.courierCapacity ?? [];
  const appliedFactors = new Set<string>();
  const decided: { d: Decision; promisedBy: number; micros: number; placed: number; province: string | null; error?: string }[] = [];
  const provinceOf = (o: { destination: { lon: number; lat: number } }) => net.regions.lookup(o.destination.lon, o.destination.lat)?.provinceCode ?? null;
  const tz = cfg.timezoneOffsetMinutes;

  const applyCapacityFactors = async () => {
    const day = localDay(now, tz);
    for (const f of capacityFactors) {
      if (Date.parse(f.from) > now) continue;
      const c = net.couriers.find((x) => x.id === f.courierId);
      if (!c) continue;
      for (const prov of f.provinceCodes) {
        const key = `${f.courierId}|${prov}|${day}`;
        if (appliedFactors.has(key)) continue;
        appliedFactors.add(key);
        const base = c.dailyParcelsPerRegion;
        if (base === null) continue;
        await allocator.book.setCapacity(c.id, prov, day, Math.floor(base * f.factor), null);
        await rerouter.onCapacityChange(c.id, prov, day);
      }
    }
  };

  for (const [i, e] of events.entries()) {
    now = Math.max(now, Date.parse(e.at));
    for (let k = closures.length - 1; k >= 0; k--) {
      if (closures[k]!.until <= now) {
        allocator.closed.delete(closures[k]!.warehouseId);
        closures.splice(k, 1);
      }
    }
    await applyCapacityFactors();
    if (e.type === 'order') {
      const t0 = performance.now();
      try {
        const d = await allocator.allocate(e.order as AllocateRequest);
        decided.push({ d, promisedBy: Date.parse(e.order.promisedBy), micros: (performance.now() - t0) * 1_000, placed: now, province: provinceOf(e.order) });
      } catch (err) {
        if (!(err instanceof DspError)) throw err;
        decided.push({ d: emptyDecision(e.order.orderId), promisedBy: Date.parse(e.order.promisedBy), micros: (performance.now() - t0) * 1_000, placed: now, province: null, error: err.code });
      }
    } else if (e.type === 'receipt') {
      await store.adjustOnHand(e.warehouseId, e.sku, e.qty);
    } else if (e.type === 'capacity') {
      const day = localDay(now, tz);
      for (const prov of e.provinceCodes) {
        const cur = (await allocator.book.limits(prov, day)).get(e.courierId);
        if (!cur) continue;
        await allocator.book.setCapacity(e.courierId, prov, day, e.parcels === undefined ? cur.parcels : e.parcels, e.kg === undefined ? cur.kg : e.kg);
        await rerouter.onCapacityChange(e.courierId, prov, day);
      }
    } else if (e.type === 'closure') {
      allocator.closed.add(e.warehouseId);
      closures.push({ warehouseId: e.warehouseId, until: Date.parse(e.until) });
    }
    if (opts.onProgress && (i % 250 === 0 || i === events.length - 1)) opts.onProgress(i + 1, events.length);
  }

  // Deliveries: each shipment arrives at its ETA plus a seeded delay (economy couriers run late
  // more often), the order when its last shipment arrives. Capacity backlog: parcels a courier
  // took for a province and day beyond its final limit that day (kept after a cut, when no other
  // courier could take them) wait a day.
  const rows: Row[] = [];
  const warehouseLoad: Record<string, number> = {};
  const courierMix: Record<string, number> = {};
  const booked = new Map<string, number>();
  const limitCache = new Map<string, number | null>();
  const finalLimit = async (courierId: string, province: string, day: string) => {
    const key = `${courierId}|${province}|${day}`;
    if (!limitCache.has(key)) limitCache.set(key, (await allocator.book.limits(province, day)).get(courierId)?.parcels ?? null);
    return limitCache.get(key)!;
  };
  for (const x of decided) {
    const view = x.error ? null : await allocator.get(x.d.orderId).catch(() => null);
    const d = view?.decision ?? x.d;
    const shipped = d.shipments.length > 0;
    const province = x.province;
    let arrival = -Infinity;
    for (const s of d.shipments) {
      const express = net.couriers.find((c) => c.id === s.courierId)?.kind === 'express';
      const late = rand() < (express ? 0.01 : 0.03) ? (4 + 20 * rand()) * HOUR_MS : 0;
      const day = localDay(x.placed, tz);
      const key = `${s.courierId}|${province}|${day}`;
      booked.set(key, (booked.get(key) ?? 0) + s.parcels);
      const limit = province === null ? null : await finalLimit(s.courierId, province, day);
      const backlog = limit !== null && booked.get(key)! > limit ? 24 * HOUR_MS : 0;
      arrival = Math.max(arrival, Date.parse(s.eta) + (rand() - 0.7) * 2 * HOUR_MS + late + backlog);
      warehouseLoad[s.warehouseId] = (warehouseLoad[s.warehouseId] ?? 0) + s.lines.reduce((n, l) => n + l.qty, 0);
      courierMix[s.courierId] = (courierMix[s.courierId] ?? 0) + s.parcels;
    }
    rows.push({
      day: localDay(x.placed, tz),
      hour: toIsoWithOffset(x.placed, tz).slice(0, 13).replace('T', ' '),
      ok: !x.error,
      shipped,
      onTime: shipped && arrival <= x.promisedBy,
      cost: d.totalCost,
      split: d.shipments.length > 1,
      transfer: d.shipments.some((s) => s.transfers.length > 0),
      backordered: d.backordered.length > 0,
      micros: x.micros,
      reroutes: reroutesByOrder.get(d.orderId) ?? 0,
    });
  }
  const days: Record<string, PolicyKpis> = {};
  for (const day of [...new Set(rows.map((r) => r.day))].sort()) days[day] = kpis(rows.filter((r) => r.day === day));
  const hours = [...new Set(rows.map((r) => r.hour))].sort().map((hour) => {
    const rs = rows.filter((r) => r.hour === hour);
    const shipped = rs.filter((r) => r.shipped);
    return {
      hour,
      orders: rs.length,
      onTimeRate: shipped.length === 0 ? null : shipped.filter((r) => r.onTime).length / shipped.length,
      costPerOrder: shipped.length === 0 ? null : shipped.reduce((n, r) => n + r.cost, 0) / shipped.length,
    };
  });
  return { ...kpis(rows), days, hours, warehouseLoad, courierMix };
}

function kpis(rows: Row[]): PolicyKpis {
  const shipped = rows.filter((r) => r.shipped);
  const micros = rows.map((r) => r.micros).sort((a, b) => a - b);
  const q = (p: number) => (micros.length === 0 ? 0 : Math.round(micros[Math.min(micros.length - 1, Math.floor(p * micros.length))]!));
  const frac = (n: number, d: number) => (d === 0 ? 0 : Math.round((n / d) * 10_000) / 10_000);
  return {
    orders: rows.length,
    onTimeRate: frac(shipped.filter((r) => r.onTime).length, shipped.length),
    costPerOrder: shipped.length === 0 ? 0 : Math.round((shipped.reduce((n, r) => n + r.cost, 0) / shipped.length) * 100) / 100,
    splitRate: frac(shipped.filter((r) => r.split).length, shipped.length),
    transfers: rows.filter((r) => r.transfer).length,
    backorders: rows.filter((r) => r.backordered).length,
    failedDispatches: rows.filter((r) => !r.ok || !r.shipped).length,
    reroutes: rows.reduce((n, r) => n + r.reroutes, 0),
    decisionMicrosP50: q(0.5),
    decisionMicrosP99: q(0.99),
  };
}

function emptyDecision(orderId: string): Decision {
  return { orderId, status: 'backordered', mode: 'fallback', shipments: [], backordered: [], totalCost: 0, reasons: [], solver: 'none', solveMicros: 0, searchNodes: 0, decideMicros: 0, decidedAt: '' };
}
