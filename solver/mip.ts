import { KG_EPS, makePlan } from './cost.js';
import { reduceProblem } from './reduce.js';
import type { Plan, PlanShipment, Problem } from './types.js';
import { verifyPlan } from './verify.js';

/**
 * The per-order problem as a MIP, written once and rendered for each backend (HiGHS in
 * solver/highs.ts, javascript-lp-solver in solver/lp.ts). docs/cost-model.md has the maths.
 *
 * The quantities are disaggregated by option: x{a}_{o} is the units arc a carries in shipment o
 * (only for options at the arc's site, and transfer arcs only in transfer options). A first
 * version aggregated them per arc with one weight variable per option; its LP relaxation was
 * weak enough that HiGHS could not prove some 10-line optima within a minute, where this one
 * needs under a second on the same instances.
 *
 * Variables
 *   x{a}_{o} integer in [0, M_ao]  units of arc a in shipment o (M_ao = min(pool free, line qty,
 *                                  what the courier's kg cap admits))
 *   y{o}     binary               option o (one shipment of a site with a courier) is opened
 *   n{o}     integer in [0, N_o]  parcels of option o (only when it has a parcel weight limit;
 *                                 otherwise the parcel count is y{o} itself)
 *   b{l}     in [0, qty_l]        units of line l backordered (integral because x and qty are)
 *   z        in [0, 1]            1 when at least one shipment is opened
 * Rows
 *   line{l}:   sum_{a on l, o} x_ao + b_l = qty_l
 *   pool{p}:   sum_{a from p, o} x_ao <= free_p
 *   site{s}:   sum_{o at s} y_o <= 1
 *   lk{a}_{o}: x_ao - M_ao y_o <= 0
 *   pkg{o}:    sum_a w_a x_ao - parcelMaxKg_o n_o <= 0;  pmin{o}: n_o - y_o >= 0;  pmax{o}: n_o - N_o y_o <= 0
 *   spar{s}:   sum_{o at s} parcels_o <= site parcelCap;  cpar{c}: sum_{o of c} parcels_o <= parcelCap
 *   ckg{c}:    sum_{o of c} sum_a w_a x_ao <= kgCap
 *   split:     z - sum_o y_o <= 0;   nosplit: sum_o y_o <= 1 (when splitting is not allowed)
 * Objective
 *   min sum_o ((fixed_o + split) y_o + perParcel_o parcels_o) + sum_ao (c_a + perKg_o w_a) x_ao
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

/** Column name of the units of arc `a` in shipment `o`. */
export const xName = (a: number, o: number) => `x${a}_${o}`;

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
    if (s.parcelCap !== null) row(`spar${i}`, '<=', s.parcelCap);
  });
  p.couriers.forEach((c, i) => {
    if (c.parcelCap !== null) row(`cpar${i}`, '<=', c.parcelCap);
    if (c.kgCap !== null) row(`ckg${i}`, '<=', c.kgCap);
  });
  row('split', '<=', 0);
  if (!p.allowSplit) row('nosplit', '<=', 1);

  const arcsAt = p.sites.map(() => [] as number[]);
  p.arcs.forEach((a, i) => arcsAt[a.site]!.push(i));

  p.options.forEach((o, oi) => {
    const y = `y${oi}`;
    const courier = p.couriers[o.courier]!;
    const yVar: MipVar = { name: y, cost: o.fixedCost + p.splitPenalty, ub: 1, kind: 'binary' };
    vars.push(yVar);
    add(`site${o.site}`, 1, y);
    add('split', -1, y);
    if (!p.allowSplit) add('nosplit', 1, y);

    // Units of each usable arc in this shipment; the heaviest load it could carry bounds its parcels.
    let maxLoadKg = 0;
    const weightTerms: [number, string][] = [];
    for (const ai of arcsAt[o.site]!) {
      const a = p.arcs[ai]!;
      if (a.transfer && !o.transfer) continue;
      const w = p.lines[a.line]!.unitWeightKg;
      let bound = Math.min(p.pools[a.pool]!.qty, p.lines[a.line]!.qty);
      if (courier.kgCap !== null && w > 0) bound = Math.min(bound, Math.floor(courier.kgCap / w + KG_EPS));
      if (bound <= 0) continue;
      const x = xName(ai, oi);
      vars.push({ name: x, cost: a.unitCost + o.perKg * w, ub: bound, kind: 'integer' });
      add(`line${a.line}`, 1, x);
      add(`pool${a.pool}`, 1, x);
      row(`lk${ai}_${oi}`, '<=', 0).terms.push([1, x], [-bound, y]);
      if (w > 0) weightTerms.push([w, x]);
      maxLoadKg += bound * w;
    }
    if (courier.kgCap !== null) rows.get(`ckg${o.courier}`)!.terms.push(...weightTerms);

    // Parcels: a variable when the courier limits parcel weight, else the shipment is one parcel.
    let parcels = y;
    if (o.parcelMaxKg !== null) {
      const n = `n${oi}`;
      const maxParcels = Math.max(1, Math.ceil(maxLoadKg / o.parcelMaxKg - KG_EPS));
      vars.push({ name: n, cost: o.perParcel, ub: maxParcels, kind: 'integer' });
      row(`pkg${oi}`, '<=', 0).terms.push(...weightTerms, [-o.parcelMaxKg, n]);
      row(`pmin${oi}`, '>=', 0).terms.push([1, n], [-1, y]);
      row(`pmax${oi}`, '<=', 0).terms.push([1, n], [-maxParcels, y]);
      parcels = n;
    } else {
      yVar.cost += o.perParcel;
    }
    if (p.sites[o.site]!.parcelCap !== null) add(`spar${o.site}`, 1, parcels);
    if (courier.parcelCap !== null) add(`cpar${o.courier}`, 1, parcels);
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
export function decodeMip(p: Problem, value: (name: string) => number, names: ReadonlySet<string>): Plan {
  const bySite = new Map<number, Pick<PlanShipment, 'option' | 'arcs'>>();
  const whole = (name: string): number => {
    const v = value(name);
    const r = Math.round(v);
    if (!(Math.abs(v - r) <= INT_EPS)) throw new MipFailure(`fractional ${name}=${v}`);
    return r;
  };
  const open = new Map<number, Pick<PlanShipment, 'option' | 'arcs'>>();
  p.options.forEach((o, i) => {
    if (whole(`y${i}`) !== 1) return;
    if (bySite.has(o.site)) throw new MipFailure(`two options open at site ${p.sites[o.site]!.id}`);
    const s = { option: i, arcs: [] };
    bySite.set(o.site, s);
    open.set(i, s);
  });
  p.arcs.forEach((a, ai) => {
    p.options.forEach((o, oi) => {
      if (o.site !== a.site || !names.has(xName(ai, oi))) return;
      const qty = whole(xName(ai, oi));
      if (qty === 0) return;
      const s = open.get(oi);
      if (!s) throw new MipFailure(`units of arc ${ai} in shipment ${oi}, which is not open`);
      s.arcs.push({ arc: ai, qty });
    });
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
