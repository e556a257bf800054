/**
 * A small dense bounded-variable simplex, for the leaf subproblems of the exact search
 * (solver/exact/leaf.ts) and the column-generation master (solver/exact/search.ts): a few dozen
 * rows and columns.
 *
 *   min c·x  s.t.  each row  Σ a_ij x_j  (<= | >= | =)  b_i,   lb_j <= x_j <= ub_j (lb finite)
 *
 * `LpTableau.solve` starts from scratch with the primal simplex in two phases: each row starts
 * with its slack basic, or for an equality row a structural column of that row alone (when its
 * value is within its bounds); rows left without a feasible basic column get an artificial one,
 * phase 1 drives the artificials to zero (and then fixes them at zero), phase 2 optimises the
 * real costs. Dantzig pricing with a
 * switch to Bland's rule after a run of degenerate pivots (no cycling).
 *
 * An optimal tableau can then be re-optimised after bound changes on structural columns (what a
 * branch and bound does to its children): the basis stays dual feasible, so `setBounds` then
 * `dual` runs the bounded dual simplex (leaving row: the largest bound violation; entering column:
 * Harris's two-pass ratio test, the largest pivot among near-ties), usually a few pivots instead
 * of a solve from scratch. `clone` copies a tableau, for a child that is solved later. A dual run
 * that hits its pivot limit says so ('limit'); the caller then solves from scratch.
 *
 * The answer is only used as a bound and as a candidate that is rounded, rebuilt with
 * solver/cost.ts and verified, so the tolerances here never decide what a returned plan costs.
 * The pivot limits and the switch to Bland's rule are tuning (solver/exact/tuning.ts).
 */
import { EXACT_TUNING } from './tuning.js';

export const LE = 0;
export const GE = 1;
export const EQ = 2;

export interface LpRow {
  idx: number[];
  val: number[];
  sense: 0 | 1 | 2;
  rhs: number;
}

export interface LpModel {
  cost: number[];
  lb: number[];
  ub: number[];
  rows: LpRow[];
}

export type LpStatus = 'optimal' | 'infeasible' | 'unbounded' | 'limit' | 'deadline';

export interface LpResult {
  status: LpStatus;
  /** Structural column values (valid when optimal). */
  x: Float64Array;
  /** c·x (valid when optimal). */
  objective: number;
  pivots: number;
  /**
   * Row duals y (valid when optimal): c_j - Σ_i y_i a_ij is each structural column's reduced
   * cost; y_i <= 0 on a binding <= row of a minimisation.
   */
  duals: Float64Array;
}

/** Tolerances: a smaller tableau entry is no pivot; a reduced cost within D_TOL of 0 counts as 0; a bound violated by at most FEAS_TOL counts as met. */
const PIV_TOL = 1e-9;
const D_TOL = 1e-9;
const FEAS_TOL = 1e-7;

/**
 * A simplex tableau: B⁻¹A over every column (structurals [0, n), then one slack per inequality
 * row, then the artificials), the basis, the column values and the reduced costs of the phase-2
 * costs.
 */
export class LpTableau {
  /** Pivots done by the last `solve` or `dual` run. */
  pivots = 0;

  private constructor(
    /** Structural columns. */
    readonly n: number,
    readonly m: number,
    /** All columns. */
    private readonly N: number,
    private readonly T: Float64Array,
    private readonly lo: Float64Array,
    private readonly hi: Float64Array,
    private readonly x: Float64Array,
    private readonly d: Float64Array,
    private readonly basis: Int32Array,
    private readonly isBasic: Int32Array,
    /** Phase-2 costs of every column (0 off the structurals). */
    private readonly c: Float64Array,
    private readonly slackOf: Int32Array,
    private readonly artOf: Int32Array,
    private readonly artCoef: Float64Array,
    private readonly senses: Int8Array,
    /** Per equality row: the structural column of that row alone that started basic in it (-1: none), and its coefficient. */
    private readonly ownOf: Int32Array,
    private readonly ownCoef: Float64Array,
  ) {}

