import { randomUUID } from 'node:crypto';
import calculateSlot from 'cluster-key-slot';
import { ReplyError, type Cluster, type Redis } from 'ioredis';
import { closeRedis } from '../util/redis-close.js';
import { utcDayMs } from '../domain/time.js';
import { counterSlot, lotCell, OUTBOX_LIST_SCAN, outboxCursor, parseCell, slotTag, storeKeys, warehouseOfSlot } from './keys.js';
import { compareLevels, compareLots, seedCell, stockLevel } from './lots.js';
import * as S from './redis-scripts.js';
import { GROUP_UNLOCK, OPEN_JOIN, OPEN_LEAVE, OPEN_LIST, OPEN_MOVE, OPEN_PUT } from './open-shipment-scripts.js';
import type {
  OrderState,
  LotFree,
  StockSeedRow,
  JoinResult,
  OpenShipment,
  OpenShipmentMember,
  OpenShipmentMove,
  MoveResult,
  CancelResult,
  CommitResult,
  CounterUse,
  IdempotencyClaim,
  KpiMark,
  KpiShare,
  KpiTotals,
  ListEntry,
  LockRequest,
  OutboxEntry,
  OutboxFilter,
  OutboxOutcome,
  OutboxState,
  RecoveryReport,
  RerouteIntent,
  ReservationItem,
  ReplanRequest,
  ReplanResult,
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
import { DEFAULT_CLAIM_TIMEOUT_MS, dueIntents, KPI_MARKS, movePatch, OUTBOX_STATES, placedWithin, ReservationExistsError, ReservationLostError, StoreUnavailableError } from './types.js';

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
  dspViewPart: S.VIEW_PART,
  dspSwapCounters: S.SWAP_COUNTERS,
} as const;
const ORDER_SCRIPTS = {
  dspClaim: S.CLAIM,
  dspReplace: S.REPLACE,
  dspAbort: S.ABORT,
  dspDrop: S.DROP,
  dspDecide: S.DECIDE,
  dspFinish: S.FINISH,
  dspCommitOrder: S.COMMIT_ORDER,
  dspCancelOrder: S.CANCEL_ORDER,
  dspRecover: S.RECOVER,
} as const;
/** The outbox scripts, each with its number of keys (all in the {obx} slot). */
const OUTBOX_SCRIPTS = {
  dspOutboxAdd: [S.OUTBOX_ADD, 6],
  dspOutboxClaim: [S.OUTBOX_CLAIM, 2],
  dspOutboxSettle: [S.OUTBOX_SETTLE, 5],
  dspOutboxReplay: [S.OUTBOX_REPLAY, 5],
  dspOutboxList: [S.OUTBOX_LIST, 2],
  dspOutboxOld: [S.OUTBOX_OLD, 2],
  dspOutboxForget: [S.OUTBOX_FORGET, 5],
} as const;
const OUTBOX_STATE_KEYS = OUTBOX_STATES.map(storeKeys.outboxByState);

interface Part {
  /** The hash tag of the slot: "wh:ID" or "cap". */
  tag: string;
  items: ReservationItem[];
  counters: CounterUse[];
}

const orderKey = storeKeys.order;
const lockIndexKey = storeKeys.lockIndex;

export class RedisStore implements Store {
  readonly kind = 'redis' as const;
  /** The client with failures translated (commands); `raw` for closing it. */
  private readonly redis: Scripted;
  private readonly raw: Redis | Cluster;
  private readonly clock: () => number;
  private readonly claimTimeoutMs: number;
  private readonly outboxMinReplicas: number;
  private readonly replicaWaitMs: number;
  private readonly orderRetentionMs: number | undefined;
  private readonly eventRetentionMs: number | undefined;
  /** Attempts whose compensation Redis interrupted: retried until done (see `repair`). */
  private readonly repairs = new Map<string, { orderId: string; attempt: string; tags: string[] }>();
  private repairTimer: NodeJS.Timeout | undefined;
  /** Fails every command fast while Redis (on a Cluster: the command's node) does not answer (see Breakers). */
  private readonly breaker: Breakers;
  private recoveryTimer: NodeJS.Timeout | undefined;
  /** The recovery pass running now, if any (one at a time per process). */
  private recovering: Promise<RecoveryReport> | undefined;
  /** What the last completed recovery pass did, for tests and logs. */
  lastRecovery: RecoveryReport | undefined;

  constructor(
    client: Redis | Cluster,
    /** Every warehouse id of the network: Redis is asked per warehouse, never scanned. */
    private readonly warehouseIds: readonly string[],
    opts: StoreOptions = {},
  ) {
    this.clock = opts.clock ?? Date.now;
    this.claimTimeoutMs = opts.claimTimeoutMs ?? DEFAULT_CLAIM_TIMEOUT_MS;
    this.outboxMinReplicas = opts.outboxMinReplicas ?? 0;
    this.replicaWaitMs = opts.replicaWaitMs ?? 1_000;
    this.orderRetentionMs = opts.orderRetentionMs;
    this.eventRetentionMs = opts.eventRetentionMs;
    client.defineCommand('dspClaimOnce', { numberOfKeys: 1, lua: S.CLAIM_ONCE });
    client.defineCommand('dspLeaseAcquire', { numberOfKeys: 1, lua: S.LEASE_ACQUIRE });
    client.defineCommand('dspLeaseRelease', { numberOfKeys: 1, lua: S.LEASE_RELEASE });
    client.defineCommand('dspKpi', { numberOfKeys: 3 + KPI_MARKS.length, lua: S.KPI });
    for (const [name, lua] of Object.entries(SLOT_SCRIPTS)) client.defineCommand(name, { numberOfKeys: 8, lua });
    for (const [name, lua] of Object.entries(ORDER_SCRIPTS)) client.defineCommand(name, { numberOfKeys: 1, lua });
    for (const [name, [lua, numberOfKeys]] of Object.entries(OUTBOX_SCRIPTS)) client.defineCommand(name, { numberOfKeys, lua });
    for (const [name, lua] of Object.entries({ dspOpenJoin: OPEN_JOIN, dspOpenLeave: OPEN_LEAVE, dspGroupUnlock: GROUP_UNLOCK })) client.defineCommand(name, { numberOfKeys: 1, lua });
    client.defineCommand('dspOpenList', { numberOfKeys: 2, lua: OPEN_LIST });
    for (const [name, lua] of Object.entries({ dspOpenPut: OPEN_PUT, dspOpenMove: OPEN_MOVE })) client.defineCommand(name, { numberOfKeys: 3, lua });
    this.raw = client;
    this.breaker = new Breakers(client, () => this.afterOutage());
    this.redis = translated(client as Scripted, this.breaker);
    // A reconnect (Redis restarted, a Cluster node back) is when leftovers of the outage appear.
    client.on('ready', () => this.afterOutage());
  }

  /** Redis answers again: give back what the outage left behind (recovery pass, own repairs). */
  private afterOutage(): void {
    void this.recover().catch(() => undefined);
    if (this.repairs.size > 0) void this.repair();
  }

