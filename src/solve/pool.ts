import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { solveGreedy } from '../../solver/greedy.js';
import { solve, type ExactSolver } from '../../solver/solve.js';
import type { Problem, SolveResult } from '../../solver/types.js';
import type { Config } from '../config.js';
import { DspError } from '../errors.js';
import type { SolveTask } from './worker.js';

/** What the allocator asks for: one order's problem solved within a time budget. */
export interface Solver {
  solve(p: Problem, timeoutMs: number): Promise<SolveResult>;
  close(): Promise<void>;
}

/** Work units of a problem: a rough size that predicts solve time (arcs and shipment options). */
export function problemWork(p: Problem): number {
  return p.arcs.length + p.options.length;
}

/** Solves in the request's own thread: the embedded default for tests and tiny deployments. */
export class InThreadSolver implements Solver {
  constructor(private readonly exact: ExactSolver) {}
  async solve(p: Problem, timeoutMs: number): Promise<SolveResult> {
    return solve(p, { timeoutMs, exact: this.exact });
  }
  async close(): Promise<void> {}
}

/** How the pool has answered so far (for metrics and the issue notes). */
export interface PoolCounters {
  inThread: number;
  pooled: number;
  overloaded: number;
  workerFailures: number;
  deadlineAborts: number;
}

/**
 * The solver worker pool (piscina): one thread per core by default, tasks are the problem (small),
 * not a rendered LP. Small problems stay in the request thread, where a round trip to a worker
 * would cost more than the solve. The queue is bounded: when it is full the request answers 503
 * DSP_OVERLOADED at once instead of waiting behind work it cannot catch up with. A worker that
 * crashes is replaced by piscina; its request is answered with the greedy plan as a fallback, as
 * is a task still queued or running past its deadline plus a grace period (the thread running it
 * is then stopped and replaced).
 */
export class SolverPool implements Solver {
  private readonly pool: Piscina<SolveTask, SolveResult>;
  private readonly inThread: InThreadSolver;
  readonly counters: PoolCounters = { inThread: 0, pooled: 0, overloaded: 0, workerFailures: 0, deadlineAborts: 0 };

  constructor(
    private readonly cfg: Pick<Config, 'solver' | 'solverThreads' | 'solveQueueMax' | 'poolMinWork' | 'solveGraceMs'>,
    exact: ExactSolver,
  ) {
    this.inThread = new InThreadSolver(exact);
    const threads = cfg.solverThreads === -1 ? availableParallelism() : cfg.solverThreads;
    const fromSources = import.meta.url.endsWith('.ts');
    this.pool = new Piscina<SolveTask, SolveResult>({
      filename: new URL(fromSources ? './worker-dev.mjs' : './worker.js', import.meta.url).href,
      minThreads: threads,
      maxThreads: threads,
      maxQueue: cfg.solveQueueMax,
      idleTimeout: 60_000,
      workerData: { solver: cfg.solver },
    });
  }

  /** Threads in the pool now. */
  get threads(): number {
    return this.pool.threads.length;
  }

  /** Terminates one worker thread, as a crash would (for tests of the replacement path). */
  async crashOneWorkerForTest(): Promise<void> {
    await this.pool.threads[0]?.terminate();
  }

  async solve(p: Problem, timeoutMs: number): Promise<SolveResult> {
    if (problemWork(p) < this.cfg.poolMinWork) {
      this.counters.inThread++;
      return this.inThread.solve(p, timeoutMs);
    }
    if (this.pool.queueSize >= this.cfg.solveQueueMax) {
      this.counters.overloaded++;
      throw new DspError('DSP_OVERLOADED', `${this.pool.queueSize} solves already wait for a solver thread; retry with backoff`);
    }
    this.counters.pooled++;
    const t0 = performance.now();
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), timeoutMs + this.cfg.solveGraceMs);
    try {
      return await this.pool.run({ problem: p, timeoutMs }, { signal: abort.signal });
    } catch (err) {
      if (err instanceof Error && err.message === 'Task queue is at limit') {
        this.counters.overloaded++;
        throw new DspError('DSP_OVERLOADED', 'the solver queue is full; retry with backoff');
      }
      const timedOut = abort.signal.aborted;
      if (timedOut) this.counters.deadlineAborts++;
      else this.counters.workerFailures++;
      const reason = timedOut
        ? `no solver thread answered within ${timeoutMs + this.cfg.solveGraceMs} ms`
        : `the solver thread failed (${err instanceof Error ? err.message : String(err)}); it was replaced`;
      const plan = solveGreedy(p);
      return { plan, optimal: false, fallbackReason: reason, stats: { solver: 'greedy', micros: (performance.now() - t0) * 1_000, nodes: 0 } };
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}
