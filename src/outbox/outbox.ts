import { createHash } from 'node:crypto';
import type { Config } from '../config.js';
import type { ActionSink, OutboundAction } from '../domain/actions.js';
import { toIsoWithOffset } from '../domain/time.js';
import { ACTION_CODE, parseWebhooks, receives, type WebhookTarget } from '../domain/webhooks.js';
import type { OutboxEntry, OutboxFilter, OutboxOutcome, OutboxState, Store } from '../store/types.js';
import { HEADERS, idempotencyHeader, post } from './deliver.js';

/**
 * The action outbox (issue 20, item 4): the ActionSink the rules engine hands its actions to, and
 * the worker that delivers them to the configured webhooks at least once.
 *
 * - Enqueue writes one entry per action and receiving target to the store and returns once it is
 *   written: the entry id is derived from (target, orderId, code, discriminator), and the store
 *   adds an id only once, so an ERP retry of an order, or the same action enqueued twice, adds
 *   nothing and delivers nothing twice.
 * - The worker claims due entries from the store with a lease (OUTBOX_LEASE_MS), POSTs each, and
 *   records the attempt: delivered; or pending again after a backoff that doubles per failure,
 *   with jitter; or dead after OUTBOX_MAX_ATTEMPTS, with the last error. An instance that dies
 *   while delivering leaves its leases to expire, and any instance then retries those entries;
 *   several instances share one outbox safely, because a lease is taken atomically in the store.
 * - Delivery is at least once, not exactly once: a receiver that processed a delivery but whose
 *   answer was lost (or came after OUTBOX_TIMEOUT_MS) gets it again, with the same Idempotency-Key.
 */

/** What the worker reports per attempt (metrics listen). */
export interface OutboxEvent {
  kind: 'delivered' | 'failed' | 'dead';
  target: string;
  entry: OutboxEntry;
}

export type OutboxOptions = Pick<
  Config,
  | 'webhooks'
  | 'outboxBackoffBaseMs'
  | 'outboxBackoffMaxMs'
  | 'outboxMaxAttempts'
  | 'outboxTimeoutMs'
  | 'outboxLeaseMs'
  | 'outboxPollMs'
  | 'outboxBatch'
  | 'outboxRetentionDays'
  | 'timezoneOffsetMinutes'
>;

/** Where the worker reports what went wrong outside any request (the app's logger when it runs). */
export interface OutboxLog {
  warn(obj: object, msg: string): void;
}

/** How often an instance forgets old delivered entries, ms, and how many at most each time. */
const PURGE_EVERY_MS = 60_000;
const PURGE_BATCH = 1_000;

/** Longest orderId or discriminator accepted, characters (they become part of store keys and a header). */
const ID_MAX = 256;

/** The deterministic id of an action's delivery to one target. */
export function outboxId(target: string, a: Pick<OutboundAction, 'orderId' | 'code' | 'discriminator'>): string {
  return `OBX-${createHash('sha256').update(`${target}\0${a.orderId}\0${a.code}\0${a.discriminator}`).digest('hex').slice(0, 32)}`;
}

/** The key receivers dedupe by: the same for one action on every attempt, replay and target. */
export function idempotencyKey(a: Pick<OutboundAction, 'orderId' | 'code' | 'discriminator'>): string {
  return `${a.orderId}:${a.code}:${a.discriminator}`;
}

/**
 * Wait before the next attempt after `failures` failed ones (>= 1), ms: base x 2^(failures-1),
 * capped, then jittered to between half and all of it, so that the retries of many entries that
 * failed together (a receiver down) spread out instead of arriving together.
 */
export function backoffMs(failures: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const full = Math.min(maxMs, baseMs * 2 ** Math.min(failures - 1, 40));
  return Math.round(full / 2 + random() * (full / 2));
}

