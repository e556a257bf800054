/**
 * Tests of the reference machinery itself, so that the differential test of the product solver
 * (tests/solver/diff.test.ts) compares it against something that is known to be right:
 *
 *   - hand-made problems with answers worked out on paper, solved by HiGHS and by brute force;
 *   - HiGHS against an exhaustive brute-force enumeration on hundreds of tiny seeded problems;
 *   - the plan checker rejecting plans that break each rule of the specification;
 *   - the instance generator being deterministic and varied.
 */
import { describe, expect, it } from 'vitest';
import type { Plan, PlanShipment, Problem, ProblemArc, ProblemCourier, ProblemOption } from '../../solver/types.js';
import { solveWithHighs, toCplexLp } from '../reference/highs-model.js';
import { bruteForce } from '../support/brute-force.js';
import { checkPlan, close } from '../support/check-plan.js';
import { generateProblem, generateTinyProblem, problems } from '../support/instances.js';

// ---------------------------------------------------------------------------------------------
// Small builders for hand-made problems. Every SKU's pool, arc and option is spelled out in the
// cases below, so that the expected optimum can be checked by hand.

const courier = (id: string, parcelCap: number | null = null, kgCap: number | null = null): ProblemCourier => ({ id, parcelCap, kgCap });
const direct = (site: number, line: number, pool: number, unitCost = 0): ProblemArc => ({ site, line, pool, unitCost, transfer: false });
const transferArc = (site: number, line: number, pool: number, unitCost: number): ProblemArc => ({ site, line, pool, unitCost, transfer: true });
const option = (site: number, courierIndex: number, fixedCost: number, extra: Partial<ProblemOption> = {}): ProblemOption => ({
  site,
  courier: courierIndex,
  fixedCost,
  perParcel: 0,
  perKg: 0,
  parcelMaxKg: null,
  transfer: false,
  ...extra,
});
const sites = (n: number, parcelCap: number | null = null) => Array.from({ length: n }, (_, i) => ({ id: `W${i}`, parcelCap }));
const pools = (...qty: number[]) => qty.map((q, i) => ({ id: `P${i}`, qty: q }));

/**
 * Two lines, A and B. Site 0 holds only A, site 1 only B, site 2 both. Shipping from sites 0 and
 * 1 costs 10 + 10 + splitPenalty; shipping everything from site 2 costs 50.
 */
function splitProblem(splitPenalty: number, allowSplit = true): Problem {
  return {
    lines: [
      { sku: 'A', qty: 2, unitWeightKg: 1 },
      { sku: 'B', qty: 2, unitWeightKg: 1 },
    ],
    pools: pools(5, 5, 5, 5),
    sites: sites(3),
    arcs: [direct(0, 0, 0), direct(1, 1, 1), direct(2, 0, 2), direct(2, 1, 3)],
    options: [option(0, 0, 10), option(1, 0, 10), option(2, 0, 50)],
    couriers: [courier('STO')],
    splitPenalty,
    backorderPenalty: 10_000,
    allowSplit,
  };
}

/**
 * One line of 10 units. Site 0 holds 6, site 1 holds 4, and site 0 can also pull site 1's stock
 * by transfer at 1 CNY/unit under its transfer option (fixed 25). Options 0 and 2 are direct
 * (fixed 10 each), option 1 is site 0's transfer shipment.
 */
function transferProblem(splitPenalty: number): Problem {
  return {
    lines: [{ sku: 'A', qty: 10, unitWeightKg: 1 }],
    pools: pools(6, 4),
    sites: sites(2),
    arcs: [direct(0, 0, 0), direct(1, 0, 1), transferArc(0, 0, 1, 1)],
    options: [option(0, 0, 10), option(0, 0, 25, { transfer: true }), option(1, 0, 10)],
    couriers: [courier('STO')],
    splitPenalty,
    backorderPenalty: 10_000,
    allowSplit: true,
  };
}

interface HandCase {
  name: string;
  problem: Problem;
  objective: number;
  /** Extra facts about the optimal plan that the objective alone does not pin down. */
  check?: (plan: Plan) => void;
}