  /**
   * Runs the recovery pass every `intervalMs` (RECOVERY_INTERVAL_MS) besides after every outage,
   * so that markers left by a process that died are found by the instances still running.
   */
  startRecovery(intervalMs: number): void {
    this.recoveryTimer ??= setInterval(() => void this.recover().catch(() => undefined), intervalMs).unref();
  }

  /**
   * Another client on the same Redis (the rate limiter's) under this store's breaker: while Redis
   * does not answer, its commands fail fast too, so a request never waits one timeout there and
   * another in the store.
   */
  guard<C extends object>(client: C): C {
    return translated(client, this.breaker, false);
  }

  /** Whether commands currently fail fast because Redis (on a Cluster: any node) stopped answering. */
  get failingFast(): boolean {
    return this.breaker.anyOpen;
  }

  private slot(script: keyof typeof SLOT_SCRIPTS, tag: string, ...args: (string | number)[]): Promise<unknown> {
    return this.redis[script]!(...storeKeys.slot(tag), this.clock(), ...args);
  }

  private order(script: keyof typeof ORDER_SCRIPTS, id: string, ...args: (string | number)[]): Promise<unknown> {
    return this.redis[script]!(orderKey(id), ...args);
  }

  /** Sets on-hand counts where none are set yet (start-up seeding that never overwrites live state). */
  async seed(rows: StockSeedRow[]): Promise<void> {
    // A shelf-life SKU seeded before lots existed keeps its stock without a lot: seeding its lots
    // as well would count the same units twice.
    const plain = await Promise.all(rows.map((r) => (r.lot === undefined ? 0 : this.redis.hexists(storeKeys.onHand(r.warehouseId), r.sku))));
    await Promise.all(
      rows.map(async (r, i) => {
        if (plain[i] === 1) return;
        if (r.lot !== undefined && r.expiresOn !== undefined) {
          this.lotsKnown = true;
          await this.redis.hsetnx(storeKeys.lots(r.warehouseId), seedCell(r), r.expiresOn);
        }
        await this.redis.hsetnx(storeKeys.onHand(r.warehouseId), seedCell(r), r.onHand);
      }),
    );
  }

  /**
   * Every warehouse's lot expiries, read at most once per LOT_EXPIRIES_TTL_MS by this process (one
   * read shared by the decisions that ask meanwhile). A lot's expiry never changes once defined
   * (defineLot keeps the first), so the cache only misses lots defined by another instance in the
   * last second; this instance's own are added at once. Without it every decision with a shelf-life
   * line read every warehouse's lot hash (18 round trips on the bundled network).
   */
  private lotExpiriesCache: { at: number; value: Promise<Map<string, Record<string, string>>> } | undefined;
  private lotExpiries(): Promise<Map<string, Record<string, string>>> {
    const now = performance.now();
    if (this.lotExpiriesCache !== undefined && now - this.lotExpiriesCache.at < LOT_EXPIRIES_TTL_MS) return this.lotExpiriesCache.value;
    const value = Promise.all(this.warehouseIds.map((w) => this.redis.hgetall(storeKeys.lots(w)))).then((all) => {
      if (all.some((h) => Object.keys(h).length > 0)) this.lotsKnown = true;
      return new Map(this.warehouseIds.map((w, i) => [w, all[i]!]));
    });
    this.lotExpiriesCache = { at: now, value };
    // A failed read is not kept: the next decision asks Redis again.
    value.catch(() => {
      if (this.lotExpiriesCache?.value === value) this.lotExpiriesCache = undefined;
    });
    return value;
  }

  /** Whether a lot was seeded, defined or seen by this process (see mayHaveLots). */
  private lotsKnown = false;
  private lotsTimer: NodeJS.Timeout | undefined;

  mayHaveLots(): boolean {
    // Lots another instance defines are seen by a read every LOT_EXPIRIES_TTL_MS off the request path.
    this.lotsTimer ??= setInterval(() => void this.lotExpiries().catch(() => undefined), LOT_EXPIRIES_TTL_MS).unref();
    return this.lotsKnown;
  }

  async freeLots(skus: readonly string[]): Promise<LotFree[]> {
    if (skus.length === 0) return [];
    const wanted = new Set(skus);
    const known = await this.lotExpiries();
    const perWarehouse = await Promise.all(
      this.warehouseIds.map(async (warehouseId) => {
        const expiries = known.get(warehouseId) ?? {};
        const cells = Object.keys(expiries).filter((c) => wanted.has(parseCell(c).sku));
        if (cells.length === 0) return [];
        // dspViewFree applies due expiries first; lots take no locks, so no customer is named.
        const free = (await this.slot('dspViewFree', slotTag.warehouse(warehouseId), '', ...cells)) as number[];
        return cells
          .map((cell, k) => {
            const { sku, lot } = parseCell(cell);
            const expiresOn = expiries[cell]!;
            return { warehouseId, sku, lot: lot!, expiresOn, expiresOnUtcMs: utcDayMs(expiresOn), free: Number(free[k]) };
          })
          .filter((l) => l.free > 0);
      }),
    );
    return perWarehouse.flat().sort(compareLots);
  }

  async defineLot(warehouseId: string, sku: string, lot: string, expiresOn: string): Promise<string> {
    const key = storeKeys.lots(warehouseId);
    const cell = lotCell(sku, lot);
    this.lotsKnown = true;
    const kept = (await this.redis.hsetnx(key, cell, expiresOn)) === 1 ? expiresOn : ((await this.redis.hget(key, cell)) ?? expiresOn);
    // This instance's decisions see the new lot at once (the cache is refreshed within a second for the others).
    const cached = this.lotExpiriesCache?.value;
    if (cached !== undefined) void cached.then((m) => ((m.get(warehouseId) ?? m.set(warehouseId, {}).get(warehouseId)!)[cell] = kept)).catch(() => undefined);
    return kept;
  }

  async stock(filter: { warehouseId?: string; sku?: string } = {}): Promise<StockLevel[]> {
    const ids = this.warehouseIds.filter((w) => filter.warehouseId === undefined || w === filter.warehouseId);
    const [res, lotExpiries] = await Promise.all([
      Promise.all(ids.map((w) => this.slot('dspViewAll', slotTag.warehouse(w)))) as Promise<(string | number)[][]>,
      Promise.all(ids.map((w) => this.redis.hgetall(storeKeys.lots(w)))),
    ]);
    const out: StockLevel[] = [];
    ids.forEach((warehouseId, i) => {
      const flat = res[i]!;
      const expiries = lotExpiries[i]!;
      for (let k = 0; k < flat.length; k += 4) {
        const cell = String(flat[k]);
        if (filter.sku !== undefined && filter.sku !== parseCell(cell).sku) continue;
        const counts = { onHand: Number(flat[k + 1]), reserved: Number(flat[k + 2]), locked: Number(flat[k + 3]) };
        out.push(stockLevel(warehouseId, cell, counts, (c) => expiries[c]));
      }
    });
    return out.sort(compareLevels);
  }

