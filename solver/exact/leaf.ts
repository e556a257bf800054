/**
 * The leaf subproblem of the exact search: with the open option of every opened site fixed, the
 * cheapest integer quantities. It is a small MIP (units per usable arc, parcels per option, the
 * total backorder, with the line, pool, courier kg / parcel and site parcel rows; a line's
 * backorder is its row's slack), solved by a branch and bound on the LP relaxation
 * (solver/exact/simplex.ts), best-first with dives, pruned against the search's incumbent. The
 * root LP is solved from scratch (every row starts with its slack basic, the total backorder's
 * row with the total backorder, so a phase 1 is seldom needed); every other node re-optimises its
 * parent's tableau by the dual simplex. Every integral candidate is rebuilt with makePlan
 * (solver/cost.ts), so its objective is the model's, not the LP's.
 */
import TinyQueue from 'tinyqueue';
import { KG_EPS, makePlan } from '../cost.js';
import type { Plan, PlanShipment, Problem } from '../types.js';
import { EQ, LE, LpTableau, type LpModel, type LpRow, type LpStatus } from './simplex.js';
import { EXACT_TUNING } from './tuning.js';

/** Thrown when the search declines the instance (work budget spent, LP pivot limit). */
export class ExactGiveUp extends Error {
  override name = 'ExactGiveUp';
}

/** Thrown when the deadline passes inside the search. */
export class ExactDeadline extends Error {
  override name = 'ExactDeadline';
}

export interface SearchState {
  /** Objective of the incumbent. */
  best: number;
  bestPlan: Plan | null;
  nodes: number;
  lps: number;
  deadline: number;
  /** Pruning slack: a node is cut when its bound >= best - eps(best). */
  eps: (best: number) => number;
  /** Throws ExactGiveUp when the work budget is spent (called once per LP). */
  checkWork: () => void;
  /** Called with every improving plan; returns false if the plan is rejected (fails verification). */
  accept: (plan: Plan) => boolean;
}

/** An LP value within this of a whole number counts as integral. */
const INT_TOL = 1e-6;

/**
 * A node of the leaf's branch and bound: its parent's optimal tableau with the node's bound
 * change applied (null at the root), whether that tableau is still dual feasible, and its
 * parent's LP value (a bound).
 */
interface LeafNode {
  tab: LpTableau | null;
  warm: boolean;
  bound: number;
}

interface Column {
  kind: 'x' | 'n' | 's';
  arc: number;
  option: number;
}

/**
 * Solves the leaf with options `open` (one per opened site; indices into p.options; shipments may
 * come out empty, which only drops them). Every better plan found goes to `st.accept`. With
 * `maxLps`, gives up after that many LPs (a heuristic use); returns whether the leaf was solved
 * to the end.
 */
