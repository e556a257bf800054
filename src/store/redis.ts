import { randomUUID } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { closeRedis } from '../util/redis-close.js';
import * as S from './redis-scripts.js';
import type {
  CommitResult,
  CounterUse,
  LockRequest,
  ReservationItem,
  ReservationRequest,
  ReservationState,
  ReserveResult,
  StockLevel,
  StockLock,
  Store,
  StoredDecision,
  StoreOptions,
  StoredScan,
} from './types.js';
import { DEFAULT_CLAIM_TIMEOUT_MS, ReservationExistsError, ReservationLostError } from './types.js';

/**
 * The Redis implementation of Store (design §4), for several dispatchd instances sharing state on
 * one Redis node or a Redis Cluster. The keys and scripts are described in redis-scripts.ts: one
 * hash-tagged slot per warehouse ({wh:ID}) holds its stock, locks, reservation parts, warehouse
 * capacity counters and expiry queue, so one Lua script checks and changes a warehouse atomically;
 * the counters that name no warehouse (courier capacity) live in the {cap} slot; each order has a
 * record {ord:ID} (claim, state, decision).
 *
 * A reservation: claim the order (CLAIM), reserve part by part in warehouse order (RESERVE_PART),
 * then store the decision, which turns the claim into a held reservation (DECIDE). A part that
 * fails gives back the parts already taken (compensation: ABORT, FINISH_PART, DROP). When Redis
 * fails in the middle of compensation, the attempt is queued and compensated again once Redis
 * answers; an attempt whose process died is taken over by the next retry of its order after the
 * claim timeout; anything left behind expires with the reservation. So no half-reserved plan
 * remains.
 */

/** A Redis client with the scripts defined as commands (EVALSHA, loaded on first use). */
type Scripted = (Redis | Cluster) & Record<string, (...args: (string | number)[]) => Promise<unknown>>;

const SLOT_SCRIPTS = {
  dspViewFree: S.VIEW_FREE,
  dspViewAll: S.VIEW_ALL,
  dspViewCounters: S.VIEW_COUNTERS,
  dspReservePart: S.RESERVE_PART,
  dspFinishPart: S.FINISH_PART,
  dspSetOnHand: S.SET_ONHAND,
  dspAdjustOnHand: S.ADJUST_ONHAND,
  dspCreateLock: S.CREATE_LOCK,
  dspLockOp: S.LOCK_OP,
  dspMoveCounter: S.MOVE_COUNTER,
} as const;
const ORDER_SCRIPTS = {
  dspClaim: S.CLAIM,
  dspReplace: S.REPLACE,
  dspAbort: S.ABORT,
  dspDrop: S.DROP,
  dspDecide: S.DECIDE,
  dspFinish: S.FINISH,
} as const;

interface Part {
  /** The hash tag of the slot: "wh:ID" or "cap". */
  tag: string;
  items: ReservationItem[];
  counters: CounterUse[];
}

const WH_COUNTER = /^cap:wh:([^:]+):/;

/** The eight keys every slot script takes (redis-scripts.ts). */
function slotKeys(tag: string): string[] {
  return ['onhand', 'reserved', 'locked', 'cap', 'parts', 'locks', 'owned', 'exp'].map((k) => `{${tag}}:${k}`);
}

const orderKey = (id: string) => `{ord:${id}}`;
const lockIndexKey = (id: string) => `{lock:${id}}`;

export class RedisStore implements Store {
  readonly kind = 'redis' as const;
  private readonly redis: Scripted;
  private readonly clock: () => number;
  private readonly claimTimeoutMs: number;
  /** Attempts whose compensation Redis interrupted: retried until done (see `repair`). */
  private readonly repairs = new Map<string, { orderId: string; attempt: string; tags: string[] }>();
  private repairTimer: NodeJS.Timeout | undefined;

  constructor(
    client: Redis | Cluster,
    /** Every warehouse id of the network: Redis is asked per warehouse, never scanned. */
    private readonly warehouseIds: readonly string[],
    opts: StoreOptions = {},
  ) {
    this.clock = opts.clock ?? Date.now;
    this.claimTimeoutMs = opts.claimTimeoutMs ?? DEFAULT_CLAIM_TIMEOUT_MS;
    for (const [name, lua] of Object.entries(SLOT_SCRIPTS)) client.defineCommand(name, { numberOfKeys: 8, lua });
    for (const [name, lua] of Object.entries(ORDER_SCRIPTS)) client.defineCommand(name, { numberOfKeys: 1, lua });
    this.redis = client as Scripted;
  }

