import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { greedyFallback, solve, type ExactSolver } from '../../solver/chain.js';
import type { Problem, SolveResult } from '../../solver/types.js';
import type { Config } from '../config.js';
import { DspError } from '../errors.js';
import { epochNow } from '../util/epoch.js';
import type { SolveTask } from './worker.js';
import { encodeProblem } from './wire.js';

/** What the allocator asks for: one order's problem solved within a time budget. */
export interface Solver {
  solve(p: Problem, timeoutMs: number): Promise<SolveResult>;
  close(): Promise<void>;
}

/** Work units of a problem: a rough size that predicts solve time (arcs and shipment options). */
export function problemWork(p: Problem): number {
  return p.arcs.length + p.options.length;
}

/**
 * The solver threads a SOLVER_THREADS setting gives on a machine of `cores` cores: N >= 0 as set;
 * -1 (auto) none when the machine has AUTO_IN_THREAD_MAX_CORES cores or fewer (solves run in the
 * request thread), else one per core.
 *
 * Why none on two cores: waking a parked solver thread costs the request thread more than most
 * solves take, the woken thread tends to run on the request thread's core and pre-empt it, and at
 * saturation pooled solves wait past their deadline and answer the greedy plan. The measurements
 * are in docs/architecture.md ("On two cores, no solver threads").
 */
export function solverThreadsFor(setting: number, cores: number = availableParallelism()): number {
  if (setting !== -1) return setting;
  return cores <= AUTO_IN_THREAD_MAX_CORES ? 0 : cores;
}

/** With SOLVER_THREADS=-1, machines of this many cores or fewer solve in the request thread. */
export const AUTO_IN_THREAD_MAX_CORES = 2;

/**
 * Solves in the request's own thread: the default on machines of two cores or fewer (see
 * solverThreadsFor), in tests, and for the pool's small problems.
 */
export class InThreadSolver implements Solver {
  /** Warm-up solves run so far (warmUp). */
  warmUpSolves = 0;
  constructor(private readonly exact: ExactSolver) {}
  async solve(p: Problem, timeoutMs: number): Promise<SolveResult> {
    return solve(p, { timeoutMs, exact: this.exact });
  }

  /**
   * Runs the exact search on the warm-up orders (warmUpProblems) `rounds` times each, so that
   * the first real orders run compiled code rather than the interpreter's, and fewer of them miss
   * their deadline (measured in docs/architecture.md). Synchronous: it runs before the service
   * listens. `rounds`: SOLVER_WARM_UP_ROUNDS. Returns the results, in order.
   */
  warmUp(rounds: number): SolveResult[] {
    const out: SolveResult[] = [];
    const problems = warmUpProblems();
    for (let r = 0; r < rounds; r++) {
      for (const p of problems) {
        out.push(solve(p, { timeoutMs: 60_000, exact: this.exact }));
        this.warmUpSolves++;
      }
    }
    return out;
  }

  async close(): Promise<void> {}
}

/** How the pool has answered so far (for metrics and the issue notes). */
export interface PoolCounters {
  inThread: number;
  pooled: number;
  overloaded: number;
  workerFailures: number;
  /** Pooled solves answered by the greedy plan because no thread answered by deadline + grace. */
  late: number;
  /** Tasks aborted STUCK_AFTER_MS past their deadline (a running one's thread is stopped and replaced). */
  stuckAborts: number;
}

/**
 * A solver thread still busy this long past a task's deadline is stopped and replaced. Solves
 * stop at their deadline by themselves (the exact search checks the clock, HiGHS has a time
 * limit), so this only catches a thread that is genuinely stuck; stopping threads is kept rare on
 * purpose, because a replacement costs tens of milliseconds of start-up (the HiGHS module).
 */
export const STUCK_AFTER_MS = 5_000;

/** A pooled solve waiting for, or running on, a solver thread. */
interface Job {
  task: SolveTask;
  /** Settles with the thread's answer or its failure (never rejects). */
  done: (outcome: { ok: true; r: SolveResult } | { ok: false; err: unknown }) => void;
  started: boolean;
}

