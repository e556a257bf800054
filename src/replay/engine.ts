import TinyQueue from 'tinyqueue';
import { DAY_MS, HOUR_MS, localDay, toIsoWithOffset } from '../domain/time.js';
import { deliveryMs, nextWave } from '../domain/waves.js';
import type { Reroute } from '../allocate/reroute.js';
import type { Config } from '../config.js';
import { generateOrders } from '../demo/orders.js';
import type { AllocateRequest, Decision } from '../domain/schemas.js';
import { DspError } from '../errors.js';
import type { NetworkContext } from '../network/context.js';
import type { Solver } from '../solve/pool.js';
import { stockWithLots } from '../network/lots.js';
import { counterKeys, lotCell, storeKeys } from '../store/keys.js';
import { MemoryStore } from '../store/memory.js';
import type { Store } from '../store/types.js';
import { mergeAndLotFigures } from '../tracking/kpi.js';
import { catalogueWriteOffs, type WriteOffs } from '../tracking/write-offs.js';
import { openServices } from '../services.js';
import type { StatusMachine } from '../domain/scan-states.js';
import { mulberry32 } from '../util/prng.js';
import { generatedDailyOrders, type Scenario, type ScenarioEvent } from './scenario.js';

/**
 * The replay engine (issue 6, issue 16): the service's own allocation pipeline (Allocator,
 * candidates, solver, reservations, reroutes) run in simulated time on a fresh embedded store per
 * policy, with a seeded world around it (src/domain/waves.ts, docs/replays.md "The world"):
 * couriers collect at the warehouses' waves, up to the day's capacity (more waits for the next
 * wave); the stock leaves when its parcels do; lanes deliver on their day, with each courier's
 * seeded days late. No second implementation of any decision logic.
 *
 * The events are streamed and every order is counted and forgotten once its last parcel has left
 * (the store forgets it too), so memory stays flat over a year of orders: what grows is one
 * number per decision (the latency sample) and one row per hour and per day.
 */

export type Policy = 'nearest' | 'radius-rule' | 'myopic' | 'optimized';

export interface PolicyKpis {
  orders: number;
  /** Orders whose every ordered unit arrived by promisedBy / all orders, 0..1 (a partial, backordered or refused order is not on time). */
  onTimeRate: number;
  /** Money per order over all orders, CNY: freight + transfers + storage (reroutes applied); no penalty. */
  costPerOrder: number;
  /** Courier freight over every shipment, CNY (money only: no transfer, storage or penalty). */
  freightCny: number;
  /** Courier freight per order over all orders, CNY. */
  freightCnyPerOrder: number;
  /** Goods ordered over all orders, CNY: each order's amountCny (before discount), else its lines at their price (the catalogue's list price when the line has none). */
  goodsCny: number;
  /**
   * Courier freight per 1,000 CNY of goods ordered: the purchase-equivalent measure. Splitting a
   * purchase into several orders keeps its goods, so streams of the same purchases split and
   * unsplit compare on it where freight per order does not.
   */
  freightCnyPer1000CnyGoods: number;
  /** Decision weights per order over all orders, CNY: lateness + split penalties (never money). */
  penaltyPerOrder: number;
  /** Orders in more than one shipment / orders that ship, 0..1. */
  splitRate: number;
  /** Orders that use a line-haul transfer. */
  transfers: number;
  /** Orders with any unit backordered. */
  backorders: number;
  /** Units backordered, and their value at list price (CNY). */
  backorderedUnits: number;
  backorderedValueCny: number;
  /** Orders that shipped some units and backordered others (never on time). */
  partialOrders: number;
  /** Orders that could not be dispatched: refused with an error, or nothing shipped at all. */
  failedDispatches: number;
  reroutes: number;
  /** Parcels that found their wave full and waited for a later one. */
  overflowParcels: number;
  decisionMicrosP50: number;
  decisionMicrosP99: number;
}

export interface PolicyReport extends PolicyKpis {
  /** The same KPIs per local day (of the order's placement). */
  days: Record<string, PolicyKpis>;
  /** Per hour (local, "YYYY-MM-DD HH"): orders, on-time rate and money per order (charts). */
  hours: { hour: string; orders: number; onTimeRate: number | null; costPerOrder: number | null; penaltyPerOrder: number | null }[];
  /** Units shipped per warehouse, parcels per courier. */
  warehouseLoad: Record<string, number>;
  courierMix: Record<string, number>;
  /**
   * The scarce resources' use against their limits, sampled at the end of every hour: the
   * day's parcels booked so far and the limit in force (warehouse outbound parcels; courier
   * parcels per destination province). The busiest few of each kind by peak use / limit.
   */
  resources: { hours: string[]; series: { id: string; kind: 'warehouse' | 'courier'; used: number[]; limit: (number | null)[] }[] };
  /** Share of the myopic -> clairvoyant money gap this policy captures (null until a clairvoyant result is given). */
  gapCaptured: number | null;
  /** The re-optimisation job's work when the replay ran it (ReplayOptions.reoptimizeIntervalMs); absent otherwise. */
  reoptimization?: ReoptimizationReport;
  /** Waybills and merging (issue 21; docs/replays.md "KPIs" and "A promotion day"). */
  merging: MergingReport;
  /** Shelf-life lots: near-expiry units shipped and units written off (issue 21 item 5; docs/replays.md "KPIs"). */
  lots: LotsReport;
}

/**
 * Shelf-life lots over a replay, with the definitions of GET /v1/kpi (src/tracking/kpi.ts
 * mergeAndLotFigures, src/tracking/write-offs.ts catalogueWriteOffs). Units apart from money.
 */
