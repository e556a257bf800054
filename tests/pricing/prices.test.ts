import { beforeAll, describe, expect, it } from 'vitest';
import { decide, exactChain, solve, solveSteps } from '../../solver/chain.js';
import type { Highs } from '../../solver/highs.js';
import { solvePriceLp, type PriceLp } from '../../solver/prices.js';
import type { Problem } from '../../solver/types.js';
import { Allocator } from '../../src/allocate/allocator.js';
import type { Candidates } from '../../src/allocate/candidates.js';
import { planWeight, priceCandidates } from '../../src/allocate/stages/prices.js';
import { loadConfig } from '../../src/config.js';
import { CourierBook } from '../../src/couriers/book.js';
import type { Courier, Warehouse } from '../../src/domain/network.js';
import type { AllocateRequest } from '../../src/domain/schemas.js';
import { DemandTracker } from '../../src/pricing/demand.js';
import { ShadowPrices } from '../../src/pricing/job.js';
import { PriceLpThread } from '../../src/pricing/thread.js';
import { buildPriceLp, toSnapshot } from '../../src/pricing/model.js';
import type { PriceSnapshot } from '../../src/pricing/snapshot.js';
import { loadExactSolver, loadHighs } from '../../src/solve/exact.js';
import { InThreadSolver } from '../../src/solve/pool.js';
import { MemoryStore } from '../../src/store/memory.js';
import { openServices } from '../../src/services.js';
import { FIXED_NOW, network, order } from '../support/app.js';

/**
 * Shadow prices (issue 17 item 3): the LP's duals on instances small enough to check by hand, a
 * two-order example where the prices keep a scarce cheap unit for the order that has no
 * alternative, and the allocator's side of "never on the request path" (a decision reads the last
 * snapshot, or none, and never calls HiGHS for prices).
 */
let highs: Highs;
beforeAll(async () => {
  highs = await loadHighs();
});

describe('the price LP (solver/prices.ts)', () => {
  it('prices a binding capacity at what one more unit saves, and a slack one at 0', () => {
    // 2 units wanted; A serves at 1 CNY but holds 1, B at 3 CNY holds 10; a lost unit weighs 100.
    // One more unit at A moves a unit from B to A: it saves 3 − 1 = 2.
    const lp: PriceLp = {
      rows: [
        { id: 'demand', kind: 'demand', rhs: 2 },
        { id: 'A', kind: 'capacity', rhs: 1 },
        { id: 'B', kind: 'capacity', rhs: 10 },
      ],
      cols: [
        { cost: 1, coefs: [[0, 1], [1, 1]] },
        { cost: 3, coefs: [[0, 1], [2, 1]] },
        { cost: 100, coefs: [[0, 1]] },
      ],
    };
    const sol = solvePriceLp(highs, lp);
    expect(sol.objective).toBeCloseTo(4, 9);
    expect(sol.prices[1]).toBeCloseTo(2, 9);
    expect(sol.prices[2]).toBeCloseTo(0, 9);
    expect(Array.from(sol.flows)).toEqual([1, 1, 0].map((x) => expect.closeTo(x, 9)));
  });

  it('adds a row named twice in one column (HiGHS would keep one coefficient)', () => {
    // The column uses 0.5 + 0.5 = 1 unit of A per unit: A (cap 1) serves one of the 2 units.
    const lp: PriceLp = {
      rows: [
        { id: 'demand', kind: 'demand', rhs: 2 },
        { id: 'A', kind: 'capacity', rhs: 1 },
      ],
      cols: [
        { cost: 1, coefs: [[0, 1], [1, 0.5], [1, 0.5]] },
        { cost: 5, coefs: [[0, 1]] },
      ],
    };
    const sol = solvePriceLp(highs, lp);
    expect(sol.objective).toBeCloseTo(6, 9);
    expect(sol.prices[1]).toBeCloseTo(4, 9);
  });
});

describe('the price LP in a thread of its own (the service\'s refresh)', () => {
  it('answers the same solution as in this thread, for one LP after another', async () => {
    const thread = new PriceLpThread();
    try {
      for (const stockA of [1, 3]) {
        const built = priceLpOf(stockA);
        const here = solvePriceLp(highs, built.lp);
        const there = await thread.solve(built.lp);
        expect(there.objective).toBeCloseTo(here.objective, 6);
        expect(Array.from(there.prices)).toEqual(Array.from(here.prices).map((x) => expect.closeTo(x, 6)));
      }
    } finally {
      await thread.close();
    }
  });
});

