import * as lpModule from 'javascript-lp-solver';
import type { Model, SolverAPI } from 'javascript-lp-solver';
import { makePlan } from './cost.js';
import type { PlanShipment, Problem, SolveResult } from './types.js';
import { verifyPlan } from './verify.js';

/**
 * The per-order model as a MIP for javascript-lp-solver (the general path; see docs/cost-model.md).
 *
 * Variables
 *   q_a  integer >= 0   units moved on arc a (to the arc's site, shipped by the site's open option)
 *   y_o  binary         option o (one shipment of a site with a courier) is opened
 *   g_o  >= 0           kg carried by option o
 *   b_l  >= 0           units of line l backordered (integral because q and quantities are)
 *   z    in [0, 1]      1 when at least one shipment is opened (linearises max(0, n - 1))
 * Constraints
 *   line_l:   sum_{a on l} q_a + b_l = qty_l
 *   pool_p:   sum_{a from p} q_a <= free_p
 *   site_s:   sum_{o at s} y_o <= 1
 *   kg_s:     sum_{o at s} g_o - sum_{a at s} w_a q_a = 0
 *   gcap_o:   g_o - M_o y_o <= 0           (M_o = min(maxKg, heaviest load the site could carry))
 *   link_a:   q_a - U_a sum_{o at s(a), transfer(o) if transfer(a)} y_o <= 0   (U_a = min(free, qty))
 *   cpar_c:   sum_{o of c} y_o <= parcelCap_c;  ckg_c: sum_{o of c} g_o <= kgCap_c
 *   split:    z - sum_o y_o <= 0 (and sum_o y_o <= 1 when splitting is not allowed)
 * Objective
 *   min sum_o (fixed_o y_o + perKg_o g_o) + sum_a c_a q_a + split * (sum_o y_o - z) + backorder * sum_l b_l
 * With z free in [0, 1] and a positive split penalty, z = min(1, sum y) at the optimum, so the
 * split term equals split * max(0, n - 1) exactly.
 */
export function buildLpModel(p: Problem, timeoutMs: number): Model {
  const constraints: Model['constraints'] = {};
  const variables: Model['variables'] = {};
  const ints: Record<string, 1> = {};
  const binaries: Record<string, 1> = {};

  p.lines.forEach((l, i) => (constraints[`line${i}`] = { equal: l.qty }));
  p.pools.forEach((pool, i) => (constraints[`pool${i}`] = { max: pool.qty }));
  p.sites.forEach((_, s) => {
    constraints[`site${s}`] = { max: 1 };
    constraints[`kg${s}`] = { equal: 0 };
  });
  p.couriers.forEach((c, i) => {
    if (c.parcelCap !== null) constraints[`cpar${i}`] = { max: c.parcelCap };
    if (c.kgCap !== null) constraints[`ckg${i}`] = { max: c.kgCap };
  });
  constraints.split = { max: 0 };
  constraints.zcap = { max: 1 };
  if (!p.allowSplit) constraints.nosplit = { max: 1 };

  // Heaviest load a site could carry: every arc at the site at its bound.
  const siteMaxKg = p.sites.map(() => 0);
  const arcBound = p.arcs.map((a) => Math.min(p.pools[a.pool]!.qty, p.lines[a.line]!.qty));
  p.arcs.forEach((a, i) => (siteMaxKg[a.site]! += arcBound[i]! * p.lines[a.line]!.unitWeightKg));

  p.arcs.forEach((a, i) => {
    const name = `q${i}`;
    constraints[`link${i}`] = { max: 0 };
    variables[name] = {
      cost: a.unitCost,
      [`line${a.line}`]: 1,
      [`pool${a.pool}`]: 1,
      [`kg${a.site}`]: -p.lines[a.line]!.unitWeightKg,
      [`link${i}`]: 1,
    };
    ints[name] = 1;
  });

  p.options.forEach((o, i) => {
    const y = `y${i}`;
    const g = `g${i}`;
    const bigM = Math.min(o.maxKg ?? Infinity, siteMaxKg[o.site]!);
    constraints[`gcap${i}`] = { max: 0 };
    const yCoeffs: Record<string, number> = {
      cost: o.fixedCost + p.splitPenalty,
      [`site${o.site}`]: 1,
      [`gcap${i}`]: -bigM,
      split: -1,
    };
    if (!p.allowSplit) yCoeffs.nosplit = 1;
    if (p.couriers[o.courier]!.parcelCap !== null) yCoeffs[`cpar${o.courier}`] = 1;
    p.arcs.forEach((a, ai) => {
      if (a.site === o.site && (!a.transfer || o.transfer)) yCoeffs[`link${ai}`] = -arcBound[ai]!;
    });
    variables[y] = yCoeffs;
    binaries[y] = 1;
    const gCoeffs: Record<string, number> = { cost: o.perKg, [`kg${o.site}`]: 1, [`gcap${i}`]: 1 };
    if (p.couriers[o.courier]!.kgCap !== null) gCoeffs[`ckg${o.courier}`] = 1;
    variables[g] = gCoeffs;
  });

  p.lines.forEach((_, i) => (variables[`b${i}`] = { cost: p.backorderPenalty, [`line${i}`]: 1 }));
  variables.z = { cost: -p.splitPenalty, split: 1, zcap: 1 };

  return {
    optimize: 'cost',
    opType: 'min',
    constraints,
    variables,
    ints,
    binaries,
    // Exact: no relative gap tolerance; the timeout is the only way out (then we fall back).
    options: { tolerance: 0, timeout: timeoutMs },
  };
}

