import { Worker } from 'node:worker_threads';
import { PriceLpFailure, type PriceLp, type PriceSolution } from '../../solver/prices.js';

/** Solves a price LP: in this thread (replays, tests) or in the job's own thread (the service). */
export type PriceLpSolver = (lp: PriceLp) => Promise<PriceSolution>;

/**
 * A thread of its own for the price LP (0.2-2 s of HiGHS at a Double-11 peak, bench/README.md):
 * in the service's event loop, every request arriving during a refresh would wait for it. Started
 * on the first refresh, kept (HiGHS loaded once), never keeping the process alive. A thread that
 * dies fails the refresh in progress (the last prices stay) and is started again at the next.
 */
export class PriceLpThread {
  private worker: Worker | undefined;
  private seq = 0;
  private readonly waiting = new Map<number, { resolve: (s: PriceSolution) => void; reject: (e: Error) => void }>();

  private start(): Worker {
    const fromSources = import.meta.url.endsWith('.ts');
    const w = new Worker(new URL(fromSources ? './lp-worker-dev.mjs' : './lp-worker.js', import.meta.url));
    w.unref();
    w.on('message', (msg: { id: number; sol?: PriceSolution; error?: string }) => {
      const p = this.waiting.get(msg.id);
      if (!p) return;
      this.waiting.delete(msg.id);
      if (msg.sol) p.resolve(msg.sol);
      else p.reject(new PriceLpFailure(msg.error ?? 'the price-LP thread gave no answer'));
    });
    const fail = (err: Error) => {
      this.worker = undefined;
      for (const p of this.waiting.values()) p.reject(new PriceLpFailure(`the price-LP thread stopped: ${err.message}`));
      this.waiting.clear();
    };
    w.on('error', fail);
    w.on('exit', (code) => fail(new Error(`exit code ${code}`)));
    return w;
  }

  readonly solve: PriceLpSolver = (lp) => {
    this.worker ??= this.start();
    const id = ++this.seq;
    const w = this.worker;
    return new Promise<PriceSolution>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      w.postMessage({ id, lp });
    });
  };

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }
}