  private slot(script: keyof typeof SLOT_SCRIPTS, tag: string, ...args: (string | number)[]): Promise<unknown> {
    return this.redis[script]!(...slotKeys(tag), this.clock(), ...args);
  }

  private order(script: keyof typeof ORDER_SCRIPTS, id: string, ...args: (string | number)[]): Promise<unknown> {
    return this.redis[script]!(orderKey(id), ...args);
  }

  private counterTag(key: string): string {
    const m = WH_COUNTER.exec(key);
    return m ? `wh:${m[1]}` : 'cap';
  }

  /** Sets on-hand counts where none are set yet (start-up seeding that never overwrites live state). */
  async seed(rows: { warehouseId: string; sku: string; onHand: number }[]): Promise<void> {
    await Promise.all(rows.map((r) => this.redis.hsetnx(`{wh:${r.warehouseId}}:onhand`, r.sku, r.onHand)));
  }

  async stock(filter: { warehouseId?: string; sku?: string } = {}): Promise<StockLevel[]> {
    const ids = this.warehouseIds.filter((w) => filter.warehouseId === undefined || w === filter.warehouseId);
    const res = (await Promise.all(ids.map((w) => this.slot('dspViewAll', `wh:${w}`)))) as (string | number)[][];
    const out: StockLevel[] = [];
    ids.forEach((warehouseId, i) => {
      const flat = res[i]!;
      for (let k = 0; k < flat.length; k += 4) {
        const sku = String(flat[k]);
        if (filter.sku !== undefined && filter.sku !== sku) continue;
        const onHand = Number(flat[k + 1]);
        const reserved = Number(flat[k + 2]);
        const locked = Number(flat[k + 3]);
        out.push({ warehouseId, sku, onHand, free: onHand - reserved - locked, reserved, locked });
      }
    });
    return out.sort((a, b) => (a.warehouseId === b.warehouseId ? (a.sku < b.sku ? -1 : 1) : a.warehouseId < b.warehouseId ? -1 : 1));
  }

  async freeStock(skus: readonly string[], customerId?: string): Promise<Map<string, Map<string, number>>> {
    const out = new Map<string, Map<string, number>>();
    if (skus.length === 0) return out;
    const res = (await Promise.all(this.warehouseIds.map((w) => this.slot('dspViewFree', `wh:${w}`, customerId ?? '', ...skus)))) as number[][];
    this.warehouseIds.forEach((w, i) => {
      const m = new Map<string, number>();
      skus.forEach((sku, k) => {
        const units = Number(res[i]![k]);
        if (units > 0) m.set(sku, units);
      });
      if (m.size > 0) out.set(w, m);
    });
    return out;
  }

  async setOnHand(items: { warehouseId: string; sku: string; onHand: number }[]) {
    const byWh = new Map<string, typeof items>();
    for (const i of items) (byWh.get(i.warehouseId) ?? byWh.set(i.warehouseId, []).get(i.warehouseId)!).push(i);
    type Rejected = { warehouseId: string; sku: string; onHand: number; reserved: number; locked: number };
    // Check everything first, so that the usual refusal changes nothing.
    const current = await this.stock();
    const cellOf = new Map(current.map((s) => [`${s.warehouseId}/${s.sku}`, s]));
    const rejected: Rejected[] = items
      .map((i) => {
        const c = cellOf.get(`${i.warehouseId}/${i.sku}`);
        return { ...i, reserved: c?.reserved ?? 0, locked: c?.locked ?? 0 };
      })
      .filter((i) => i.onHand < i.reserved + i.locked);
    if (rejected.length > 0) return { ok: false as const, rejected };
    // Each warehouse is written atomically; when one refuses (a reservation landed since the
    // check), the warehouses already written are set back by the same difference, so the count
    // is applied to all items or none.
    const applied: { warehouseId: string; sku: string; delta: number }[] = [];
    for (const [w, rows] of byWh) {
      const [ok, flat] = (await this.slot('dspSetOnHand', `wh:${w}`, ...rows.flatMap((r) => [r.sku, r.onHand]))) as [number, (string | number)[]];
      if (ok === 1) {
        for (let k = 0; k < flat.length; k += 2) {
          const sku = String(flat[k]);
          applied.push({ warehouseId: w, sku, delta: rows.find((r) => r.sku === sku)!.onHand - Number(flat[k + 1]) });
        }
        continue;
      }
      for (let k = 0; k < flat.length; k += 4) {
        rejected.push({ warehouseId: w, sku: String(flat[k]), onHand: Number(flat[k + 1]), reserved: Number(flat[k + 2]), locked: Number(flat[k + 3]) });
      }
      for (const a of applied) if (a.delta !== 0) await this.adjustOnHand(a.warehouseId, a.sku, -a.delta);
      break;
    }
    return rejected.length > 0 ? { ok: false as const, rejected } : { ok: true as const };
  }