// A two-warehouse world small enough to solve by hand: warehouse A (province PA) ships to both
// destination provinces at 5 CNY a parcel, warehouse B (PB) only to P1, at 9 CNY. A holds one unit
// of SKU S, B ten. The rest of the day is expected to bring one unit for P1 and two for P2.
const A = { id: 'A', dailyOutboundParcels: 100 } as Warehouse;
const B = { id: 'B', dailyOutboundParcels: 100 } as Warehouse;
const C = { id: 'C', dailyParcelsPerRegion: null } as unknown as Courier;
const LANES: Record<string, number> = { 'PA>P1': 5, 'PA>P2': 5, 'PB>P1': 9 };
const SHORT = 10_000;

function priceLpOf(stockA: number) {
  return buildPriceLp({
    warehouses: [A, B],
    couriers: [C],
    provinceOf: (w) => (w === 'A' ? 'PA' : 'PB'),
    lane: (_c, from, to) => (LANES[`${from}>${to}`] === undefined ? null : { baseCny: LANES[`${from}>${to}`]!, perKgCny: 0 }),
    free: new Map([
      ['A', new Map([['S', stockA]])],
      ['B', new Map([['S', 10]])],
    ]),
    outboundLeft: () => 100,
    courierLeft: () => null,
    closed: new Set(),
    shortCost: SHORT,
    forecast: {
      day: '2026-11-11',
      classes: [
        { provinceCode: 'P1', sku: 'S', units: 1, parcelsPerUnit: 1 },
        { provinceCode: 'P2', sku: 'S', units: 2, parcelsPerUnit: 1 },
      ],
      kgPerParcel: new Map([
        ['P1', 1],
        ['P2', 1],
      ]),
      ordersSeen: 3,
      factor: 1,
    },
  });
}

describe('shadow prices on a two-order example', () => {
  it('the LP: A\'s one unit goes to P2 (no alternative), P1 is served from B; A\'s stock is priced, B\'s is not', () => {
    const built = priceLpOf(1);
    const sol = solvePriceLp(highs, built.lp);
    // P2: 1 unit from A (5) and 1 short (10,000); P1: 1 unit from B (9).
    expect(sol.objective).toBeCloseTo(5 + SHORT + 9, 6);
    const price = (kind: string, id: string) => sol.prices[built.meta.findIndex((m) => m.kind === kind && ('warehouseId' in m ? m.warehouseId : '') === id)]!;
    // One more unit at A serves the second P2 unit: it saves the lost unit's 10,000 less A's 5.
    expect(price('stock', 'A')).toBeCloseTo(SHORT - 5, 6);
    expect(price('stock', 'B')).toBeCloseTo(0, 6);
    expect(price('outbound', 'A')).toBeCloseTo(0, 6);
    // As decisions use it: relative to the SKU's cheapest warehouse, bounded by the dearest route (9).
    const snap = toSnapshot(built, sol, '2026-11-11', 0);
    expect(snap.stock.get('A')?.get('S')).toBeCloseTo(9, 9);
    expect(snap.stock.get('B')?.get('S')).toBeUndefined();
  });

  /** The per-order problem of one unit of S to `province`, from what A and B hold now, as candidate generation would build it. */
  function orderCandidates(province: 'P1' | 'P2', stock: { A: number; B: number }): Candidates {
    const sites = province === 'P1' ? [A, B] : [A];
    const problem: Problem = {
      lines: [{ sku: 'S', qty: 1, unitWeightKg: 1 }],
      pools: sites.map((w) => ({ id: `${w.id}/S`, qty: stock[w.id as 'A' | 'B'] })),
      sites: sites.map((w) => ({ id: w.id, parcelCap: null })),
      arcs: sites.flatMap((w, i) => (stock[w.id as 'A' | 'B'] > 0 ? [{ site: i, line: 0, pool: i, unitCost: 0, transfer: false }] : [])),
      options: sites.map((w, i) => ({ site: i, courier: 0, fixedCost: 0, perParcel: LANES[`P${w.id}>${province}`]!, perKg: 0, parcelMaxKg: null, transfer: false, late: 0 })),
      couriers: [{ id: 'C', parcelCap: null, kgCap: null }],
      splitPenalty: 6,
      backorderPenalty: SHORT,
      allowSplit: true,
    };
    return {
      problem,
      facts: sites.map((w) => ({ roadKm: 100, radiusKm: 10, freePerLine: [stock[w.id as 'A' | 'B']] })),
      region: { provinceCode: province },
      sites: sites.map((w) => ({ warehouse: w, roadKm: 100, shipDay: '2026-11-11', dayOffset: 0 })),
      arcInfo: problem.arcs.map((a) => ({ fromWarehouseId: sites[a.site]!.id, sku: 'S', storagePerUnit: 0, transferPerUnit: 0 })),
      optionInfo: problem.options.map(() => ({ courierId: 'C' })),
    } as unknown as Candidates;
  }

  async function decideOrder(c: Candidates) {
    const exact = exactChain(solveSteps('exact', highs));
    return decide({ problem: c.problem, facts: c.facts, policy: 'optimized', radiusLockFactor: 1.2 }, async (p) => solve(p, { timeoutMs: 5_000, exact }));
  }

  /** Two orders in sequence, P1's first; with `snap`, each decision adds the prices; returns where each shipped from ('' when backordered). */
  async function sequence(snap: PriceSnapshot | undefined): Promise<string[]> {
    const stock = { A: 1, B: 10 };
    const out: string[] = [];
    for (const province of ['P1', 'P2'] as const) {
      const c = orderCandidates(province, stock);
      const weights = snap ? priceCandidates(c, snap) : undefined;
      const outcome = await decideOrder(c);
      const s = outcome.plan.shipments[0];
      const from = s ? c.sites[c.problem.options[s.option]!.site]!.warehouse.id : '';
      if (from !== '') stock[from as 'A' | 'B'] -= 1;
      out.push(from);
      // The weight is the prices of what the plan uses, and only that: 9 per unit of A's stock.
      if (weights && s) expect(planWeight(weights, outcome.plan)).toBeCloseTo(from === 'A' ? 9 : 0, 9);
    }
    return out;
  }

  it('without prices the first order takes A\'s cheap unit and the second, which only A serves, is backordered; with them the first ships from B and both ship', async () => {
    expect(await sequence(undefined)).toEqual(['A', '']);
    const built = priceLpOf(1);
    const snap = toSnapshot(built, solvePriceLp(highs, built.lp), '2026-11-11', 0);
    expect(await sequence(snap)).toEqual(['B', 'A']);
  });
});

