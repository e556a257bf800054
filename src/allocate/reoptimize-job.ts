import { randomUUID } from 'node:crypto';
import { Cron } from 'croner';
import type { ReoptimizeRound, Reoptimizer } from './reoptimize.js';
import type { Config } from '../config.js';
import type { Store } from '../store/types.js';

/** The lease's name in the store (storeKeys.lease). */
export const REOPTIMIZE_LEASE = 'reoptimize';

/**
 * Runs the re-optimisation job every REOPTIMIZE_INTERVAL_MS on an embedded schedule (croner, with
 * overrun protection: a round still running when the next is due makes that one skip), off the
 * request path. When several instances share Redis, one at a time runs it: a round starts only
 * while this instance holds the lease in the store (SET NX PX with its own token), taken for one
 * interval plus REOPTIMIZE_LEASE_MS and renewed at every round and while a round runs, so the
 * holder keeps it as long as it lives, and another instance takes over at most that long after
 * it died, or at its next tick after it stopped (the lease is released on stop). On the embedded
 * store the lease is local and always this instance's.
 */
export class ReoptimizeJob {
  private cron: Cron | undefined;
  private running: Promise<ReoptimizeRound | null> | undefined;
  /** This instance's lease token. */
  readonly token = randomUUID();
  /** The last round this instance ran, and the last error of a round (for logs and tests). */
  lastRound: ReoptimizeRound | undefined;
  lastError: unknown;

  constructor(
    private readonly store: Store,
    private readonly reoptimizer: Pick<Reoptimizer, 'runOnce'>,
    private readonly cfg: Pick<Config, 'reoptimizeIntervalMs' | 'reoptimizeLeaseMs'>,
  ) {}

  /** Starts the schedule (nothing when REOPTIMIZE_INTERVAL_MS is 0). */
  start(): void {
    if (this.cfg.reoptimizeIntervalMs === 0 || this.cron !== undefined) return;
    // Every second is a candidate tick; croner's minimum interval (whole seconds) spaces them, and
    // the first round comes one interval after start (not while the service warms up).
    const seconds = Math.round(this.cfg.reoptimizeIntervalMs / 1_000);
    this.cron = new Cron('* * * * * *', { interval: seconds, startAt: new Date(Date.now() + seconds * 1_000), protect: true, unref: true, catch: true }, async () => void (await this.tick()));
  }

  /**
   * One tick: runs a round when this instance holds (or takes) the lease; null when another
   * instance holds it or a round of this instance is still running. A failed round is kept in
   * lastError (the next tick tries again); nothing it did is half done (each move is atomic).
   */
  async tick(): Promise<ReoptimizeRound | null> {
    if (this.running !== undefined) return null;
    this.running = this.round();
    try {
      return await this.running;
    } finally {
      this.running = undefined;
    }
  }

  private async round(): Promise<ReoptimizeRound | null> {
    const ttl = this.cfg.reoptimizeIntervalMs + this.cfg.reoptimizeLeaseMs;
    try {
      if (!(await this.store.leaseAcquire(REOPTIMIZE_LEASE, this.token, ttl))) return null;
    } catch (err) {
      this.lastError = err;
      return null;
    }
    // A long round keeps its lease: renewed a few times per lease time while it runs.
    const renew = setInterval(() => void this.store.leaseAcquire(REOPTIMIZE_LEASE, this.token, ttl).catch(() => undefined), Math.max(250, this.cfg.reoptimizeLeaseMs / 3));
    renew.unref();
    try {
      this.lastRound = await this.reoptimizer.runOnce();
      return this.lastRound;
    } catch (err) {
      this.lastError = err;
      return null;
    } finally {
      clearInterval(renew);
    }
  }

  /** Stops the schedule, waits for a round in progress and gives the lease up. */
  async stop(): Promise<void> {
    this.cron?.stop();
    this.cron = undefined;
    await this.running?.catch(() => undefined);
    await this.store.leaseRelease(REOPTIMIZE_LEASE, this.token).catch(() => undefined);
  }
}