export interface LotsReport {
  /** Whether the shelf-life SKUs' stock was kept in lots (false: overrides.lots false, CLI --no-lots; every figure is then 0). */
  enabled: boolean;
  /** The local day the bundled lots are dated from: the stream's first local day (null without lots). */
  seededOn: string | null;
  /** Units shipped from lots that were near expiry (NEAR_EXPIRY_WINDOW_DAYS) when the decision picked them, over all orders. */
  nearExpiryUnitsShipped: number;
  /**
   * Units on hand at the end of the replay, not held by an order, in lots no customer may buy any
   * more under the SKU's default minimum remaining shelf life (or expired), and their value at list
   * price, CNY. Judged at the end of the stream's last local day, the same instant for every
   * policy (the last parcel leaves at a different time under each, and lots pass their last
   * sellable day meanwhile), with the free units once every parcel has left.
   */
  writtenOffUnits: number;
  writtenOffValueCny: number;
  /** The same at the stream's first event, before any order: what the seeded lots bring in already. */
  writtenOffUnitsAtStart: number;
  writtenOffValueCnyAtStart: number;
}

/** Waybills and merging over a replay, counted from the decisions and the world's departures. */
export interface MergingReport {
  /** MERGE_WINDOW_MINUTES in force in this replay (0: merging off) and MERGE_MIN_ORDERS. */
  windowMinutes: number;
  minOrders: number;
  /** Waybills: shipments of their own (with parcels); a shipment that joins an open one adds none. */
  waybills: number;
  /** Shipments that joined another order's open shipment (on its waybill). */
  joinedShipments: number;
  /** Waybills carrying two or more orders. */
  sharedWaybills: number;
  /** Waybills carrying MERGE_MIN_ORDERS or more orders (a master and its child orders), and the orders on them. */
  mergedGroups: number;
  ordersInMergedGroups: number;
  /**
   * Freight the joins saved, CNY: per joining shipment, the base rate of the parcels it would
   * have paid shipping the same weight alone on the same lane (the service's own figure, reason
   * JOINED_OPEN_SHIPMENT). Money only.
   */
  freightSavedCny: number;
  /**
   * Joins made at or after the wave collected the waybill, counted from the replay's own log of
   * departures (independent of the store's open-shipment checks): must be 0.
   */
  joinsAfterPickup: number;
}

/** What the re-optimisation job did over a replay (docs/reoptimize.md). */
export interface ReoptimizationReport {
  /** Simulated interval between rounds, ms, and rounds run. */
  intervalMs: number;
  rounds: number;
  /** Orders re-solved (summed over rounds), orders moved, shipments moved (the old plans' shipments). */
  solved: number;
  movedOrders: number;
  movedShipments: number;
  /** Money saved, CNY: freight + transfer + storage before minus after, over every move. */
  savingCny: number;
  /** Moves refused at the store (the order changed or shipped between solve and move). */
  refused: number;
  /**
   * Moves of an order at or after its first parcel left, counted from the replay's own log of
   * departures and moves (independent of the job's checks): must be 0.
   */
  movesAfterPickup: number;
  /** Wall time of the rounds, s. */
  seconds: number;
}

/** Running sums of one group of orders (the whole run, a day or an hour). */
class Tally {
  orders = 0;
  onTime = 0;
  money = 0;
  penalty = 0;
  freight = 0;
  goods = 0;
  shipped = 0;
  split = 0;
  transfers = 0;
  backorders = 0;
  backorderedUnits = 0;
  backorderedValue = 0;
  partial = 0;
  failed = 0;
  reroutes = 0;
  overflow = 0;
  readonly micros: number[] = [];

  kpis(): PolicyKpis {
    const frac = (n: number, d: number) => (d === 0 ? 0 : Math.round((n / d) * 10_000) / 10_000);
    const cny = (x: number) => Math.round(x * 100) / 100;
    const sorted = Float64Array.from(this.micros).sort();
    const q = (p: number) => (sorted.length === 0 ? 0 : Math.round(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!));
    return {
      orders: this.orders,
      onTimeRate: frac(this.onTime, this.orders),
      costPerOrder: this.orders === 0 ? 0 : cny(this.money / this.orders),
      freightCny: cny(this.freight),
      freightCnyPerOrder: this.orders === 0 ? 0 : cny(this.freight / this.orders),
      goodsCny: cny(this.goods),
      freightCnyPer1000CnyGoods: this.goods === 0 ? 0 : Math.round((this.freight / this.goods) * 1_000 * 1_000) / 1_000,
      penaltyPerOrder: this.orders === 0 ? 0 : cny(this.penalty / this.orders),
      splitRate: frac(this.split, this.shipped),
      transfers: this.transfers,
      backorders: this.backorders,
      backorderedUnits: this.backorderedUnits,
      backorderedValueCny: cny(this.backorderedValue),
      partialOrders: this.partial,
      failedDispatches: this.failed,
      reroutes: this.reroutes,
      overflowParcels: this.overflow,
      decisionMicrosP50: q(0.5),
      decisionMicrosP99: q(0.99),
    };
  }
}


/** A re-iterable, time-ordered stream of a scenario's events, and how many orders it holds (known after a pass, estimated before). */
export interface EventStream extends Iterable<ScenarioEvent> {
  /** Orders expected in the stream (exact for inline and file events; the generator's mean volume otherwise). */
  readonly expectedOrders: number;
}

/**
 * Every event of the scenario in time order: inline, from the file, and generated (demand factor
 * applied), as a stream: generated orders are drawn one day at a time, so a year never sits in
 * memory at once.
 */
