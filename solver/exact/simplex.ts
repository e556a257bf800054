/**
 * A small dense bounded-variable primal simplex, for the leaf subproblems of the exact search
 * (solver/exact/leaf.ts): a few dozen rows and columns, solved from scratch each time.
 *
 *   min c·x  s.t.  each row  Σ a_ij x_j  (<= | >= | =)  b_i,   lb_j <= x_j <= ub_j (lb finite)
 *
 * Two phases: rows whose slack cannot start basic and feasible get an artificial column, phase 1
 * drives the artificials to zero, phase 2 optimises the real costs. Dantzig pricing with a switch
 * to Bland's rule after a run of degenerate pivots (no cycling). The answer is only used as a
 * bound and as a candidate that is rounded, rebuilt with solver/cost.ts and verified, so the
 * tolerances here never decide what a returned plan costs.
 */

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

const PIV_TOL = 1e-9;
const D_TOL = 1e-9;
const FEAS_TOL = 1e-7;

export function solveLp(model: LpModel, maxPivots = 20_000, deadline = Infinity): LpResult {
  const n = model.cost.length;
  const m = model.rows.length;
  // Column layout: structurals [0, n), one slack per inequality row, one artificial per row that needs one.
  const slackOf = new Int32Array(m).fill(-1);
  let N = n;
  for (let i = 0; i < m; i++) if (model.rows[i]!.sense !== EQ) slackOf[i] = N++;
  const nNoArt = N;
  // Residuals with every structural at its lower bound.
  const r = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    const row = model.rows[i]!;
    let s = row.rhs;
    for (let k = 0; k < row.idx.length; k++) s -= row.val[k]! * model.lb[row.idx[k]!]!;
    r[i] = s;
  }
  const artOf = new Int32Array(m).fill(-1);
  const artCoef = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    const row = model.rows[i]!;
    const slackCoef = row.sense === LE ? 1 : -1;
    if (row.sense === EQ || r[i]! * slackCoef < 0) {
      artOf[i] = N++;
      artCoef[i] = r[i]! >= 0 ? 1 : -1;
    }
  }
  const W = N + 1; // tableau width: columns + rhs (unused; values kept in x)
  const T = new Float64Array(m * W);
  const lo = new Float64Array(N);
  const hi = new Float64Array(N);
  const x = new Float64Array(N);
  const basis = new Int32Array(m);
  const isBasic = new Int8Array(N); // 1 basic
  for (let j = 0; j < n; j++) {
    lo[j] = model.lb[j]!;
    hi[j] = model.ub[j]!;
    x[j] = lo[j]!;
  }
  for (let j = n; j < N; j++) {
    lo[j] = 0;
    hi[j] = Infinity;
  }
  for (let i = 0; i < m; i++) {
    const row = model.rows[i]!;
    const slackCoef = row.sense === LE ? 1 : -1;
    const base = i * W;
    for (let k = 0; k < row.idx.length; k++) T[base + row.idx[k]!]! += row.val[k]!;
    if (slackOf[i]! >= 0) T[base + slackOf[i]!] = slackCoef;
    let b: number;
    let coef: number;
    if (artOf[i]! >= 0) {
      b = artOf[i]!;
      coef = r[i]! >= 0 ? 1 : -1;
      T[base + b] = coef;
    } else {
      b = slackOf[i]!;
      coef = slackCoef;
    }
    basis[i] = b;
    isBasic[b] = 1;
    x[b] = r[i]! / coef;
    if (coef !== 1) for (let j = 0; j < N; j++) T[base + j] = T[base + j]! / coef;
  }

  const d = new Float64Array(N);
  const nz = new Int32Array(N);
  let pivots = 0;
  let status: LpStatus = 'optimal';

  const computeReduced = (c: Float64Array) => {
    for (let j = 0; j < N; j++) d[j] = c[j]!;
    for (let i = 0; i < m; i++) {
      const cb = c[basis[i]!]!;
      if (cb === 0) continue;
      const base = i * W;
      for (let j = 0; j < N; j++) d[j] = d[j]! - cb * T[base + j]!;
    }
  };

  const run = (c: Float64Array): LpStatus => {
    computeReduced(c);
    let degenerate = 0;
    for (;;) {
      const bland = degenerate > 50;
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
      if (pivots++ >= maxPivots) return 'limit';
      if ((pivots & 63) === 0 && performance.now() > deadline) return 'deadline';
      // Ratio test.
      let theta = hi[q]! - lo[q]!;
      let leave = -1;
      let leaveToUpper = false;
      let bestPiv = 0;
      for (let i = 0; i < m; i++) {
        const t = T[i * W + q]! * dir; // basic value changes by -t per unit step
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
          const t = T[i * W + q]!;
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
      // Pivot (over the pivot row's non-zeros only).
      const rb = leave * W;
      const pv = T[rb + q]!;
      let nnz = 0;
      for (let j = 0; j < N; j++) {
        const v = T[rb + j]!;
        if (v !== 0) {
          T[rb + j] = v / pv;
          nz[nnz++] = j;
        }
      }
      for (let i = 0; i < m; i++) {
        if (i === leave) continue;
        const base = i * W;
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
  };

  if (N > nNoArt) {
    const c1 = new Float64Array(N);
    for (let j = nNoArt; j < N; j++) c1[j] = 1;
    const s1 = run(c1);
    if (s1 !== 'optimal') status = s1 === 'unbounded' ? 'limit' : s1;
    else {
      let infeas = 0;
      for (let j = nNoArt; j < N; j++) infeas += x[j]!;
      if (infeas > FEAS_TOL) status = 'infeasible';
      for (let j = nNoArt; j < N; j++) hi[j] = 0;
    }
  }
  if (status === 'optimal') {
    const c2 = new Float64Array(N);
    for (let j = 0; j < n; j++) c2[j] = model.cost[j]!;
    status = run(c2);
  }
  const xs = x.slice(0, n);
  let objective = 0;
  for (let j = 0; j < n; j++) objective += model.cost[j]! * xs[j]!;
  // Duals from the reduced costs of each row's slack (or artificial) column: d_j = c_j - y_i * a_ij with c_j = 0.
  const duals = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    const row = model.rows[i]!;
    if (slackOf[i]! >= 0) duals[i] = -d[slackOf[i]!]! / (row.sense === LE ? 1 : -1);
    else if (artOf[i]! >= 0) duals[i] = -d[artOf[i]!]! / artCoef[i]!;
  }
  return { status, x: xs, objective, pivots, duals };
}
