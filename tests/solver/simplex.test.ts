/**
 * The small dense simplex of the exact search (solver/exact/simplex.ts) against HiGHS on random
 * small LPs: solved from scratch, then re-optimised by the dual simplex after a sequence of
 * bound changes (what the leaf branch and bound of solver/exact/leaf.ts does), both on the
 * tableau itself (the dive child) and on copies (the children waiting in the heap). Every
 * answer must match HiGHS's status and optimal value, and the values must satisfy the rows and
 * bounds; the row duals of an optimal solve must price the structural columns consistently.
 */
import { describe, expect, it } from 'vitest';
import { EQ, GE, LE, LpTableau, solveLp, type LpModel } from '../../solver/exact/simplex.js';
import { mulberry32 } from '../../src/util/prng.js';
import { getHighs } from '../reference/highs-model.js';

type Highs = Awaited<ReturnType<typeof getHighs>>;

function randomModel(rnd: () => number): LpModel {
  const n = 3 + Math.floor(rnd() * 14);
  const m = 2 + Math.floor(rnd() * 10);
  const int = (lo: number, hi: number): number => lo + Math.floor(rnd() * (hi - lo + 1));
  // Costs of both signs (a backorder-like column per row keeps many models feasible).
  const cost = Array.from({ length: n }, () => int(-20, 20) + (rnd() < 0.3 ? 0.25 : 0));
  const lb = Array.from({ length: n }, () => (rnd() < 0.8 ? 0 : int(0, 3)));
  const ub = lb.map((l, j) => (rnd() < 0.15 && cost[j]! >= 0 ? Infinity : l + int(0, 12)));
  const rows: LpModel['rows'] = [];
  for (let i = 0; i < m; i++) {
    const idx: number[] = [];
    const val: number[] = [];
    for (let j = 0; j < n; j++) {
      if (rnd() < 0.4) {
        idx.push(j);
        val.push(rnd() < 0.5 ? 1 : int(-5, 8) + (rnd() < 0.3 ? 0.5 : 0));
      }
    }
    if (idx.length === 0) {
      idx.push(int(0, n - 1));
      val.push(1);
    }
    const r = rnd();
    const sense = r < 0.55 ? LE : r < 0.75 ? GE : EQ;
    rows.push({ idx, val, sense, rhs: sense === LE ? int(-2, 30) : sense === GE ? int(-5, 8) : int(0, 15) });
  }
  return { cost, lb, ub, rows };
}

function toLp(model: LpModel): string {
  const term = (c: number, j: number, first: boolean): string => `${c < 0 ? '- ' : first ? '' : '+ '}${Math.abs(c)} x${j}`;
  const obj = model.cost.map((c, j) => term(c, j, j === 0)).join(' ');
  const rows = model.rows.map((r, i) => ` r${i}: ${r.idx.map((j, k) => term(r.val[k]!, j, k === 0)).join(' ')} ${r.sense === LE ? '<=' : r.sense === GE ? '>=' : '='} ${r.rhs}`);
  const bounds = model.cost.map((_, j) => ` ${model.lb[j]} <= x${j} <= ${model.ub[j] === Infinity ? '+inf' : model.ub[j]}`);
  return ['Minimize', ` obj: ${obj}`, 'Subject To', ...rows, 'Bounds', ...bounds, 'End', ''].join('\n');
}

function highsLp(highs: Highs, model: LpModel): { status: string; objective: number } {
  const r = highs.solve(toLp(model), { output_flag: false });
  return { status: r.Status, objective: r.ObjectiveValue };
}

/** Row and bound feasibility of x (to 1e-6). */
function feasible(model: LpModel, x: Float64Array): boolean {
  for (let j = 0; j < x.length; j++) if (x[j]! < model.lb[j]! - 1e-6 || x[j]! > model.ub[j]! + 1e-6) return false;
  for (const r of model.rows) {
    let s = 0;
    r.idx.forEach((j, k) => (s += r.val[k]! * x[j]!));
    if (r.sense === LE && s > r.rhs + 1e-6) return false;
    if (r.sense === GE && s < r.rhs - 1e-6) return false;
    if (r.sense === EQ && Math.abs(s - r.rhs) > 1e-6) return false;
  }
  return true;
}

const close = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(b));

