import { randomUUID } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import type { Config } from '../config.js';
import { DspError } from '../errors.js';
import type { Policy } from './engine.js';
import type { ReplayResult } from './report.js';
import type { Scenario } from './scenario.js';

export type JobStatus = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

export interface ReplayJob {
  id: string;
  scenario: string;
  policies: Policy[];
  status: JobStatus;
  /** 0..1 over all policies. */
  progress: number;
  /** The policy being replayed now. */
  current: string | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  error: string | null;
  result: ReplayResult | null;
}

/**
 * Replay jobs of this instance: one runs at a time, in its own worker thread (a replay decides
 * thousands of orders and must not stall the allocate path) whose heap is capped at
 * REPLAY_MEMORY_MB (a job that needs more fails with that reason instead of taking the machine);
 * a bounded queue behind it answers DSP_OVERLOADED when full. A job can be cancelled, queued or
 * running. Jobs and their results live in this process's memory, and are forgotten
 * REPLAY_RETENTION_MINUTES after they end, or sooner when more than REPLAY_MAX_KEPT have ended.
 */
export class ReplayJobs {
  private readonly jobs = new Map<string, ReplayJob>();
  private readonly queue: { job: ReplayJob; scenario: Scenario }[] = [];
  private running: Worker | undefined;
  /** Why new jobs are refused (set by failAll at shutdown); null while accepting. */
  private refusing: string | null = null;

  constructor(
    /** The service's configuration: a job replays with it (DATA_DIR, solver, costs), not with the worker's environment. */
    private readonly config: Config,
    private readonly clock: () => number,
    private readonly maxQueued = 8,
  ) {}

  submit(scenario: Scenario, policies: Policy[]): ReplayJob {
    if (this.refusing !== null) throw new DspError('DSP_SHUTTING_DOWN', this.refusing);
    this.evict();
    if (this.queue.length >= this.maxQueued) throw new DspError('DSP_OVERLOADED', `${this.queue.length} replays already wait; retry later`);
    const job: ReplayJob = {
      id: `RPL-${randomUUID()}`,
      scenario: scenario.name,
      policies,
      status: 'queued',
      progress: 0,
      current: null,
      createdAt: this.clock(),
      startedAt: null,
      finishedAt: null,
      error: null,
      result: null,
    };
    this.jobs.set(job.id, job);
    this.queue.push({ job, scenario });
    this.next();
    return job;
  }

  get(id: string): ReplayJob | undefined {
    this.evict();
    return this.jobs.get(id);
  }

  list(): ReplayJob[] {
    this.evict();
    return [...this.jobs.values()].sort((a, b) => b.createdAt - a.createdAt);
  }

  /**
   * Cancels a queued or running job (a running one's worker is stopped). Returns the job, or
   * undefined when there is none; throws DSP_REPLAY_ENDED when it has already ended.
   */
  async cancel(id: string): Promise<ReplayJob | undefined> {
    const job = this.get(id);
    if (!job) return undefined;
    if (job.status !== 'queued' && job.status !== 'running') {
      throw new DspError('DSP_REPLAY_ENDED', `replay ${id} has already ended (${job.status})`, [{ id, status: job.status }]);
    }
    if (job.status === 'queued') {
      const i = this.queue.findIndex((q) => q.job === job);
      if (i >= 0) this.queue.splice(i, 1);
      this.end(job, 'cancelled', 'cancelled by request');
      return job;
    }
    const worker = this.running;
    this.end(job, 'cancelled', 'cancelled by request');
    this.running = undefined;
    await worker?.terminate();
    this.next();
    return job;
  }

  /** Marks a job ended (once). */
  private end(job: ReplayJob, status: Exclude<JobStatus, 'queued' | 'running'>, error: string | null): void {
    job.status = status;
    job.error = error;
    job.finishedAt = this.clock();
    if (status === 'done') job.progress = 1;
    job.current = null;
  }

  /** Forgets ended jobs past the retention, and the oldest beyond REPLAY_MAX_KEPT. */
  private evict(): void {
    const now = this.clock();
    const ended = [...this.jobs.values()].filter((j) => j.finishedAt !== null).sort((a, b) => a.finishedAt! - b.finishedAt!);
    const over = ended.length - this.config.replayMaxKept;
    ended.forEach((j, i) => {
      if (i < over || now - j.finishedAt! > this.config.replayRetentionMinutes * 60_000) this.jobs.delete(j.id);
    });
  }

  /** Resolves when no job is queued or running (tests). */
  async idle(): Promise<void> {
    while (this.running || this.queue.length > 0) await new Promise((r) => setTimeout(r, 50));
  }

  private next(): void {
    if (this.running) return;
    const item = this.queue.shift();
    if (!item) return;
    const { job, scenario } = item;
    job.status = 'running';
    job.startedAt = this.clock();
    const fromSources = import.meta.url.endsWith('.ts');
    const worker = new Worker(new URL(fromSources ? './job-worker-dev.mjs' : './job-worker.js', import.meta.url), { workerData: { scenario, policies: job.policies, config: this.config }, resourceLimits: { maxOldGenerationSizeMb: this.config.replayMemoryMb } });
    this.running = worker;
    const finish = (status: 'done' | 'failed', error: string | null) => {
      if (job.status !== 'running') return;
      this.end(job, status, error);
      this.running = undefined;
      void worker.terminate();
      this.next();
    };
    worker.on('message', (m: { type: 'progress'; policy: string; done: number; total: number } | { type: 'done'; result: ReplayResult } | { type: 'error'; message: string }) => {
      if (m.type === 'progress') {
        // The policies one after the other, then the hindsight bound, then (when asked) the
        // clairvoyant model: each an equal share.
        const stages = job.policies.length + 1 + (scenario.clairvoyant ? 1 : 0);
        const k = m.policy === 'hindsight' ? job.policies.length : m.policy === 'clairvoyant' ? job.policies.length + 1 : job.policies.indexOf(m.policy as Policy);
        job.current = m.policy;
        if (k >= 0) job.progress = Math.min(0.999, (k + m.done / Math.max(1, m.total)) / stages);
      } else if (m.type === 'done') {
        job.result = m.result;
        finish('done', null);
      } else finish('failed', m.message);
    });
    worker.on('error', (err) =>
      finish(
        'failed',
        (err as { code?: string }).code === 'ERR_WORKER_OUT_OF_MEMORY' ? `the replay needed more than its ${this.config.replayMemoryMb} MiB memory budget (REPLAY_MEMORY_MB)` : err.message,
      ),
    );
    worker.on('exit', (code) => finish('failed', `replay worker exited with code ${code}`));
  }

  /**
   * Shutdown: every queued or running job is marked failed with `reason` (GET /v1/scenarios/{id}
   * shows it while the instance drains), the running worker is stopped, new jobs are refused.
   * Jobs live in this process's memory, so a replay cannot be resumed elsewhere: it is started again.
   */
  async failAll(reason: string): Promise<number> {
    this.refusing = reason;
    let n = 0;
    for (const job of this.jobs.values()) {
      if (job.status !== 'queued' && job.status !== 'running') continue;
      job.status = 'failed';
      job.error = reason;
      job.current = null;
      job.finishedAt = this.clock();
      n++;
    }
    this.queue.length = 0;
    const w = this.running;
    this.running = undefined;
    await w?.terminate();
    return n;
  }

  async close(): Promise<void> {
    this.queue.length = 0;
    await this.running?.terminate();
  }
}