  async adjustOnHand(warehouseId: string, sku: string, delta: number) {
    const r = (await this.slot('dspAdjustOnHand', `wh:${warehouseId}`, sku, delta)) as number[];
    return r[0] === 1
      ? { ok: true as const, onHand: Number(r[1]) }
      : { ok: false as const, onHand: Number(r[1]), reserved: Number(r[2]), locked: Number(r[3]) };
  }

  async markEvent(eventId: string): Promise<boolean> {
    return (await this.redis.set(`{evt:${eventId}}`, '1', 'NX')) === 'OK';
  }

  async counters(keys: readonly string[]): Promise<Map<string, number>> {
    const byTag = new Map<string, string[]>();
    for (const k of keys) {
      const t = this.counterTag(k);
      (byTag.get(t) ?? byTag.set(t, []).get(t)!).push(k);
    }
    const out = new Map<string, number>();
    await Promise.all(
      [...byTag].map(async ([tag, ks]) => {
        const vals = (await this.slot('dspViewCounters', tag, ...ks)) as number[];
        ks.forEach((k, i) => out.set(k, Number(vals[i])));
      }),
    );
    return new Map(keys.map((k) => [k, out.get(k) ?? 0]));
  }

  private partsOf(req: ReservationRequest): Part[] {
    const parts = new Map<string, Part>();
    const part = (tag: string) => parts.get(tag) ?? parts.set(tag, { tag, items: [], counters: [] }).get(tag)!;
    for (const i of req.items) {
      const p = part(`wh:${i.warehouseId}`);
      const same = p.items.find((x) => x.sku === i.sku);
      if (same) same.qty += i.qty;
      else p.items.push({ ...i });
    }
    for (const c of req.counters) part(this.counterTag(c.key)).counters.push(c);
    return [...parts.values()].sort((a, b) => (a.tag < b.tag ? -1 : 1));
  }

  async reserve(req: ReservationRequest): Promise<ReserveResult> {
    const parts = this.partsOf(req);
    const tags = JSON.stringify(parts.map((p) => p.tag));
    const now = this.clock();
    const attempt = `${now}:${randomUUID()}`;
    const expiresAt = now + req.ttlMs;
    try {
      // Claim the order first: a second attempt under the same id must never take stock.
      const claim = (await this.order('dspClaim', req.id, now, attempt, expiresAt, tags, this.claimTimeoutMs)) as string[];
      if (claim[0] === 'stale') {
        // An abandoned attempt: give back what it took, then take the order over.
        const [, oldAttempt, oldTags] = claim as [string, string, string];
        await this.releaseParts(req.id, oldAttempt, JSON.parse(oldTags) as string[]);
        if ((await this.order('dspReplace', req.id, now, attempt, expiresAt, tags, oldAttempt)) !== 1) throw new ReservationExistsError(req.id);
      } else if (claim[0] !== 'ok') {
        throw new ReservationExistsError(req.id);
      }
    } catch (err) {
      // Redis failed around the claim (it may have been written): forget it once Redis answers.
      if (!(err instanceof ReservationExistsError)) this.queueCompensation(req.id, attempt, []);
      throw err;
    }

    const taken: Part[] = [];
    const shortages: Extract<ReserveResult, { ok: false }>['shortages'] = [];
    const counters: Extract<ReserveResult, { ok: false }>['counters'] = [];
    let lost = false;
    try {
      for (const p of parts) {
        const argv = [
          req.id,
          attempt,
          expiresAt,
          req.customerId ?? '',
          p.items.length,
          ...p.items.flatMap((i) => [i.sku, i.qty]),
          p.counters.length,
          ...p.counters.flatMap((c) => [c.key, c.amount, c.limit]),
        ];
        const fails = (await this.slot('dspReservePart', p.tag, ...argv)) as (string | number)[];
        if (fails.length === 0) {
          taken.push(p);
          continue;
        }
        if (fails[0] === 'x') {
          lost = true;
          break;
        }
        const warehouseId = p.tag.slice(3);
        for (let k = 0; k < fails.length; ) {
          if (fails[k] === 's') {
            shortages.push({ warehouseId, sku: String(fails[k + 1]), requested: Number(fails[k + 2]), free: Number(fails[k + 3]) });
            k += 4;
          } else {
            counters.push({ key: String(fails[k + 1]), requested: Number(fails[k + 2]), used: Number(fails[k + 3]), limit: Number(fails[k + 4]) });
            k += 5;
          }
        }
        break;
      }
    } catch (err) {
      // Redis failed mid-plan: what was taken is given back now or, if Redis is away, once it returns.
      this.queueCompensation(req.id, attempt, parts.map((p) => p.tag));
      throw err;
    }
    if (lost) {
      // Taken over by a later attempt: the claim is no longer ours, only the parts taken are.
      await this.releaseParts(req.id, attempt, taken.map((p) => p.tag));
      throw new ReservationLostError(req.id);
    }
    if (shortages.length > 0 || counters.length > 0) {
      await this.compensate(req.id, attempt, taken.map((p) => p.tag));
      return { ok: false, shortages, counters };
    }
    return { ok: true, attempt };
  }

