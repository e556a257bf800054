import { makePlan } from './cost.js';
import { reduceProblem } from './reduce.js';
import type { Plan, PlanShipment, Problem } from './types.js';
import { verifyPlan } from './verify.js';

/**
 * The per-order problem as a MIP, written once and rendered for each backend (HiGHS in
 * solver/highs.ts, javascript-lp-solver in solver/lp.ts). docs/cost-model.md has the maths.
 *
 * Variables
 *   q{a}  integer in [0, U_a]     units moved on arc a (U_a = min(pool free, line qty))
 *   y{o}  binary                  option o (one shipment of a site with a courier) is opened
 *   g{o}  in [0, M_o]             kg carried by option o (M_o = heaviest load its site could carry)
 *   n{o}  integer in [0, N_o]     parcels of option o (only when it has a parcel weight limit;
 *                                 otherwise the parcel count is y{o} itself)
 *   b{l}  in [0, qty_l]           units of line l backordered (integral because q and qty are)
 *   z     in [0, 1]               1 when at least one shipment is opened
 * Rows
 *   line{l}:  sum_{a on l} q_a + b_l = qty_l
 *   pool{p}:  sum_{a from p} q_a <= free_p
 *   site{s}:  sum_{o at s} y_o <= 1
 *   kg{s}:    sum_{o at s} g_o - sum_{a at s} w_a q_a = 0
 *   gcap{o}:  g_o - M_o y_o <= 0
 *   link{a}:  q_a - U_a sum_{o at s(a), transfer(o) if transfer(a)} y_o <= 0
 *   pkg{o}:   g_o - parcelMaxKg_o n_o <= 0;  pmin{o}: n_o - y_o >= 0;  pmax{o}: n_o - N_o y_o <= 0
 *   spar{s}:  sum_{o at s} parcels_o <= site parcelCap;  cpar{c}: sum_{o of c} parcels_o <= parcelCap
 *   ckg{c}:   sum_{o of c} g_o <= kgCap
 *   split:    z - sum_o y_o <= 0;   nosplit: sum_o y_o <= 1 (when splitting is not allowed)
 * Objective
 *   min sum_o ((fixed_o + split) y_o + perParcel_o parcels_o + perKg_o g_o) + sum_a c_a q_a
 *       + backorder sum_l b_l - split z
 * With a non-negative split penalty z = min(1, sum y) at the optimum, so the split term equals
 * split * max(0, n - 1) exactly. Every big-M is the tightest bound the data allows.
 */

export interface MipVar {
  name: string;
  cost: number;
  ub: number;
  kind: 'continuous' | 'integer' | 'binary';
}

export interface MipRow {
  name: string;
  terms: [coef: number, name: string][];
  sense: '<=' | '=' | '>=';
  rhs: number;
}

export interface Mip {
  vars: MipVar[];
  rows: MipRow[];
}