export class Outbox implements ActionSink {
  readonly targets: ReadonlyMap<string, WebhookTarget>;
  /** Called after each attempt this instance makes. */
  readonly listeners: ((e: OutboxEvent) => void)[] = [];
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  /** The pass in progress (claim, deliver, settle), awaited by stop(). */
  private pass: Promise<void> | undefined;
  /** Work arrived during a pass: run the next one at once. */
  private kicked = false;
  /** When this instance last forgot old delivered entries (epoch ms of the clock). */
  private lastPurgeAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly store: Store,
    private readonly opts: OutboxOptions,
    private readonly clock: () => number = Date.now,
    private log: OutboxLog = { warn: () => undefined },
  ) {
    this.targets = new Map(parseWebhooks(opts.webhooks).map((t) => [t.name, t]));
  }

  /**
   * Records the actions for every target that receives their code; resolves once the store has
   * them (the store's errors, e.g. StoreUnavailableError, reject it). An action no target
   * receives is not recorded. Throws a TypeError for an action that breaks the contract
   * (src/domain/actions.ts), before anything is written.
   */
  async enqueue(actions: readonly OutboundAction[]): Promise<void> {
    if (this.targets.size === 0 || actions.length === 0) return;
    const now = this.clock();
    const entries: OutboxEntry[] = [];
    for (const a of actions) {
      const action = checked(a);
      for (const t of this.targets.values()) {
        if (!receives(t, a.code)) continue;
        entries.push({
          id: outboxId(t.name, a),
          target: t.name,
          orderId: a.orderId,
          code: a.code,
          discriminator: a.discriminator,
          action,
          state: 'pending',
          attempts: 0,
          replays: 0,
          createdAt: now,
          nextAttemptAt: now,
          lease: null,
          leaseUntil: null,
          lastAttemptAt: null,
          lastError: null,
          deliveredAt: null,
        });
      }
    }
    if (entries.length === 0) return;
    const added = await this.store.outboxAdd(entries);
    if (added.some(Boolean)) this.wake(0);
  }

  /** Starts delivering (the HTTP service calls it once it listens). Without targets there is nothing to deliver. */
  start(log?: OutboxLog): void {
    if (log) this.log = log;
    if (this.running || this.targets.size === 0) return;
    this.running = true;
    this.wake(0);
  }

  /**
   * Stops the worker: no new pass starts, and the pass in progress finishes (its deliveries end
   * within OUTBOX_TIMEOUT_MS and are recorded), so nothing this instance claimed waits for its
   * lease to expire. Safe to call twice.
   */
  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.pass;
  }

  get(id: string): Promise<OutboxEntry | null> {
    return this.store.outboxGet(id);
  }

  list(filter: OutboxFilter, cursor: string | null, limit: number): Promise<{ items: OutboxEntry[]; next: string | null }> {
    return this.store.outboxList(filter, cursor, limit);
  }

  /** Sends a delivered or dead entry again (see Store.outboxReplay); this instance tries it at once. */
  async replay(id: string): Promise<{ entry: OutboxEntry; replayed: boolean } | null> {
    const r = await this.store.outboxReplay(id);
    if (r?.replayed) this.wake(0);
    return r;
  }

  counts(): Promise<Record<OutboxState, number>> {
    return this.store.outboxCounts();
  }

  /** What the receiver gets as the body (docs/outbox.md): the same bytes on every attempt of an entry. */
  body(e: OutboxEntry): string {
    const a = JSON.parse(e.action) as OutboundAction;
    return JSON.stringify({
      delivery: e.id,
      target: e.target,
      idempotencyKey: idempotencyKey(a),
      orderId: a.orderId,
      code: a.code,
      discriminator: a.discriminator,
      params: a.params,
      source: a.source,
      decidedAt: toIsoWithOffset(a.decidedAtMs, this.opts.timezoneOffsetMinutes),
    });
  }

  /** Runs a pass after `delayMs`, unless one runs or is already scheduled sooner. */
  private wake(delayMs: number): void {
    if (!this.running) return;
    if (this.pass) {
      if (delayMs === 0) this.kicked = true;
      return;
    }
    if (this.timer && delayMs > 0) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.pass = this.runPass()
        .catch((err: unknown) => {
          // A fault of this process (not of a receiver or the store, which runPass records): keep the worker alive.
          this.log.warn({ err }, 'outbox: a delivery pass failed');
          return false;
        })
        .then((full) => {
          this.pass = undefined;
          const again = full || this.kicked;
          this.kicked = false;
          this.wake(again ? 0 : this.opts.outboxPollMs);
        });
    }, delayMs).unref();
  }

  /** One pass: claim a batch, deliver it, record each attempt. True when the batch was full (more may be due). */
  private async runPass(): Promise<boolean> {
    await this.purge();
    let batch: OutboxEntry[];
    try {
      batch = await this.store.outboxClaim(this.opts.outboxBatch, this.opts.outboxLeaseMs);
    } catch (err) {
      this.log.warn({ err }, 'outbox: cannot claim deliveries (store unavailable?); retrying at the next poll');
      return false;
    }
    await Promise.all(
      batch.map((e) =>
        this.deliver(e).catch((err: unknown) => {
          // Left claimed: its lease expires and it is tried again.
          this.log.warn({ err, delivery: e.id }, 'outbox: a delivery failed in this process');
        }),
      ),
    );
    return batch.length === this.opts.outboxBatch;
  }

  /** Forgets delivered entries past OUTBOX_RETENTION_DAYS, at most once a minute per instance. */
  private async purge(): Promise<void> {
    const now = this.clock();
    if (this.opts.outboxRetentionDays === 0 || now - this.lastPurgeAt < PURGE_EVERY_MS) return;
    this.lastPurgeAt = now;
    try {
      await this.store.outboxPurge(now - this.opts.outboxRetentionDays * 86_400_000, PURGE_BATCH);
    } catch (err) {
      this.log.warn({ err }, 'outbox: cannot forget old delivered entries; retrying in a minute');
    }
  }

  private async deliver(e: OutboxEntry): Promise<void> {
    const target = this.targets.get(e.target);
    const attempt = e.attempts + 1;
    const error = target
      ? await post(
          target,
          this.body(e),
          { [HEADERS.idempotencyKey]: idempotencyHeader(idempotencyKey(e)), [HEADERS.delivery]: e.id, [HEADERS.attempt]: String(attempt) },
          this.opts.outboxTimeoutMs,
        )
      : `webhook target ${e.target} is no longer configured (WEBHOOKS); configure it and replay the entry`;
    const now = this.clock();
    const outcome: OutboxOutcome =
      error === null
        ? { state: 'delivered', nextAttemptAt: now, error: null }
        : !target || attempt >= this.opts.outboxMaxAttempts
          ? { state: 'dead', nextAttemptAt: now, error }
          : { state: 'pending', nextAttemptAt: now + backoffMs(attempt, this.opts.outboxBackoffBaseMs, this.opts.outboxBackoffMaxMs), error };
    let settled: OutboxEntry | null;
    try {
      settled = await this.store.outboxSettle(e.id, e.lease!, outcome);
    } catch (err) {
      // The attempt happened but is not recorded: the lease expires and the entry is tried again (at least once).
      this.log.warn({ err, delivery: e.id }, 'outbox: cannot record a delivery attempt; it will be retried after its lease');
      return;
    }
    if (settled === null) {
      this.log.warn({ delivery: e.id, leaseMs: this.opts.outboxLeaseMs }, 'outbox: the claim expired before the attempt was recorded (another instance retries it)');
      return;
    }
    // Every failed attempt counts as failed; the one that used up the attempts is also dead.
    if (error === null) this.emit({ kind: 'delivered', target: e.target, entry: settled });
    else this.emit({ kind: 'failed', target: e.target, entry: settled });
    if (settled.state === 'dead') this.emit({ kind: 'dead', target: e.target, entry: settled });
  }

  private emit(ev: OutboxEvent): void {
    for (const l of this.listeners) l(ev);
  }
}