describe('solver/exact/simplex.ts against HiGHS', () => {
  it('solves random LPs from scratch (status, value, feasibility, duals)', async () => {
    const highs = await getHighs();
    const rnd = mulberry32(424242);
    let optimal = 0;
    for (let t = 0; t < 400; t++) {
      const model = randomModel(rnd);
      const ref = highsLp(highs, model);
      const mine = solveLp(model);
      if (ref.status === 'Infeasible') {
        expect(mine.status, `model ${t}`).toBe('infeasible');
        continue;
      }
      if (ref.status !== 'Optimal') {
        expect(mine.status, `model ${t}: HiGHS ${ref.status}`).not.toBe('optimal');
        continue;
      }
      optimal++;
      expect(mine.status, `model ${t}`).toBe('optimal');
      expect(close(mine.objective, ref.objective), `model ${t}: ${mine.objective} vs ${ref.objective}`).toBe(true);
      expect(feasible(model, mine.x)).toBe(true);
      // Reduced costs from the duals: a column strictly inside its bounds prices at 0, one at its
      // lower bound at >= 0, one at its upper bound at <= 0.
      for (let j = 0; j < model.cost.length; j++) {
        let dj = model.cost[j]!;
        model.rows.forEach((r, i) => r.idx.forEach((jj, k) => jj === j && (dj -= mine.duals[i]! * r.val[k]!)));
        const x = mine.x[j]!;
        if (x > model.lb[j]! + 1e-7 && x < model.ub[j]! - 1e-7) expect(Math.abs(dj)).toBeLessThan(1e-6);
        else if (x <= model.lb[j]! + 1e-7 && model.ub[j]! > model.lb[j]!) expect(dj).toBeGreaterThan(-1e-6);
        else if (model.ub[j]! > model.lb[j]!) expect(dj).toBeLessThan(1e-6);
      }
    }
    console.log(`from scratch: ${optimal} of 400 optimal`);
    expect(optimal).toBeGreaterThan(120);
  }, 60_000);

  it('re-optimises by the dual simplex after bound changes (in place and on copies)', async () => {
    const highs = await getHighs();
    const rnd = mulberry32(777);
    let warm = 0;
    let infeasible = 0;
    for (let t = 0; t < 300; t++) {
      const model = randomModel(rnd);
      const first = LpTableau.solve(model);
      if (first.status !== 'optimal') continue;
      // A path of branchings: each step tightens one column's bounds (around its value, as a
      // branch does, or anywhere), re-optimises the tableau in place, and checks a copy made
      // before the step against the other side.
      let tab = first.tab;
      const lb = [...model.lb];
      const ub = [...model.ub];
      for (let step = 0; step < 6; step++) {
        const j = Math.floor(rnd() * model.cost.length);
        const v = tab.value(j);
        const lo = lb[j]!;
        const hi = ub[j]!;
        const cut = rnd() < 0.7 ? Math.floor(v) : lo + Math.floor(rnd() * (Math.min(hi, lo + 12) - lo + 1));
        if (cut < lo || (hi !== Infinity && cut + 1 > hi)) continue;
        const other = tab.clone();
        const sides: [LpTableau, number, number][] = [
          [tab, lo, cut],
          [other, cut + 1, hi],
        ];
        if (rnd() < 0.5) sides.reverse();
        let next: LpTableau | null = null;
        let nextBounds: [number, number] | null = null;
        for (const [tb, l, u] of sides) {
          const sub: LpModel = { ...model, lb: [...lb], ub: [...ub] };
          sub.lb[j] = l;
          sub.ub[j] = u;
          const ref = highsLp(highs, sub);
          const ok = tb.setBounds(j, l, u);
          const status = ok ? tb.dual() : LpTableau.solve(sub).status;
          if (ref.status === 'Infeasible') {
            expect(status, `model ${t} step ${step}`).toBe('infeasible');
            infeasible++;
            continue;
          }
          expect(ref.status).toBe('Optimal');
          expect(status, `model ${t} step ${step}`).toBe('optimal');
          if (!ok) continue;
          warm++;
          expect(close(tb.objective(), ref.objective), `model ${t} step ${step}: ${tb.objective()} vs ${ref.objective}`).toBe(true);
          expect(feasible(sub, tb.values()), `model ${t} step ${step}`).toBe(true);
          if (next === null) {
            next = tb;
            nextBounds = [l, u];
          }
        }
        if (next === null || nextBounds === null) break;
        tab = next;
        lb[j] = nextBounds[0];
        ub[j] = nextBounds[1];
      }
    }
    console.log(`re-optimised: ${warm} optimal, ${infeasible} infeasible`);
    expect(warm).toBeGreaterThan(300);
    expect(infeasible).toBeGreaterThan(10);
  }, 60_000);
});
