import { workerData } from 'node:worker_threads';
import { greedyFallback, solve, type Backend } from '../../solver/chain.js';
import type { SolveResult } from '../../solver/types.js';
import { epochNow } from '../util/epoch.js';
import { loadExactSolver } from './exact.js';
import { decodeProblem, type WireProblem } from './wire.js';

/**
 * A solver worker thread (piscina): the exact backend is loaded once per thread, then every task
 * is one order's problem (moved over as one typed array, src/solve/wire.ts), solved with the same
 * `solve` as in-thread.
 */
const exact = loadExactSolver((workerData as { solver: Backend }).solver);

export interface SolveTask {
  /** The problem in its transfer form (src/solve/wire.ts). */
  problem: WireProblem;
  /** The request's whole budget, ms (for the reasons). */
  timeoutMs: number;
  /** When the budget ends, epoch ms (src/util/epoch.ts: a clock threads share). */
  deadlineEpochMs: number;
}

export default async function solveTask(task: SolveTask): Promise<SolveResult> {
  const solver = await exact;
  const problem = decodeProblem(task.problem);
  const left = task.deadlineEpochMs - epochNow();
  if (left <= 0) {
    // The deadline passed while the task waited for this thread: answer at once.
    return greedyFallback(problem, `the ${task.timeoutMs} ms deadline passed while the solve waited for a solver thread`, performance.now());
  }
  return solve(problem, { timeoutMs: left, exact: solver });
}