export function scenarioEventStream(s: Scenario, fileEvents: ScenarioEvent[], net: NetworkContext): EventStream {
  const fixed: ScenarioEvent[] = [...(s.events ?? []), ...fileEvents];
  for (const c of s.overrides?.closures ?? []) fixed.push({ at: c.from, type: 'closure', warehouseId: c.warehouseId, until: c.to });
  const sortedFixed = sortEvents(fixed);
  const factor = s.overrides?.demandFactor ?? 1;
  const g = s.generator;
  const perDay = g ? generatedDailyOrders(g) * factor : 0;
  const expectedOrders = sortedFixed.filter((e) => e.type === 'order').length + Math.round(perDay * (g?.days ?? 0));
  function* days(): Generator<ScenarioEvent[]> {
    if (!g) return;
    const start = Date.parse(`${g.startDate}T00:00:00Z`);
    for (let d = 0; d < g.days; d++) {
      const date = new Date(start + d * DAY_MS).toISOString().slice(0, 10);
      const out: ScenarioEvent[] = [];
      // Demand x f: whole draws of the day's stream (distinct seeds and ids), then the fraction of one more.
      const draws = Math.ceil(factor);
      for (let k = 0; k < draws; k++) {
        let orders = generateOrders(net.network, net.regionsGeoJson, { seed: g.seed + 1_000 * k, profile: g.profile, date, ...(g.promotion ? { promotion: g.promotion } : {}) });
        if (k === draws - 1 && factor < draws) orders = orders.filter((_, i) => (i * 0.618_034) % 1 < factor - (draws - 1));
        for (const o of orders) out.push({ at: o.placedAt, type: 'order', order: { ...o, orderId: k === 0 ? o.orderId : `${o.orderId}-x${k}` } });
      }
      yield sortEvents(out);
    }
  }
  return {
    expectedOrders,
    *[Symbol.iterator]() {
      // Merge the sorted fixed events with each generated day (sorted); at one instant, changes
      // to the world (closures, capacity, receipts) come before the orders, fixed before generated.
      let i = 0;
      const key = (e: ScenarioEvent) => Date.parse(e.at);
      for (const day of days()) {
        for (const e of day) {
          const t = key(e);
          while (i < sortedFixed.length && (key(sortedFixed[i]!) < t || (key(sortedFixed[i]!) === t && (sortedFixed[i]!.type !== 'order' || e.type === 'order')))) yield sortedFixed[i++]!;
          yield e;
        }
      }
      while (i < sortedFixed.length) yield sortedFixed[i++]!;
    },
  };
}

/** Events sorted by time; at one instant world changes before orders, otherwise in given order. */
function sortEvents(events: ScenarioEvent[]): ScenarioEvent[] {
  return events
    .map((e, i) => ({ e, i, t: Date.parse(e.at), o: e.type === 'order' ? 1 : 0 }))
    .sort((a, b) => a.t - b.t || a.o - b.o || a.i - b.i)
    .map((x) => x.e);
}

/** Every event of the scenario in time order, as one array (small scenarios, the hindsight bound). */
export function scenarioEvents(s: Scenario, fileEvents: ScenarioEvent[], net: NetworkContext): ScenarioEvent[] {
  return [...scenarioEventStream(s, fileEvents, net)];
}

export interface ReplayOptions {
  net: NetworkContext;
  config: Config;
  solver: Solver;
  machine: StatusMachine;
  /** Called every few hundred events with (done, expected total). */
  onProgress?: (done: number, total: number) => void;
  /**
   * Orders replayed first on a throwaway store and not counted, so that the latency percentiles
   * do not carry the code's warm-up (JIT, caches); default WARM_UP_ORDERS.
   */
  warmUpOrders?: number;
  /**
   * Run the re-optimisation job every this many ms of simulated time (src/allocate/reoptimize.ts);
   * undefined or 0: not run (the default, so reports stay comparable with earlier runs).
   */
  reoptimizeIntervalMs?: number;
  /** Called with every decision as it is made, and the simulated time (epoch ms): for tests and diagnostics. */
  onDecision?: (d: Decision, atMs: number) => void;
  /**
   * Called once the last parcel has left, with the replay's store and the instant its end figures
   * are judged at (LotsReport.writtenOffUnits: the end of the stream's last local day, epoch ms):
   * for tests and diagnostics.
   */
  onEnd?: (store: Store, atMs: number) => Promise<void> | void;
}

/** Orders of the warm-up pass before each policy (see ReplayOptions.warmUpOrders). */
export const WARM_UP_ORDERS = 300;

/** How many of the busiest resources of each kind the report keeps per hour. */
const RESOURCES_KEPT = 6;

interface Pending {
  decision: Decision;
  /** Goods ordered, CNY (PolicyKpis.goodsCny). */
  goods: number;
  promisedBy: number;
  day: string;
  hour: string;
  province: string;
  /** Shipments whose parcels have not left yet. */
  waiting: number;
  /** Latest delivery of the shipments that left, epoch ms. */
  arrival: number;
  /** The plan in force (0 as decided, +1 per re-optimisation move). */
  plan: number;
}

interface Departure {
  /** The wave the shipment waits for, epoch ms. */
  at: number;
  seq: number;
  orderId: string;
  shipment: number;
  /** The order's plan this departure belongs to (a re-optimisation move makes a new one; older departures are dropped). */
  plan: number;
}

/** Replays the events under one policy and returns its KPIs. */
export async function replayPolicy(scenario: Scenario, events: Iterable<ScenarioEvent>, policy: Policy, opts: ReplayOptions): Promise<PolicyReport> {
  const day = lotDay(events, opts.config.timezoneOffsetMinutes);
  const warmUp = opts.warmUpOrders ?? WARM_UP_ORDERS;
  if (warmUp > 0) {
    const prefix: ScenarioEvent[] = [];
    for (const e of events) {
      if (e.type !== 'order') continue;
      prefix.push(e);
      if (prefix.length >= warmUp) break;
    }
    await runPolicy(scenario, prefix, policy, { ...opts, onProgress: undefined, onDecision: undefined, onEnd: undefined }, day);
  }
  return runPolicy(scenario, events, policy, opts, day);
}

/**
 * The local day a replay's lots are dated from: the day its stream starts (its first event), as
 * the service dates them from the day its store is seeded (src/services.ts openStore). A fixed
 * day would leave a scenario far from it with lots already expired, or all of them fresh.
 */
function lotDay(events: Iterable<ScenarioEvent>, tzMinutes: number): string | null {
  for (const e of events) return localDay(Date.parse(e.at), tzMinutes);
  return null;
}