  async freeStock(skus: readonly string[], customerId?: string): Promise<Map<string, Map<string, number>>> {
    const out = new Map<string, Map<string, number>>();
    if (skus.length === 0) return out;
    const res = (await Promise.all(this.warehouseIds.map((w) => this.slot('dspViewFree', slotTag.warehouse(w), customerId ?? '', ...skus)))) as number[][];
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
      const [ok, flat] = (await this.slot('dspSetOnHand', slotTag.warehouse(w), ...rows.flatMap((r) => [r.sku, r.onHand]))) as [number, (string | number)[]];
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
    const r = (await this.slot('dspAdjustOnHand', slotTag.warehouse(warehouseId), sku, delta)) as number[];
    return r[0] === 1
      ? { ok: true as const, onHand: Number(r[1]) }
      : { ok: false as const, onHand: Number(r[1]), reserved: Number(r[2]), locked: Number(r[3]) };
  }

  async markEvent(eventId: string): Promise<boolean> {
    const [created] = (await this.redis.dspClaimOnce!(storeKeys.event(eventId), this.clock(), this.eventRetentionMs ?? '', '1')) as [number, string];
    return created === 1;
  }

  async forgetEvent(eventId: string): Promise<void> {
    await this.redis.del(storeKeys.event(eventId));
  }

  async claimIdempotency<T>(key: string, value: T, ttlMs: number): Promise<IdempotencyClaim<T>> {
    const [created, raw] = (await this.redis.dspClaimOnce!(storeKeys.idempotency(key), this.clock(), ttlMs, JSON.stringify(value))) as [number, string];
    return created === 1 ? { created: true, value } : { created: false, value: JSON.parse(raw) as T };
  }

  async dropIdempotency(key: string): Promise<void> {
    await this.redis.del(storeKeys.idempotency(key));
  }

  private kpi(...args: (string | number)[]): Promise<unknown> {
    return this.redis.dspKpi!(storeKeys.kpiSums, storeKeys.kpiShares, storeKeys.kpiDrop, ...KPI_MARKS.map(storeKeys.kpiMark), this.clock(), ...args);
  }

  async kpiPut(orderId: string, share: KpiShare | null, retainUntil: number | null): Promise<void> {
    await this.kpi('put', orderId, share === null ? '' : JSON.stringify(share), retainUntil ?? '');
  }

  async kpiRead(): Promise<KpiTotals> {
    const [flat, counts] = (await this.kpi('read')) as [string[], number[]];
    const sums: Record<string, number> = {};
    for (let i = 0; i < flat.length; i += 2) sums[flat[i]!] = Number(flat[i + 1]);
    const marksAtOrBefore = {} as Record<KpiMark, number>;
    const marksBefore = {} as Record<KpiMark, number>;
    KPI_MARKS.forEach((m, i) => {
      marksAtOrBefore[m] = Number(counts[2 * i]);
      marksBefore[m] = Number(counts[2 * i + 1]);
    });
    return { sums, marksAtOrBefore, marksBefore };
  }

  async counters(keys: readonly string[]): Promise<Map<string, number>> {
    const byTag = new Map<string, string[]>();
    for (const k of keys) {
      const t = counterSlot(k);
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
      const p = part(slotTag.warehouse(i.warehouseId));
      const same = p.items.find((x) => x.sku === i.sku);
      if (same) same.qty += i.qty;
      else p.items.push({ ...i });
    }
    for (const c of req.counters) part(counterSlot(c.key)).counters.push(c);
    return [...parts.values()].sort((a, b) => (a.tag < b.tag ? -1 : 1));
  }

