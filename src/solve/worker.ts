import { workerData } from 'node:worker_threads';
import { greedyFallback, solve } from '../../solver/solve.js';
import type { Problem, SolveResult } from '../../solver/types.js';
import { epochNow } from '../util/epoch.js';
import { loadExactSolver } from './exact.js';

/**
 * A solver worker thread (piscina): the exact backend is loaded once per thread, then every task
 * is one order's problem (small, structured-cloned), solved with the same `solve` as in-thread.
 */
const exact = loadExactSolver((workerData as { solver: string }).solver);

export interface SolveTask {
  problem: Problem;
  /** The request's whole budget, ms (for the reasons). */
  timeoutMs: number;
  /** When the budget ends, epoch ms (src/util/epoch.ts: a clock threads share). */
  deadlineEpochMs: number;
}

export default async function solveTask(task: SolveTask): Promise<SolveResult> {
  const solver = await exact;
  const left = task.deadlineEpochMs - epochNow();
  if (left <= 0) {
    // The deadline passed while the task waited for this thread: answer at once.
    return greedyFallback(task.problem, `the ${task.timeoutMs} ms deadline passed while the solve waited for a solver thread`, performance.now());
  }
  return solve(task.problem, { timeoutMs: left, exact: solver });
}