  /** Solves `model` from scratch; the tableau's `status` tells how it ended. */
  static solve(model: LpModel, maxPivots = EXACT_TUNING.lpMaxPivots, deadline = Infinity): { status: LpStatus; tab: LpTableau } {
    const n = model.cost.length;
    const m = model.rows.length;
    // Column layout: structurals [0, n), one slack per inequality row, one artificial per row that needs one.
    const slackOf = new Int32Array(m).fill(-1);
    const senses = new Int8Array(m);
    let N = n;
    for (let i = 0; i < m; i++) {
      senses[i] = model.rows[i]!.sense;
      if (model.rows[i]!.sense !== EQ) slackOf[i] = N++;
    }
    const nNoArt = N;
    // Residuals with every structural at its lower bound.
    const r = new Float64Array(m);
    for (let i = 0; i < m; i++) {
      const row = model.rows[i]!;
      let s = row.rhs;
      for (let k = 0; k < row.idx.length; k++) s -= row.val[k]! * model.lb[row.idx[k]!]!;
      r[i] = s;
    }
    // An equality row with a structural column of its own (in no other row) starts with that
    // column basic when its value lands within its bounds: no artificial needed.
    const uses = new Int32Array(n);
    for (const row of model.rows) for (const j of row.idx) uses[j]!++;
    const ownOf = new Int32Array(m).fill(-1);
    const ownCoef = new Float64Array(m);
    const artOf = new Int32Array(m).fill(-1);
    const artCoef = new Float64Array(m);
    for (let i = 0; i < m; i++) {
      const row = model.rows[i]!;
      const slackCoef = row.sense === LE ? 1 : -1;
      if (row.sense === EQ) {
        for (let k = 0; k < row.idx.length; k++) {
          const j = row.idx[k]!;
          const a = row.val[k]!;
          if (uses[j] !== 1 || Math.abs(a) < 1e-6) continue;
          const v = model.lb[j]! + r[i]! / a;
          if (v >= model.lb[j]! && v <= model.ub[j]!) {
            ownOf[i] = j;
            ownCoef[i] = a;
            break;
          }
        }
      }
      if (ownOf[i]! < 0 && (row.sense === EQ || r[i]! * slackCoef < 0)) {
        artOf[i] = N++;
        artCoef[i] = r[i]! >= 0 ? 1 : -1;
      }
    }
    // T, lo, hi, x, d side by side in one buffer, basis and isBasic in another: a clone copies
    // two buffers (typed arrays past 64 bytes each cost an off-heap allocation).
    const F = new Float64Array(m * N + 4 * N);
    const T = F.subarray(0, m * N);
    const lo = F.subarray(m * N, m * N + N);
    const hi = F.subarray(m * N + N, m * N + 2 * N);
    const x = F.subarray(m * N + 2 * N, m * N + 3 * N);
    const d = F.subarray(m * N + 3 * N, m * N + 4 * N);
    const I = new Int32Array(m + N);
    const basis = I.subarray(0, m);
    const isBasic = I.subarray(m, m + N);
    const c = new Float64Array(N);
    for (let j = 0; j < n; j++) {
      lo[j] = model.lb[j]!;
      hi[j] = model.ub[j]!;
      x[j] = lo[j]!;
      c[j] = model.cost[j]!;
    }
    for (let j = n; j < N; j++) {
      lo[j] = 0;
      hi[j] = Infinity;
    }
    for (let i = 0; i < m; i++) {
      const row = model.rows[i]!;
      const slackCoef = row.sense === LE ? 1 : -1;
      const base = i * N;
      for (let k = 0; k < row.idx.length; k++) T[base + row.idx[k]!]! += row.val[k]!;
      if (slackOf[i]! >= 0) T[base + slackOf[i]!] = slackCoef;
      let b: number;
      let coef: number;
      if (artOf[i]! >= 0) {
        b = artOf[i]!;
        coef = artCoef[i]!;
        T[base + b] = coef;
      } else if (ownOf[i]! >= 0) {
        b = ownOf[i]!;
        coef = ownCoef[i]!;
      } else {
        b = slackOf[i]!;
        coef = slackCoef;
      }
      basis[i] = b;
      isBasic[b] = 1;
      x[b] = (b < n ? lo[b]! : 0) + r[i]! / coef;
      if (coef !== 1) for (let j = 0; j < N; j++) T[base + j] = T[base + j]! / coef;
    }
    const tab = new LpTableau(n, m, N, T, lo, hi, x, d, basis, isBasic, c, slackOf, artOf, artCoef, senses, ownOf, ownCoef);
    let status: LpStatus = 'optimal';
    if (N > nNoArt) {
      const c1 = new Float64Array(N);
      for (let j = nNoArt; j < N; j++) c1[j] = 1;
      const s1 = tab.primal(c1, maxPivots, deadline);
      if (s1 !== 'optimal') status = s1 === 'unbounded' ? 'limit' : s1;
      else {
        let infeas = 0;
        for (let j = nNoArt; j < N; j++) infeas += x[j]!;
        if (infeas > FEAS_TOL) status = 'infeasible';
        for (let j = nNoArt; j < N; j++) hi[j] = 0;
      }
    }
    if (status === 'optimal') status = tab.primal(c, maxPivots, deadline);
    return { status, tab };
  }