  async reserve(req: ReservationRequest): Promise<ReserveResult> {
    const parts = this.partsOf(req);
    const tags = JSON.stringify(parts.map((p) => p.tag));
    const now = this.clock();
    const attempt = `${now}:${randomUUID()}`;
    const expiresAt = now + req.ttlMs;
    // The pending marker goes first, before anything is taken: if Redis or this process fails
    // before the decision is stored, the recovery pass finds the claim through it.
    await this.mark(req.id, attempt, this.deadlineOf(attempt));
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
        const warehouseId = warehouseOfSlot(p.tag);
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
      this.unmark(req.id, attempt);
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
      const aborted = (await this.order('dspAbort', orderId, attempt)) as 1 | 0 | -1;
      if (aborted === 1) {
        await this.releaseParts(orderId, attempt, tags);
        await this.order('dspDrop', orderId, attempt);
      }
      this.repairs.delete(attempt);
      // This attempt's decision was stored after all (its reply lost): the marker stays for the
      // recovery pass, which completes the decision's indexes.
      if (aborted !== 0) this.unmark(orderId, attempt);
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

  /** Releases a held reservation without cancelling its order (the service cancels with cancelOrder). */
  private async finish(id: string, to: 'released'): Promise<0 | 1 | -1> {
    const r = (await this.order('dspFinish', id, to, this.clock(), this.claimTimeoutMs)) as 0 | 1 | -1;
    if (r !== 1) return r;
    const tags = await this.tagsOf(id);
    const attempt = (await this.redis.hget(orderKey(id), 'attempt')) ?? '';
    await Promise.all(tags.map((t) => this.slot('dspFinishPart', t, id, attempt, 'release')));
    return 1;
  }

  /** The slots an order's claim covers. */
  private async tagsOf(orderId: string): Promise<string[]> {
    return JSON.parse((await this.redis.hget(orderKey(orderId), 'parts')) ?? '[]') as string[];
  }

  /** Every slot a part can live in (when the claim's own list cannot be read). */
  private allTags(): string[] {
    return [...this.warehouseIds.map(slotTag.warehouse), slotTag.courierCounters];
  }

  async release(id: string): Promise<boolean> {
    return (await this.finish(id, 'released')) === 1;
  }

  /**
   * Writes the pending marker of one operation on an order (see redis-scripts.ts): one member per
   * operation ("orderId<TAB>operation id"), so that operations on the same order, or their
   * removals, never touch each other's marker.
   */
  private async mark(orderId: string, op: string, deadline: number): Promise<void> {
    await this.redis.zadd(storeKeys.pending, deadline, `${orderId}\t${op}`);
  }

  /** Removes an operation's marker once its work is done; left to the recovery pass when that fails. */
  private unmark(orderId: string, op: string): void {
    this.redis.zrem(storeKeys.pending, `${orderId}\t${op}`).catch(() => undefined);
  }

  /** The marker deadline of an attempt ("claimedAtMs:uuid"): when its claim counts as abandoned. */
  private deadlineOf(attempt: string): number {
    return Number(attempt.slice(0, attempt.indexOf(':'))) + this.claimTimeoutMs;
  }

  /** Ends an attempt's parts in the given slots (JSON list of tags); true when any part was still there. */
  private async endParts(orderId: string, attempt: string, tagsJson: string, mode: 'release' | 'commit'): Promise<boolean> {
    const tags = JSON.parse(tagsJson || '[]') as string[];
    const ended = await Promise.all(tags.map((t) => this.slot('dspFinishPart', t, orderId, attempt, mode)));
    return ended.some((n) => n === 1);
  }

  /** Ends an order's parts in the mode its record names, then removes the operation's marker. */
  private async finishParts(orderId: string, attempt: string, tagsJson: string, mode: 'release' | 'commit', op: string): Promise<void> {
    await this.endParts(orderId, attempt, tagsJson, mode);
    this.unmark(orderId, op);
  }

  async commit(id: string): Promise<CommitResult> {
    const now = this.clock();
    const op = `${now}:${randomUUID()}`;
    await this.mark(id, op, now + this.claimTimeoutMs);
    const r = (await this.order('dspCommitOrder', id, now, this.claimTimeoutMs)) as string[];
    if (r[0] === 'commit' || r[0] === 'again') {
      await this.finishParts(id, r[1]!, r[2]!, 'commit', op);
      return r[0] === 'commit' ? 'committed' : 'not-held';
    }
    this.unmark(id, op);
    return r[0] === 'cancelled' ? 'cancelled' : r[0] === 'expired' ? 'expired' : 'not-held';
  }

  async cancelOrder(orderId: string): Promise<CancelResult> {
    const now = this.clock();
    const op = `${now}:${randomUUID()}`;
    await this.mark(orderId, op, now + this.claimTimeoutMs);
    const r = (await this.order('dspCancelOrder', orderId, now)) as string[];
    if (r[0] === 'release') {
      await this.finishParts(orderId, r[1]!, r[2]!, 'release', op);
      return 'cancelled';
    }
    this.unmark(orderId, op);
    return r[0] === 'absent' ? 'not-found' : r[0] === 'committed' ? 'committed' : 'cancelled';
  }

  /**
   * The recovery pass (Store.recover): every pending marker past its deadline, in batches. Each
   * step is one atomic script or an idempotent finish, so instances running it at once, or the
   * attempt itself finishing meanwhile, change nothing twice.
   */
  recover(): Promise<RecoveryReport> {
    this.recovering ??= this.recoverOnce().finally(() => (this.recovering = undefined));
    return this.recovering;
  }

  private async recoverOnce(): Promise<RecoveryReport> {
    const report: RecoveryReport = { checked: 0, released: 0, finished: 0, indexed: 0 };
    const BATCH = 200;
    for (let offset = 0; ; ) {
      const now = this.clock();
      const flat = await this.redis.zrangebyscore(storeKeys.pending, '-inf', now, 'WITHSCORES', 'LIMIT', offset, BATCH);
      if (flat.length === 0) break;
      let kept = 0;
      for (let k = 0; k < flat.length; k += 2) {
        const member = flat[k]!;
        const orderId = member.slice(0, member.lastIndexOf('\t'));
        report.checked++;
        const r = (await this.order('dspRecover', orderId, now, this.claimTimeoutMs)) as string[];
        // Counted only where a part was actually ended here (another instance may have been first).
        if (r[0] === 'abandoned') {
          const ended = await this.endParts(orderId, r[1]!, r[2]!, 'release');
          await this.order('dspDrop', orderId, r[1]!);
          if (ended) report.released++;
        } else if (r[0] === 'release' || r[0] === 'commit' || r[0] === 'done') {
          // A stored decision whose writer did not complete its indexes (Redis failed, or the
          // writer stalled past its deadline): complete them here.
          if (r[3]) {
            await this.completeIndexes(orderId, r[4] ? Number(r[4]) : null, JSON.parse(r[3]) as ListEntry[]);
            report.indexed++;
          }
          if (r[0] !== 'done' && (await this.endParts(orderId, r[1]!, r[2]!, r[0]))) report.finished++;
        } else if (r[0] === 'wait') {
          // A claim still within its timeout (a later attempt): look again at its own deadline.
          // (Its new deadline lies ahead, so it leaves this pass's window.)
          await this.redis.zadd(storeKeys.pending, 'XX', Number(r[1]), member);
          continue;
        }
        // Another instance's pass may have removed it first: then it stays counted in the window.
        if ((await this.redis.zrem(storeKeys.pending, member)) !== 1) kept++;
      }
      // Removed markers shift the rest down; only those left in place move the window on.
      offset += kept;
      if (flat.length < 2 * BATCH) break;
    }
    this.lastRecovery = report;
    return report;
  }

  async getDecision<D>(orderId: string): Promise<StoredDecision<D> | null> {
    const [state, raw, expiresAt, cancelled, dropAt] = await this.redis.hmget(orderKey(orderId), 'state', 'decision', 'expiresAt', 'cancelled', 'dropAt');
    if (!raw) return null;
    const s = this.readState(state, expiresAt, cancelled, dropAt);
    if (s === null) return null;
    const d = JSON.parse(raw) as StoredDecision<D>;
    return Object.assign(d, s);
  }

  async orderState(orderId: string): Promise<OrderState | null> {
    const key = orderKey(orderId);
    const [[state, expiresAt, cancelled, dropAt], stored] = await Promise.all([this.redis.hmget(key, 'state', 'expiresAt', 'cancelled', 'dropAt'), this.redis.hexists(key, 'decision')]);
    if (stored !== 1) return null;
    const s = this.readState(state, expiresAt, cancelled, dropAt);
    return s === null ? null : { reservation: s.reservation, expiresAt: s.expiresAt, cancelled: s.cancelled };
  }

  /** The reservation fields of an order's hash as read now; null past its retention (Redis drops it by its TTL, the store's clock may be ahead). */
  private readState(state?: string | null, expiresAt?: string | null, cancelled?: string | null, dropAt?: string | null): (OrderState & { retainUntil: number | null }) | null {
    const retainUntil = dropAt ? Number(dropAt) : null;
    if (retainUntil !== null && this.clock() >= retainUntil) return null;
    if (state === 'held' || state === 'committed' || state === 'released') {
      const at = Number(expiresAt);
      return { reservation: state === 'held' && this.clock() >= at ? 'expired' : (state as ReservationState), expiresAt: at, cancelled: cancelled === '1', retainUntil };
    }
    return { reservation: null, expiresAt: null, cancelled: cancelled === '1', retainUntil };
  }

  async putDecisionIfAbsent<D>(d: StoredDecision<D>, attempt?: string, lists: readonly ListEntry[] = []): Promise<StoredDecision<D>> {
    const now = this.clock();
    // A decision without a reservation has no claim marker (reserve writes that one): this marker
    // lets the recovery pass complete the order's indexes if Redis fails once the decision is stored.
    const op = attempt ?? `${now}:${randomUUID()}`;
    if (attempt === undefined) await this.mark(d.orderId, op, now + this.claimTimeoutMs);
    let r: string[];
    try {
      r = (await this.order('dspDecide', d.orderId, attempt ?? '', JSON.stringify(d), this.orderRetentionMs ?? '', now, JSON.stringify(lists))) as string[];
    } catch (err) {
      // Unknown whether the decision was stored: if it was not, the reservation must not stay.
      if (attempt !== undefined) this.queueCompensation(d.orderId, attempt, await this.tagsOf(d.orderId).catch(() => this.allTags()));
      throw err;
    }
    if (r[0] === 'lost') {
      // Taken over: a part this attempt took after the takeover (it stalled between parts) lies
      // in a slot the new claim may not cover, so every slot is asked; only this attempt's end.
      await this.releaseParts(d.orderId, attempt!, this.allTags());
      this.unmark(d.orderId, op);
      throw new ReservationLostError(d.orderId);
    }
    if (r[0] === 'ok') {
      // A writer that stalled past its marker's deadline may find its indexes completed by the
      // recovery pass of another instance (the record's `todo` is gone): then it adds nothing.
      const late = this.clock() > this.deadlineOf(op);
      if (!late || (await this.redis.hexists(orderKey(d.orderId), 'todo')) === 1) await this.completeIndexes(d.orderId, Number(r[1]) < 0 ? null : Number(r[1]), lists);
    }
    if (r[0] === 'exists' && attempt !== undefined) {
      // Another attempt decided first: give back what this one holds (in any slot, as above).
      await this.releaseParts(d.orderId, attempt, this.allTags());
    }
    this.unmark(d.orderId, op);
    return (await this.getDecision<D>(d.orderId))!;
  }

  /**
   * The indexes of a stored decision: the index of decided orders (its own slot, so not atomic
   * with the decision: KPI rebuilds only), scored by drop time, each new order trimming the
   * members past it; then the caller's lists; then the record's `todo` is cleared. Run by
   * putDecisionIfAbsent and, when Redis failed meanwhile, by the recovery pass; running it twice
   * pushes an entry twice and changes nothing else.
   */
  private async completeIndexes(orderId: string, dropAt: number | null, lists: readonly ListEntry[]): Promise<void> {
    await this.redis.zadd(storeKeys.orderIndex, dropAt === null ? '+inf' : dropAt, orderId);
    if (dropAt !== null) await this.redis.zremrangebyscore(storeKeys.orderIndex, '-inf', this.clock());
    await Promise.all(lists.map((l) => this.listPush(l.key, l.value, l.ttlMs)));
    await this.redis.hdel(orderKey(orderId), 'todo');
  }

  async createLock(req: LockRequest) {
    const now = this.clock();
    const lock: StockLock = { ...req, remaining: req.qty, state: 'active', createdAt: now };
    // An ended lock is kept for the order retention after its expiry (the latest it can end):
    // its record leaves its slot then (EXPIRE_DUE), and its index by TTL at the same time.
    const dropAt = this.orderRetentionMs === undefined ? undefined : req.expiresAt + this.orderRetentionMs;
    const set = dropAt === undefined ? this.redis.set(lockIndexKey(req.id), req.warehouseId, 'NX') : this.redis.set(lockIndexKey(req.id), req.warehouseId, 'PX', Math.max(1, dropAt - now), 'NX');
    if ((await set) !== 'OK') throw new Error(`lock ${req.id} exists`);
    const r = (await this.slot('dspCreateLock', slotTag.warehouse(req.warehouseId), JSON.stringify(lock), dropAt ?? '')) as number[];
    if (r[0] !== 1) {
      await this.redis.del(lockIndexKey(req.id));
      return { ok: false as const, free: Number(r[1]) };
    }
    return { ok: true as const, lock };
  }

  private async lockOp(id: string, release: boolean): Promise<StockLock | null> {
    const wh = await this.redis.get(lockIndexKey(id));
    if (!wh) return null;
    const raw = (await this.slot('dspLockOp', slotTag.warehouse(wh), id, release ? '1' : '0')) as string | null;
    return raw ? (JSON.parse(raw) as StockLock) : null;
  }

  getLock(id: string): Promise<StockLock | null> {
    return this.lockOp(id, false);
  }

  releaseLock(id: string): Promise<StockLock | null> {
    return this.lockOp(id, true);
  }

  async addScans(orderId: string, scans: { key: string; scan: StoredScan }[]): Promise<boolean[]> {
    const res = await Promise.all(scans.map(({ key, scan }) => this.redis.hsetnx(storeKeys.scans(orderId), key, JSON.stringify(scan))));
    // The scans go with their order: the same drop time, as a TTL.
    const dropAt = await this.redis.hget(orderKey(orderId), 'dropAt');
    if (dropAt) await this.redis.pexpire(storeKeys.scans(orderId), Math.max(1, Number(dropAt) - this.clock()));
    return res.map((r) => r === 1);
  }

  async scans(orderId: string): Promise<StoredScan[]> {
    return Object.values(await this.redis.hgetall(storeKeys.scans(orderId))).map((raw) => JSON.parse(raw) as StoredScan);
  }

  async orderIds(): Promise<string[]> {
    const [kept, legacy] = await Promise.all([this.redis.zrangebyscore(storeKeys.orderIndex, `(${this.clock()}`, '+inf'), this.redis.smembers(storeKeys.legacyOrderIndex)]);
    return legacy.length === 0 ? kept : [...new Set([...kept, ...legacy])];
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

  async listPush(key: string, value: unknown, ttlMs?: number): Promise<void> {
    await this.redis.rpush(key, JSON.stringify(value));
    if (ttlMs !== undefined) await this.redis.pexpire(key, ttlMs);
  }

  async listAll<T>(key: string): Promise<T[]> {
    return (await this.redis.lrange(key, 0, -1)).map((v) => JSON.parse(v) as T);
  }

  async openShipments(group: string, firstPlacedWithin?: { fromMs: number; toMs: number }): Promise<OpenShipment[]> {
    const now = this.clock();
    const raws = (await this.redis.dspOpenList!(storeKeys.openShipments(group), storeKeys.openShipmentsLive(group), now)) as (string | null)[];
    const out: OpenShipment[] = [];
    for (const raw of raws) {
      if (raw === null) continue;
      const o = JSON.parse(raw) as OpenShipment;
      if (o.pickupAtMs > now && placedWithin(o, firstPlacedWithin)) out.push(o);
    }
    return out;
  }

  async openShipment(group: string, trackingNumber: string): Promise<OpenShipment | null> {
    const raw = await this.redis.hget(storeKeys.openShipments(group), trackingNumber);
    return raw === null ? null : (JSON.parse(raw) as OpenShipment);
  }

  async openShipmentPut(group: string, o: OpenShipment, ttlMs: number): Promise<void> {
    await this.redis.dspOpenPut!(...openGroupKeys(group), this.clock(), o.trackingNumber, JSON.stringify(o), Math.max(1, Math.round(ttlMs)), o.pickupAtMs);
  }

  async openShipmentJoin(group: string, trackingNumber: string, member: OpenShipmentMember): Promise<{ result: JoinResult; members: number }> {
    const [result, members] = (await this.redis.dspOpenJoin!(storeKeys.openShipments(group), this.clock(), trackingNumber, JSON.stringify(member))) as [JoinResult, number];
    return { result, members };
  }

  async groupLock(group: string, token: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.set(storeKeys.openGroupLock(group), token, 'PX', Math.max(1, Math.round(ttlMs)), 'NX')) === 'OK';
  }

  async groupUnlock(group: string, token: string): Promise<void> {
    await this.redis.dspGroupUnlock!(storeKeys.openGroupLock(group), this.clock(), token);
  }

  async openShipmentLeave(group: string, trackingNumber: string, orderId: string): Promise<void> {
    await this.redis.dspOpenLeave!(storeKeys.openShipments(group), this.clock(), trackingNumber, orderId);
  }

  async openShipmentMove(group: string, fromTracking: string, patch: OpenShipmentMove, members: readonly string[]): Promise<MoveResult> {
    // Only a move's own fields travel (the script copies whatever it is given onto the record).
    return (await this.redis.dspOpenMove!(...openGroupKeys(group), this.clock(), fromTracking, JSON.stringify(movePatch(patch)), JSON.stringify(members))) as MoveResult;
  }

  async moveCounter(orderId: string, from: { key: string; amount: number }, to: { key: string; amount: number; limit: number }): Promise<boolean> {
    const tag = counterSlot(from.key);
    if (counterSlot(to.key) !== tag) throw new Error(`moveCounter: ${from.key} and ${to.key} live in different slots`);
    return (await this.slot('dspMoveCounter', tag, orderId, from.key, from.amount, to.key, to.amount, to.limit)) === 1;
  }

  async heldCounters(orderId: string): Promise<{ key: string; amount: number }[] | null> {
    // The parts of the slots the order's claim covers (a claim without a decision holds them too:
    // the rerouter asks only of orders whose decision it read). VIEW_PART applies due expiries first.
    const [state, expiresAt] = await this.redis.hmget(orderKey(orderId), 'state', 'expiresAt');
    if (state !== 'held' || this.clock() >= Number(expiresAt)) return null;
    const raws = (await Promise.all((await this.tagsOf(orderId)).map((t) => this.slot('dspViewPart', t, orderId)))) as (string | null)[];
    const held = raws.filter((r): r is string => typeof r === 'string');
    if (held.length === 0) return null;
    // cjson writes an empty list as {}.
    return held.flatMap((raw) => {
      const c = (JSON.parse(raw) as { c: unknown }).c;
      return Array.isArray(c) ? (c as [string, number][]).map(([key, amount]) => ({ key, amount: Number(amount) })) : [];
    });
  }

  async rerouteIntentPut(intent: RerouteIntent): Promise<void> {
    await this.redis.hset(storeKeys.rerouteIntents, intent.id, JSON.stringify(intent));
  }

  async rerouteIntentGet(id: string): Promise<RerouteIntent | null> {
    const raw = await this.redis.hget(storeKeys.rerouteIntents, id);
    return raw === null ? null : (JSON.parse(raw) as RerouteIntent);
  }

  async rerouteIntentDelete(id: string): Promise<void> {
    await this.redis.hdel(storeKeys.rerouteIntents, id);
  }

  async rerouteIntents(createdAtOrBefore: number): Promise<RerouteIntent[]> {
    // Intents live for the milliseconds of a move: the hash holds only those in flight and those
    // a dead process left, so it is read whole.
    return dueIntents(Object.values(await this.redis.hgetall(storeKeys.rerouteIntents)), createdAtOrBefore);
  }

  /**
   * A plan's parts live in one slot per warehouse plus the courier counters' slot, and a Cluster
   * runs no script across slots. So a move is atomic here only when it changes the courier
   * counters alone (another courier or day from the same warehouses, same units, same warehouse
   * parcels): the cap slot's part is swapped in one script, which fails when the part is no longer
   * held (shipped, cancelled, expired), as a reroute's moveCounter does. A move that would change a
   * warehouse's part answers 'unsupported' and nothing changes.
   */
  async replan(orderId: string, req: ReplanRequest): Promise<ReplanResult> {
    const d = await this.getDecision(orderId);
    if (!d || d.cancelled || d.reservation !== 'held') return { ok: false, why: 'not-held' };
    const want = this.partsOf({ id: orderId, items: req.items, counters: req.counters, ttlMs: 1 });
    const tags = new Set([...want.map((p) => p.tag)]);
    const heldTags = JSON.parse(String((await this.redis.hget(orderKey(orderId), 'parts')) ?? '[]')) as string[];
    for (const t of heldTags) tags.add(t);
    for (const tag of tags) {
      if (tag === slotTag.courierCounters) continue;
      const raw = (await this.slot('dspViewPart', tag, orderId)) as string | null;
      const parsed = raw ? (JSON.parse(raw) as { i: unknown; c: unknown }) : { i: [], c: [] };
      // cjson writes an empty list as {}.
      const held = { i: (Array.isArray(parsed.i) ? parsed.i : []) as [string, number][], c: (Array.isArray(parsed.c) ? parsed.c : []) as [string, number][] };
      const w = want.find((p) => p.tag === tag) ?? { items: [], counters: [] };
      const sameItems = sameMultiset(held.i.map(([sku, qty]) => `${sku}:${qty}`), mergeItems(w.items).map((i) => `${i.sku}:${i.qty}`));
      const sameCounters = sameMultiset(held.c.map(([k, a]) => `${k}:${a}`), w.counters.map((c) => `${c.key}:${c.amount}`));
      if (!sameItems || !sameCounters) return { ok: false, why: 'unsupported' };
    }
    const cap = want.find((p) => p.tag === slotTag.courierCounters)?.counters ?? [];
    const r = (await this.slot('dspSwapCounters', slotTag.courierCounters, orderId, cap.length, ...cap.flatMap((c) => [c.key, c.amount, c.limit]))) as number;
    if (r === 1) return { ok: true };
    if (r === 0) return { ok: false, why: 'not-held' };
    const used = await this.counters(cap.map((c) => c.key));
    return { ok: false, why: 'short', shortages: [], counters: cap.map((c) => ({ key: c.key, requested: c.amount, used: used.get(c.key)!, limit: c.limit })) };
  }

  async leaseAcquire(name: string, token: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.dspLeaseAcquire!(storeKeys.lease(name), token, ttlMs)) === 1;
  }