const handCases: HandCase[] = [
  {
    name: 'a split that pays: 10 + 10 + 20 < 50',
    problem: splitProblem(20),
    objective: 40,
    check: (plan) => expect(plan.shipments.map((s) => s.option).sort()).toEqual([0, 1]),
  },
  {
    name: 'a split that does not pay: 10 + 10 + 40 > 50',
    problem: splitProblem(40),
    objective: 50,
    check: (plan) => expect(plan.shipments.map((s) => s.option)).toEqual([2]),
  },
  {
    name: 'allowSplit=false forbids the cheaper split',
    problem: splitProblem(20, false),
    objective: 50,
    check: (plan) => expect(plan.shipments).toHaveLength(1),
  },
  {
    name: 'allowSplit=false with no single site able to ship everything backorders',
    problem: { ...splitProblem(0, false), arcs: [direct(0, 0, 0), direct(1, 1, 1)], options: [option(0, 0, 10), option(1, 0, 12)] },
    // Ship line A from site 0 (10) and backorder line B's two units.
    objective: 10 + 2 * 10_000,
  },
  {
    name: 'a transfer beats a split: 25 + 4 x 1 < 10 + 10 + 30',
    problem: transferProblem(30),
    objective: 29,
    check: (plan) => {
      expect(plan.shipments).toHaveLength(1);
      expect(plan.shipments[0]?.option).toBe(1);
      expect([...(plan.shipments[0]?.arcs ?? [])].sort((a, b) => a.arc - b.arc)).toEqual([
        { arc: 0, qty: 6 },
        { arc: 2, qty: 4 },
      ]);
    },
  },
  {
    name: 'a split beats a transfer when the split penalty is small: 10 + 10 + 5 < 29',
    problem: transferProblem(5),
    objective: 25,
    check: (plan) => expect(plan.shipments.map((s) => s.option).sort()).toEqual([0, 2]),
  },
  {
    name: 'backorder of the units no pool can supply',
    problem: {
      lines: [{ sku: 'A', qty: 3, unitWeightKg: 1 }],
      pools: pools(1),
      sites: sites(1),
      arcs: [direct(0, 0, 0, 1.5)],
      options: [option(0, 0, 7, { perKg: 2 })],
      couriers: [courier('STO')],
      splitPenalty: 0,
      backorderPenalty: 10_000,
      allowSplit: true,
    },
    // One unit shipped: 7 fixed + 2 CNY/kg x 1 kg + 1.5 CNY/unit; two units backordered.
    objective: 7 + 2 + 1.5 + 2 * 10_000,
    check: (plan) => expect(plan.backordered).toEqual([2]),
  },
  {
    name: 'everything backordered when no stock exists at all',
    problem: {
      lines: [
        { sku: 'A', qty: 3, unitWeightKg: 1 },
        { sku: 'B', qty: 1, unitWeightKg: 2 },
      ],
      pools: [],
      sites: sites(2),
      arcs: [],
      options: [option(0, 0, 7), option(1, 0, 7)],
      couriers: [courier('STO')],
      splitPenalty: 5,
      backorderPenalty: 10_000,
      allowSplit: true,
    },
    objective: 4 * 10_000,
    check: (plan) => {
      expect(plan.shipments).toEqual([]);
      expect(plan.backordered).toEqual([3, 1]);
    },
  },
  {
    name: 'backorder wins when the penalty is smaller than the cheapest shipment',
    problem: {
      lines: [{ sku: 'A', qty: 1, unitWeightKg: 1 }],
      pools: pools(5),
      sites: sites(1),
      arcs: [direct(0, 0, 0)],
      options: [option(0, 0, 50)],
      couriers: [courier('STO')],
      splitPenalty: 0,
      backorderPenalty: 10,
      allowSplit: true,
    },
    objective: 10,
  },
  {
    name: 'a courier with parcelCap 0 is never used, however cheap',
    problem: {
      lines: [{ sku: 'A', qty: 1, unitWeightKg: 1 }],
      pools: pools(10),
      sites: sites(1),
      arcs: [direct(0, 0, 0)],
      options: [option(0, 0, 5), option(0, 1, 30)],
      couriers: [courier('STO', 0), courier('SF')],
      splitPenalty: 0,
      backorderPenalty: 10_000,
      allowSplit: true,
    },
    objective: 30,
    check: (plan) => expect(plan.shipments.map((s) => s.option)).toEqual([1]),
  },
  {
    name: 'a courier kgCap below the shipment weight pushes it to the dearer courier',
    problem: {
      lines: [{ sku: 'A', qty: 5, unitWeightKg: 1 }],
      pools: pools(10),
      sites: sites(1),
      arcs: [direct(0, 0, 0)],
      options: [option(0, 0, 5, { perKg: 1 }), option(0, 1, 30, { perKg: 1 })],
      couriers: [courier('STO', null, 3), courier('SF')],
      splitPenalty: 0,
      backorderPenalty: 10_000,
      allowSplit: true,
    },
    objective: 35,
  },
  {
    name: 'a heavy shipment travels as ceil(weight / parcelMaxKg) parcels, each paying perParcel',
    problem: {
      lines: [{ sku: 'A', qty: 10, unitWeightKg: 2 }],
      pools: pools(10),
      sites: sites(1),
      arcs: [direct(0, 0, 0)],
      options: [option(0, 0, 3, { perParcel: 5, perKg: 0.5, parcelMaxKg: 6 })],
      couriers: [courier('STO')],
      splitPenalty: 0,
      backorderPenalty: 10_000,
      allowSplit: true,
    },
    // 20 kg in 6 kg parcels is 4 parcels: 3 + 4 x 5 + 0.5 x 20.
    objective: 33,
    check: (plan) => expect(plan.shipments.map((s) => s.parcels)).toEqual([4]),
  },
  {
    name: 'a weight exactly at parcelMaxKg is one parcel (50 x 1.1 kg = 55 kg)',
    problem: {
      lines: [{ sku: 'A', qty: 50, unitWeightKg: 1.1 }],
      pools: pools(500),
      sites: sites(1),
      arcs: [direct(0, 0, 0)],
      options: [option(0, 0, 0, { perParcel: 7, parcelMaxKg: 55 })],
      couriers: [courier('STO', 1)],
      splitPenalty: 0,
      backorderPenalty: 10_000,
      allowSplit: true,
    },
    // In floating point 50 x 1.1 is 55.00000000000001; in the units of the spec it is 55 kg,
    // one parcel, which the courier's parcelCap of 1 admits.
    objective: 7,
    check: (plan) => expect(plan.shipments.map((s) => s.parcels)).toEqual([1]),
  },
  {
    name: 'parcels count against the courier parcelCap: 4 parcels do not fit a cap of 3',
    problem: {
      lines: [{ sku: 'A', qty: 10, unitWeightKg: 2 }],
      pools: pools(10),
      sites: sites(1),
      arcs: [direct(0, 0, 0)],
      options: [option(0, 0, 0, { perParcel: 1, parcelMaxKg: 6 }), option(0, 1, 0, { perParcel: 30, parcelMaxKg: 30 })],
      couriers: [courier('STO', 3), courier('SF')],
      splitPenalty: 0,
      backorderPenalty: 10_000,
      allowSplit: true,
    },
    // STO would be 4 x 1 = 4 CNY but needs 4 parcels; SF carries 20 kg as one 30 CNY parcel.
    objective: 30,
    check: (plan) => expect(plan.shipments.map((s) => [s.option, s.parcels])).toEqual([[1, 1]]),
  },
  {
    name: 'a weightless shipment is still one parcel',
    problem: {
      lines: [{ sku: 'GIFTCARD', qty: 3, unitWeightKg: 0 }],
      pools: pools(10),
      sites: sites(1),
      arcs: [direct(0, 0, 0)],
      options: [option(0, 0, 1, { perParcel: 9, perKg: 4, parcelMaxKg: 20 })],
      couriers: [courier('STO')],
      splitPenalty: 0,
      backorderPenalty: 10_000,
      allowSplit: true,
    },
    objective: 10,
    check: (plan) => expect(plan.shipments.map((s) => s.parcels)).toEqual([1]),
  },
  {
    name: 'the site parcelCap limits the parcels a warehouse hands over',
    problem: {
      lines: [{ sku: 'A', qty: 10, unitWeightKg: 2 }],
      pools: pools(10, 10),
      sites: [
        { id: 'W0', parcelCap: 3 },
        { id: 'W1', parcelCap: null },
      ],
      arcs: [direct(0, 0, 0), direct(1, 0, 1)],
      options: [option(0, 0, 0, { perParcel: 1, parcelMaxKg: 6 }), option(1, 0, 0, { perParcel: 12, perKg: 0.5, parcelMaxKg: 6 })],
      couriers: [courier('STO')],
      splitPenalty: 2,
      backorderPenalty: 10_000,
      allowSplit: true,
    },
    // W0 can hand over 3 parcels (18 kg = 9 units, 3 CNY); the last unit goes from W1 as one
    // 12 CNY parcel plus 0.5 CNY/kg x 2 kg, plus the split penalty of 2. Shipping all from W1
    // would cost 4 x 12 + 10 = 58.
    objective: 3 + 13 + 2,
    check: (plan) => expect(plan.shipments.map((s) => [s.option, s.parcels, s.arcs[0]?.qty])).toEqual([
      [0, 3, 9],
      [1, 1, 1],
    ]),
  },
  {
    name: 'a site with parcelCap 0 never ships',
    problem: {
      lines: [{ sku: 'A', qty: 1, unitWeightKg: 1 }],
      pools: pools(5, 5),
      sites: [
        { id: 'W0', parcelCap: 0 },
        { id: 'W1', parcelCap: null },
      ],
      arcs: [direct(0, 0, 0), direct(1, 0, 1)],
      options: [option(0, 0, 1), option(1, 0, 40)],
      couriers: [courier('STO')],
      splitPenalty: 0,
      backorderPenalty: 10_000,
      allowSplit: true,
    },
    objective: 40,
  },
  {
    name: 'a site opens at most one option, even when two couriers would carry more',
    problem: {
      lines: [{ sku: 'A', qty: 10, unitWeightKg: 1 }],
      pools: pools(10),
      sites: sites(1),
      arcs: [direct(0, 0, 0)],
      options: [option(0, 0, 10, { parcelMaxKg: 5 }), option(0, 1, 10, { parcelMaxKg: 5 })],
      couriers: [courier('STO', 1), courier('SF', 1)],
      splitPenalty: 0,
      backorderPenalty: 10_000,
      allowSplit: true,
    },
    // Each courier takes one 5 kg parcel; only one of them may serve the site.
    objective: 10 + 5 * 10_000,
  },
  {
    name: 'a lighter shipment saves a parcel: splitting 12 kg beats one 3-parcel shipment',
    problem: {
      lines: [{ sku: 'A', qty: 12, unitWeightKg: 1 }],
      pools: pools(12, 12),
      sites: sites(2),
      arcs: [direct(0, 0, 0), direct(1, 0, 1)],
      options: [option(0, 0, 0, { perParcel: 20, parcelMaxKg: 5 }), option(1, 1, 0, { perParcel: 25, parcelMaxKg: 10 })],
      couriers: [courier('STO'), courier('SF')],
      splitPenalty: 4,
      backorderPenalty: 10_000,
      allowSplit: true,
    },
    // All from W0: 3 parcels = 60. All from W1: 2 parcels = 50. W0 5 kg (20) + W1 7 kg (25) + 4 = 49.
    objective: 49,
  },
  {
    name: 'a pool is shared between the site shipping it and a transfer out of it',
    problem: {
      lines: [{ sku: 'A', qty: 10, unitWeightKg: 1 }],
      pools: pools(3, 5),
      sites: sites(2),
      arcs: [direct(0, 0, 0), direct(1, 0, 1), transferArc(0, 0, 1, 1)],
      options: [option(0, 0, 10), option(0, 0, 20, { transfer: true }), option(1, 0, 10)],
      couriers: [courier('STO')],
      splitPenalty: 0,
      backorderPenalty: 10_000,
      allowSplit: true,
    },
    // Only 8 units exist; the cheapest way to ship them is two direct parcels (10 + 10).
    objective: 20 + 2 * 10_000,
    check: (plan) => expect(plan.backordered).toEqual([2]),
  },
  {
    name: 'two lines of one SKU share its pool',
    problem: {
      lines: [
        { sku: 'A', qty: 3, unitWeightKg: 1 },
        { sku: 'A', qty: 3, unitWeightKg: 1 },
      ],
      pools: pools(4),
      sites: sites(1),
      arcs: [direct(0, 0, 0), direct(0, 1, 0)],
      options: [option(0, 0, 10)],
      couriers: [courier('STO')],
      splitPenalty: 0,
      backorderPenalty: 10_000,
      allowSplit: true,
    },
    objective: 10 + 2 * 10_000,
  },
  {
    name: 'per-kg freight and unit costs add up on one shipment',
    problem: {
      lines: [
        { sku: 'A', qty: 2, unitWeightKg: 1.25 },
        { sku: 'B', qty: 3, unitWeightKg: 0.5 },
      ],
      pools: pools(9, 9),
      sites: sites(1),
      arcs: [direct(0, 0, 0, 0.4), direct(0, 1, 1, 1.1)],
      options: [option(0, 0, 12.5, { perKg: 3.2 })],
      couriers: [courier('STO')],
      splitPenalty: 0,
      backorderPenalty: 10_000,
      allowSplit: true,
    },
    // 12.5 + 3.2 x (2.5 + 1.5) kg + 2 x 0.4 + 3 x 1.1 = 12.5 + 12.8 + 0.8 + 3.3.
    objective: 29.4,
  },
];