/**
 * The solver worker pool (piscina): one thread per core by default, tasks are the problem (moved
 * over as one typed array, src/solve/wire.ts), not a rendered LP. Small problems stay in the
 * request thread, where a round trip to a worker would cost more than the solve.
 *
 * The pool keeps its own queue and hands piscina at most one task per thread, so that a task in
 * piscina is a running task and a task in the queue is a waiting one. The queue is bounded
 * (SOLVE_QUEUE_MAX): when it is full the request answers 503 DSP_OVERLOADED at once instead of
 * waiting behind work it cannot catch up with.
 *
 * The deadline is absolute and travels with the task: time spent waiting counts against it, and
 * a task that starts after its deadline answers the greedy plan at once. If no thread has
 * answered by the deadline plus SOLVE_GRACE_MS, the request is answered with the greedy plan: a
 * waiting task is then dropped from the queue, a running one is left to finish (it stops at its
 * own deadline), and only a thread still busy STUCK_AFTER_MS past the deadline is stopped and
 * replaced. A worker that crashes is replaced by piscina and its request answered with the greedy
 * plan.
 */
export class SolverPool implements Solver {
  private readonly pool: Piscina<SolveTask, SolveResult>;
  private readonly inThread: InThreadSolver;
  private readonly slots: number;
  private readonly waiting: Job[] = [];
  private running = 0;
  readonly counters: PoolCounters = { inThread: 0, pooled: 0, overloaded: 0, workerFailures: 0, late: 0, stuckAborts: 0 };

  constructor(
    private readonly cfg: Pick<Config, 'solver' | 'solverThreads' | 'solveQueueMax' | 'poolMinWork' | 'solveGraceMs' | 'solverWarmUpRounds'>,
    exact: ExactSolver,
    /** For tests: how long past its deadline a running task is aborted (default STUCK_AFTER_MS). */
    private readonly stuckAfterMs: number = STUCK_AFTER_MS,
  ) {
    this.inThread = new InThreadSolver(exact);
    const threads = cfg.solverThreads === -1 ? availableParallelism() : cfg.solverThreads;
    this.slots = Math.max(1, threads);
    const fromSources = import.meta.url.endsWith('.ts');
    this.pool = new Piscina<SolveTask, SolveResult>({
      filename: new URL(fromSources ? './worker-dev.mjs' : './worker.js', import.meta.url).href,
      minThreads: threads,
      maxThreads: threads,
      idleTimeout: 60_000,
      workerData: { solver: cfg.solver },
    });
  }

  /** Threads in the pool now. */
  get threads(): number {
    return this.pool.threads.length;
  }