const INT_EPS = 1e-6;

// The package's types are read as CommonJS under NodeNext while Node loads its ESM build; the
// namespace's `default` is the solver in both readings.
const lpSolver = lpModule.default as unknown as SolverAPI;

/**
 * Solves the problem with javascript-lp-solver and checks the answer: every integer variable
 * integral within 1e-6 and the rounded plan feasible (verifyPlan). Throws `LpFailure` when the
 * solver says infeasible, times out or returns a plan that fails the checks; the caller falls back.
 */
export function solveLp(p: Problem, opts: { timeoutMs?: number } = {}): SolveResult {
  const t0 = performance.now();
  const model = buildLpModel(p, opts.timeoutMs ?? 5_000);
  const res = lpSolver.Solve(model) as Record<string, unknown> & { feasible: boolean; result: number };
  if (!res.feasible) throw new LpFailure('javascript-lp-solver reported the model infeasible or timed out');
  const value = (name: string): number => {
    const v = res[name];
    return typeof v === 'number' ? v : 0;
  };
  const shipments: PlanShipment[] = [];
  const bySite = new Map<number, PlanShipment>();
  p.options.forEach((o, i) => {
    const y = value(`y${i}`);
    if (Math.abs(y - Math.round(y)) > INT_EPS) throw new LpFailure(`fractional shipment y${i}=${y}`);
    if (Math.round(y) === 1) {
      const s: PlanShipment = { option: i, arcs: [] };
      if (bySite.has(o.site)) throw new LpFailure(`two options open at site ${o.site}`);
      bySite.set(o.site, s);
    }
  });
  p.arcs.forEach((a, i) => {
    const q = value(`q${i}`);
    if (Math.abs(q - Math.round(q)) > INT_EPS) throw new LpFailure(`fractional quantity q${i}=${q}`);
    const qty = Math.round(q);
    if (qty === 0) return;
    const s = bySite.get(a.site);
    if (!s) throw new LpFailure(`units on arc ${i} with no shipment open at its site`);
    s.arcs.push({ arc: i, qty });
  });
  for (const s of bySite.values()) if (s.arcs.length > 0) shipments.push(s);
  shipments.sort((a, b) => a.option - b.option);
  const plan = makePlan(p, shipments);
  const errors = verifyPlan(p, plan);
  if (errors.length > 0) throw new LpFailure(`plan fails verification: ${errors.slice(0, 3).join('; ')}`);
  // The solver's objective can differ from the verified plan's by rounding; a larger gap means the
  // solver's values were not what it optimised, and the plan cannot be trusted as optimal.
  const gap = Math.abs(plan.objective - res.result);
  if (gap > 1e-6 * Math.max(1, Math.abs(plan.objective))) {
    throw new LpFailure(`objective ${res.result} disagrees with the plan's ${plan.objective}`);
  }
  const micros = (performance.now() - t0) * 1_000;
  return { plan, stats: { solver: 'lp', micros, nodes: 0 }, optimal: true };
}

export class LpFailure extends Error {
  override name = 'LpFailure';
}