  async leaseRelease(name: string, token: string): Promise<boolean> {
    return (await this.redis.dspLeaseRelease!(storeKeys.lease(name), token)) === 1;
  }

  async outboxAdd(entries: readonly OutboxEntry[]): Promise<boolean[]> {
    const added = await Promise.all(
      entries.map(async (e) => {
        if (e.state !== 'pending') throw new Error(`outbox entry ${e.id} must be added pending`);
        const k = outboxCursor(e.createdAt, e.id);
        const keys = [storeKeys.outboxEntries, storeKeys.outboxDue, storeKeys.outboxIndex, storeKeys.outboxByState('pending'), storeKeys.outboxByOrder(e.orderId), storeKeys.outboxByCode(e.code)];
        return (await this.redis.dspOutboxAdd!(...keys, e.id, JSON.stringify({ ...e, k }), k, e.nextAttemptAt)) === 1;
      }),
    );
    await this.waitForReplicas();
    return added;
  }

  /**
   * With OUTBOX_MIN_REPLICAS, waits until the outbox's node has passed this connection's writes to
   * that many replicas. WAIT has no key, so on a Cluster it goes to every master: a master this
   * connection wrote nothing to answers at once with its replica count, so the answer is the same
   * as asking the {obx} slot's node alone.
   */
  private async waitForReplicas(): Promise<void> {
    if (this.outboxMinReplicas === 0) return;
    const raw = this.raw;
    const nodes: Redis[] = 'nodes' in raw && typeof raw.nodes === 'function' && raw.isCluster ? (raw as Cluster).nodes('master') : [raw as Redis];
    let acked: number[];
    try {
      acked = await Promise.all(nodes.map((n) => n.wait(this.outboxMinReplicas, this.replicaWaitMs)));
    } catch (err) {
      throw translate(err);
    }
    const least = Math.min(...acked);
    if (least < this.outboxMinReplicas) {
      throw new StoreUnavailableError(`outbox write reached ${least} of the ${this.outboxMinReplicas} replicas required (OUTBOX_MIN_REPLICAS) within ${this.replicaWaitMs} ms`);
    }
  }