  /** An independent copy (to re-optimise later, e.g. for a child waiting in a heap). */
  clone(): LpTableau {
    const { m, N } = this;
    // The buffers laid out by `solve` (every tableau comes from it or from a clone).
    const F = new Float64Array(this.T.buffer, this.T.byteOffset, m * N + 4 * N).slice();
    const I = new Int32Array(this.basis.buffer, this.basis.byteOffset, m + N).slice();
    const t = new LpTableau(
      this.n,
      m,
      N,
      F.subarray(0, m * N),
      F.subarray(m * N, m * N + N),
      F.subarray(m * N + N, m * N + 2 * N),
      F.subarray(m * N + 2 * N, m * N + 3 * N),
      F.subarray(m * N + 3 * N, m * N + 4 * N),
      I.subarray(0, m),
      I.subarray(m, m + N),
      this.c,
      this.slackOf,
      this.artOf,
      this.artCoef,
      this.senses,
      this.ownOf,
      this.ownCoef,
    );
    return t;
  }

  /** Structural column values. */
  values(): Float64Array {
    return this.x.slice(0, this.n);
  }

  /** Value of structural column j. */
  value(j: number): number {
    return this.x[j]!;
  }

  lower(j: number): number {
    return this.lo[j]!;
  }

  upper(j: number): number {
    return this.hi[j]!;
  }

  /** c·x over the structural columns. */
  objective(): number {
    let obj = 0;
    for (let j = 0; j < this.n; j++) obj += this.c[j]! * this.x[j]!;
    return obj;
  }

  /** Row duals y (see LpResult.duals), from the reduced costs of each row's slack, artificial or own column. */
  duals(): Float64Array {
    const duals = new Float64Array(this.m);
    for (let i = 0; i < this.m; i++) {
      if (this.slackOf[i]! >= 0) duals[i] = -this.d[this.slackOf[i]!]! / (this.senses[i] === LE ? 1 : -1);
      else if (this.artOf[i]! >= 0) duals[i] = -this.d[this.artOf[i]!]! / this.artCoef[i]!;
      else if (this.ownOf[i]! >= 0) {
        // d_j = c_j - y_i a_ij for a column of row i alone.
        const j = this.ownOf[i]!;
        duals[i] = (this.c[j]! - this.d[j]!) / this.ownCoef[i]!;
      }
    }
    return duals;
  }

  /**
   * Changes the bounds of structural column j (lo finite, lo <= hi). A nonbasic column moves to
   * the new bound on the side its reduced cost asks for (the side it sat at when that is 0), the
   * basic values following, so that the basis stays dual feasible; a basic one keeps its value,
   * which `dual` then brings back within the bounds. Returns false when the basis is no longer
   * dual feasible (the caller then solves from scratch).
   */
  setBounds(j: number, lo: number, hi: number): boolean {
    const { T, x, N, m, basis } = this;
    const old = x[j]!;
    const wasUpper = old >= this.hi[j]!;
    this.lo[j] = lo;
    this.hi[j] = hi;
    if (this.isBasic[j]) return true;
    const dj = this.d[j]!;
    // Wants to grow without bound: no longer dual feasible (cannot come from an optimal basis).
    if (dj < -D_TOL && hi === Infinity) return false;
    const upper = hi !== Infinity && (dj < 0 || (dj === 0 && wasUpper));
    const nx = upper ? hi : lo;
    if (nx === old) return true;
    const dx = nx - old;
    for (let i = 0; i < m; i++) {
      const t = T[i * N + j]!;
      if (t !== 0) x[basis[i]!] = x[basis[i]!]! - t * dx;
    }
    x[j] = nx;
    return true;
  }

