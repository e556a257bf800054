import highsModule from 'highs';
import { describe, expect, it } from 'vitest';
import { buildStreamModel, repairPlans, type StreamCapacity, type StreamData, type StreamOrder, type StreamOrderPlan, type StreamSupply, streamData } from '../../solver/stream.js';
import type { Problem } from '../../solver/types.js';
import { loadConfig } from '../../src/config.js';
import { StatusMachine } from '../../src/domain/scan-states.js';
import { defaultDataDir, loadStatusMap } from '../../src/network/load.js';
import { clairvoyant, solveStreamModel } from '../../src/replay/clairvoyant.js';
import { replayPolicy, scenarioEvents, type Policy } from '../../src/replay/engine.js';
import type { Scenario, ScenarioEvent } from '../../src/replay/scenario.js';
import { loadExactSolver } from '../../src/solve/exact.js';
import { InThreadSolver } from '../../src/solve/pool.js';
import { mulberry32 } from '../../src/util/prng.js';
import { network } from '../support/app.js';
import { checkStreamPlan } from '../support/check-stream-plan.js';

type Loader = typeof highsModule.default;
const loadHighs: Loader = typeof highsModule === 'function' ? (highsModule as unknown as Loader) : highsModule.default;

describe('clairvoyant model on generated streams', () => {
  const config = loadConfig({}, { solverThreads: 0 });
  const net = network();
  const machine = new StatusMachine(loadStatusMap(defaultDataDir()));
  const policies: Policy[] = ['nearest', 'myopic', 'optimized'];

  // Two small streams: the first orders of a seeded Double-11 day, and the same with a courier
  // capacity cut and a receipt during the morning (stock over time and a limit that changes).
  const day = (seed: number, n: number): { scenario: Scenario; events: ScenarioEvent[] } => {
    const scenario: Scenario = { name: `seed ${seed}`, generator: { seed, profile: 'double11', startDate: '2026-11-11', days: 1 } };
    return { scenario, events: scenarioEvents(scenario, [], net).slice(0, n) };
  };
  const streams = [
    day(3, 40),
    (() => {
      const { scenario, events } = day(4, 40);
      const first = events[0]!.at;
      const sku = events.find((e) => e.type === 'order')!.type === 'order' ? (events.find((e) => e.type === 'order') as Extract<ScenarioEvent, { type: 'order' }>).order.lines[0]!.sku : '';
      const extra: ScenarioEvent[] = [
        { at: first, type: 'capacity', courierId: 'STO', provinceCodes: ['310000', '320000', '330000', '340000'], parcels: 5 },
        { at: events[20]!.at, type: 'receipt', warehouseId: 'SH01', sku, qty: 40 },
      ];
      return { scenario: { ...scenario, events: extra }, events: [...extra, ...events].sort((a, b) => Date.parse(a.at) - Date.parse(b.at) || (a.type === 'order' ? 1 : 0) - (b.type === 'order' ? 1 : 0)) };
    })(),
  ];

  it.each(streams.map((s, i) => [i, s] as const))('stream %i: the LP bound is below every policy and the clairvoyant plan, and the plan is feasible', async (_i, { scenario, events }) => {
    const solver = new InThreadSolver(await loadExactSolver('exact'));
    const r = await clairvoyant(scenario, events, net, config, solver, { mipTimeLimitMs: 20_000, lateDayWeight: 0 });
    expect(r.lpBound).not.toBeNull();
    expect(r.costPerOrder).not.toBeNull();
    // (a) The bound holds for every plan that backorders no more than the LP: each policy's.
    for (const policy of policies) {
      const p = await replayPolicy(scenario, events, policy, { net, config, solver, machine, warmUpOrders: 0 });
      expect(p.orders).toBe(r.orders);
      expect(p.backorderedUnits).toBeGreaterThanOrEqual(r.lpBackorderedUnits - 1e-6);
      expect(r.lpBound!, policy).toBeLessThanOrEqual(p.costPerOrder + 0.005);
    }
    expect(r.lpBound!).toBeLessThanOrEqual(r.costPerOrder! + 0.005);
    // (b) The plan is feasible, checked independently.
    const { orders, supply, caps } = r.inputs;
    expect(checkStreamPlan(orders, r.plans!, supply, caps)).toEqual([]);
  }, 120_000);
});