export function buildMip(p: Problem): Mip {
  const vars: MipVar[] = [];
  const rows = new Map<string, MipRow>();
  const row = (name: string, sense: MipRow['sense'], rhs: number): MipRow => {
    let r = rows.get(name);
    if (!r) rows.set(name, (r = { name, terms: [], sense, rhs }));
    return r;
  };
  const add = (rowName: string, coef: number, v: string) => rows.get(rowName)!.terms.push([coef, v]);

  p.lines.forEach((l, i) => row(`line${i}`, '=', l.qty));
  p.pools.forEach((pool, i) => row(`pool${i}`, '<=', pool.qty));
  p.sites.forEach((s, i) => {
    row(`site${i}`, '<=', 1);
    row(`kg${i}`, '=', 0);
    if (s.parcelCap !== null) row(`spar${i}`, '<=', s.parcelCap);
  });
  p.couriers.forEach((c, i) => {
    if (c.parcelCap !== null) row(`cpar${i}`, '<=', c.parcelCap);
    if (c.kgCap !== null) row(`ckg${i}`, '<=', c.kgCap);
  });
  row('split', '<=', 0);
  if (!p.allowSplit) row('nosplit', '<=', 1);

  const arcBound = p.arcs.map((a) => Math.min(p.pools[a.pool]!.qty, p.lines[a.line]!.qty));
  const siteMaxKg = p.sites.map(() => 0);
  p.arcs.forEach((a, i) => (siteMaxKg[a.site]! += arcBound[i]! * p.lines[a.line]!.unitWeightKg));

  p.arcs.forEach((a, i) => {
    const q = `q${i}`;
    vars.push({ name: q, cost: a.unitCost, ub: arcBound[i]!, kind: 'integer' });
    row(`link${i}`, '<=', 0);
    add(`line${a.line}`, 1, q);
    add(`pool${a.pool}`, 1, q);
    add(`kg${a.site}`, -p.lines[a.line]!.unitWeightKg, q);
    add(`link${i}`, 1, q);
  });

  p.options.forEach((o, i) => {
    const y = `y${i}`;
    const g = `g${i}`;
    const bigM = siteMaxKg[o.site]!;
    const yVar: MipVar = { name: y, cost: o.fixedCost + p.splitPenalty, ub: 1, kind: 'binary' };
    vars.push(yVar);
    vars.push({ name: g, cost: o.perKg, ub: bigM, kind: 'continuous' });
    add(`site${o.site}`, 1, y);
    add(`kg${o.site}`, 1, g);
    add('split', -1, y);
    if (!p.allowSplit) add('nosplit', 1, y);
    row(`gcap${i}`, '<=', 0);
    add(`gcap${i}`, 1, g);
    add(`gcap${i}`, -bigM, y);
    p.arcs.forEach((a, ai) => {
      if (a.site === o.site && (!a.transfer || o.transfer)) add(`link${ai}`, -arcBound[ai]!, y);
    });
    // Parcels: a variable when the courier limits parcel weight, else the shipment is one parcel.
    let parcels = y;
    if (o.parcelMaxKg !== null) {
      const n = `n${i}`;
      const maxParcels = Math.max(1, Math.ceil(bigM / o.parcelMaxKg));
      vars.push({ name: n, cost: o.perParcel, ub: maxParcels, kind: 'integer' });
      row(`pkg${i}`, '<=', 0).terms.push([1, g], [-o.parcelMaxKg, n]);
      row(`pmin${i}`, '>=', 0).terms.push([1, n], [-1, y]);
      row(`pmax${i}`, '<=', 0).terms.push([1, n], [-maxParcels, y]);
      parcels = n;
    } else {
      yVar.cost += o.perParcel;
    }
    if (p.sites[o.site]!.parcelCap !== null) add(`spar${o.site}`, 1, parcels);
    if (p.couriers[o.courier]!.parcelCap !== null) add(`cpar${o.courier}`, 1, parcels);
    if (p.couriers[o.courier]!.kgCap !== null) add(`ckg${o.courier}`, 1, g);
  });

  p.lines.forEach((l, i) => {
    vars.push({ name: `b${i}`, cost: p.backorderPenalty, ub: l.qty, kind: 'continuous' });
    add(`line${i}`, 1, `b${i}`);
  });
  vars.push({ name: 'z', cost: -p.splitPenalty, ub: 1, kind: 'continuous' });
  add('split', 1, 'z');
  return { vars, rows: [...rows.values()] };
}

/** Why a MIP backend's answer could not be used; the caller falls back. */
export class MipFailure extends Error {
  override name = 'MipFailure';
}

const INT_EPS = 1e-6;

/**
 * Turns a backend's column values into a verified plan. Integer columns must be within 1e-6 of an
 * integer; the rounded plan must satisfy every constraint (verifyPlan). Throws MipFailure otherwise:
 * a general solver can say "feasible" with fractional or violated values, and such an answer is
 * never returned to a caller.
 */
export function decodeMip(p: Problem, value: (name: string) => number): Plan {
  const bySite = new Map<number, Pick<PlanShipment, 'option' | 'arcs'>>();
  const whole = (name: string): number => {
    const v = value(name);
    const r = Math.round(v);
    if (!(Math.abs(v - r) <= INT_EPS)) throw new MipFailure(`fractional ${name}=${v}`);
    return r;
  };
  p.options.forEach((o, i) => {
    if (whole(`y${i}`) !== 1) return;
    if (bySite.has(o.site)) throw new MipFailure(`two options open at site ${p.sites[o.site]!.id}`);
    bySite.set(o.site, { option: i, arcs: [] });
  });
  p.arcs.forEach((a, i) => {
    const qty = whole(`q${i}`);
    if (qty === 0) return;
    const s = bySite.get(a.site);
    if (!s) throw new MipFailure(`units on arc ${i} with no shipment open at its site`);
    s.arcs.push({ arc: i, qty });
  });
  const shipments = [...bySite.values()].filter((s) => s.arcs.length > 0).sort((a, b) => a.option - b.option);
  const plan = makePlan(p, shipments);
  const errors = verifyPlan(p, plan);
  if (errors.length > 0) throw new MipFailure(`plan fails verification: ${errors.slice(0, 3).join('; ')}`);
  return plan;
}

/**
 * Runs a backend on the reduced problem (solver/reduce.ts) and maps its plan back to the original
 * problem's options, verifying it there: the reductions are exact, and this is where that is checked
 * on every solve.
 */
export function solveReduced(p: Problem, backend: (reduced: Problem) => Plan): Plan {
  const { problem, optionMap } = reduceProblem(p);
  const plan = backend(problem);
  const mapped = makePlan(
    p,
    plan.shipments.map((s) => ({ option: optionMap[s.option]!, arcs: s.arcs })),
  );
  const errors = verifyPlan(p, mapped);
  if (errors.length > 0) throw new MipFailure(`mapped plan fails verification: ${errors.slice(0, 3).join('; ')}`);
  return mapped;
}