/** The suffix of a lot a replay receives (a receipt event or replenishment): made on the day it arrives, with its whole shelf life. */
export const RECEIVED_LOT_SUFFIX = 'R';

/** The lot a shelf-life SKU's units received on a local day land in: made that day, its expiry the day plus the SKU's shelf life. */
export function receivedLot(day: string, shelfLifeDays: number): { lot: string; expiresOn: string } {
  return {
    lot: `L${day.replaceAll('-', '')}-${RECEIVED_LOT_SUFFIX}`,
    expiresOn: new Date(Date.parse(`${day}T00:00:00Z`) + shelfLifeDays * DAY_MS).toISOString().slice(0, 10),
  };
}

async function runPolicy(scenario: Scenario, events: Iterable<ScenarioEvent>, policy: Policy, opts: ReplayOptions, startDay: string | null): Promise<PolicyReport> {
  const { net } = opts;
  const o = scenario.overrides;
  const cfg: Config = Object.freeze({
    ...opts.config,
    policy,
    wmsUrl: '',
    solveTimeoutMs: opts.config.replaySolveTimeoutMs,
    ...(o?.radiusLockFactor ? { radiusLockFactor: o.radiusLockFactor } : {}),
    ...(o?.mergeWindowMinutes !== undefined ? { mergeWindowMinutes: o.mergeWindowMinutes } : {}),
  });
  const tz = cfg.timezoneOffsetMinutes;
  let now = Number.NaN;
  const clock = () => now;
  // Shelf-life SKUs' stock in lots dated from the stream's first day (overrides.lots false: the
  // bundled counts without lots, as replays were before lots, for comparison).
  const lotsOn = o?.lots !== false && startDay !== null;
  const store = new MemoryStore(lotsOn ? stockWithLots(net.network, startDay) : net.network.stock, { clock });
  const { allocator, rerouter, reoptimizer, prices } = await openServices(cfg, { net, store, clock, solver: opts.solver, machine: opts.machine, runningKpis: false, rules: false, pricesTimer: false });
  const reroutesByOrder = new Map<string, number>();
  rerouter.listeners.push((orderId: string, _r: Reroute) => reroutesByOrder.set(orderId, (reroutesByOrder.get(orderId) ?? 0) + 1));
  const rand = mulberry32(scenario.seed ?? 1);
  const closures: { warehouseId: string; until: number }[] = [];
  const capacityFactors = scenario.overrides?.courierCapacity ?? [];
  const appliedFactors = new Set<string>();
  const provinceOf = (o: { destination: { lon: number; lat: number } }) => net.regions.lookup(o.destination.lon, o.destination.lat)?.provinceCode ?? null;
  const couriers = new Map(net.couriers.map((c) => [c.id, c]));
  const books = await allocator.book.quotes();

  const total = new Tally();
  const byDay = new Map<string, Tally>();
  const byHour = new Map<string, Tally>();
  const warehouseLoad: Record<string, number> = {};
  const courierMix: Record<string, number> = {};
  const tallyOf = (m: Map<string, Tally>, k: string) => m.get(k) ?? m.set(k, new Tally()).get(k)!;

  // ---- Waybills and merging: the orders on each waybill (from the decisions) and when its wave
  // collected it (from the departures), so that a join after the collection is seen here and not
  // only by the store's own checks. Settled (counted) once collected and a day old, or at the end.
  const merging: MergingReport = { windowMinutes: cfg.mergeWindowMinutes, minOrders: cfg.mergeMinOrders, waybills: 0, joinedShipments: 0, sharedWaybills: 0, mergedGroups: 0, ordersInMergedGroups: 0, freightSavedCny: 0, joinsAfterPickup: 0 };
  interface Waybill {
    orders: Set<string>;
    /** When the waybill's own shipment was decided, its wave collected it, and the wave it waits for after finding one full; epoch ms. */
    decidedAt: number;
    leftAt: number | null;
    waitsFor: number | null;
  }
  const waybills = new Map<string, Waybill>();
  // A reroute gives a waybill a new number, and a merged waybill moves whole with its open
  // shipment (src/allocate/reroute.ts): its members' departures and the orders that join it later
  // find it under the new number.
  rerouter.listeners.push((_orderId: string, r: Reroute) => {
    const w = waybills.get(r.fromTrackingNumber);
    if (w === undefined || waybills.has(r.trackingNumber)) return;
    waybills.delete(r.fromTrackingNumber);
    waybills.set(r.trackingNumber, w);
  });
  const settle = (tn: string, w: Waybill) => {
    if (w.orders.size >= 2) merging.sharedWaybills++;
    if (w.orders.size >= cfg.mergeMinOrders) {
      merging.mergedGroups++;
      merging.ordersInMergedGroups += w.orders.size;
    }
    waybills.delete(tn);
  };
  const recordWaybills = (d: Decision) => {
    for (const sh of d.shipments) {
      const w = waybills.get(sh.trackingNumber);
      if (sh.joinedOrderId === undefined) {
        if (w === undefined) waybills.set(sh.trackingNumber, { orders: new Set([d.orderId]), decidedAt: now, leftAt: null, waitsFor: null });
        else w.orders.add(d.orderId);
      } else if (w !== undefined) {
        w.orders.add(d.orderId);
        if (w.leftAt !== null && w.leftAt <= now) merging.joinsAfterPickup++;
      } else {
        // The waybill is not one this replay saw decided or it was settled long after it left: a join nobody may make.
        merging.joinsAfterPickup++;
      }
    }
    merging.freightSavedCny += mergeAndLotFigures(d).mergeSavedMicroCny / 1_000_000;
  };

  // ---- Shelf-life lots: near-expiry units counted per order as it finishes (as /v1/kpi counts
  // them per decision); write-offs read from the store's lots at the first event and at the end.
  const lots: LotsReport = { enabled: lotsOn, seededOn: lotsOn ? startDay : null, nearExpiryUnitsShipped: 0, writtenOffUnits: 0, writtenOffValueCny: 0, writtenOffUnitsAtStart: 0, writtenOffValueCnyAtStart: 0 };
  const shelfLifeSkus = [...net.skuByCode.values()].filter((s) => s.shelfLifeDays !== null).map((s) => s.sku);
  const shelfLife = new Set(shelfLifeSkus);
  /** Write-offs at `atMs` of the store's free units now, as the tracker reads them for /v1/kpi (src/tracking/tracker.ts). */
  const writtenOff = async (atMs: number): Promise<WriteOffs> => (store.mayHaveLots() ? catalogueWriteOffs(await store.freeLots(shelfLifeSkus), atMs, net.skuByCode, tz) : { units: 0, valueFen: 0 });
  /**
   * Units of a shelf-life SKU arriving now (a receipt, or replenishment): with lots, a fresh lot
   * made today with its whole shelf life, as the stock API would be told of it (a shelf-life SKU's
   * receipt must name its lot and expiry, src/api/lot-input.ts); units without a lot would have
   * no expiry and never be judged for shelf life. Without lots, or for other SKUs, the plain cell.
   */
  const receive = async (warehouseId: string, sku: string, qty: number) => {
    const life = net.skuByCode.get(sku)?.shelfLifeDays ?? null;
    if (!lotsOn || life === null) return store.adjustOnHand(warehouseId, sku, qty);
    const { lot, expiresOn } = receivedLot(localDay(now, tz), life);
    const recorded = await store.defineLot(warehouseId, sku, lot, expiresOn);
    if (recorded !== expiresOn) throw new Error(`replay: lot ${warehouseId}/${sku}/${lot} expires on ${recorded}, not ${expiresOn}`);
    return store.adjustOnHand(warehouseId, lotCell(sku, lot), qty);
  };

  // ---- The world's collection waves: parcels per (warehouse, day) and (courier, province, day).
  const pending = new Map<string, Pending>();
  const departures = new TinyQueue<Departure>([], (a, b) => a.at - b.at || a.seq - b.seq);
  let seq = 0;
  const loaded = new Map<string, number>();
  const limitCache = new Map<string, number | null>();
  // The limits in force, read once per courier, province and day; a capacity change in the
  // replay (an event or an override factor, the only writers here) empties the cache.
  const courierLimit = async (courierId: string, province: string, day: string) => {
    const key = `${courierId}|${province}|${day}`;
    let v = limitCache.get(key);
    if (v === undefined) {
      v = (await allocator.book.limits(province, day)).get(courierId)?.parcels ?? null;
      limitCache.set(key, v);
    }
    return v;
  };

  // ---- The re-optimisation job in simulated time (ReplayOptions.reoptimizeIntervalMs): the log of
  // first departures and of moves lets the report count moves after pick-up independently.
  const reoptEvery = opts.reoptimizeIntervalMs ?? 0;
  const firstDeparture = new Map<string, number>();
  const reopt: ReoptimizationReport = { intervalMs: reoptEvery, rounds: 0, solved: 0, movedOrders: 0, movedShipments: 0, savingCny: 0, refused: 0, movesAfterPickup: 0, seconds: 0 };
  let nextRound = Number.NaN;
  reoptimizer.listeners.push((orderId, m) => {
    const left = firstDeparture.get(orderId);
    if (left !== undefined && left <= Date.parse(m.at)) reopt.movesAfterPickup++;
    reopt.movedOrders++;
    reopt.movedShipments += m.from.length;
    reopt.savingCny += m.savingCny;
    // The moved order's open-shipment records follow its new shipments (src/allocate/open-shipments.ts
    // moveOwnRecords), so orders that join them later find their waybills under the new numbers.
    m.from.forEach((f, i) => {
      const w = waybills.get(f.trackingNumber);
      const to = m.shipments[i]?.trackingNumber;
      if (w === undefined || to === undefined || waybills.has(to)) return;
      waybills.delete(f.trackingNumber);
      waybills.set(to, w);
    });
    const p = pending.get(orderId);
    if (p === undefined) return;
    // The order's parcels now leave as the new plan says.
    p.plan++;
    p.decision = { ...p.decision, shipments: m.shipments, totalCost: m.totalCost };
    p.waiting = m.shipments.length;
    m.shipments.forEach((s, shipment) => departures.push({ at: Date.parse(s.pickupAt ?? s.eta), seq: seq++, orderId, shipment, plan: p.plan }));
  });
  const reoptimizeUntil = async (t: number) => {
    while (reoptEvery > 0 && nextRound <= t) {
      await depart(nextRound);
      if (nextRound > now) now = nextRound;
      const t0 = performance.now();
      const r = await reoptimizer.runOnce();
      reopt.seconds += (performance.now() - t0) / 1_000;
      reopt.rounds++;
      reopt.solved += r.solved;
      reopt.refused += r.refused.length;
      nextRound += reoptEvery;
    }
  };

  const finish = async (orderId: string, p: Pending) => {
    const d = p.decision;
    const rows = [total, tallyOf(byDay, p.day), tallyOf(byHour, p.hour)];
    const shipped = d.shipments.length > 0;
    const complete = shipped && d.backordered.length === 0;
    let money = 0;
    let penalty = 0;
    let freight = 0;
    for (const s of d.shipments) {
      money += s.cost.freight + s.cost.transfer + s.cost.storage;
      penalty += s.cost.lateness + s.cost.split;
      freight += s.cost.freight;
      if (s.joinedOrderId === undefined) merging.waybills++;
      else merging.joinedShipments++;
    }
    const units = d.backordered.reduce((n, b) => n + b.qty, 0);
    const value = d.backordered.reduce((n, b) => n + b.qty * (net.skuByCode.get(b.sku)?.priceCny ?? 0), 0);
    const reroutes = reroutesByOrder.get(orderId) ?? 0;
    lots.nearExpiryUnitsShipped += mergeAndLotFigures(d).nearExpiryUnits;
    for (const t of rows) {
      t.orders++;
      if (complete && p.arrival <= p.promisedBy) t.onTime++;
      t.money += money;
      t.penalty += penalty;
      t.freight += freight;
      t.goods += p.goods;
      if (shipped) t.shipped++;
      if (d.shipments.length > 1) t.split++;
      if (d.shipments.some((s) => s.transfers.length > 0)) t.transfers++;
      if (units > 0) t.backorders++;
      t.backorderedUnits += units;
      t.backorderedValue += value;
      if (shipped && units > 0) t.partial++;
      if (!shipped) t.failed++;
      t.reroutes += reroutes;
    }
    pending.delete(orderId);
    reroutesByOrder.delete(orderId);
    firstDeparture.delete(orderId);
    store.forgetOrder(orderId, storeKeys.reroutes(orderId));
    store.forgetList(storeKeys.reoptimizations(orderId));
  };

  /** Every departure due by `until`: the parcels leave with their wave, or wait for the next when it is full. */
  const depart = async (until: number) => {
    for (let next = departures.peek(); next !== undefined && next.at <= until; next = departures.peek()) {
      departures.pop();
      // The store's clock follows the world (a reservation's expiry is judged at the wave).
      if (Number.isFinite(next.at) && next.at > now) now = next.at;
      const p = pending.get(next.orderId);
      // A departure of a plan the order no longer has (it was re-optimised) leaves nothing.
      if (p === undefined || next.plan !== p.plan) continue;
      firstDeparture.set(next.orderId, Math.min(firstDeparture.get(next.orderId) ?? Infinity, next.at));
      if (reroutesByOrder.has(next.orderId) && p.waiting === p.decision.shipments.length) {
        // The first parcel of a rerouted order leaves: read its decision as it stands.
        p.decision = (await allocator.get(next.orderId)).decision;
      }
      const s = p.decision.shipments[next.shipment]!;
      const bill = waybills.get(s.trackingNumber);
      // A shipment that joined another order's travels in that order's parcels: it leaves when they
      // do, and waits with them when their wave was full.
      const joined = s.joinedOrderId !== undefined && bill !== undefined && (bill.leftAt !== null || bill.waitsFor !== null);
      if (joined && bill.leftAt === null) {
        departures.push({ ...next, at: bill.waitsFor!, seq: seq++ });
        continue;
      }
      const day = localDay(next.at, tz);
      const w = net.warehouseById.get(s.warehouseId)!;
      const whKey = `${w.id}|${day}`;
      const cKey = `${s.courierId}|${p.province}|${day}`;
      const whUsed = loaded.get(whKey) ?? 0;
      const cUsed = loaded.get(cKey) ?? 0;
      const cLimit = await courierLimit(s.courierId, p.province, day);
      // A full wave takes nothing more (a wave with nothing on it still takes one oversized shipment).
      const full = !joined && ((whUsed > 0 && whUsed + s.parcels > w.dailyOutboundParcels) || (cLimit !== null && cUsed > 0 && cUsed + s.parcels > cLimit));
      if (full) {
        for (const t of [total, tallyOf(byDay, p.day), tallyOf(byHour, p.hour)]) t.overflow += s.parcels;
        const at = nextWave(next.at, w, tz);
        if (s.joinedOrderId === undefined && bill !== undefined) bill.waitsFor = at;
        departures.push({ ...next, at, seq: seq++ });
        continue;
      }
      if (s.joinedOrderId === undefined && bill !== undefined) {
        bill.leftAt = next.at;
        bill.waitsFor = null;
      }
      loaded.set(whKey, whUsed + s.parcels);
      loaded.set(cKey, cUsed + s.parcels);
      const courier = couriers.get(s.courierId)!;
      const lane = allocator.book.terms(books, courier, net.warehouseProvince.get(w.id)!, p.province);
      const late = daysLate(courier.daysLateShares, rand);
      const arrival = lane ? deliveryMs(next.at, lane.rate, tz, late) : Date.parse(s.eta) + late * DAY_MS;
      p.arrival = Math.max(p.arrival, arrival);
      warehouseLoad[s.warehouseId] = (warehouseLoad[s.warehouseId] ?? 0) + s.lines.reduce((n, l) => n + l.qty, 0);
      courierMix[s.courierId] = (courierMix[s.courierId] ?? 0) + s.parcels;
      if (--p.waiting === 0) {
        // The last parcel has left: the stock is committed (it cannot be rerouted any more).
        await store.commit(next.orderId);
        await finish(next.orderId, p);
      }
    }
  };

  // ---- The scarce resources' use per hour (the day's bookings so far against the limit in force).
  const resourceHours: string[] = [];
  const resourceUse = new Map<string, { kind: 'warehouse' | 'courier'; used: number[]; limit: (number | null)[] }>();
  const provinces = new Set<string>();
  let sampledHour = '';
  /** End of the local hour sampledHour names, epoch ms. */
  let hourEnd = -Infinity;
  const endOfHour = (ms: number) => {
    const tzMs = tz * 60_000;
    return Math.floor((ms + tzMs) / HOUR_MS) * HOUR_MS + HOUR_MS - tzMs;
  };
  const sampleResources = async (hour: string, at: number) => {
    const day = localDay(at, tz);
    const idx = resourceHours.push(hour) - 1;
    const set = (id: string, kind: 'warehouse' | 'courier', used: number, limit: number | null) => {
      let r = resourceUse.get(id);
      if (!r) resourceUse.set(id, (r = { kind, used: [], limit: [] }));
      r.used[idx] = used;
      r.limit[idx] = limit;
    };
    const keys = [...net.warehouses.map((w) => counterKeys.warehouseParcels(w.id, day))];
    const courierKeys: [string, string, string][] = [];
    for (const prov of provinces) for (const c of net.couriers) courierKeys.push([c.id, prov, counterKeys.courierParcels(c.id, prov, day)]);
    const values = await store.counters([...keys, ...courierKeys.map((k) => k[2])]);
    net.warehouses.forEach((w, i) => set(`${w.id} outbound`, 'warehouse', values.get(keys[i]!) ?? 0, w.dailyOutboundParcels));
    for (const prov of provinces) {
      const limits = await allocator.book.limits(prov, day);
      for (const c of net.couriers) set(`${c.id} → ${prov}`, 'courier', values.get(counterKeys.courierParcels(c.id, prov, day)) ?? 0, limits.get(c.id)?.parcels ?? null);
    }
  };
  const hourOf = (ms: number) => toIsoWithOffset(ms, tz).slice(0, 13).replace('T', ' ');

  const applyCapacityFactors = async () => {
    const day = localDay(now, tz);
    for (const f of capacityFactors) {
      if (Date.parse(f.from) > now) continue;
      const c = couriers.get(f.courierId);
      if (!c) continue;
      for (const prov of f.provinceCodes) {
        const key = `${f.courierId}|${prov}|${day}`;
        if (appliedFactors.has(key)) continue;
        appliedFactors.add(key);
        const base = c.dailyParcelsPerRegion;
        if (base === null) continue;
        await allocator.book.setCapacity(c.id, prov, day, Math.floor(base * f.factor), null);
        limitCache.clear();
        await rerouter.onCapacityChange(c.id, prov, day);
      }
    }
  };

  // Replenishment (overrides.replenishEveryDays): every k days at the first event of the day, each
  // warehouse's on-hand is topped up to its bundled level (an order-up-to policy).
  const replenishEvery = scenario.overrides?.replenishEveryDays ?? 0;
  let firstDay = '';
  const replenish = async () => {
    const levels = await store.stock();
    const target = new Map(net.network.stock.map((r) => [`${r.warehouseId}|${r.sku}`, r.onHand]));
    const up = levels.filter((l) => l.lot === undefined && !(lotsOn && shelfLife.has(l.sku)) && l.onHand < (target.get(`${l.warehouseId}|${l.sku}`) ?? 0)).map((l) => ({ warehouseId: l.warehouseId, sku: l.sku, onHand: target.get(`${l.warehouseId}|${l.sku}`)! }));
    if (up.length > 0) await store.setOnHand(up);
    if (!lotsOn) return;
    // A shelf-life SKU's stock is one row per lot: its level is the sum over the cell's lots, less
    // the units written off by now (stock nobody may buy, which an order-up-to rule replaces; they
    // stay on hand and in the write-off figure). What is short arrives as today's fresh lot.
    const level = new Map<string, number>();
    for (const l of levels) {
      if (!shelfLife.has(l.sku)) continue;
      const key = `${l.warehouseId}|${l.sku}`;
      const dead = l.expiresOn === undefined ? 0 : catalogueWriteOffs([{ sku: l.sku, expiresOn: l.expiresOn, free: l.free }], now, net.skuByCode, tz).units;
      level.set(key, (level.get(key) ?? 0) + l.onHand - dead);
    }
    for (const [key, units] of level) {
      const short = (target.get(key) ?? 0) - units;
      const [warehouseId, sku] = key.split('|') as [string, string];
      if (short > 0) await receive(warehouseId, sku, short);
    }
  };

  const expected = (events as Partial<EventStream>).expectedOrders ?? (Array.isArray(events) ? events.length : 0);
  let done = 0;
  let lastDay = '';
  /** The last event's time, epoch ms (the end figures are judged at the end of its local day). */
  let lastEventMs = Number.NaN;
  for (const e of events) {
    const t = Date.parse(e.at);
    lastEventMs = t;
    if (Number.isNaN(now)) {
      now = t;
      nextRound = t + reoptEvery;
      const w = await writtenOff(now);
      lots.writtenOffUnitsAtStart = w.units;
      lots.writtenOffValueCnyAtStart = w.valueFen / 100;
    }
    // The world moves to the event's time: waves leave, the hour's resource use is sampled.
    if (t > now) {
      // The hour's label is formatted only when the event may be in a new hour.
      if (t >= hourEnd) {
        const hour = hourOf(t);
        if (sampledHour !== '' && hour !== sampledHour) await sampleResources(sampledHour, now);
        sampledHour = hour;
        hourEnd = endOfHour(t);
      }
      await reoptimizeUntil(t);
      await depart(t);
      now = t;
    }
    if (sampledHour === '') {
      sampledHour = hourOf(now);
      hourEnd = endOfHour(now);
    }
    const today = localDay(now, tz);
    if (today !== lastDay) {
      // Past days' shipment indexes are read by no reroute any more (capacity is per day).
      const yesterday = localDay(now - DAY_MS, tz);
      // Waybills collected a day ago take no more orders (a later join is counted all the same):
      // settled, as are those whose own shipment never left under its number (moved by a reroute).
      for (const [tn, w] of waybills) if ((w.leftAt !== null && w.leftAt < now - DAY_MS) || w.decidedAt < now - 7 * DAY_MS) settle(tn, w);
      store.forgetLists((k) => k.includes(':ship:') && k.slice(-10) < yesterday);
      if (firstDay === '') firstDay = today;
      else if (replenishEvery > 0 && Math.round((Date.parse(today) - Date.parse(firstDay)) / DAY_MS) % replenishEvery === 0) await replenish();
      lastDay = today;
    }
    for (let k = closures.length - 1; k >= 0; k--) {
      if (closures[k]!.until <= now) {
        allocator.closed.delete(closures[k]!.warehouseId);
        closures.splice(k, 1);
      }
    }
    await applyCapacityFactors();
    if (e.type === 'order') {
      const province = provinceOf(e.order);
      if (province !== null) provinces.add(province);
      const promisedBy = Date.parse(e.order.promisedBy);
      const base = { promisedBy, day: today, hour: sampledHour, province: province ?? '', arrival: -Infinity };
      // The shadow prices' refresh (policy optimized) runs between orders in stream time, as the
      // service's timer runs it between requests: never inside a decision, and not timed with it.
      await prices?.refreshIfDue(now);
      const t0 = performance.now();
      let d: Decision;
      try {
        d = await allocator.allocate(e.order as AllocateRequest);
      } catch (err) {
        if (!(err instanceof DspError)) throw err;
        d = emptyDecision(e.order.orderId);
      }
      const micros = (performance.now() - t0) * 1_000;
      total.micros.push(micros);
      tallyOf(byDay, base.day).micros.push(micros);
      recordWaybills(d);
      opts.onDecision?.(d, now);
      const p: Pending = { ...base, decision: d, goods: goodsCny(e.order as AllocateRequest, net), waiting: d.shipments.length, plan: 0 };
      pending.set(d.orderId, p);
      if (d.shipments.length === 0) await finish(d.orderId, p);
      else d.shipments.forEach((s, shipment) => departures.push({ at: Date.parse(s.pickupAt ?? s.eta), seq: seq++, orderId: d.orderId, shipment, plan: 0 }));
      done++;
    } else if (e.type === 'receipt') {
      await receive(e.warehouseId, e.sku, e.qty);
    } else if (e.type === 'capacity') {
      const day = localDay(now, tz);
      for (const prov of e.provinceCodes) {
        const cur = (await allocator.book.limits(prov, day)).get(e.courierId);
        if (!cur) continue;
        await allocator.book.setCapacity(e.courierId, prov, day, e.parcels === undefined ? cur.parcels : e.parcels, e.kg === undefined ? cur.kg : e.kg);
        limitCache.clear();
        await rerouter.onCapacityChange(e.courierId, prov, day);
      }
    } else if (e.type === 'closure') {
      allocator.closed.add(e.warehouseId);
      closures.push({ warehouseId: e.warehouseId, until: Date.parse(e.until) });
    }
    if (opts.onProgress && e.type === 'order' && done % 250 === 0) opts.onProgress(done, Math.max(done + 1, expected));
  }
  if (sampledHour !== '') await sampleResources(sampledHour, now);
  // The stream has ended: the world goes on until the last parcel has left.
  await depart(Infinity);
  for (const [tn, w] of waybills) settle(tn, w);
  if (opts.onProgress) opts.onProgress(done, done);
  const endMs = Number.isNaN(lastEventMs) ? now : Date.parse(`${localDay(lastEventMs, tz)}T00:00:00Z`) - tz * 60_000 + DAY_MS;
  const end = await writtenOff(endMs);
  lots.writtenOffUnits = end.units;
  lots.writtenOffValueCny = end.valueFen / 100;
  await opts.onEnd?.(store, endMs);

  const days: Record<string, PolicyKpis> = {};
  for (const day of [...byDay.keys()].sort()) days[day] = byDay.get(day)!.kpis();
  const hours = [...byHour.keys()].sort().map((hour) => {
    const t = byHour.get(hour)!;
    return {
      hour,
      orders: t.orders,
      onTimeRate: t.orders === 0 ? null : Math.round((t.onTime / t.orders) * 10_000) / 10_000,
      costPerOrder: t.orders === 0 ? null : Math.round((t.money / t.orders) * 100) / 100,
      penaltyPerOrder: t.orders === 0 ? null : Math.round((t.penalty / t.orders) * 100) / 100,
    };
  });
  // The busiest resources of each kind by peak use / limit.
  const peak = (r: { used: number[]; limit: (number | null)[] }) => Math.max(0, ...r.used.map((u, i) => (r.limit[i] ? u / r.limit[i]! : 0)));
  const series = (['warehouse', 'courier'] as const).flatMap((kind) =>
    [...resourceUse.entries()]
      .filter(([, r]) => r.kind === kind)
      .map(([id, r]) => ({ id, r, peak: peak(r) }))
      .filter((x) => x.peak > 0)
      .sort((a, b) => b.peak - a.peak || (a.id < b.id ? -1 : 1))
      .slice(0, RESOURCES_KEPT)
      .map(({ id, r }) => ({ id, kind, used: Array.from(resourceHours, (_, i) => r.used[i] ?? 0), limit: Array.from(resourceHours, (_, i) => r.limit[i] ?? null) })),
  );
  merging.freightSavedCny = Math.round(merging.freightSavedCny * 100) / 100;
  const report: PolicyReport = { ...total.kpis(), days, hours, warehouseLoad, courierMix, resources: { hours: resourceHours, series }, gapCaptured: null, merging, lots };
  if (reoptEvery > 0) report.reoptimization = { ...reopt, savingCny: Math.round(reopt.savingCny * 100) / 100, seconds: Math.round(reopt.seconds * 10) / 10 };
  return report;
}

/** Goods ordered, CNY: the order's amountCny when the ERP sent it, else its lines at their price (the catalogue's list price when a line has none). */
export function goodsCny(order: AllocateRequest, net: NetworkContext): number {
  if (order.amountCny !== undefined) return order.amountCny;
  return order.lines.reduce((v, l) => v + l.qty * (l.priceCny ?? net.skuByCode.get(l.sku)?.priceCny ?? 0), 0);
}

/** Days late of one parcel: drawn from the courier's shares (0, 1, 2, … days), seeded. */
function daysLate(shares: readonly number[] | undefined, rand: () => number): number {
  if (!shares || shares.length <= 1) return 0;
  let x = rand();
  for (let k = 0; k < shares.length; k++) {
    x -= shares[k]!;
    if (x < 0) return k;
  }
  return shares.length - 1;
}

function emptyDecision(orderId: string): Decision {
  return { orderId, status: 'backordered', mode: 'fallback', shipments: [], backordered: [], totalCost: 0, reasons: [], solver: 'none', solveMicros: 0, searchNodes: 0, decideMicros: 0, decidedAt: '' };
}