  private async releaseParts(orderId: string, attempt: string, tags: readonly string[]): Promise<void> {
    await Promise.all(tags.map((t) => this.slot('dspFinishPart', t, orderId, attempt, 'release')));
  }

  /**
   * Gives back an attempt's parts and forgets its claim, unless the claim became a held
   * reservation (its decision was stored) or is no longer this attempt's. Queued for later when
   * Redis fails meanwhile.
   */
  private async compensate(orderId: string, attempt: string, tags: readonly string[]): Promise<void> {
    try {
      if ((await this.order('dspAbort', orderId, attempt)) === 1) {
        await this.releaseParts(orderId, attempt, tags);
        await this.order('dspDrop', orderId, attempt);
      }
      this.repairs.delete(attempt);
    } catch (err) {
      this.queueRepair(orderId, attempt, tags);
      throw err;
    }
  }

  /** Compensates now if Redis answers, else later; never throws. */
  private queueCompensation(orderId: string, attempt: string, tags: readonly string[]): void {
    this.queueRepair(orderId, attempt, tags);
    void this.compensate(orderId, attempt, tags).catch(() => undefined);
  }

  private queueRepair(orderId: string, attempt: string, tags: readonly string[]): void {
    this.repairs.set(attempt, { orderId, attempt, tags: [...tags] });
    this.repairTimer ??= setInterval(() => void this.repair(), 500).unref();
  }

  /** Retries interrupted compensations (this process's own attempts, so no other instance races it). */
  private async repair(): Promise<void> {
    for (const r of [...this.repairs.values()]) {
      try {
        await this.compensate(r.orderId, r.attempt, r.tags);
      } catch {
        return; // Redis still away: next tick
      }
    }
    if (this.repairs.size === 0 && this.repairTimer) {
      clearInterval(this.repairTimer);
      this.repairTimer = undefined;
    }
  }

  /** Attempts still waiting for their compensation (0 when every interrupted plan was given back). */
  get pendingRepairs(): number {
    return this.repairs.size;
  }

  private async finish(id: string, to: 'released' | 'committed'): Promise<0 | 1 | -1> {
    const r = (await this.order('dspFinish', id, to, this.clock(), this.claimTimeoutMs)) as 0 | 1 | -1;
    if (r !== 1) return r;
    const tags = await this.tagsOf(id);
    const attempt = (await this.redis.hget(orderKey(id), 'attempt')) ?? '';
    await Promise.all(tags.map((t) => this.slot('dspFinishPart', t, id, attempt, to === 'released' ? 'release' : 'commit')));
    return 1;
  }

  /** The slots an order's claim covers. */
  private async tagsOf(orderId: string): Promise<string[]> {
    return JSON.parse((await this.redis.hget(orderKey(orderId), 'parts')) ?? '[]') as string[];
  }

  /** Every slot a part can live in (when the claim's own list cannot be read). */
  private allTags(): string[] {
    return [...this.warehouseIds.map((w) => `wh:${w}`), 'cap'];
  }

  async release(id: string): Promise<boolean> {
    return (await this.finish(id, 'released')) === 1;
  }

  async commit(id: string): Promise<CommitResult> {
    const r = await this.finish(id, 'committed');
    return r === 1 ? 'committed' : r === -1 ? 'expired' : 'not-held';
  }

  async getDecision<D>(orderId: string): Promise<StoredDecision<D> | null> {
    const [state, raw, expiresAt, cancelled] = await this.redis.hmget(orderKey(orderId), 'state', 'decision', 'expiresAt', 'cancelled');
    if (!raw) return null;
    const d = JSON.parse(raw) as StoredDecision<D>;
    if (state === 'held' || state === 'committed' || state === 'released') {
      const at = Number(expiresAt);
      d.reservation = state === 'held' && this.clock() >= at ? 'expired' : (state as ReservationState);
      d.expiresAt = at;
    } else {
      d.reservation = null;
      d.expiresAt = null;
    }
    d.cancelled = cancelled === '1';
    return d;
  }