describe('prices known without solving (nothing can be scarce)', () => {
  it('the LP says so only when the cheapest plan leaves every limit strictly unreached, and HiGHS then prices every resource at 0', () => {
    // A holds 1, 3 (exactly the 3 units its cheap routes would take: at the limit), 4 or 50 units.
    for (const [stockA, nothingBinds] of [[1, false], [3, false], [4, true], [50, true]] as const) {
      const built = priceLpOf(stockA);
      expect(built.nothingBinds, `A holds ${stockA}`).toBe(nothingBinds);
      const sol = solvePriceLp(highs, built.lp);
      if (nothingBinds) {
        built.lp.rows.forEach((r, i) => r.kind === 'capacity' && expect(sol.prices[i]).toBe(0));
        const snap = toSnapshot(built, sol, '2026-11-11', 0);
        expect([snap.stock.size, snap.outbound.size, snap.courier.size]).toEqual([0, 0, 0]);
      }
    }
  });

  it('the job: an ample network is priced at 0 without calling HiGHS, a scarce one is solved', async () => {
    const net = network();
    const cfg = loadConfig({}, { solverThreads: 0 });
    const now = FIXED_NOW;
    let models = 0;
    const counted = async (lp: PriceLp) => {
      models++;
      return solvePriceLp(highs, lp);
    };
    const refreshWith = async (stock: typeof net.network.stock) => {
      const store = new MemoryStore(stock, { clock: () => now });
      const prices = new ShadowPrices(net, cfg, store, new CourierBook(net, store, () => now), counted, () => now);
      // Five orders of 4 units to Shanghai seen today (counted as the allocator counts them).
      for (let i = 0; i < 5; i++) prices.observe({ provinceCode: '310000', lines: [{ sku: 'BRK-0001', qty: 4 }] }, now);
      return { stats: await prices.refresh(), snap: prices.snapshot(now) };
    };
    const ample = await refreshWith(net.network.stock);
    expect(ample.stats?.solved).toBe(false);
    expect(models).toBe(0);
    expect(ample.snap?.day).toBe('2026-11-11');
    expect([ample.snap!.stock.size, ample.snap!.outbound.size, ample.snap!.courier.size]).toEqual([0, 0, 0]);
    // One unit of BRK-0001 per warehouse: the expected demand exhausts the stock, so the LP is solved.
    const scarce = await refreshWith(net.network.stock.map((r) => (r.sku === 'BRK-0001' ? { ...r, onHand: 1 } : r)));
    expect(scarce.stats?.solved).toBe(true);
    expect(models).toBe(1);
    expect(scarce.snap!.stock.size).toBeGreaterThan(0);
  });
});

