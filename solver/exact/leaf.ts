/**
 * The leaf subproblem of the exact search: with the open option of every opened site fixed, the
 * cheapest integer quantities. It is a small MIP (units per usable arc, parcels per option,
 * backorders per line, with the pool, courier kg / parcel and site parcel rows), solved by a
 * branch and bound on the LP relaxation (solver/exact/simplex.ts), best-first with dives, pruned
 * against the search's incumbent. Every integral candidate is rebuilt with makePlan
 * (solver/cost.ts), so its objective is the model's, not the LP's.
 */
import { makePlan } from '../cost.js';
import type { Plan, PlanShipment, Problem } from '../types.js';
import { EQ, LE, solveLp, type LpModel, type LpRow } from './simplex.js';

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

const INT_TOL = 1e-6;
/** Weight slack matching solver/cost.ts: a shipment of k x parcelMaxKg (1 + 1e-9) kg still fits k parcels. */
const KG_EPS = 1e-9;

/** A node of the leaf's branch and bound: column bounds, and its parent's LP value (a bound). */
interface LeafNode {
  lb: number[];
  ub: number[];
  bound: number;
}

function heapPush(h: LeafNode[], x: LeafNode): void {
  let i = h.length;
  h.push(x);
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (h[p]!.bound <= x.bound) break;
    h[i] = h[p]!;
    i = p;
  }
  h[i] = x;
}

function heapPop(h: LeafNode[]): LeafNode {
  const top = h[0]!;
  const last = h.pop()!;
  if (h.length > 0) {
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= h.length) break;
      if (c + 1 < h.length && h[c + 1]!.bound < h[c]!.bound) c++;
      if (h[c]!.bound >= last.bound) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = last;
  }
  return top;
}

interface Column {
  kind: 'x' | 'n' | 'b' | 's';
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
      if (w > 0 && courier.kgCap !== null) m = Math.min(m, Math.floor(courier.kgCap / w + 1e-9));
      if (w > 0 && o.parcelMaxKg !== null && Number.isFinite(capO)) m = Math.min(m, Math.floor((capO * o.parcelMaxKg) / w + 1e-9));
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
  const rows: LpRow[] = [];
  p.lines.forEach((l, li) => {
    const j = cols.length;
    cols.push({ kind: 'b', arc: -1, option: li });
    cost.push(p.backorderPenalty);
    lb.push(0);
    ub.push(l.qty);
    rows.push({ idx: [...lineTerms[li]!, j], val: [...lineTerms[li]!.map(() => 1), 1], sense: EQ, rhs: l.qty });
  });
  // Total backorder, an integer: branching on it first settles the (dominant) backorder term.
  {
    const j = cols.length;
    cols.push({ kind: 's', arc: -1, option: -1 });
    cost.push(0);
    lb.push(0);
    ub.push(p.lines.reduce((t, l) => t + l.qty, 0));
    const bs = cols.flatMap((c, i) => (c.kind === 'b' ? [i] : []));
    rows.push({ idx: [...bs, j], val: [...bs.map(() => 1), -1], sense: EQ, rhs: 0 });
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
  // waiting bound reaches the incumbent, the leaf is done.
  const heap: LeafNode[] = [];
  let next: LeafNode | null = { lb, ub, bound: -Infinity };
  let lps = 0;
  while (next !== null || heap.length > 0) {
    let node: LeafNode;
    if (next !== null) {
      node = next;
      next = null;
    } else {
      node = heapPop(heap);
      if (node.bound >= st.best - st.eps(st.best)) return true;
    }
    if (node.bound >= st.best - st.eps(st.best)) continue;
    if (lps++ >= maxLps) return false;
    if (performance.now() > st.deadline) throw new ExactDeadline();
    st.checkWork();
    model.lb = node.lb;
    model.ub = node.ub;
    st.lps++;
    const res = solveLp(model, 20_000, st.deadline);
    if (res.status === 'infeasible') continue;
    if (res.status === 'deadline') throw new ExactDeadline();
    if (res.status !== 'optimal') throw new ExactGiveUp(`leaf LP ${res.status}`);
    const value = res.objective + constant;
    if (value >= st.best - st.eps(st.best)) continue;
    // Branch on the total backorder first, then the most fractional parcel count, then units.
    let pick = -1;
    let pickFrac = 0;
    let pickRank = 3;
    for (const j of intCols) {
      const v = res.x[j]!;
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
        const q = Math.round(res.x[j]!);
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
    const v = res.x[pick]!;
    const down: LeafNode = { lb: node.lb, ub: node.ub.slice(), bound: value };
    down.ub[pick] = Math.floor(v);
    const up: LeafNode = { lb: node.lb.slice(), ub: node.ub, bound: value };
    up.lb[pick] = Math.ceil(v);
    // Dive into the nearer side; the other waits.
    if (v - Math.floor(v) < 0.5) {
      next = down;
      heapPush(heap, up);
    } else {
      next = up;
      heapPush(heap, down);
    }
  }
  return true;
}