  /**
   * The bounded dual simplex from the current (dual feasible) basis, until every basic value is
   * within its bounds ('optimal'), no column can enter ('infeasible'), or the pivot limit
   * ('limit') or the deadline ('deadline') is reached.
   */
  dual(maxPivots = 1_000, deadline = Infinity): LpStatus {
    const { T, x, lo, hi, d, basis, isBasic, N, m } = this;
    this.pivots = 0;
    for (;;) {
      // Leaving row: the largest bound violation.
      let r = -1;
      let worst = FEAS_TOL;
      let toUpper = false;
      for (let i = 0; i < m; i++) {
        const b = basis[i]!;
        const v = x[b]!;
        if (lo[b]! - v > worst) {
          worst = lo[b]! - v;
          r = i;
          toUpper = false;
        } else if (v - hi[b]! > worst) {
          worst = v - hi[b]!;
          r = i;
          toUpper = true;
        }
      }
      if (r < 0) return 'optimal';
      if (this.pivots++ >= maxPivots) return 'limit';
      if ((this.pivots & 15) === 0 && performance.now() > deadline) return 'deadline';
      const rb = r * N;
      const b = basis[r]!;
      const target = toUpper ? hi[b]! : lo[b]!;
      // x_b = const - Σ_j T[r,j] x_j: to raise x_b (below its lower bound) a column at its lower
      // bound must have T[r,j] < 0 and one at its upper bound T[r,j] > 0; the reverse to lower it.
      const sgn = toUpper ? 1 : -1;
      // Harris pass 1: the largest step that keeps every reduced cost within D_TOL of its sign.
      let bound = Infinity;
      for (let j = 0; j < N; j++) {
        if (isBasic[j] || hi[j]! - lo[j]! <= 0) continue;
        const a = T[rb + j]! * sgn;
        const atUpper = x[j]! >= hi[j]!;
        if (atUpper ? a < -PIV_TOL : a > PIV_TOL) {
          const ratio = ((atUpper ? -d[j]! : d[j]!) + D_TOL) / Math.abs(a);
          if (ratio < bound) bound = ratio;
        }
      }
      if (bound === Infinity) return 'infeasible';
      // Pass 2: among the columns whose ratio is within that step, the largest pivot.
      let q = -1;
      let bestPiv = 0;
      for (let j = 0; j < N; j++) {
        if (isBasic[j] || hi[j]! - lo[j]! <= 0) continue;
        const a = T[rb + j]! * sgn;
        const atUpper = x[j]! >= hi[j]!;
        if (atUpper ? a < -PIV_TOL : a > PIV_TOL) {
          const dj = atUpper ? -d[j]! : d[j]!;
          if ((dj > 0 ? dj : 0) / Math.abs(a) <= bound && Math.abs(a) > bestPiv) {
            bestPiv = Math.abs(a);
            q = j;
          }
        }
      }
      // Primal step: the entering column moves so that x_b lands on its violated bound.
      const alpha = T[rb + q]!;
      const dq = (x[b]! - target) / alpha;
      for (let i = 0; i < m; i++) {
        const t = T[i * N + q]!;
        if (t !== 0) x[basis[i]!] = x[basis[i]!]! - t * dq;
      }
      x[q] = x[q]! + dq;
      x[b] = target;
      isBasic[b] = 0;
      isBasic[q] = 1;
      basis[r] = q;
      this.pivot(r, q);
    }
  }