  async outboxClaim(limit: number, leaseMs: number): Promise<OutboxEntry[]> {
    const raw = (await this.redis.dspOutboxClaim!(storeKeys.outboxEntries, storeKeys.outboxDue, this.clock(), limit, leaseMs, randomUUID())) as string[];
    return raw.map(outboxEntry);
  }

  async outboxSettle(id: string, lease: string, outcome: OutboxOutcome): Promise<OutboxEntry | null> {
    const raw = (await this.redis.dspOutboxSettle!(
      storeKeys.outboxEntries,
      storeKeys.outboxDue,
      ...OUTBOX_STATE_KEYS,
      id,
      lease,
      this.clock(),
      outcome.state,
      outcome.nextAttemptAt,
      outcome.error === null ? '0' : '1',
      outcome.error ?? '',
    )) as string | null;
    return raw === null ? null : outboxEntry(raw);
  }

  async outboxGet(id: string): Promise<OutboxEntry | null> {
    const raw = await this.redis.hget(storeKeys.outboxEntries, id);
    return raw === null ? null : outboxEntry(raw);
  }

  async outboxList(filter: OutboxFilter, cursor: string | null, limit: number): Promise<{ items: OutboxEntry[]; next: string | null }> {
    // The narrowest index the filter names; the script checks the rest of the filter per entry.
    const index =
      filter.orderId !== undefined
        ? storeKeys.outboxByOrder(filter.orderId)
        : filter.code !== undefined
          ? storeKeys.outboxByCode(filter.code)
          : filter.state !== undefined
            ? storeKeys.outboxByState(filter.state)
            : storeKeys.outboxIndex;
    const [more, last, ...items] = (await this.redis.dspOutboxList!(
      storeKeys.outboxEntries,
      index,
      cursor ?? '',
      limit,
      OUTBOX_LIST_SCAN,
      filter.state ?? '',
      filter.orderId ?? '',
      filter.code ?? '',
    )) as [number, string, ...string[]];
    return { items: items.map(outboxEntry), next: more === 1 ? last : null };
  }