  async putDecisionIfAbsent<D>(d: StoredDecision<D>, attempt?: string): Promise<StoredDecision<D>> {
    let r: string[];
    try {
      r = (await this.order('dspDecide', d.orderId, attempt ?? '', JSON.stringify(d))) as string[];
    } catch (err) {
      // Unknown whether the decision was stored: if it was not, the reservation must not stay.
      if (attempt !== undefined) this.queueCompensation(d.orderId, attempt, await this.tagsOf(d.orderId).catch(() => this.allTags()));
      throw err;
    }
    if (r[0] === 'lost') throw new ReservationLostError(d.orderId);
    // The index of decided orders (its own slot, so not atomic with the decision: KPIs only).
    if (r[0] === 'ok') await this.redis.sadd('{idx}:orders', d.orderId);
    if (r[0] === 'exists' && attempt !== undefined) {
      // Another attempt decided first: give back what this one holds.
      await this.releaseParts(d.orderId, attempt, await this.tagsOf(d.orderId));
    }
    return (await this.getDecision<D>(d.orderId))!;
  }

  async markCancelled(orderId: string): Promise<void> {
    await this.redis.hset(orderKey(orderId), 'cancelled', '1');
  }

  async createLock(req: LockRequest) {
    const lock: StockLock = { ...req, remaining: req.qty, state: 'active', createdAt: this.clock() };
    if ((await this.redis.set(lockIndexKey(req.id), req.warehouseId, 'NX')) !== 'OK') throw new Error(`lock ${req.id} exists`);
    const r = (await this.slot('dspCreateLock', `wh:${req.warehouseId}`, JSON.stringify(lock))) as number[];
    if (r[0] !== 1) {
      await this.redis.del(lockIndexKey(req.id));
      return { ok: false as const, free: Number(r[1]) };
    }
    return { ok: true as const, lock };
  }

  private async lockOp(id: string, release: boolean): Promise<StockLock | null> {
    const wh = await this.redis.get(lockIndexKey(id));
    if (!wh) return null;
    const raw = (await this.slot('dspLockOp', `wh:${wh}`, id, release ? '1' : '0')) as string | null;
    return raw ? (JSON.parse(raw) as StockLock) : null;
  }

  getLock(id: string): Promise<StockLock | null> {
    return this.lockOp(id, false);
  }

  releaseLock(id: string): Promise<StockLock | null> {
    return this.lockOp(id, true);
  }

  async addScans(orderId: string, scans: { key: string; scan: StoredScan }[]): Promise<number> {
    const res = await Promise.all(scans.map(({ key, scan }) => this.redis.hsetnx(`${orderKey(orderId)}:scans`, key, JSON.stringify(scan))));
    return res.filter((r) => r === 1).length;
  }

  async scans(orderId: string): Promise<StoredScan[]> {
    return Object.values(await this.redis.hgetall(`${orderKey(orderId)}:scans`)).map((raw) => JSON.parse(raw) as StoredScan);
  }

  async orderIds(): Promise<string[]> {
    return this.redis.smembers('{idx}:orders');
  }

  async kvGet<T>(key: string): Promise<T | null> {
    const v = await this.redis.get(key);
    return v === null ? null : (JSON.parse(v) as T);
  }

  async kvSet(key: string, value: unknown): Promise<void> {
    await this.redis.set(key, JSON.stringify(value));
  }

  kvIncr(key: string): Promise<number> {
    return this.redis.incr(key);
  }

  async listPush(key: string, value: unknown): Promise<void> {
    await this.redis.rpush(key, JSON.stringify(value));
  }

  async listAll<T>(key: string): Promise<T[]> {
    return (await this.redis.lrange(key, 0, -1)).map((v) => JSON.parse(v) as T);
  }

  async moveCounter(orderId: string, from: { key: string; amount: number }, to: { key: string; amount: number; limit: number }): Promise<boolean> {
    const tag = this.counterTag(from.key);
    if (this.counterTag(to.key) !== tag) throw new Error(`moveCounter: ${from.key} and ${to.key} live in different slots`);
    return (await this.slot('dspMoveCounter', tag, orderId, from.key, from.amount, to.key, to.amount, to.limit)) === 1;
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }

  async close(): Promise<void> {
    if (this.repairTimer) clearInterval(this.repairTimer);
    // When Redis is gone the socket is dropped instead of waiting on it.
    await closeRedis(this.redis);
  }
}