export function solveLeaf(p: Problem, arcsAt: number[][], open: number[], st: SearchState, maxLps = Infinity): boolean {
  const cols: Column[] = [];
  const cost: number[] = [];
  const lb: number[] = [];
  const ub: number[] = [];
  let constant = p.splitPenalty * Math.max(0, open.length - 1);
  const lineTerms = p.lines.map(() => [] as number[]);
  const poolTerms = new Map<number, number[]>();
  const poolUb = new Map<number, number>();
  const courierKg = new Map<number, { idx: number[]; val: number[] }>();
  const courierParcels = new Map<number, { idx: number[]; fixed: number }>();
  const weightRows: LpRow[] = [];
  const intCols: number[] = [];

  for (const oi of open) {
    const o = p.options[oi]!;
    const courier = p.couriers[o.courier]!;
    const siteCap = p.sites[o.site]!.parcelCap;
    const capO = Math.min(siteCap ?? Infinity, courier.parcelCap ?? Infinity);
    if (capO < 1) return true; // cannot open: infeasible leaf
    constant += o.fixedCost;
    const wIdx: number[] = [];
    const wVal: number[] = [];
    let maxKg = 0;
    for (const ai of arcsAt[o.site]!) {
      const a = p.arcs[ai]!;
      if (a.transfer && !o.transfer) continue;
      const line = p.lines[a.line]!;
      const w = line.unitWeightKg;
      let m = Math.min(line.qty, p.pools[a.pool]!.qty);
      if (w > 0 && courier.kgCap !== null) m = Math.min(m, Math.floor(courier.kgCap / w + KG_EPS));
      if (w > 0 && o.parcelMaxKg !== null && Number.isFinite(capO)) m = Math.min(m, Math.floor((capO * o.parcelMaxKg) / w + KG_EPS));
      if (m <= 0) continue;
      const j = cols.length;
      cols.push({ kind: 'x', arc: ai, option: oi });
      cost.push(a.unitCost + o.perKg * w);
      lb.push(0);
      ub.push(m);
      intCols.push(j);
      lineTerms[a.line]!.push(j);
      const pt = poolTerms.get(a.pool) ?? [];
      pt.push(j);
      poolTerms.set(a.pool, pt);
      poolUb.set(a.pool, (poolUb.get(a.pool) ?? 0) + m);
      if (w > 0) {
        wIdx.push(j);
        wVal.push(w);
        maxKg += m * w;
      }
    }
    if (courier.kgCap !== null && wIdx.length > 0) {
      const r = courierKg.get(o.courier) ?? { idx: [], val: [] };
      r.idx.push(...wIdx);
      r.val.push(...wVal);
      courierKg.set(o.courier, r);
    }
    const cp = courierParcels.get(o.courier) ?? { idx: [], fixed: 0 };
    courierParcels.set(o.courier, cp);
    if (o.parcelMaxKg === null) {
      constant += o.perParcel;
      cp.fixed += 1;
    } else {
      if (courier.kgCap !== null) maxKg = Math.min(maxKg, courier.kgCap);
      const nMax = Math.min(capO, Math.max(1, Math.ceil(maxKg / o.parcelMaxKg - KG_EPS)));
      const j = cols.length;
      cols.push({ kind: 'n', arc: -1, option: oi });
      cost.push(o.perParcel);
      lb.push(1);
      ub.push(nMax);
      intCols.push(j);
      cp.idx.push(j);
      if (wIdx.length > 0) weightRows.push({ idx: [...wIdx, j], val: [...wVal, -o.parcelMaxKg], sense: LE, rhs: o.parcelMaxKg * KG_EPS });
    }
  }
  // Backorders are not columns: line l backorders qty_l - Σ x over its arcs, so each unit shipped
  // saves the backorder penalty (in the costs above) and the line's row, Σ x <= qty_l (only when
  // it can bind), has the backorder as its slack.
  const B = p.backorderPenalty;
  const Q = p.lines.reduce((t, l) => t + l.qty, 0);
  constant += B * Q;
  for (const j of intCols) if (cols[j]!.kind === 'x') cost[j] = cost[j]! - B;
  const rows: LpRow[] = [];
  p.lines.forEach((l, li) => {
    const terms = lineTerms[li]!;
    let most = 0;
    for (const j of terms) most += ub[j]!;
    if (most > l.qty) rows.push({ idx: terms, val: terms.map(() => 1), sense: LE, rhs: l.qty });
  });
  // Total backorder s = Q - Σ x, an integer: branching on it first settles the (dominant)
  // backorder term. Its row Σ x + s = Q starts with s basic (a column of that row alone).
  {
    const xs = intCols.filter((j) => cols[j]!.kind === 'x');
    const j = cols.length;
    cols.push({ kind: 's', arc: -1, option: -1 });
    cost.push(0);
    lb.push(0);
    ub.push(Q);
    rows.push({ idx: [...xs, j], val: [...xs.map(() => 1), 1], sense: EQ, rhs: Q });
    intCols.unshift(j);
  }
  for (const [pool, terms] of poolTerms) {
    if (poolUb.get(pool)! > p.pools[pool]!.qty) rows.push({ idx: terms, val: terms.map(() => 1), sense: LE, rhs: p.pools[pool]!.qty });
  }
  rows.push(...weightRows);
  for (const [c, r] of courierKg) rows.push({ idx: r.idx, val: r.val, sense: LE, rhs: p.couriers[c]!.kgCap! + 1e-7 });
  for (const [c, r] of courierParcels) {
    const cap = p.couriers[c]!.parcelCap;
    if (cap === null) continue;
    if (r.fixed > cap) return true; // too many one-parcel shipments for this courier
    let maxN = r.fixed;
    for (const j of r.idx) maxN += ub[j]!;
    if (maxN > cap) rows.push({ idx: r.idx, val: r.idx.map(() => 1), sense: LE, rhs: cap - r.fixed });
  }

  const model: LpModel = { cost, lb, ub, rows };
  // Branch and bound on bound changes, best-first on the parents' LP values with dives: the
  // nearer child of each node is solved next, the farther one waits in a heap; once the best
  // waiting bound reaches the incumbent, the leaf is done. The root LP is solved from scratch; a
  // child re-optimises its parent's tableau with the new bound by the dual simplex (the dive
  // child takes the parent's tableau itself, the waiting one a copy).
  const heap = new TinyQueue<LeafNode>([], (a, b) => a.bound - b.bound);
  let next: LeafNode | null = { tab: null, warm: false, bound: -Infinity };
  let lps = 0;
  while (next !== null || heap.length > 0) {
    let node: LeafNode;
    if (next !== null) {
      node = next;
      next = null;
    } else {
      node = heap.pop()!;
      if (node.bound >= st.best - st.eps(st.best)) return true;
    }
    if (node.bound >= st.best - st.eps(st.best)) continue;
    if (lps++ >= maxLps) return false;
    if (performance.now() > st.deadline) throw new ExactDeadline();
    st.checkWork();
    st.lps++;
    let tab = node.tab;
    let status: LpStatus = tab !== null && node.warm ? tab.dual(EXACT_TUNING.dualPivots, st.deadline) : 'limit';
    if (tab === null || status === 'limit') {
      // The root, or a re-optimisation that did not finish: from scratch with the node's bounds.
      if (tab !== null) {
        const from = tab;
        model.lb = lb.map((_, j) => from.lower(j));
        model.ub = ub.map((_, j) => from.upper(j));
      }
      ({ status, tab } = LpTableau.solve(model, EXACT_TUNING.lpMaxPivots, st.deadline));
    }
    if (status === 'infeasible') continue;
    if (status === 'deadline') throw new ExactDeadline();
    if (status !== 'optimal') throw new ExactGiveUp(`leaf LP ${status}`);
    const value = tab.objective() + constant;
    if (value >= st.best - st.eps(st.best)) continue;
    const x = tab.values();
    // Branch on the total backorder first, then the most fractional parcel count, then units.
    let pick = -1;
    let pickFrac = 0;
    let pickRank = 3;
    for (const j of intCols) {
      const v = x[j]!;
      const f = Math.abs(v - Math.round(v));
      if (f <= INT_TOL) continue;
      const kind = cols[j]!.kind;
      const rank = kind === 's' ? 0 : kind === 'n' ? 1 : 2;
      const score = Math.min(v - Math.floor(v), Math.ceil(v) - v);
      if (rank < pickRank || (rank === pickRank && score > pickFrac)) {
        pick = j;
        pickFrac = score;
        pickRank = rank;
      }
    }
    if (pick < 0) {
      const byOption = new Map<number, PlanShipment['arcs']>();
      for (const j of intCols) {
        const c = cols[j]!;
        if (c.kind !== 'x') continue;
        const q = Math.round(x[j]!);
        if (q <= 0) continue;
        const list = byOption.get(c.option) ?? [];
        list.push({ arc: c.arc, qty: q });
        byOption.set(c.option, list);
      }
      const shipments = [...byOption.entries()].sort((a, b) => a[0] - b[0]).map(([option, arcs]) => ({ option, arcs }));
      const plan = makePlan(p, shipments);
      if (plan.objective < st.best) st.accept(plan);
      continue;
    }
    const v = x[pick]!;
    const lo = tab.lower(pick);
    const hi = tab.upper(pick);
    const far = tab.clone();
    // Dive into the nearer side; the other waits.
    const downNear = v - Math.floor(v) < 0.5;
    const downTab = downNear ? tab : far;
    const upTab = downNear ? far : tab;
    const down: LeafNode = { tab: downTab, warm: downTab.setBounds(pick, lo, Math.floor(v)), bound: value };
    const up: LeafNode = { tab: upTab, warm: upTab.setBounds(pick, Math.ceil(v), hi), bound: value };
    next = downNear ? down : up;
    heap.push(downNear ? up : down);
  }
  return true;
}