  async outboxReplay(id: string): Promise<{ entry: OutboxEntry; replayed: boolean } | null> {
    const r = (await this.redis.dspOutboxReplay!(storeKeys.outboxEntries, storeKeys.outboxDue, ...OUTBOX_STATE_KEYS, id, this.clock())) as [number, string] | null;
    return r === null ? null : { entry: outboxEntry(r[1]), replayed: r[0] === 1 };
  }

  async outboxPurge(before: number, limit: number): Promise<number> {
    // Found, then forgotten one by one: the forget script names every key it touches (an order's
    // and a code's index included), and skips an entry replayed in between.
    const flat = (await this.redis.dspOutboxOld!(storeKeys.outboxEntries, storeKeys.outboxByState('delivered'), outboxCursor(before, ''), limit)) as string[];
    let n = 0;
    for (let i = 0; i < flat.length; i += 3) {
      const [id, orderId, code] = [flat[i]!, flat[i + 1]!, flat[i + 2]!];
      const keys = [storeKeys.outboxEntries, storeKeys.outboxIndex, storeKeys.outboxByState('delivered'), storeKeys.outboxByOrder(orderId), storeKeys.outboxByCode(code)];
      n += Number(await this.redis.dspOutboxForget!(...keys, id));
    }
    return n;
  }

  async outboxCounts(): Promise<Record<OutboxState, number>> {
    const n = await Promise.all(OUTBOX_STATE_KEYS.map((k) => this.redis.zcard(k)));
    return { pending: n[0]!, delivered: n[1]!, dead: n[2]! };
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }

  async close(): Promise<void> {
    if (this.repairTimer) clearInterval(this.repairTimer);
    if (this.recoveryTimer) clearInterval(this.recoveryTimer);
    if (this.lotsTimer) clearInterval(this.lotsTimer);
    this.breaker.stop();
    // When Redis is gone the socket is dropped instead of waiting on it.
    await closeRedis(this.raw);
  }
}

/** An outbox entry as the scripts keep it (with its list place `k`, which stays inside the store). */
function outboxEntry(raw: string): OutboxEntry {
  const { k: _k, ...e } = JSON.parse(raw) as OutboxEntry & { k: string };
  return e;
}

/**
 * Redis error replies that mean "not now" rather than "wrong": the node is loading its data, the
 * Cluster is down or moving a slot, a replica was written to during a failover, a script runs
 * past its limit. These are the protocol's own error prefixes, not the client's wording.
 */
const UNAVAILABLE_REPLIES = new Set(['LOADING', 'CLUSTERDOWN', 'TRYAGAIN', 'MASTERDOWN', 'READONLY', 'BUSY', 'NOREPLICAS']);

/**
 * What a failed Redis command means for the service. An error reply is an answer: a fault in our
 * scripts (a 500, to be fixed), unless its prefix says the node cannot serve now. Anything else a
 * command fails with (connection refused, closed or not writeable, a command timeout, retries
 * exhausted) means no answer came: the store is unavailable.
 */
function translate(err: unknown): unknown {
  if (err instanceof ReplyError) {
    const prefix = String((err as Error).message).split(' ', 1)[0]!;
    return UNAVAILABLE_REPLIES.has(prefix) ? new StoreUnavailableError(`Redis cannot serve now: ${(err as Error).message}`, err) : err;
  }
  return new StoreUnavailableError(`Redis unreachable: ${err instanceof Error ? err.message : String(err)}`, err);
}

/** How often an open breaker asks Redis whether it answers again, ms. */
const PROBE_EVERY_MS = 100;

/**
 * A circuit breaker over the store's commands, so that a request never waits past the store
 * timeout (REDIS_TIMEOUT_MS), even when Redis is frozen rather than gone (SIGSTOP, a stalled VM):
 * then the socket stays open and every command waits its full command timeout, and a request that
 * makes several in sequence waited several timeouts (4.0 s against 1 s, issue 19). The first
 * command that fails for want of an answer opens the breaker: every command in flight fails at
 * once, and every new one fails before it is sent (nothing is queued in the socket of a frozen
 * Redis, to run there after the caller was told it failed). A probe (PING) every PROBE_EVERY_MS
 * closes it again when Redis answers, and then the recovery pass runs.
 *
 * A command timeout alone does not prove Redis silent: when the event loop was blocked (solves
 * in the request thread under a burst), the timer fires before the reply that already arrived is
 * read. So a timeout opens the breaker only if, after the pending I/O has been read
 * (setImmediate runs after the poll phase), no reply at all came since that command was sent. A
 * refused or closed connection opens it at once.
 */