  /**
   * Readies every thread before the first order: loads the exact backend (HiGHS's module takes
   * tens of ms) and runs the search a few times on a small split order, so that its first real
   * solves are neither spent waiting for the module nor on cold code.
   */
  async warmUp(rounds = 3): Promise<void> {
    // Small problems are solved in this thread (POOL_MIN_WORK): ready that path too.
    this.inThread.warmUp(this.cfg.solverWarmUpRounds);
    const problem = warmUpProblem();
    const timeoutMs = 60_000;
    for (let r = 0; r < rounds; r++) {
      await Promise.all(
        Array.from({ length: this.slots }, () => {
          const wire = encodeProblem(problem);
          return this.pool.run({ problem: wire, timeoutMs, deadlineEpochMs: epochNow() + timeoutMs }, { transferList: [wire.numbers.buffer] });
        }),
      );
    }
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
    if (this.waiting.length >= this.cfg.solveQueueMax) {
      this.counters.overloaded++;
      throw new DspError('DSP_OVERLOADED', `${this.waiting.length} solves already wait for a solver thread; retry with backoff`);
    }
    this.counters.pooled++;
    const t0 = performance.now();
    const fallback = (reason: string): SolveResult => greedyFallback(p, reason, t0);
    let done!: Job['done'];
    const settled = new Promise<Parameters<Job['done']>[0]>((resolve) => (done = resolve));
    const job: Job = { task: { problem: encodeProblem(p), timeoutMs, deadlineEpochMs: epochNow() + timeoutMs }, done, started: false };
    this.waiting.push(job);
    this.pump();
    let lateTimer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      lateTimer = setTimeout(() => resolve('late'), timeoutMs + this.cfg.solveGraceMs);
    });
    const first = await Promise.race([settled, late]);
    clearTimeout(lateTimer);
    if (first === 'late') {
      this.counters.late++;
      if (!job.started) this.waiting.splice(this.waiting.indexOf(job), 1);
      return fallback(`no solver thread answered within ${timeoutMs} ms + ${this.cfg.solveGraceMs} ms grace`);
    }
    if (first.ok) return first.r;
    this.counters.workerFailures++;
    const err = first.err;
    return fallback(`the solver thread failed (${err instanceof Error ? err.message : String(err)}); it was replaced`);
  }

  /** Starts waiting jobs while a thread is free. */
  private pump(): void {
    while (this.running < this.slots && this.waiting.length > 0) {
      const job = this.waiting.shift()!;
      job.started = true;
      this.running++;
      const stuck = new AbortController();
      const stuckTimer = setTimeout(
        () => {
          this.counters.stuckAborts++;
          stuck.abort();
        },
        Math.max(0, job.task.deadlineEpochMs + this.stuckAfterMs - epochNow()),
      ).unref();
      this.pool
        .run(job.task, { signal: stuck.signal, transferList: [job.task.problem.numbers.buffer] })
        .then(
          (r) => job.done({ ok: true, r }),
          (err: unknown) => job.done({ ok: false, err }),
        )
        .finally(() => {
          clearTimeout(stuckTimer);
          this.running--;
          this.pump();
        });
    }
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}

/**
 * The warm-up orders of the in-thread solver: one line (the search for single-line orders is a
 * flow-bounded enumeration of its own) and three (the Lagrangian search, its leaves and splits).
 */
export function warmUpProblems(): Problem[] {
  return [warmUpProblem(1), warmUpProblem(3)];
}

/**
 * A small order no single warehouse can ship (L lines, 6 warehouses holding parts of them, 2
 * couriers with parcel limits): it makes the search branch, split and solve leaves. A single
 * line asks for 6 units, more than any one warehouse holds (at most 5).
 */
function warmUpProblem(L = 3): Problem {
  const S = 6;
  const lines = Array.from({ length: L }, (_, l) => ({ sku: `WARM-${l}`, qty: L === 1 ? 6 : 4, unitWeightKg: 1.5 + l }));
  const pools: Problem['pools'] = [];
  const arcs: Problem['arcs'] = [];
  const options: Problem['options'] = [];
  for (let s = 0; s < S; s++) {
    for (let l = 0; l < L; l++) {
      if ((s + l) % 3 === 0) continue;
      arcs.push({ site: s, line: l, pool: pools.length, unitCost: (s * 5 + l * 3) % 4, transfer: false });
      pools.push({ id: `W${s}/WARM-${l}`, qty: 1 + ((s * 7 + l * 3) % 5) });
    }
    for (let c = 0; c < 2; c++) options.push({ site: s, courier: c, fixedCost: (s * c) % 3, perParcel: 6 + ((s + 2 * c) % 5), perKg: 1 + c, parcelMaxKg: 10 + 5 * c, transfer: false });
  }
  return {
    lines,
    pools,
    sites: Array.from({ length: S }, (_, s) => ({ id: `W${s}`, parcelCap: null })),
    arcs,
    options,
    couriers: [
      { id: 'C0', parcelCap: null, kgCap: null },
      { id: 'C1', parcelCap: 3, kgCap: null },
    ],
    splitPenalty: 5,
    backorderPenalty: 10_000,
    allowSplit: true,
  };
}
