import { randomUUID } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { DspError } from '../errors.js';
import type { Policy } from './engine.js';
import type { ReplayResult } from './report.js';
import type { Scenario } from './scenario.js';

export type JobStatus = 'queued' | 'running' | 'done' | 'failed';

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
 * thousands of orders and must not stall the allocate path); a bounded queue behind it answers
 * DSP_OVERLOADED when full. Jobs and their results live in this process's memory.
 */
export class ReplayJobs {
  private readonly jobs = new Map<string, ReplayJob>();
  private readonly queue: { job: ReplayJob; scenario: Scenario }[] = [];
  private running: Worker | undefined;

  constructor(
    private readonly clock: () => number,
    private readonly maxQueued = 8,
  ) {}

  submit(scenario: Scenario, policies: Policy[]): ReplayJob {
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
    return this.jobs.get(id);
  }

  list(): ReplayJob[] {
    return [...this.jobs.values()].sort((a, b) => b.createdAt - a.createdAt);
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
    const worker = new Worker(new URL(fromSources ? './job-worker-dev.mjs' : './job-worker.js', import.meta.url), { workerData: { scenario, policies: job.policies } });
    this.running = worker;
    const finish = (status: JobStatus, error: string | null) => {
      if (job.status !== 'running') return;
      job.status = status;
      job.error = error;
      job.finishedAt = this.clock();
      if (status === 'done') job.progress = 1;
      job.current = null;
      this.running = undefined;
      void worker.terminate();
      this.next();
    };
    worker.on('message', (m: { type: 'progress'; policy: string; done: number; total: number } | { type: 'done'; result: ReplayResult } | { type: 'error'; message: string }) => {
      if (m.type === 'progress') {
        // The policies one after the other, then the hindsight bound: each an equal share.
        const k = m.policy === 'hindsight' ? job.policies.length : job.policies.indexOf(m.policy as Policy);
        job.current = m.policy;
        job.progress = Math.min(0.999, (k + m.done / Math.max(1, m.total)) / (job.policies.length + 1));
      } else if (m.type === 'done') {
        job.result = m.result;
        finish('done', null);
      } else finish('failed', m.message);
    });
    worker.on('error', (err) => finish('failed', err.message));
    worker.on('exit', (code) => finish('failed', `replay worker exited with code ${code}`));
  }

  async close(): Promise<void> {
    this.queue.length = 0;
    await this.running?.terminate();
  }
}