describe('hand-made cases with known optima', () => {
  for (const c of handCases) {
    it(`HiGHS: ${c.name}`, async () => {
      const r = await solveWithHighs(c.problem);
      expect(r.status).toBe('Optimal');
      expect(r.objective).toBeCloseTo(c.objective, 6);
      expect(r.highsObjective).toBeCloseTo(c.objective, 6);
      const checked = checkPlan(c.problem, r.plan);
      expect(checked.errors).toEqual([]);
      expect(checked.objective).toBeCloseTo(c.objective, 6);
      c.check?.(r.plan);
    });
    it(`brute force: ${c.name}`, () => {
      const r = bruteForce(c.problem);
      expect(r.objective).toBeCloseTo(c.objective, 6);
      const checked = checkPlan(c.problem, r.plan);
      expect(checked.errors).toEqual([]);
      c.check?.(r.plan);
    });
  }
});

describe('HiGHS against brute force on tiny seeded instances', () => {
  it('agrees on the optimum of 400 instances and both plans pass the checker', async () => {
    const mismatches: string[] = [];
    // Counts of what the optima look like, so that the comparison is known not to be vacuous.
    const seen = { split: 0, backorder: 0, partialBackorder: 0, transferUsed: 0, multiParcel: 0, noSplit: 0, capped: 0, siteCapped: 0 };
    for (let seed = 1; seed <= 400; seed++) {
      const p = generateTinyProblem(seed);
      const bf = bruteForce(p);
      const h = await solveWithHighs(p);
      const hc = checkPlan(p, h.plan);
      const bc = checkPlan(p, bf.plan);
      if (h.status !== 'Optimal') mismatches.push(`seed ${seed}: HiGHS status ${h.status}`);
      else if (!close(h.objective, bf.objective)) mismatches.push(`seed ${seed}: HiGHS ${h.objective} vs brute force ${bf.objective}`);
      if (!close(h.objective, h.highsObjective)) mismatches.push(`seed ${seed}: rounded objective ${h.objective} vs HiGHS's ${h.highsObjective}`);
      if (!hc.ok) mismatches.push(`seed ${seed}: HiGHS plan rejected: ${hc.errors.join('; ')}`);
      if (!bc.ok) mismatches.push(`seed ${seed}: brute-force plan rejected: ${bc.errors.join('; ')}`);
      if (!close(hc.objective, h.objective)) mismatches.push(`seed ${seed}: checker says ${hc.objective}, HiGHS ${h.objective}`);

      const plan = h.plan;
      if (plan.shipments.length > 1) seen.split++;
      if (plan.backordered.some((b) => b > 0)) seen.backorder++;
      if (plan.backordered.some((b) => b > 0) && plan.shipments.length > 0) seen.partialBackorder++;
      if (plan.shipments.some((s) => s.arcs.some((e) => p.arcs[e.arc]?.transfer))) seen.transferUsed++;
      if (plan.shipments.some((s) => s.parcels > 1)) seen.multiParcel++;
      if (!p.allowSplit) seen.noSplit++;
      if (p.couriers.some((c) => c.parcelCap !== null || c.kgCap !== null)) seen.capped++;
      if (p.sites.some((s) => s.parcelCap !== null)) seen.siteCapped++;
    }
    expect(mismatches).toEqual([]);
    expect(seen.split).toBeGreaterThanOrEqual(20);
    expect(seen.backorder).toBeGreaterThanOrEqual(20);
    expect(seen.partialBackorder).toBeGreaterThanOrEqual(20);
    expect(seen.transferUsed).toBeGreaterThanOrEqual(10);
    expect(seen.multiParcel).toBeGreaterThanOrEqual(10);
    expect(seen.siteCapped).toBeGreaterThanOrEqual(100);
    expect(seen.noSplit).toBeGreaterThanOrEqual(20);
    expect(seen.capped).toBeGreaterThanOrEqual(100);
  });
});