describe('the demand forecast', () => {
  it('scales the observed mix by the recent rate and the profile\'s share of the day still to come, and never beyond 10x what was seen', () => {
    const tz = 480;
    const t = new DemandTracker(() => 2, 40, tz);
    const at = (hhmm: string) => Date.parse(`2026-11-11T${hhmm}:00+08:00`);
    // One order at 00:30 and nothing else: the night is a sliver of the profile, the bound holds.
    t.observe({ provinceCode: '310000', lines: [{ sku: 'S', qty: 3 }] }, at('00:30'));
    const night = t.forecast(at('00:45'));
    expect(night.factor).toBe(10);
    expect(night.classes).toEqual([{ provinceCode: '310000', sku: 'S', units: 30, parcelsPerUnit: 1 / 3 }]);
    // Another day starts afresh.
    expect(t.forecast(at('00:45') + 86_400_000).classes).toEqual([]);
  });
});

describe('prices are never computed on the request path', () => {
  it('a decision reads the last snapshot or none, answers without it, and never calls HiGHS for prices; a refresh does', async () => {
    const net = network();
    const cfg = loadConfig({}, { solverThreads: 0, solveTimeoutMs: 10_000, solverWarmUpRounds: 0 });
    let now = FIXED_NOW;
    const clock = () => now;
    const store = new MemoryStore(net.network.stock, { clock });
    const book = new CourierBook(net, store, clock);
    // The price LP's solver, counted: every LP the job solves goes through it.
    let models = 0;
    const counted = async (lp: PriceLp) => {
      models++;
      return solvePriceLp(highs, lp);
    };
    const prices = new ShadowPrices(net, cfg, store, book, counted, clock);
    const allocator = new Allocator(net, cfg, store, new InThreadSolver(await loadExactSolver('exact')), clock, book, { prices });
    const allocate = (o: Record<string, unknown>) => allocator.allocate(o as unknown as AllocateRequest);

    // No snapshot yet: the decision answers, unpriced.
    const first = await allocate(order());
    expect(first.status).toBe('allocated');
    expect(first.reasons.some((r) => r.code === 'SCARCITY_PRICED')).toBe(false);
    expect(models).toBe(0);
    expect(prices.snapshot(now)).toBeUndefined();

    // A refresh (the job's timer, or a replay between orders) solves the LP once.
    for (let i = 0; i < 5; i++) await allocate(order({ lines: [{ sku: 'BRK-0001', qty: 2 }, { sku: 'WIP-0001', qty: 3 }] }));
    expect(models).toBe(0);
    const stats = await prices.refresh();
    // HiGHS is called unless no resource can be scarce (then every price is 0 without a solve; see
    // 'prices known without solving' below): either way a snapshot of today is in force.
    expect(models).toBe(stats!.solved ? 1 : 0);
    const solves = models;
    const snap = prices.snapshot(now);
    expect(snap?.day).toBe('2026-11-11');

    // Decisions now read that snapshot and solve nothing for prices; their money leaves the weights out.
    for (let i = 0; i < 5; i++) {
      const d = await allocate(order());
      expect(d.status).toBe('allocated');
      for (const s of d.shipments) expect(s.cost.total).toBeCloseTo(s.cost.freight + s.cost.transfer + s.cost.storage + s.cost.lateness + s.cost.split, 1);
    }
    expect(models).toBe(solves);

    // The next day yesterday's snapshot is stale: not used, and the decision still answers.
    now += 86_400_000;
    expect(prices.snapshot(now)).toBeUndefined();
    const nextDay = await allocate(order({ placedAt: undefined, promisedBy: '2026-11-14T18:00:00+08:00' }));
    expect(nextDay.status).toBe('allocated');
    expect(nextDay.reasons.some((r) => r.code === 'SCARCITY_PRICED')).toBe(false);
    expect(models).toBe(solves);
  });
});

describe('the service\'s pricing job', () => {
  it('exists for the policy optimized only, refreshes in its thread from the orders it saw, and closes with the services', async () => {
    const net = network();
    const now = FIXED_NOW;
    const base = { solverThreads: 0, solveTimeoutMs: 10_000, solverWarmUpRounds: 0 };
    const myopic = await openServices(loadConfig({}, { ...base, policy: 'myopic' }), { net, clock: () => now, rules: false });
    expect(myopic.prices).toBeUndefined();
    await myopic.close();
    const svc = await openServices(loadConfig({}, base), { net, clock: () => now, rules: false });
    try {
      for (let i = 0; i < 3; i++) expect((await svc.allocator.allocate(order() as unknown as AllocateRequest)).status).toBe('allocated');
      const stats = await svc.prices!.refresh();
      expect(stats?.ordersSeen).toBe(3);
      expect(svc.prices!.snapshot(now)?.day).toBe('2026-11-11');
    } finally {
      await svc.close();
    }
  });
});
