import highsModule from 'highs';
import { buildStreamModel, decodeStream, repairPlans, StreamBuilder, initialOptions, orderMoney, orderPenalty, priceOptions, streamData, type StreamCapacity, type StreamData, type StreamLimit, type StreamModel, type StreamObjective, type StreamOrder, type StreamOrderPlan, type StreamSupply } from '../../solver/stream.js';
import type { Config } from '../config.js';
import type { AllocateRequest } from '../domain/schemas.js';
import { localDay } from '../domain/time.js';
import { DspError } from '../errors.js';
import type { NetworkContext } from '../network/context.js';
import { openServices } from '../services.js';
import type { Solver } from '../solve/pool.js';
import { MemoryStore } from '../store/memory.js';
import type { Scenario, ScenarioEvent } from './scenario.js';

// The package's declarations read as CommonJS under NodeNext while Node loads its ESM build,
// whose default export is the loader itself: accept both shapes (as src/solve/exact.ts does).
type Loader = typeof highsModule.default;
const loadHighs: Loader = typeof highsModule === 'function' ? (highsModule as unknown as Loader) : highsModule.default;
export type Highs = Awaited<ReturnType<Loader>>;

/**
 * The clairvoyant (whole-stream) hindsight model of a replay (issue 16, docs/replays.md "The
 * clairvoyant model"): every order of the stream decided at once, knowing every order and receipt
 * in advance, with the coupling constraints the online policies live under (stock over time,
 * outbound parcels per warehouse and day, parcels and kg per courier, destination province and
 * day). Each order's options are the service's own candidates (Allocator.relaxedProblem: the same
 * candidate generation with all the stream's stock visible and the caps lifted, the caps becoming
 * the stream's rows). HiGHS solves:
 *   - the LP relaxation of money + the backorder weight: its money per order is the bound;
 *   - a time-limited MIP of money + backorder weight + the lateness and split weights (+ a weight
 *     per late day when on time first is asked): the clairvoyant plan.
 * Off every request path: replays and the CLI only.
 */

export interface ClairvoyantOptions {
  /** Time limit of the MIP, ms (the LP runs to its optimum). */
  mipTimeLimitMs: number;
  /**
   * Weight per whole day an order is late in the plan's objective, CNY (0: lateness is priced as
   * the cost model prices it, per hour, as the myopic policy does). Never money.
   */
  lateDayWeight: number;
  /** Skip the MIP (the bound only). */
  boundOnly?: boolean;
  onProgress?: (stage: string, done: number, total: number) => void;
  /** Called after each column-generation round: columns in the LP, options priced in. */
  onRound?: (round: number, columns: number, added: number) => void;
}

/** Default MIP time limit, ms: a 3,500-order day's LP and MIP fit in the 60 s of the bench with it. */
export const CLAIRVOYANT_MIP_MS = 40_000;

/** What the whole-stream (clairvoyant) model reports, money in CNY per order over all orders. */
export interface ClairvoyantResult {
  /** The LP relaxation's money per order: no online policy that backorders no more units can do better. */
  lpBound: number | null;
  /** The clairvoyant plan's money per order. */
  costPerOrder: number | null;
  onTimeRate: number | null;
}

/** Every figure of the clairvoyant model; the three of ClairvoyantResult are what the report compares. */
export interface ClairvoyantReport extends ClairvoyantResult {
  orders: number;
  /** Orders with no candidate at all (refused by the service, or nothing to ship from anywhere). */
  ordersWithoutOptions: number;
  /** The LP's backordered units: the bound holds for every plan that backorders no more. */
  lpBackorderedUnits: number;
  plan: {
    status: string;
    /** True when HiGHS proved the MIP optimal (within its gap); false: the time limit's incumbent. */
    optimal: boolean;
    /** HiGHS's relative MIP gap at the end, 0..1 (null when not reported). */
    mipGap: number | null;
    /** The plan objective's LP optimum per order over all orders (money + weights incl. the backorder weight), CNY. */
    lpObjectivePerOrder: number;
    /** Columns of the MIP (the options the plan objective's LP needed). */
    columns: number;
    /** Orders the MIP (on the LP's support) backorders more than the LP, and those the repair gave a shipment. */
    shortOrders: number;
    repairedOrders: number;
    /** Lateness + split weights of the plan per order over all orders, CNY (never money). */
    penaltyPerOrder: number;
    backorderedUnits: number;
    /** Orders whose every ordered unit ships in an option whose ETA meets the promise / all orders. */
    onTimeOrders: number;
  } | null;
  model: { candidateOptions: number; columns: number; rows: number; stockRows: number; capacityRows: number; lpRounds: number };
  /** Wall seconds of each stage, and the process's CPU seconds over all of them (user + system: on a shared machine the fairer figure). */
  seconds: { candidates: number; lp: number; mip: number | null; cpu: number };
}