describe('checkPlan rejects plans that break a rule', () => {
  // The transfer problem with split penalty 30; its optimum ships 6 own units and 4 transferred
  // units in site 0's transfer parcel (option 1) for 25 + 4 = 29.
  const base = (): Problem => transferProblem(30);
  const good = (): Plan => ({
    shipments: [{ option: 1, parcels: 1, arcs: [{ arc: 0, qty: 6 }, { arc: 2, qty: 4 }] }],
    backordered: [0],
    objective: 29,
  });
  const expectRejected = (p: Problem, plan: Plan, rule: RegExp): void => {
    const r = checkPlan(p, plan);
    expect(r.ok).toBe(false);
    expect(r.errors.some((e) => rule.test(e)), r.errors.join('\n')).toBe(true);
  };

  it('accepts the optimal plan and a valid split plan, with their objectives', () => {
    expect(checkPlan(base(), good())).toEqual({ ok: true, errors: [], objective: 29 });
    const split: Plan = { shipments: [{ option: 0, parcels: 1, arcs: [{ arc: 0, qty: 6 }] }, { option: 2, parcels: 1, arcs: [{ arc: 1, qty: 4 }] }], backordered: [0], objective: 50 };
    expect(checkPlan(base(), split)).toEqual({ ok: true, errors: [], objective: 50 });
    const partial: Plan = { shipments: [{ option: 0, parcels: 1, arcs: [{ arc: 0, qty: 5 }] }], backordered: [5], objective: 10 + 50_000 };
    expect(checkPlan(base(), partial)).toEqual({ ok: true, errors: [], objective: 50_010 });
  });

  it('rejects fractional quantities', () => {
    const plan = good();
    plan.shipments[0] = { option: 1, parcels: 1, arcs: [{ arc: 0, qty: 5.5 }, { arc: 2, qty: 4 }] };
    plan.backordered = [0.5];
    plan.objective = 25 + 4 + 5_000;
    expectRejected(base(), plan, /not a whole/);
  });

  it('rejects negative quantities', () => {
    const plan: Plan = { shipments: [{ option: 1, parcels: 1, arcs: [{ arc: 0, qty: 7 }, { arc: 2, qty: -1 }] }], backordered: [4], objective: 25 - 1 + 40_000 };
    expectRejected(base(), plan, /not a whole non-negative/);
  });

  it('rejects an arc carried by an option at another site', () => {
    const plan: Plan = { shipments: [{ option: 2, parcels: 1, arcs: [{ arc: 0, qty: 6 }, { arc: 1, qty: 4 }] }], backordered: [0], objective: 10 };
    expectRejected(base(), plan, /belongs to site 0/);
  });

  it('rejects a transfer arc under a direct option', () => {
    const plan: Plan = { shipments: [{ option: 0, parcels: 1, arcs: [{ arc: 0, qty: 6 }, { arc: 2, qty: 4 }] }], backordered: [0], objective: 14 };
    expectRejected(base(), plan, /transfer arc 2 is used by non-transfer option/);
  });

  it('rejects two shipments from one site', () => {
    const plan: Plan = {
      shipments: [{ option: 0, parcels: 1, arcs: [{ arc: 0, qty: 6 }] }, { option: 1, parcels: 1, arcs: [{ arc: 2, qty: 4 }] }],
      backordered: [0],
      objective: 10 + 25 + 4 + 30,
    };
    expectRejected(base(), plan, /site 0 opens 2 shipments/);
  });

  it('rejects the same option opened twice', () => {
    const plan: Plan = {
      shipments: [{ option: 1, parcels: 1, arcs: [{ arc: 0, qty: 6 }] }, { option: 1, parcels: 1, arcs: [{ arc: 2, qty: 4 }] }],
      backordered: [0],
      objective: 25 + 25 + 4 + 30,
    };
    expectRejected(base(), plan, /opened twice/);
  });

  it('rejects an empty shipment', () => {
    const plan = good();
    plan.shipments.push({ option: 2, parcels: 1, arcs: [] });
    plan.objective = 29 + 10 + 30;
    expectRejected(base(), plan, /carries no units/);
  });

  it('rejects an arc listed with zero units', () => {
    const plan = good();
    plan.shipments[0]?.arcs.push({ arc: 1, qty: 0 });
    expectRejected(base(), plan, /qty 0/);
  });

  it('rejects an arc listed twice in one shipment', () => {
    const plan: Plan = { shipments: [{ option: 1, parcels: 1, arcs: [{ arc: 0, qty: 3 }, { arc: 0, qty: 3 }, { arc: 2, qty: 4 }] }], backordered: [0], objective: 29 };
    expectRejected(base(), plan, /listed twice/);
  });

  it('rejects a plan whose lines do not balance', () => {
    const plan = good();
    plan.backordered = [1];
    plan.objective = 29 + 10_000;
    expectRejected(base(), plan, /line 0: shipped 10 \+ backordered 1 != qty 10/);
  });

  it('rejects a wrong number of backorder entries', () => {
    const plan = good();
    plan.backordered = [0, 0];
    expectRejected(base(), plan, /backordered has 2 entries/);
  });

  it('rejects drawing more than a pool holds', () => {
    const plan: Plan = { shipments: [{ option: 1, parcels: 1, arcs: [{ arc: 0, qty: 7 }, { arc: 2, qty: 3 }] }], backordered: [0], objective: 28 };
    expectRejected(base(), plan, /pool 0 .*7 units drawn from 6/);
  });

  it('rejects drawing more than a pool holds across a transfer and a direct shipment', () => {
    // Site 1 ships its 4 units and site 0 transfers the same 4 units: 8 drawn from pool 1.
    const plan: Plan = {
      shipments: [{ option: 1, parcels: 1, arcs: [{ arc: 0, qty: 2 }, { arc: 2, qty: 4 }] }, { option: 2, parcels: 1, arcs: [{ arc: 1, qty: 4 }] }],
      backordered: [0],
      objective: 25 + 4 + 10 + 30,
    };
    expectRejected(base(), plan, /pool 1 .*8 units drawn from 4/);
  });

  it('rejects a wrong parcel count and recomputes the cost from the right one', () => {
    // Site 0's transfer option with 4 kg parcels: the 10 kg shipment is 3 parcels at 2 CNY each.
    const p = base();
    p.options[1] = { ...(p.options[1] as ProblemOption), parcelMaxKg: 4, perParcel: 2 };
    const right = good();
    right.shipments[0] = { ...(right.shipments[0] as PlanShipment), parcels: 3 };
    right.objective = 29 + 6;
    expect(checkPlan(p, right)).toEqual({ ok: true, errors: [], objective: 35 });
    const wrong = good();
    wrong.objective = 29 + 2;
    const r = checkPlan(p, wrong);
    expect(r.objective).toBeCloseTo(35, 9);
    expectRejected(p, wrong, /states 1 parcels, but 10 kg under parcelMaxKg 4 is 3/);
  });

  it('counts a weight exactly at the parcel limit as one parcel, and one unit more as two', () => {
    // 50 x 1.1 kg is 55.00000000000001 in floating point and exactly 55 kg in the spec's units.
    const p: Problem = {
      lines: [{ sku: 'A', qty: 51, unitWeightKg: 1.1 }],
      pools: pools(500),
      sites: sites(1),
      arcs: [direct(0, 0, 0)],
      options: [option(0, 0, 0, { perParcel: 7, parcelMaxKg: 55 })],
      couriers: [courier('STO')],
      splitPenalty: 0,
      backorderPenalty: 10_000,
      allowSplit: true,
    };
    const plan = (qty: number, parcels: number): Plan => ({
      shipments: [{ option: 0, parcels, arcs: [{ arc: 0, qty }] }],
      backordered: [51 - qty],
      objective: 7 * parcels + (51 - qty) * 10_000,
    });
    expect(checkPlan(p, plan(50, 1)).errors).toEqual([]);
    expectRejected(p, plan(50, 2), /states 2 parcels/);
    expect(checkPlan(p, plan(51, 2)).errors).toEqual([]);
    expectRejected(p, plan(51, 1), /states 1 parcels/);
  });

  it('rejects more parcels than the site can hand over', () => {
    const p = base();
    p.sites[0] = { id: 'W0', parcelCap: 0 };
    expectRejected(p, good(), /site 0 \(W0\): 1 parcels over its parcelCap 0/);
  });

  it('counts parcels, not shipments, against the courier parcelCap', () => {
    const p = base();
    p.options[1] = { ...(p.options[1] as ProblemOption), parcelMaxKg: 4 };
    p.couriers[0] = courier('STO', 2);
    const plan = good();
    plan.shipments[0] = { ...(plan.shipments[0] as PlanShipment), parcels: 3 };
    expectRejected(p, plan, /courier 0 \(STO\): 3 parcels over parcelCap 2/);
  });

  it('rejects using a courier beyond its kgCap', () => {
    const p = base();
    p.couriers[0] = courier('STO', null, 9);
    expectRejected(p, good(), /kg over kgCap 9/);
  });

  it('rejects a split when allowSplit is false', () => {
    const p = { ...base(), allowSplit: false };
    const plan: Plan = { shipments: [{ option: 0, parcels: 1, arcs: [{ arc: 0, qty: 6 }] }, { option: 2, parcels: 1, arcs: [{ arc: 1, qty: 4 }] }], backordered: [0], objective: 50 };
    expectRejected(p, plan, /allowSplit is false/);
  });

  it('rejects a plan whose stated objective is not its cost', () => {
    const plan = good();
    plan.objective = 28.99;
    expectRejected(base(), plan, /differs from the recomputed objective 29/);
  });

  it('rejects option and arc indices outside the problem', () => {
    expectRejected(base(), { shipments: [{ option: 7, parcels: 1, arcs: [{ arc: 0, qty: 1 }] }], backordered: [10], objective: 0 }, /option index 7 is out of range/);
    expectRejected(base(), { shipments: [{ option: 1, parcels: 1, arcs: [{ arc: 9, qty: 1 }] }], backordered: [10], objective: 0 }, /arc index 9 is out of range/);
  });
});