/** Tiny streams: 3 orders of one line over two warehouses, a shared pool, caps that bind. */
function tinyStream(seed: number): { orders: StreamOrder[]; supply: StreamSupply[]; caps: StreamCapacity } {
  const rand = mulberry32(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const cost = () => Math.round(rand() * 1000) / 100;
  const orders: StreamOrder[] = [];
  for (let i = 0; i < 3; i++) {
    const p: Problem = {
      lines: [{ sku: 'S', qty: int(1, 3), unitWeightKg: [0.5, 4, 15][int(0, 2)]! }],
      pools: [
        { id: 'W1/S', qty: 0 },
        { id: 'W2/S', qty: 0 },
      ],
      sites: [
        { id: 'W1', parcelCap: null },
        { id: 'W2', parcelCap: null },
      ],
      arcs: [
        { site: 0, line: 0, pool: 0, unitCost: cost() / 10, transfer: false },
        { site: 1, line: 0, pool: 1, unitCost: cost() / 10, transfer: false },
        { site: 0, line: 0, pool: 1, unitCost: cost() / 5, transfer: true },
      ],
      options: [
        { site: 0, courier: 0, fixedCost: rand() < 0.3 ? cost() : 0, perParcel: cost(), perKg: cost() / 10, parcelMaxKg: 20, transfer: false, late: 0 },
        { site: 0, courier: 1, fixedCost: 0, perParcel: cost(), perKg: cost() / 10, parcelMaxKg: null, transfer: true, late: 0 },
        { site: 1, courier: 0, fixedCost: rand() < 0.3 ? cost() : 0, perParcel: cost(), perKg: cost() / 10, parcelMaxKg: 20, transfer: false, late: 0 },
      ],
      couriers: [
        { id: 'C1', parcelCap: null, kgCap: null },
        { id: 'C2', parcelCap: null, kgCap: null },
      ],
      splitPenalty: rand() < 0.5 ? 0 : cost(),
      backorderPenalty: 10_000,
      allowSplit: rand() < 0.8,
    };
    orders.push({ id: `T${i}`, atMs: 1_000 * (i + 1), problem: p, day: '2026-11-11', province: '310000' });
  }
  const supply: StreamSupply[] = [
    { pool: 'W1/S', qty: int(0, 3), atMs: -Infinity },
    { pool: 'W2/S', qty: int(0, 3), atMs: -Infinity },
    { pool: 'W1/S', qty: int(0, 2), atMs: 2_500 },
  ];
  const w1 = int(1, 3);
  const c1 = int(1, 3);
  const caps: StreamCapacity = {
    warehouseParcels: (w) => [{ fromMs: -Infinity, limit: w === 'W1' ? w1 : null }],
    courierParcels: (c) => (c === 'C1' ? [{ fromMs: -Infinity, limit: 9 }, { fromMs: 1_500, limit: c1 }] : [{ fromMs: -Infinity, limit: null }]),
    courierKg: () => [{ fromMs: -Infinity, limit: null }],
  };
  return { orders, supply, caps };
}

/** Every plan of one order: units per (option, arc), one shipment per site, the rest backordered. */
function orderPlans(p: Problem): StreamOrderPlan[] {
  const q = p.lines[0]!.qty;
  const pairs: { option: number; arc: number }[] = [];
  p.options.forEach((opt, k) => p.arcs.forEach((a, ai) => a.site === opt.site && (!a.transfer || opt.transfer) && pairs.push({ option: k, arc: ai })));
  const out: StreamOrderPlan[] = [];
  const rec = (i: number, left: number, qty: number[]) => {
    if (i === pairs.length) {
      const byOption = new Map<number, { arc: number; qty: number }[]>();
      pairs.forEach((pr, j) => qty[j]! > 0 && (byOption.get(pr.option) ?? byOption.set(pr.option, []).get(pr.option)!).push({ arc: pr.arc, qty: qty[j]! }));
      const sites = [...byOption.keys()].map((k) => p.options[k]!.site);
      if (new Set(sites).size !== sites.length) return;
      if (!p.allowSplit && byOption.size > 1) return;
      const shipments = [...byOption].map(([option, arcs]) => {
        const opt = p.options[option]!;
        const kg = arcs.reduce((n, a) => n + a.qty * p.lines[0]!.unitWeightKg, 0);
        return { option, y: 1, parcels: opt.parcelMaxKg === null ? 1 : Math.max(1, Math.ceil(kg / opt.parcelMaxKg - 1e-9)), arcs };
      });
      out.push({ shipments, backordered: [left] });
      return;
    }
    for (let x = 0; x <= left; x++) rec(i + 1, left - x, [...qty, x]);
  };
  rec(0, q, []);
  return out;
}

/** The plan objective as the cost model states it: freight, arcs, lateness, split, backorder weight. */
function planObjective(p: Problem, plan: StreamOrderPlan): { money: number; total: number } {
  let money = 0;
  let weights = p.splitPenalty * Math.max(0, plan.shipments.length - 1) + p.backorderPenalty * plan.backordered[0]!;
  for (const s of plan.shipments) {
    const opt = p.options[s.option]!;
    weights += opt.fixedCost;
    money += opt.perParcel * s.parcels;
    for (const a of s.arcs) money += (p.arcs[a.arc]!.unitCost + opt.perKg * p.lines[0]!.unitWeightKg) * a.qty;
  }
  return { money, total: money + weights };
}

describe('clairvoyant model on tiny streams', () => {
  it('the MIP equals brute force over every joint plan, and the LP bound is below the least money of the least-backorder plans', async () => {
    const highs = await loadHighs();
    const cases = Number(process.env.CLAIRVOYANT_TINY_CASES ?? 25);
    let binding = 0;
    for (let seed = 1; seed <= cases; seed++) {
      const { orders, supply, caps } = tinyStream(seed);
      const data: StreamData = streamData(orders, supply, caps);
      const all = orders.map((o) => new Set(o.problem.options.keys()));
      // Brute force: every combination of the orders' plans that the independent checker accepts.
      const per = orders.map((o) => orderPlans(o.problem));
      let best = Infinity;
      let leastBackorder = Infinity;
      const feasible: { total: number; money: number; backordered: number }[] = [];
      for (const a of per[0]!)
        for (const b of per[1]!)
          for (const c of per[2]!) {
            const plans = [a, b, c];
            if (checkStreamPlan(orders, plans, supply, caps).length > 0) continue;
            const obj = plans.map((pl, i) => planObjective(orders[i]!.problem, pl));
            const total = obj.reduce((n, x) => n + x.total, 0);
            const backordered = plans.reduce((n, pl) => n + pl.backordered[0]!, 0);
            feasible.push({ total, money: obj.reduce((n, x) => n + x.money, 0), backordered });
            best = Math.min(best, total);
            leastBackorder = Math.min(leastBackorder, backordered);
          }
      const mip = solveStreamModel(highs, buildStreamModel(data, all, { kind: 'plan', backorderWeight: 10_000, lateDayWeight: 0 }, true), 10_000, 0);
      expect(mip.status, `seed ${seed}`).toBe(highs.constants.modelStatus.optimal);
      expect(mip.objective, `seed ${seed}`).toBeCloseTo(best, 6);
      // The bound LP: its money is at most the money of every plan with the least backorder.
      const lp = solveStreamModel(highs, buildStreamModel(data, all, { kind: 'bound', backorderWeight: 10_000, lateDayWeight: 0 }, false), null, 0);
      const lpMoney = lp.objective - 10_000 * lp.backordered;
      const leastMoney = Math.min(...feasible.filter((f) => f.backordered === leastBackorder).map((f) => f.money));
      expect(lpMoney, `seed ${seed}`).toBeLessThanOrEqual(leastMoney + 1e-6);
      if (leastBackorder > 0 || lpMoney < leastMoney - 1e-6) binding++;
    }
    // The instances are not all trivial: in some, stock or caps bind or the LP is strictly below.
    expect(binding).toBeGreaterThan(0);
  });

  it('the repair gives an order the plan left out the cheapest single shipment that fits the stock and capacity left, or nothing', () => {
    const problem = (): Problem => ({
      lines: [{ sku: 'S', qty: 1, unitWeightKg: 2 }],
      pools: [
        { id: 'W1/S', qty: 0 },
        { id: 'W2/S', qty: 0 },
      ],
      sites: [
        { id: 'W1', parcelCap: null },
        { id: 'W2', parcelCap: null },
      ],
      arcs: [
        { site: 0, line: 0, pool: 0, unitCost: 0.1, transfer: false },
        { site: 1, line: 0, pool: 1, unitCost: 0.1, transfer: false },
      ],
      options: [
        { site: 0, courier: 0, fixedCost: 0, perParcel: 5, perKg: 1, parcelMaxKg: 20, transfer: false, late: 0 },
        { site: 1, courier: 0, fixedCost: 0, perParcel: 9, perKg: 1, parcelMaxKg: 20, transfer: false, late: 0 },
        { site: 1, courier: 1, fixedCost: 0, perParcel: 7, perKg: 1, parcelMaxKg: 20, transfer: false, late: 0 },
      ],
      couriers: [
        { id: 'C1', parcelCap: null, kgCap: null },
        { id: 'C2', parcelCap: null, kgCap: null },
      ],
      splitPenalty: 0,
      backorderPenalty: 10_000,
      allowSplit: true,
    });
    const orders: StreamOrder[] = [0, 1, 2].map((i) => ({ id: `R${i}`, atMs: 1_000 * (i + 1), problem: problem(), day: '2026-11-11', province: '310000' }));
    const supply: StreamSupply[] = [
      { pool: 'W1/S', qty: 1, atMs: -Infinity },
      { pool: 'W2/S', qty: 2, atMs: -Infinity },
    ];
    // C2 takes one parcel that day: the cheaper W2 shipment of order R1 uses it, so R2 goes by C1.
    const caps: StreamCapacity = {
      warehouseParcels: () => [{ fromMs: -Infinity, limit: null }],
      courierParcels: (c) => [{ fromMs: -Infinity, limit: c === 'C2' ? 1 : null }],
      courierKg: () => [{ fromMs: -Infinity, limit: null }],
    };
    const data = streamData(orders, supply, caps);
    const plans: StreamOrderPlan[] = [
      { shipments: [{ option: 0, y: 1, parcels: 1, arcs: [{ arc: 0, qty: 1 }] }], backordered: [0] },
      { shipments: [], backordered: [1] },
      { shipments: [], backordered: [1] },
    ];
    const repaired = repairPlans(data, plans, { kind: 'plan', backorderWeight: 10_000, lateDayWeight: 0 }, [1, 2]);
    // R1 ships from W2 by C2 (7 CNY a parcel, cheaper than C1's 9); R2 from W2 by C1, C2 being full.
    expect(repaired).toEqual([1, 2]);
    expect(plans[1]!.shipments).toEqual([{ option: 2, y: 1, parcels: 1, arcs: [{ arc: 1, qty: 1 }] }]);
    expect(plans[2]!.shipments).toEqual([{ option: 1, y: 1, parcels: 1, arcs: [{ arc: 1, qty: 1 }] }]);
    expect(checkStreamPlan(orders, plans, supply, caps)).toEqual([]);
    // A fourth order finds no stock left anywhere and stays backordered.
    const more: StreamOrder[] = [...orders, { id: 'R3', atMs: 4_000, problem: problem(), day: '2026-11-11', province: '310000' }];
    const morePlans: StreamOrderPlan[] = [...plans, { shipments: [], backordered: [1] }];
    expect(repairPlans(streamData(more, supply, caps), morePlans, { kind: 'plan', backorderWeight: 10_000, lateDayWeight: 0 }, [3])).toEqual([]);
    expect(morePlans[3]!.backordered).toEqual([1]);
  });
});