/** The stream's per-order problems and coupling data, from the replay's events. */
export async function streamInputs(scenario: Scenario, events: ScenarioEvent[], net: NetworkContext, cfg: Config, solver: Solver): Promise<{ orders: StreamOrder[]; ordered: number[][]; refused: number; supply: StreamSupply[]; caps: StreamCapacity }> {
  if (scenario.overrides?.replenishEveryDays) {
    throw new DspError('DSP_VALIDATION', 'the clairvoyant model does not model overrides.replenishEveryDays (an order-up-to policy depends on the plan); replay without --clairvoyant');
  }
  const tz = cfg.timezoneOffsetMinutes;
  const supply: StreamSupply[] = net.network.stock.map((r) => ({ pool: `${r.warehouseId}/${r.sku}`, qty: r.onHand, atMs: -Infinity }));
  const all = new Map<string, Map<string, number>>();
  const addAll = (w: string, sku: string, q: number) => {
    const m = all.get(w) ?? all.set(w, new Map()).get(w)!;
    m.set(sku, (m.get(sku) ?? 0) + q);
  };
  for (const r of net.network.stock) addAll(r.warehouseId, r.sku, r.onHand);
  for (const e of events) {
    if (e.type !== 'receipt') continue;
    supply.push({ pool: `${e.warehouseId}/${e.sku}`, qty: e.qty, atMs: Date.parse(e.at) });
    addAll(e.warehouseId, e.sku, e.qty);
  }
  const closures = [
    ...events.filter((e): e is Extract<ScenarioEvent, { type: 'closure' }> => e.type === 'closure').map((e) => ({ w: e.warehouseId, from: Date.parse(e.at), to: Date.parse(e.until) })),
    ...(scenario.overrides?.closures ?? []).map((c) => ({ w: c.warehouseId, from: Date.parse(c.from), to: Date.parse(c.to) })),
  ];
  const closedAt = (t: number) => new Set(closures.filter((c) => c.from <= t && t < c.to).map((c) => c.w));

  const { allocator } = await openServices(cfg, { net, store: new MemoryStore([]), solver });
  const orders: StreamOrder[] = [];
  const ordered: number[][] = [];
  let refused = 0;
  const orderEvents = events.filter((e): e is Extract<ScenarioEvent, { type: 'order' }> => e.type === 'order');
  for (const e of orderEvents) {
    const at = Date.parse(e.at);
    let cands;
    try {
      cands = await allocator.relaxedProblem(e.order as AllocateRequest, at, all);
    } catch (err) {
      // An order the service refuses ships nothing under any policy: it counts in the denominators only.
      if (err instanceof DspError) {
        refused++;
        continue;
      }
      throw err;
    }
    const p = cands.problem;
    // A warehouse closed when the order is placed neither ships nor sends transfers (as in the replay).
    const closed = closedAt(at);
    if (closed.size > 0) {
      const keepArc = p.arcs.map((a) => !closed.has(p.sites[a.site]!.id) && !closed.has(p.pools[a.pool]!.id.slice(0, p.pools[a.pool]!.id.indexOf('/'))));
      p.arcs = p.arcs.filter((_, k) => keepArc[k]);
      p.options = p.options.filter((o) => !closed.has(p.sites[o.site]!.id));
    }
    orders.push({ id: e.order.orderId, atMs: at, problem: p, day: cands.day, province: cands.region.provinceCode });
    ordered.push(cands.ordered);
  }

  // The courier limits per (courier, province, day): the bundled daily parcels, changed by the
  // scenario's capacity events (from their instant) and override factors (from the first instant
  // of each day they apply to, as the replay applies them at the day's first event).
  const limitsCache = new Map<string, Map<string, { parcels: number | null; kg: number | null }>>();
  const baseLimits = async (prov: string, day: string) => {
    const k = `${prov}|${day}`;
    let m = limitsCache.get(k);
    if (!m) limitsCache.set(k, (m = await allocator.book.limits(prov, day)));
    return m;
  };
  const keys = new Set(orders.map((o) => `${o.province}|${o.day}`));
  const courierLimits = new Map<string, { parcels: StreamLimit[]; kg: StreamLimit[] }>();
  const capacityEvents = events.filter((e): e is Extract<ScenarioEvent, { type: 'capacity' }> => e.type === 'capacity').sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  for (const key of keys) {
    const [prov, day] = key.split('|') as [string, string];
    const base = await baseLimits(prov, day);
    for (const c of net.couriers) {
      const b = base.get(c.id) ?? { parcels: c.dailyParcelsPerRegion, kg: null };
      const parcels: StreamLimit[] = [{ fromMs: -Infinity, limit: b.parcels }];
      const kg: StreamLimit[] = [{ fromMs: -Infinity, limit: b.kg }];
      for (const f of scenario.overrides?.courierCapacity ?? []) {
        if (f.courierId !== c.id || !f.provinceCodes.includes(prov) || c.dailyParcelsPerRegion === null) continue;
        const from = Date.parse(f.from);
        if (localDay(from, tz) > day) continue;
        const dayStart = Date.parse(`${day}T00:00:00Z`) - tz * 60_000;
        parcels.push({ fromMs: Math.max(from, dayStart), limit: Math.floor(c.dailyParcelsPerRegion * f.factor) });
      }
      for (const e of capacityEvents) {
        if (e.courierId !== c.id || !e.provinceCodes.includes(prov) || localDay(Date.parse(e.at), tz) !== day) continue;
        const at = Date.parse(e.at);
        if (e.parcels !== undefined) parcels.push({ fromMs: at, limit: e.parcels });
        if (e.kg !== undefined) kg.push({ fromMs: at, limit: e.kg });
      }
      courierLimits.set(`${c.id}|${prov}|${day}`, { parcels, kg });
    }
  }
  const whLimit = new Map(net.warehouses.map((w) => [w.id, w.dailyOutboundParcels]));
  const caps: StreamCapacity = {
    warehouseParcels: (w) => [{ fromMs: -Infinity, limit: whLimit.get(w) ?? null }],
    courierParcels: (c, prov, day) => courierLimits.get(`${c}|${prov}|${day}`)?.parcels ?? [{ fromMs: -Infinity, limit: null }],
    courierKg: (c, prov, day) => courierLimits.get(`${c}|${prov}|${day}`)?.kg ?? [{ fromMs: -Infinity, limit: null }],
  };
  return { orders, ordered, refused, supply, caps };
}