describe('the LP model', () => {
  it('declares unit variables integral and open variables binary', () => {
    const { lp, columns } = toCplexLp(transferProblem(30));
    expect(lp).toMatch(/\nGenerals\n[^\n]*x0_1/);
    expect(lp).toMatch(/\nBinaries\n[^\n]*y1/);
    // The transfer arc (2) has a variable under the transfer option (1) only.
    expect(columns.filter((c) => c.kind === 'x' && c.arc === 2).map((c) => (c.kind === 'x' ? c.option : -1))).toEqual([1]);
  });
});

describe('the instance generator', () => {
  it('is deterministic per seed and differs between seeds', () => {
    expect(generateProblem(42)).toEqual(generateProblem(42));
    expect(JSON.stringify(generateProblem(42))).not.toEqual(JSON.stringify(generateProblem(43)));
  });

  it('produces well-formed problems in the documented ranges', () => {
    const all = [...problems(200, 777)];
    expect(all).toHaveLength(200);
    // Every fourth instance has the largest shape; the others may hit it by chance.
    for (const g of all.filter((x) => x.seed % 4 === 0)) expect([g.problem.lines.length, g.problem.sites.length]).toEqual([10, 17]);
    for (const { problem: p } of all) {
      expect(p.couriers).toHaveLength(4);
      expect(p.lines.length).toBeGreaterThanOrEqual(1);
      expect(p.lines.length).toBeLessThanOrEqual(10);
      expect(p.sites.length).toBeGreaterThanOrEqual(5);
      expect(p.sites.length).toBeLessThanOrEqual(17);
      for (const l of p.lines) {
        expect(Number.isInteger(l.qty) && l.qty > 0).toBe(true);
        expect(l.unitWeightKg).toBeGreaterThanOrEqual(0.1);
        expect(l.unitWeightKg).toBeLessThanOrEqual(25);
      }
      for (const a of p.arcs) {
        const pool = p.pools[a.pool];
        expect(pool?.id.endsWith(`/${p.lines[a.line]?.sku}`)).toBe(true);
        // A direct arc draws on the site's own pool; a transfer arc on another site's pool.
        expect(pool?.id.startsWith(`${p.sites[a.site]?.id}/`)).toBe(!a.transfer);
        expect(a.transfer ? a.unitCost >= 0.5 && a.unitCost <= 15 : a.unitCost >= 0 && a.unitCost <= 3).toBe(true);
      }
      for (const o of p.options) {
        if (o.transfer) expect(p.arcs.some((a) => a.transfer && a.site === o.site)).toBe(true);
        expect(o.perParcel >= 4 && o.perParcel <= 40 && o.perKg >= 0.5 && o.perKg <= 6).toBe(true);
        expect(o.fixedCost >= 0 && o.fixedCost <= 260).toBe(true);
        expect(o.parcelMaxKg === null || (o.parcelMaxKg >= 20 && o.parcelMaxKg <= 60)).toBe(true);
      }
      // One direct option per site and courier.
      expect(p.options.filter((o) => !o.transfer)).toHaveLength(p.sites.length * 4);
      expect(p.backorderPenalty).toBe(10_000);
      expect(p.splitPenalty).toBeGreaterThanOrEqual(0);
      expect(p.splitPenalty).toBeLessThanOrEqual(30);
    }
    const frac = (f: (p: Problem) => boolean) => all.filter((g) => f(g.problem)).length / all.length;
    expect(frac((p) => !p.allowSplit)).toBeGreaterThan(0.05);
    expect(frac((p) => !p.allowSplit)).toBeLessThan(0.3);
    expect(frac((p) => p.arcs.some((a) => a.transfer))).toBeGreaterThan(0.5);
    expect(frac((p) => p.lines.some((l) => l.qty === 200))).toBeGreaterThan(0.05);
    expect(frac((p) => p.pools.some((q) => q.qty === 0))).toBeGreaterThan(0.2);
    expect(frac((p) => p.couriers.some((c) => c.parcelCap === 0 || c.kgCap !== null))).toBeGreaterThan(0.3);
    expect(frac((p) => p.sites.some((s) => s.parcelCap !== null))).toBeGreaterThan(0.5);
    expect(frac((p) => p.options.some((o) => o.parcelMaxKg !== null))).toBeGreaterThan(0.5);
    expect(frac((p) => new Set(p.lines.map((l) => l.sku)).size < p.lines.length)).toBeGreaterThan(0.05);
  });
});