class Breaker {
  private open = false;
  /** Replies received (values and error replies alike): proof that Redis answers. */
  private answers = 0;
  private readonly inFlight = new Set<(err: unknown) => void>();
  private timer: NodeJS.Timeout | undefined;
  private probing = false;

  constructor(
    private readonly probe: () => Promise<void>,
    private readonly onClosed: () => void,
  ) {}

  get isOpen(): boolean {
    return this.open;
  }

  /**
   * Runs one command: refused at once while open; failed at once if the breaker opens meanwhile.
   * `ownConnection` false: the command comes from another client (the rate limiter's), whose
   * connection errors (not connected yet, reconnecting) say nothing of the store's; only its
   * timeouts with no reply read since count.
   */
  run(send: () => unknown, ownConnection = true): unknown {
    // Refused on the next turn of the event loop, not as an already rejected promise: a caller
    // that retries in a loop (a stock watcher) would otherwise spin in microtasks, never letting
    // the probe's timer run, and the breaker would never close.
    if (this.open) return new Promise((_, reject) => setImmediate(() => reject(new StoreUnavailableError('Redis is not answering (failing fast until it answers again)'))));
    const answersAtSend = this.answers;
    const r = send();
    if (!(r instanceof Promise)) return r;
    return new Promise((resolve, reject) => {
      const fail = (err: unknown) => {
        this.inFlight.delete(fail);
        reject(err);
      };
      this.inFlight.add(fail);
      r.then(
        (v: unknown) => {
          this.answers++;
          this.inFlight.delete(fail);
          resolve(v);
        },
        (err: unknown) => {
          const e = translate(err);
          if (err instanceof ReplyError) this.answers++;
          if (e instanceof StoreUnavailableError) {
            if (isTimeout(err)) setImmediate(() => this.answers === answersAtSend && this.trip(e));
            else if (ownConnection) this.trip(e);
          }
          fail(e);
        },
      );
    });
  }

  private trip(cause: StoreUnavailableError): void {
    if (this.open) return;
    this.open = true;
    for (const fail of [...this.inFlight]) fail(new StoreUnavailableError(`Redis stopped answering (${cause.message})`, cause));
    this.timer = setInterval(() => void this.tryClose(), PROBE_EVERY_MS).unref();
  }

  private async tryClose(): Promise<void> {
    if (this.probing || !this.open) return;
    this.probing = true;
    try {
      await this.probe();
      this.open = false;
      clearInterval(this.timer);
      this.timer = undefined;
      this.onClosed();
    } catch {
      // still away: the next probe asks again
    } finally {
      this.probing = false;
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/**
 * The breakers of one store: one for a single Redis node; on a Cluster one per master, so that a
 * frozen node fails fast only the commands of its own slots while the other masters keep
 * serving theirs. A command's node is the master of the slot of its first key (every key the
 * store names is hash-tagged, and its scripts take their keys first); a command without a key
 * goes under a breaker of its own, probed with a PING through the Cluster client.
 */
class Breakers {
  private readonly byNode = new Map<string, Breaker>();
  private readonly cluster: Cluster | undefined;

  constructor(
    private readonly client: Redis | Cluster,
    private readonly onClosed: () => void,
  ) {
    this.cluster = 'slots' in client && Array.isArray((client as Cluster).slots) ? (client as Cluster) : undefined;
  }

  /** The breaker of the node that serves this command (its arguments, keys first). */
  for(args: readonly unknown[]): Breaker {
    let node = '*';
    if (this.cluster !== undefined && typeof args[0] === 'string') node = this.cluster.slots[calculateSlot(args[0])]?.[0] ?? '*';
    let b = this.byNode.get(node);
    if (b === undefined) {
      b = new Breaker(() => this.probe(node), this.onClosed);
      this.byNode.set(node, b);
    }
    return b;
  }

  private async probe(node: string): Promise<void> {
    const target = node === '*' || this.cluster === undefined ? undefined : this.cluster.nodes('master').find((n) => `${n.options.host}:${n.options.port}` === node);
    await (target ?? this.client).ping();
  }

  get anyOpen(): boolean {
    for (const b of this.byNode.values()) if (b.isOpen) return true;
    return false;
  }

  stop(): void {
    for (const b of this.byNode.values()) b.stop();
  }
}

/** How long a process reuses its read of the lot expiries, ms (see RedisStore.lotExpiries). */
const LOT_EXPIRIES_TTL_MS = 1_000;

/** ioredis's command timeout (commandTimeout), as opposed to a refused or closed connection. */
function isTimeout(err: unknown): boolean {
  return err instanceof Error && err.message === 'Command timed out';
}

/**
 * The client as the store uses it: every command's failure translated at this boundary, so the
 * store's own logic (and its errors) stay as written, and every command run under the breaker.
 */
function translated<C extends object>(client: C, breakers: Breakers, ownConnection = true): C {
  const wrapped = new Map<PropertyKey, unknown>();
  return new Proxy(client, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function' || NOT_COMMANDS.has(prop)) return value;
      let w = wrapped.get(prop);
      if (w === undefined) {
        w = (...args: unknown[]) => {
          const callback = args[args.length - 1];
          const breaker = breakers.for(args);
          if (typeof callback !== 'function') return breaker.run(() => (value as (...a: unknown[]) => unknown).apply(target, args), ownConnection);
          // A caller in callback style (the rate limiter) gets exactly one answer through its
          // callback: the client's, or the breaker's when it refuses or fails the command first.
          let answered = false;
          const once = (...r: unknown[]) => {
            if (answered) return;
            answered = true;
            (callback as (...a: unknown[]) => void)(...r);
          };
          const p = breaker.run(() => (value as (...a: unknown[]) => unknown).apply(target, [...args.slice(0, -1), once]), ownConnection);
          if (p instanceof Promise) p.catch((err: unknown) => once(err));
          return p;
        };
        wrapped.set(prop, w);
      }
      return w;
    },
  });
}

/** Client methods that send no command: passed through untouched, whatever the breaker says. */
const NOT_COMMANDS = new Set<PropertyKey>(['defineCommand', 'on', 'once', 'off', 'removeListener', 'emit', 'disconnect', 'quit', 'duplicate', 'nodes', 'connect']);

/** Whether two lists hold the same strings, each as often (order ignored). */
function sameMultiset(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const x = [...a].sort();
  const y = [...b].sort();
  return x.every((v, i) => v === y[i]);
}

/** Items of one slot summed per SKU, as RESERVE_PART stores them. */
function mergeItems(items: readonly ReservationItem[]): ReservationItem[] {
  const by = new Map<string, ReservationItem>();
  for (const i of items) {
    const e = by.get(i.sku);
    if (e) e.qty += i.qty;
    else by.set(i.sku, { ...i });
  }
  return [...by.values()];
}

/** A merge group's record hash, pickup index and record times: the three keys OPEN_PUT and OPEN_MOVE take, in that order. */
function openGroupKeys(group: string): [string, string, string] {
  return [storeKeys.openShipments(group), storeKeys.openShipmentsLive(group), storeKeys.openShipmentsUntil(group)];
}