/** Options each order starts column generation with (the cheapest ones to ship it all alone). */
const INITIAL_OPTIONS = 3;
/** Most options one order gains per pricing round (the most negative reduced costs first). */
const ADDED_PER_ROUND = 4;

/**
 * Relative gap at which the plan's MIP stops, 0..1: 0.1 % of a day's objective is a few CNY
 * over all orders, and proving the last 0.1 % of a 3,500-order MIP costs more than the 60 s the
 * whole model has (HiGHS's 1e-4 default ran out of time on 300 orders).
 */
const MIP_REL_GAP = 1e-3;

export interface Solved {
  model: StreamModel;
  /** HiGHS's model status (highs.constants.modelStatus). */
  status: number;
  colValue: Float64Array;
  rowDual: Float64Array;
  objective: number;
  mipGap: number | null;
  /** Units backordered in the solution (the backorder columns' sum). */
  backordered: number;
}

/** Solves a whole-stream model once with HiGHS (a MIP when the model is integral), stopping at `relGap` or the time limit. */
export function solveStreamModel(highs: Highs, model: StreamModel, timeLimitMs: number | null, relGap = MIP_REL_GAP): Solved {
  // No order to decide (see columnGeneration): the empty plan is the optimum.
  if (model.numCols === 0) return { model, status: highs.constants.modelStatus.optimal, colValue: new Float64Array(0), rowDual: new Float64Array(model.numRows), objective: 0, mipGap: model.integral ? 0 : null, backordered: 0 };
  const m = highs.createModel({
    numCols: model.numCols,
    numRows: model.numRows,
    colCost: model.colCost,
    colLower: new Float64Array(model.numCols),
    colUpper: model.colUpper,
    rowLower: model.rowLower,
    rowUpper: model.rowUpper,
    matrix: { format: 'csc', numRows: model.numRows, numCols: model.numCols, starts: model.starts, indices: model.indices, values: model.values },
    ...(model.integral ? { integrality: model.integrality } : {}),
  });
  try {
    m.options.set({ output_flag: false, mip_rel_gap: relGap, ...(timeLimitMs === null ? {} : { time_limit: timeLimitMs / 1_000 }) });
    const run = m.run();
    const sol = m.getSolution();
    let mipGap: number | null = null;
    if (model.integral) {
      const g = m.info.get('mip_gap');
      mipGap = typeof g === 'number' && Number.isFinite(g) ? g : null;
    }
    const colValue = Float64Array.from(sol.colValue);
    const backordered = model.cols.reduce((n, c) => n + c.b.reduce((a, b) => a + (colValue[b] ?? 0), 0), 0);
    return { model, status: run.modelStatus, colValue, rowDual: Float64Array.from(sol.rowDual), objective: m.getObjectiveValue(), mipGap, backordered };
  } finally {
    m.dispose();
  }
}

