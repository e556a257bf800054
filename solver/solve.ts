import { solveGreedy } from './greedy.js';
import { LpFailure, solveLp } from './lp.js';
import type { SolveResult, Problem } from './types.js';

export interface SolveOptions {
  /** Time budget of the general MIP path, milliseconds. */
  timeoutMs: number;
  /** The exact solver to try first; javascript-lp-solver unless a caller (or a test) swaps it. */
  exact?: (p: Problem, opts: { timeoutMs: number }) => SolveResult;
}

/**
 * The optimiser entry point: the exact MIP path (javascript-lp-solver, verified), and the greedy
 * plan, reported as not optimal with the reason, when the MIP path fails or runs out of time.
 */
export function solve(p: Problem, opts: SolveOptions): SolveResult {
  const t0 = performance.now();
  try {
    return (opts.exact ?? solveLp)(p, { timeoutMs: opts.timeoutMs });
  } catch (err) {
    if (!(err instanceof LpFailure)) throw err;
    const plan = solveGreedy(p);
    const micros = (performance.now() - t0) * 1_000;
    return { plan, stats: { solver: 'greedy', micros, nodes: 0 }, optimal: false, fallbackReason: err.message };
  }
}