/** The action as stored, after checking it against the contract (src/domain/actions.ts). */
function checked(a: OutboundAction): string {
  const bad = (why: string) => new TypeError(`outbox: action ${JSON.stringify({ orderId: a?.orderId, code: a?.code })} ${why}`);
  if (typeof a !== 'object' || a === null) throw bad('is not an object');
  if (typeof a.orderId !== 'string' || a.orderId === '' || a.orderId.length > ID_MAX) throw bad(`needs an orderId of 1-${ID_MAX} characters`);
  if (typeof a.code !== 'string' || !ACTION_CODE.test(a.code)) throw bad(`needs a code matching ${ACTION_CODE.source}`);
  if (typeof a.discriminator !== 'string' || a.discriminator.length > ID_MAX) throw bad(`needs a discriminator of 0-${ID_MAX} characters ('' when one per order)`);
  if (typeof a.params !== 'object' || a.params === null || Array.isArray(a.params)) throw bad('needs params as a JSON object');
  if (typeof a.decidedAtMs !== 'number' || !Number.isFinite(a.decidedAtMs)) throw bad('needs decidedAtMs (epoch ms)');
  if (typeof a.source !== 'object' || a.source === null) throw bad('needs its source (ruleset, version, rule)');
  const { orderId, code, discriminator, params, source, decidedAtMs } = a;
  return JSON.stringify({ orderId, code, discriminator, params, source: { ruleset: source.ruleset, version: source.version, rule: source.rule }, decidedAtMs });
}