/**
 * The LP over all the options, by column generation: solve over the active options, price the
 * others with the duals (solver/stream.ts priceOptions), add those that could lower it, repeat
 * until none can. The LP then equals the LP over every option, so its optimum is a true bound.
 * One HiGHS model lives through the rounds: new options come in as rows and columns, and each
 * round's simplex starts from the last basis.
 */
function columnGeneration(highs: Highs, data: StreamData, active: Set<number>[], objective: StreamObjective, onRound?: (round: number, columns: number, added: number) => void): { builder: StreamBuilder; colValue: Float64Array; objective: number; rounds: number } {
  const builder = new StreamBuilder(data, objective, false);
  active.forEach((set, oi) => [...set].sort((x, y) => x - y).forEach((k) => builder.addOption(oi, k)));
  const start = builder.model();
  // A stream with no order to decide (none at all, or every one refused by the service) builds a
  // model without columns, which HiGHS answers 'empty' (model status 6) without solving and
  // without a solution to read. Its optimum is 0 and there is nothing to price.
  if (start.numCols === 0) return { builder, colValue: new Float64Array(0), objective: 0, rounds: 0 };
  const m = highs.createModel({
    numCols: start.numCols,
    numRows: start.numRows,
    colCost: start.colCost,
    colLower: new Float64Array(start.numCols),
    colUpper: start.colUpper,
    rowLower: start.rowLower,
    rowUpper: start.rowUpper,
    matrix: { format: 'csc', numRows: start.numRows, numCols: start.numCols, starts: start.starts, indices: start.indices, values: start.values },
  });
  try {
    m.options.set({ output_flag: false });
    for (let round = 1; ; round++) {
      const run = m.run();
      if (run.modelStatus !== highs.constants.modelStatus.optimal) throw new Error(`clairvoyant LP: HiGHS model status ${run.modelStatus}`);
      const sol = m.getSolution();
      const priced = priceOptions(data, builder, sol.rowDual);
      onRound?.(round, builder.numCols, priced.length);
      if (priced.length === 0) return { builder, colValue: Float64Array.from(sol.colValue), objective: m.getObjectiveValue(), rounds: round };
      const byOrder = new Map<number, { option: number; reducedCost: number }[]>();
      for (const p of priced) (byOrder.get(p.order) ?? byOrder.set(p.order, []).get(p.order)!).push(p);
      const cols0 = builder.numCols;
      const rows0 = builder.numRows;
      for (const [oi, list] of byOrder) {
        for (const p of list.sort((a, b) => a.reducedCost - b.reducedCost).slice(0, ADDED_PER_ROUND)) {
          active[oi]!.add(p.option);
          builder.addOption(oi, p.option);
        }
      }
      const newRows = builder.numRows - rows0;
      if (newRows > 0) {
        const r = builder.rowBounds(rows0);
        m.addRows({ lower: r.lower, upper: r.upper, matrix: { format: 'csr', numRows: newRows, numCols: cols0, starts: new Int32Array(newRows + 1), indices: new Int32Array(0), values: new Float64Array(0) } });
      }
      const c = builder.columns(cols0);
      const n = builder.numCols - cols0;
      m.addCols({ cost: c.cost, lower: new Float64Array(n), upper: c.upper, matrix: { format: 'csc', numRows: builder.numRows, numCols: n, starts: c.starts, indices: c.indices, values: c.values } });
    }
  } finally {
    m.dispose();
  }
}