  /** Primal simplex with costs c from the current (primal feasible) basis. */
  private primal(c: Float64Array, maxPivots: number, deadline: number): LpStatus {
    const { T, x, lo, hi, d, basis, isBasic, N, m } = this;
    // Reduced costs.
    for (let j = 0; j < N; j++) d[j] = c[j]!;
    for (let i = 0; i < m; i++) {
      const cb = c[basis[i]!]!;
      if (cb === 0) continue;
      const base = i * N;
      for (let j = 0; j < N; j++) d[j] = d[j]! - cb * T[base + j]!;
    }
    let degenerate = 0;
    for (;;) {
      const bland = degenerate > EXACT_TUNING.blandAfter;
      // Pricing.
      let q = -1;
      let best = 0;
      let dir = 0;
      for (let j = 0; j < N; j++) {
        if (isBasic[j] || hi[j]! - lo[j]! <= 0) continue;
        const dj = d[j]!;
        let score = 0;
        let dj2 = 0;
        if (dj < -D_TOL && x[j]! < hi[j]!) {
          score = -dj;
          dj2 = 1;
        } else if (dj > D_TOL && x[j]! > lo[j]!) {
          score = dj;
          dj2 = -1;
        } else continue;
        if (bland) {
          q = j;
          dir = dj2;
          break;
        }
        if (score > best) {
          best = score;
          q = j;
          dir = dj2;
        }
      }
      if (q < 0) return 'optimal';
      if (this.pivots++ >= maxPivots) return 'limit';
      if ((this.pivots & 63) === 0 && performance.now() > deadline) return 'deadline';
      // Ratio test.
      let theta = hi[q]! - lo[q]!;
      let leave = -1;
      let leaveToUpper = false;
      let bestPiv = 0;
      for (let i = 0; i < m; i++) {
        const t = T[i * N + q]! * dir; // basic value changes by -t per unit step
        if (t > PIV_TOL) {
          const b = basis[i]!;
          const lim = (x[b]! - lo[b]!) / t;
          const lv = lim < 0 ? 0 : lim;
          if (lv < theta - 1e-12 || (lv <= theta + 1e-12 && leave >= 0 && (bland ? b < basis[leave]! : Math.abs(t) > bestPiv))) {
            theta = lv;
            leave = i;
            leaveToUpper = false;
            bestPiv = Math.abs(t);
          }
        } else if (t < -PIV_TOL) {
          const b = basis[i]!;
          if (hi[b] === Infinity) continue;
          const lim = (hi[b]! - x[b]!) / -t;
          const lv = lim < 0 ? 0 : lim;
          if (lv < theta - 1e-12 || (lv <= theta + 1e-12 && leave >= 0 && (bland ? b < basis[leave]! : Math.abs(t) > bestPiv))) {
            theta = lv;
            leave = i;
            leaveToUpper = true;
            bestPiv = Math.abs(t);
          }
        }
      }
      if (theta === Infinity) return 'unbounded';
      degenerate = theta <= 1e-12 ? degenerate + 1 : 0;
      // Move.
      if (theta > 0) {
        for (let i = 0; i < m; i++) {
          const t = T[i * N + q]!;
          if (t !== 0) x[basis[i]!] = x[basis[i]!]! - theta * dir * t;
        }
        x[q] = x[q]! + theta * dir;
      }
      if (leave < 0) {
        // Bound flip of the entering column.
        x[q] = dir > 0 ? hi[q]! : lo[q]!;
        continue;
      }
      const b = basis[leave]!;
      x[b] = leaveToUpper ? hi[b]! : lo[b]!;
      isBasic[b] = 0;
      isBasic[q] = 1;
      basis[leave] = q;
      this.pivot(leave, q);
    }
  }

  /** Pivots the tableau and the reduced costs on (row r, column q), over the pivot row's non-zeros only. */
  private pivot(r: number, q: number): void {
    const { T, d, N, m } = this;
    const nz = scratchIndex(N);
    const rb = r * N;
    const pv = T[rb + q]!;
    let nnz = 0;
    for (let j = 0; j < N; j++) {
      const v = T[rb + j]!;
      if (v !== 0) {
        T[rb + j] = v / pv;
        nz[nnz++] = j;
      }
    }
    T[rb + q] = 1;
    for (let i = 0; i < m; i++) {
      if (i === r) continue;
      const base = i * N;
      const f = T[base + q]!;
      if (f === 0) continue;
      for (let k = 0; k < nnz; k++) {
        const j = nz[k]!;
        T[base + j] = T[base + j]! - f * T[rb + j]!;
      }
      T[base + q] = 0;
    }
    const fd = d[q]!;
    if (fd !== 0) {
      for (let k = 0; k < nnz; k++) {
        const j = nz[k]!;
        d[j] = d[j]! - fd * T[rb + j]!;
      }
    }
    d[q] = 0;
  }
}

/** A reusable index buffer for the pivots (grown on demand). */
let nzBuf = new Int32Array(256);
function scratchIndex(n: number): Int32Array {
  if (nzBuf.length < n) nzBuf = new Int32Array(2 * n);
  return nzBuf;
}

/** Solves `model` from scratch (see LpTableau.solve). */
export function solveLp(model: LpModel, maxPivots = EXACT_TUNING.lpMaxPivots, deadline = Infinity): LpResult {
  const { status, tab } = LpTableau.solve(model, maxPivots, deadline);
  return { status, x: tab.values(), objective: tab.objective(), pivots: tab.pivots, duals: tab.duals() };
}
