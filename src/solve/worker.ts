import { workerData } from 'node:worker_threads';
import { solve } from '../../solver/solve.js';
import type { Problem, SolveResult } from '../../solver/types.js';
import { loadExactSolver } from './exact.js';

/**
 * A solver worker thread (piscina): the exact backend is loaded once per thread, then every task
 * is one order's problem (small, structured-cloned), solved with the same `solve` as in-thread.
 */
const exact = loadExactSolver((workerData as { solver: string }).solver);

export interface SolveTask {
  problem: Problem;
  timeoutMs: number;
}

export default async function solveTask(task: SolveTask): Promise<SolveResult> {
  return solve(task.problem, { timeoutMs: task.timeoutMs, exact: await exact });
}
