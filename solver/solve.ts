import { solveGreedy } from './greedy.js';
import { MipFailure } from './mip.js';
import type { SolveResult, Problem } from './types.js';

/** An exact backend: HiGHS (solveHighs bound to a loaded instance) or javascript-lp-solver (solveLp). */
export type ExactSolver = (p: Problem, opts: { timeoutMs: number }) => SolveResult;

export interface SolveOptions {
  /** Time budget of the exact solve, milliseconds. */
  timeoutMs: number;
  /** The exact solver to try first. */
  exact: ExactSolver;
}

/**
 * The optimiser entry point: the exact MIP backend, verified; when it fails or cannot prove an
 * optimum in time, the best of its incumbent and the greedy plan, reported as not optimal with
 * the reason (design: "several solvers behind one interface with an explicit fallback").
 */
export function solve(p: Problem, opts: SolveOptions): SolveResult {
  const t0 = performance.now();
  let exact: SolveResult | undefined;
  let reason: string;
  try {
    exact = opts.exact(p, { timeoutMs: opts.timeoutMs });
    if (exact.optimal) return exact;
    reason = exact.fallbackReason ?? 'exact solver gave no proof of optimality';
  } catch (err) {
    if (!(err instanceof MipFailure)) throw err;
    reason = err.message;
  }
  const greedy = solveGreedy(p);
  const micros = (performance.now() - t0) * 1_000;
  if (exact && exact.plan.objective <= greedy.objective) return { ...exact, stats: { ...exact.stats, micros }, optimal: false, fallbackReason: reason };
  return { plan: greedy, stats: { solver: 'greedy', micros, nodes: 0 }, optimal: false, fallbackReason: reason };
}

/** The greedy plan as a fallback answer, with why and the time since `t0` (performance.now(), ms). */
export function greedyFallback(p: Problem, reason: string, t0: number): SolveResult {
  const plan = solveGreedy(p);
  return { plan, stats: { solver: 'greedy', micros: (performance.now() - t0) * 1_000, nodes: 0 }, optimal: false, fallbackReason: reason };
}