/** The clairvoyant model of one replay's events: the LP bound and the clairvoyant plan. */
export async function clairvoyant(scenario: Scenario, events: ScenarioEvent[], net: NetworkContext, cfg: Config, solver: Solver, opts: ClairvoyantOptions): Promise<ClairvoyantReport & { plans: StreamOrderPlan[] | null; inputs: Awaited<ReturnType<typeof streamInputs>> }> {
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  opts.onProgress?.('clairvoyant', 0, 3);
  const inputs = await streamInputs(scenario, events, net, cfg, solver);
  const { orders, ordered, refused, supply, caps } = inputs;
  const total = orders.length + refused;
  const data = streamData(orders, supply, caps);
  const t1 = performance.now();
  opts.onProgress?.('clairvoyant', 1, 3);
  const highs = await loadHighs();
  const boundObjective: StreamObjective = { kind: 'bound', backorderWeight: cfg.backorderPenaltyCny, lateDayWeight: 0 };
  const active = initialOptions(data, boundObjective, INITIAL_OPTIONS);
  const bound = columnGeneration(highs, data, active, boundObjective, opts.onRound);
  const lpPlans = decodeStream(bound.builder, bound.colValue);
  const lpMoney = lpPlans.reduce((n, plan, i) => n + orderMoney(orders[i]!.problem, plan).total, 0);
  const capped = (i: number) => ordered[i]!.reduce((a, q, l) => a + q - orders[i]!.problem.lines[l]!.qty, 0);
  const lpBackordered = lpPlans.reduce((n, plan, i) => n + plan.backordered.reduce((a, b) => a + b, 0) + capped(i), 0);
  const t2 = performance.now();
  opts.onProgress?.('clairvoyant', 2, 3);
  const lpModel = bound.builder;
  const base = {
    orders: total,
    ordersWithoutOptions: refused + orders.filter((o) => o.problem.options.length === 0).length,
    lpBound: total === 0 ? 0 : round2(lpMoney / total),
    lpBackorderedUnits: Math.round(lpBackordered * 100) / 100,
    model: {
      candidateOptions: orders.reduce((n, o) => n + o.problem.options.length, 0),
      columns: lpModel.numCols,
      rows: lpModel.numRows,
      stockRows: lpModel.coupling.stock,
      capacityRows: lpModel.coupling.capacity,
      lpRounds: bound.rounds,
    },
  };
  if (opts.boundOnly) {
    return { ...base, costPerOrder: null, onTimeRate: null, plan: null, seconds: { candidates: secs(t1 - t0), lp: secs(t2 - t1), mip: null, cpu: secs(cpuMs(cpu0)) }, plans: null, inputs };
  }
  // The plan: the plan objective's LP over all options (column generation again, from the
  // bound's options), then the MIP over the options that LP opens at all (its support), time-limited.
  // A MIP over every option column generation produced is out of reach in the time (measured: 30 s
  // on a 3,500-order day left HiGHS's incumbent backordering most units); on the support most
  // orders have one option and HiGHS proves the optimum.
  const planObjective: StreamObjective = { kind: 'plan', backorderWeight: cfg.backorderPenaltyCny, lateDayWeight: opts.lateDayWeight };
  const planLp = columnGeneration(highs, data, active, planObjective, opts.onRound);
  const support = planLp.builder.cols.map((c) => new Set(c.y.flatMap((col, k) => (col >= 0 && planLp.colValue[col]! > 1e-6 ? [k] : []))));
  const ms = highs.constants.modelStatus;
  const solveOn = (sets: Set<number>[]) => {
    const model = buildStreamModel(data, sets, planObjective, true);
    const r = solveStreamModel(highs, model, opts.mipTimeLimitMs);
    const ok = r.status === ms.optimal || (r.status === ms.timeLimit && r.colValue.length === model.numCols && Number.isFinite(r.objective));
    return ok ? { model, r } : null;
  };
  const best = solveOn(support);
  if (!best) throw new Error('clairvoyant MIP: HiGHS found no plan on the LP support');
  // Repair: where the integer plan backorders more than the plan LP did (whole parcels on a
  // capacity the LP shared out in fractions over options outside the support), each such order
  // that ships nothing gets the cheapest single shipment that carries all of it within what the
  // plan leaves (solver/stream.ts repairPlans). A second MIP with every option of those orders
  // was tried instead: on Double-11 (92 such orders) HiGHS ran out of its 40 s with a worse plan.
  const lpBackorder = decodeStream(planLp.builder, planLp.colValue).map((pl) => pl.backordered.reduce((a, b) => a + b, 0));
  const mipModel = best.model;
  const mip = best.r;
  const plans = decodeStream(mipModel, mip.colValue);
  const short = plans.flatMap((pl, i) => (pl.backordered.reduce((a, b) => a + b, 0) > lpBackorder[i]! + 0.5 ? [i] : []));
  const repaired = repairPlans(data, plans, planObjective, short);
  let money = 0;
  let penalty = 0;
  let backordered = 0;
  let onTime = 0;
  plans.forEach((plan, i) => {
    const p = orders[i]!.problem;
    money += orderMoney(p, plan).total;
    penalty += orderPenalty(p, plan);
    const shipped = plan.shipments.reduce((n, s) => n + s.arcs.reduce((a, x) => a + x.qty, 0), 0);
    const want = ordered[i]!.reduce((a, b) => a + b, 0);
    backordered += want - shipped;
    if (shipped === want && want > 0 && plan.shipments.every((s) => (p.options[s.option]!.late ?? 0) === 0)) onTime++;
  });
  const t3 = performance.now();
  opts.onProgress?.('clairvoyant', 3, 3);
  return {
    ...base,
    costPerOrder: total === 0 ? 0 : round2(money / total),
    onTimeRate: total === 0 ? 0 : Math.round((onTime / total) * 10_000) / 10_000,
    plan: {
      status: mip.status === ms.optimal ? 'optimal' : 'time limit',
      optimal: mip.status === ms.optimal,
      mipGap: mip.mipGap,
      lpObjectivePerOrder: total === 0 ? 0 : round2(planLp.objective / total),
      columns: mipModel.numCols,
      shortOrders: short.length,
      repairedOrders: repaired.length,
      penaltyPerOrder: total === 0 ? 0 : round2(penalty / total),
      backorderedUnits: backordered,
      onTimeOrders: onTime,
    },
    seconds: { candidates: secs(t1 - t0), lp: secs(t2 - t1), mip: secs(t3 - t2), cpu: secs(cpuMs(cpu0)) },
    plans,
    inputs,
  };
}

const round2 = (x: number) => Math.round(x * 100) / 100;
const secs = (ms: number) => Math.round(ms / 100) / 10;
const cpuMs = (since: NodeJS.CpuUsage) => {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1_000;
};
