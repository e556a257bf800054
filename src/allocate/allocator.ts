import { createHash } from 'node:crypto';
import { shipmentWeightKg } from '../../solver/cost.js';
import { nearestPlan, radiusLock } from '../../solver/rules.js';
import { bestSingleSitePlans } from '../../solver/single.js';
import type { Plan, SolveStats } from '../../solver/types.js';
import type { Solver } from '../solve/pool.js';
import type { Config } from '../config.js';
import type { AllocateRequest, Decision } from '../domain/schemas.js';

export interface OrderView {
  orderId: string;
  state: OrderState;
  reservationExpiresAt: string | null;
  /** The decision as it stands, reroutes applied. */
  decision: Decision;
  reroutes: Reroute[];
}
import { DspError } from '../errors.js';
import type { NetworkContext } from '../network/context.js';
import { ReservationExistsError, ReservationLostError, type CounterUse, type ReservationItem, type Store, type StoredDecision } from '../store/types.js';
import { buildCandidates, counterKeys, NO_LIMIT, type Candidates, type CourierTerms, type OrderInput } from './candidates.js';
import { CourierBook } from '../couriers/book.js';
import { explain } from './explain.js';
import { shipmentIndexKey, trackingNumber } from './ids.js';
import { applyReroutes, reroutesKey, type Reroute } from './reroute.js';
import { KeyedLock } from './keyed-lock.js';
import { localDay, toIsoWithOffset } from './time.js';

const round2 = (x: number) => Math.round(x * 100) / 100;

export type OrderState = 'reserved' | 'committed' | 'cancelled' | 'expired' | 'backordered';

/** How one decision was made, for metrics: who answered, the solver's own time and work, the whole decision's time. */
export interface DecisionStats {
  solver: SolveStats['solver'] | 'none';
  /** The solver's (or the radius-lock rule's) wall time, µs. */
  solveMicros: number;
  /** Branch-and-bound nodes (or the solver's equivalent work units). */
  nodes: number;
  /** The whole decision: stock reads, candidates, solve, reservation, µs. */
  decideMicros: number;
}

/**
 * The allocation pipeline (design §3): validate -> idempotency -> candidates -> radius lock or the
 * exact optimiser (greedy fallback) -> atomic reservation (re-plan from fresh stock on conflict)
 * -> explain -> persist -> decision.
 */
export class Allocator {
  /** Decisions in progress per orderId, so concurrent retries wait for the first instead of racing it. */
  private readonly inFlight = new Map<string, Promise<Decision>>();
  private readonly skuLock = new KeyedLock();
  /** Warehouses closed now: they ship nothing (what-if replays close them; empty in service). */
  readonly closed = new Set<string>();
  /** Observers of every new decision (metrics, live stream later). */
  readonly listeners: ((d: Decision, stats: DecisionStats) => void)[] = [];

  constructor(
    private readonly net: NetworkContext,
    private readonly cfg: Config,
    private readonly store: Store,
    private readonly solver: Solver,
    private readonly clock: () => number = Date.now,
    /** Live courier quotes and capacity limits (the bundled cards when none were pushed). */
    readonly book: CourierBook = new CourierBook(net, store, clock),
  ) {}

  /** Allocations in progress in this instance (bounded by MAX_INFLIGHT_DECISIONS). */
  private active = 0;

  async allocate(req: AllocateRequest): Promise<Decision> {
    if (this.active >= this.cfg.maxInflightDecisions) {
      throw new DspError('DSP_OVERLOADED', `${this.active} allocations already in progress on this instance; retry with backoff`);
    }
    this.active++;
    try {
      return await this.allocateOnce(req);
    } finally {
      this.active--;
    }
  }

  private async allocateOnce(req: AllocateRequest): Promise<Decision> {
    const order = this.normalise(req);
    const hash = requestHash(req);
    const pending = this.inFlight.get(order.orderId);
    if (pending) {
      // A concurrent retry: wait for the first attempt, then answer from what it stored.
      await pending.catch(() => undefined);
      return this.allocateOnce(req);
    }
    // Registered before the first await, so a second request for the same order sees it.
    const work = (async () => {
      const existing = await this.store.getDecision<Decision>(order.orderId);
      if (existing) return this.replay(existing, hash);
      // Optimistic first: decide on a snapshot without holding the SKU lock, and let the store's
      // atomic reservation judge. Stock and capacity only shrink between snapshot and reservation
      // (other reservations), so a plan that still reserves is still optimal among what is left.
      // Only when the reservation fails does the order re-plan under the lock, one at a time
      // with the other orders on its SKUs, so a slow solve never holds up unrelated decisions.
      const t0 = performance.now();
      const first = await this.decide(order, hash, t0, true);
      if (first !== undefined) return first;
      return this.skuLock.run(
        order.lines.map((l) => l.sku),
        async () => (await this.decide(order, hash, t0, false))!,
      );
    })();
    this.inFlight.set(order.orderId, work);
    try {
      return await work;
    } finally {
      this.inFlight.delete(order.orderId);
    }
  }

  private replay(existing: StoredDecision<Decision>, hash: string): Decision {
    if (existing.requestHash !== hash) {
      throw new DspError('DSP_IDEMPOTENCY_CONFLICT', `order ${existing.orderId} was already decided for a different request`, [
        { orderId: existing.orderId },
      ]);
    }
    return existing.decision;
  }

  /** Validates what the schema cannot: known SKUs, times, a served destination; merges repeated SKUs. */
  private normalise(req: AllocateRequest): OrderInput & { region: NonNullable<ReturnType<NetworkContext['regions']['lookup']>> } {
    const merged = new Map<string, number>();
    for (const l of req.lines) merged.set(l.sku, (merged.get(l.sku) ?? 0) + l.qty);
    const unknown = [...merged.keys()].filter((s) => !this.net.skuByCode.has(s));
    if (unknown.length > 0) {
      throw new DspError('DSP_UNKNOWN_SKU', `unknown SKU: ${unknown.join(', ')}`, unknown.map((sku) => ({ sku })));
    }
    if (merged.size > this.cfg.maxLinesPerOrder) {
      throw new DspError('DSP_VALIDATION', `at most ${this.cfg.maxLinesPerOrder} distinct SKUs per order (got ${merged.size})`);
    }
    const promisedByMs = Date.parse(req.promisedBy);
    if (!Number.isFinite(promisedByMs)) throw new DspError('DSP_BAD_TIME', `promisedBy is not a valid time: ${req.promisedBy}`);
    if (req.placedAt !== undefined) {
      const placed = Date.parse(req.placedAt);
      if (!Number.isFinite(placed)) throw new DspError('DSP_BAD_TIME', `placedAt is not a valid time: ${req.placedAt}`);
      if (promisedByMs <= placed) throw new DspError('DSP_BAD_TIME', 'promisedBy must be after placedAt');
    }
    const region = this.net.regions.lookup(req.destination.lon, req.destination.lat);
    if (!region) {
      throw new DspError('DSP_DESTINATION_UNSERVED', `no region of the network contains (${req.destination.lon}, ${req.destination.lat})`, [
        { lon: req.destination.lon, lat: req.destination.lat },
      ]);
    }
    return {
      orderId: req.orderId,
      customerId: req.customerId,
      promisedByMs,
      destination: { lon: req.destination.lon, lat: req.destination.lat },
      lines: [...merged].map(([sku, qty]) => ({ sku, qty })),
      allowSplit: req.allowSplit ?? true,
      region,
    };
  }

  /**
   * Snapshot -> candidates -> plan -> atomic reservation -> decision. An optimistic attempt
   * answers undefined when its reservation fails (the caller re-plans under the SKU lock);
   * otherwise a failed reservation re-plans from fresh stock up to RESERVE_RETRIES times.
   */
  private async decide(order: ReturnType<Allocator['normalise']>, hash: string, t0: number, optimistic: true): Promise<Decision | undefined>;
  private async decide(order: ReturnType<Allocator['normalise']>, hash: string, t0: number, optimistic: false): Promise<Decision>;
  private async decide(order: ReturnType<Allocator['normalise']>, hash: string, t0: number, optimistic: boolean): Promise<Decision | undefined> {
    const skus = order.lines.map((l) => l.sku);
    for (let attempt = 1; ; attempt++) {
      const now = this.clock();
      const day = localDay(now, this.cfg.timezoneOffsetMinutes);
      const prov = order.region.provinceCode;
      const [free, usage, books, limits] = await Promise.all([
        this.store.freeStock(skus, order.customerId),
        this.store.counters(this.counterKeysFor(prov, day)),
        this.book.quotes(),
        this.book.limits(prov, day),
      ]);
      const terms: CourierTerms = { terms: (c, from, to) => this.book.terms(books, c, from, to), limits, closed: this.closed };
      const cands = buildCandidates(this.net, this.cfg, order, order.region, free, usage, now, terms);
      const { plan, mode, stats, lock, fallbackReason, singles } = await this.plan(cands);
      const reservation = this.reservationFor(cands, plan, limits);
      let claim: string | undefined;
      if (reservation.items.length > 0) {
        let res;
        try {
          res = await this.store.reserve({
            id: order.orderId,
            customerId: order.customerId,
            ...reservation,
            ttlMs: this.cfg.reservationTtlMinutes * 60_000,
          });
        } catch (err) {
          // Another instance is deciding the same order right now: its decision is the answer.
          if (err instanceof ReservationExistsError) return this.awaitDecision(order.orderId, hash);
          throw err;
        }
        if (!res.ok) {
          if (optimistic) return undefined;
          if (attempt < this.cfg.reserveRetries) continue;
          throw new DspError('DSP_RESERVATION_CONFLICT', `stock kept changing while deciding order ${order.orderId}; retry`, [
            ...res.shortages,
            ...res.counters,
          ]);
        }
        claim = res.attempt;
      }
      const micros = (performance.now() - t0) * 1_000;
      const decision = this.assemble(order, cands, plan, mode, lock, fallbackReason, micros, stats, now, singles);
      let stored;
      try {
        stored = await this.store.putDecisionIfAbsent<Decision>(
          { orderId: order.orderId, requestHash: hash, decision, reservation: claim ? 'held' : null, expiresAt: null, cancelled: false, promisedByMs: order.promisedByMs },
          claim,
        );
      } catch (err) {
        if (err instanceof ReservationLostError) {
          throw new DspError('DSP_RESERVATION_CONFLICT', `order ${order.orderId} was taken over by a later attempt while this one stalled; retry`, [
            { orderId: order.orderId },
          ]);
        }
        throw err;
      }
      if (stored.requestHash !== hash) return this.replay(stored, hash);
      if (stored.decision.decidedAt === decision.decidedAt) {
        // Index the new shipments by courier, province and day, for reroutes when a gap opens.
        await Promise.all(
          decision.shipments.map((sh, shipment) => this.store.listPush(shipmentIndexKey(sh.courierId, prov, cands.day), { orderId: order.orderId, shipment })),
        );
      }
      for (const l of this.listeners) l(stored.decision, { solver: stored.decision.solver as DecisionStats['solver'], solveMicros: stats.micros, nodes: stats.nodes, decideMicros: micros });
      return stored.decision;
    }
  }

  /**
   * Waits for the decision of an order whose reservation another instance holds, then answers it
   * as a retry would (same decision, or 409 for a different body). Bounded: past the wait the ERP
   * gets a retryable 503 and nothing was reserved by this attempt.
   */
  private async awaitDecision(orderId: string, hash: string): Promise<Decision> {
    for (let waitMs = 5; waitMs <= 640; waitMs *= 2) {
      const existing = await this.store.getDecision<Decision>(orderId);
      if (existing) return this.replay(existing, hash);
      await new Promise((r) => setTimeout(r, waitMs));
    }
    throw new DspError('DSP_RESERVATION_CONFLICT', `order ${orderId} is being decided by another instance; retry`, [{ orderId }]);
  }

  /**
   * The order's problem as candidate generation builds it at `now`, but from the given stock and
   * with every capacity limit lifted: the relaxation the hindsight bound of a replay solves
   * (src/replay/hindsight.ts). Reserves nothing.
   */
  async relaxedProblem(req: AllocateRequest, now: number, free: Map<string, Map<string, number>>): Promise<Candidates> {
    const order = this.normalise(req);
    const books = await this.book.quotes();
    const noLimits = new Map(this.net.couriers.map((c) => [c.id, { parcels: null, kg: null }]));
    const terms: CourierTerms = { terms: (c, from, to) => this.book.terms(books, c, from, to), limits: noLimits };
    const cands = buildCandidates(this.net, this.cfg, order, order.region, free, new Map(), now, terms);
    for (const site of cands.problem.sites) site.parcelCap = null;
    return cands;
  }

  private counterKeysFor(provinceCode: string, day: string): string[] {
    return [
      ...this.net.warehouses.map((w) => counterKeys.warehouseParcels(w.id, day)),
      ...this.net.couriers.map((c) => counterKeys.courierParcels(c.id, provinceCode, day)),
      ...this.net.couriers.map((c) => counterKeys.courierGrams(c.id, provinceCode, day)),
    ];
  }

  private async plan(cands: Candidates) {
    const t0 = performance.now();
    // Every site's single-shipment plan: the radius lock picks among them, explanations price them.
    const singles = bestSingleSitePlans(cands.problem);
    const lock = radiusLock(cands.problem, cands.facts, this.cfg.radiusLockFactor, singles);
    if (this.cfg.policy === 'nearest' || (this.cfg.policy === 'radius-rule' && !lock.locked)) {
      // The what-if baselines: distance decides (solver/rules.ts nearestPlan).
      const plan = nearestPlan(cands.problem, cands.facts.map((f) => f.roadKm), singles);
      const stats: SolveStats = { solver: 'nearest', micros: (performance.now() - t0) * 1_000, nodes: 0 };
      const noLock = { locked: false as const, misses: [] };
      return { plan, mode: 'rule' as Decision['mode'], lock: this.cfg.policy === 'nearest' ? noLock : lock, stats, fallbackReason: undefined as string | undefined, singles };
    }
    if (lock.locked) {
      const stats: SolveStats = { solver: 'radius-lock', micros: (performance.now() - t0) * 1_000, nodes: 0 };
      return { plan: lock.plan, mode: 'radius-lock' as Decision['mode'], lock, stats, fallbackReason: undefined as string | undefined, singles };
    }
    const res = await this.solver.solve(cands.problem, this.cfg.solveTimeoutMs);
    return {
      plan: res.plan,
      mode: res.optimal ? ('optimized' as const) : ('fallback' as const),
      lock,
      stats: res.stats,
      fallbackReason: res.fallbackReason,
      singles,
    };
  }

  private reservationFor(cands: Candidates, plan: Plan, limits: CourierTerms['limits']): { items: ReservationItem[]; counters: CounterUse[] } {
    const p = cands.problem;
    const items: ReservationItem[] = [];
    const counters: CounterUse[] = [];
    for (const s of plan.shipments) {
      const o = p.options[s.option]!;
      const w = cands.sites[o.site]!.warehouse;
      for (const { arc, qty } of s.arcs) {
        const info = cands.arcInfo[arc]!;
        items.push({ warehouseId: info.fromWarehouseId, sku: info.sku, qty });
      }
      counters.push({ key: counterKeys.warehouseParcels(w.id, cands.day), amount: s.parcels, limit: w.dailyOutboundParcels });
      // Courier use is always counted (a reroute moves it), against the live limit or none.
      const courier = this.net.couriers[o.courier]!;
      const limit = limits.get(courier.id) ?? { parcels: courier.dailyParcelsPerRegion, kg: null };
      const prov = cands.region.provinceCode;
      counters.push({ key: counterKeys.courierParcels(courier.id, prov, cands.day), amount: s.parcels, limit: limit.parcels ?? NO_LIMIT });
      counters.push({
        key: counterKeys.courierGrams(courier.id, prov, cands.day),
        amount: Math.round(shipmentWeightKg(p, s) * 1_000),
        limit: limit.kg === null ? NO_LIMIT : Math.round(limit.kg * 1_000),
      });
    }
    return { items, counters };
  }

  private assemble(
    order: OrderInput,
    cands: Candidates,
    plan: Plan,
    mode: Decision['mode'],
    lock: Awaited<ReturnType<Allocator['plan']>>['lock'],
    fallbackReason: string | undefined,
    micros: number,
    stats: SolveStats,
    now: number,
    singles: readonly (Plan | null)[],
  ): Decision {
    const p = cands.problem;
    const tz = this.cfg.timezoneOffsetMinutes;
    let moneyTotal = 0;
    let margin = 0;
    const shipments = plan.shipments.map((s, idx) => {
      const o = p.options[s.option]!;
      const info = cands.optionInfo[s.option]!;
      const site = cands.sites[o.site]!;
      const weightKg = shipmentWeightKg(p, s);
      const qtyBySku = new Map<string, number>();
      const transfers: Decision['shipments'][number]['transfers'] = [];
      let storage = 0;
      let transfer = 0;
      for (const { arc, qty } of s.arcs) {
        const a = cands.arcInfo[arc]!;
        qtyBySku.set(a.sku, (qtyBySku.get(a.sku) ?? 0) + qty);
        storage += a.storagePerUnit * qty;
        transfer += a.transferPerUnit * qty;
        margin += this.net.skuByCode.get(a.sku)!.grossMarginCny * qty;
        if (p.arcs[arc]!.transfer) transfers.push({ fromWarehouseId: a.fromWarehouseId, sku: a.sku, qty });
      }
      const freight = o.perParcel * s.parcels + o.perKg * weightKg;
      const split = idx === 0 ? 0 : p.splitPenalty;
      const total = freight + transfer + storage + info.latenessCny + split;
      moneyTotal += total;
      return {
        warehouseId: site.warehouse.id,
        courierId: info.courierId,
        trackingNumber: trackingNumber(info.courierId, order.orderId, idx, 0),
        lines: [...qtyBySku].map(([sku, qty]) => ({ sku, qty })),
        transfers,
        weightKg: round2(weightKg),
        parcels: s.parcels,
        distanceKm: Math.round(site.roadKm * 10) / 10,
        eta: toIsoWithOffset(info.etaMs, tz),
        cost: {
          freight: round2(freight),
          transfer: round2(transfer),
          storage: round2(storage),
          lateness: round2(info.latenessCny),
          split: round2(split),
          total: round2(total),
        },
      };
    });
    const backordered = p.lines.map((l, i) => ({ sku: l.sku, qty: plan.backordered[i]! })).filter((b) => b.qty > 0);
    const shippedUnits = p.lines.reduce((n, l, i) => n + l.qty - plan.backordered[i]!, 0);
    const status: Decision['status'] = backordered.length === 0 ? 'allocated' : shippedUnits > 0 ? 'partial' : 'backordered';
    const reasons = explain({ cands, plan, mode, lock, radiusLockFactor: this.cfg.radiusLockFactor, singles, ...(fallbackReason !== undefined ? { fallbackReason } : {}) });
    for (const s of plan.shipments) {
      const info = cands.optionInfo[s.option]!;
      const ageHours = info.quotedAt === null ? 0 : (now - info.quotedAt) / 3_600_000;
      if (ageHours > this.cfg.quoteMaxAgeHours) {
        reasons.push({
          warehouseId: cands.sites[p.options[s.option]!.site]!.warehouse.id,
          code: 'QUOTE_STALE',
          detail: `${info.courierId}'s quote (version ${info.quoteVersion}) is ${Math.round(ageHours)} h old, older than ${this.cfg.quoteMaxAgeHours} h: its price and transit time may be out of date`,
        });
      }
    }
    if (shipments.length > 0 && moneyTotal > margin) {
      reasons.push({
        warehouseId: null,
        code: 'UNPROFITABLE',
        detail: `logistics cost ${round2(moneyTotal)} CNY exceeds the shipped lines' gross margin ${round2(margin)} CNY`,
        costDelta: round2(moneyTotal - margin),
      });
    }
    return {
      orderId: order.orderId,
      status,
      mode,
      shipments,
      backordered,
      totalCost: round2(moneyTotal),
      reasons,
      solver: shipments.length === 0 && p.options.length === 0 ? 'none' : stats.solver,
      solveMicros: Math.round(stats.micros),
      searchNodes: stats.nodes,
      decideMicros: Math.round(micros),
      decidedAt: toIsoWithOffset(now, tz),
    };
  }

  async get(orderId: string): Promise<OrderView> {
    const d = await this.store.getDecision<Decision>(orderId);
    if (!d) throw new DspError('DSP_ORDER_NOT_FOUND', `no decision for order ${orderId}`, [{ orderId }]);
    const reservationExpiresAt = d.expiresAt !== null && (d.reservation === 'held' || d.reservation === 'expired') ? toIsoWithOffset(d.expiresAt, this.cfg.timezoneOffsetMinutes) : null;
    const reroutes = await this.store.listAll<Reroute>(reroutesKey(orderId));
    return { orderId, state: stateOf(d), reservationExpiresAt, decision: applyReroutes(d.decision, reroutes), reroutes };
  }

  /**
   * The order's stock left the warehouse: its reservation is committed (on hand and reserved both
   * drop). Shipping twice answers the same; a cancelled or unreserved order cannot ship.
   */
  async ship(orderId: string): Promise<OrderView> {
    const d = await this.store.getDecision<Decision>(orderId);
    if (!d) throw new DspError('DSP_ORDER_NOT_FOUND', `no decision for order ${orderId}`, [{ orderId }]);
    if (d.reservation === 'held') {
      const r = await this.store.commit(orderId);
      if (r === 'expired') d.reservation = 'expired';
    }
    if (d.reservation === 'expired') {
      throw new DspError('DSP_RESERVATION_EXPIRED', `order ${orderId}'s reservation expired before it shipped; its stock was returned`, [{ orderId }]);
    }
    if (d.reservation !== 'committed' && d.reservation !== 'held') {
      throw new DspError('DSP_ORDER_NOT_SHIPPABLE', `order ${orderId} holds no reservation (${stateOf(d)})`, [{ orderId }]);
    }
    return this.get(orderId);
  }

  /** Releases the order's reservation. Cancelling twice answers the same; a shipped order cannot be cancelled. */
  async cancel(orderId: string): Promise<OrderView> {
    const d = await this.store.getDecision<Decision>(orderId);
    if (!d) throw new DspError('DSP_ORDER_NOT_FOUND', `no decision for order ${orderId}`, [{ orderId }]);
    if (d.reservation === 'committed') {
      throw new DspError('DSP_ORDER_NOT_CANCELLABLE', `order ${orderId} has shipped; its stock is committed`, [{ orderId }]);
    }
    if (d.reservation === 'held') await this.store.release(orderId);
    await this.store.markCancelled(orderId);
    return this.get(orderId);
  }
}

function stateOf(d: StoredDecision<Decision>): OrderState {
  if (d.cancelled) return 'cancelled';
  if (d.reservation === 'committed') return 'committed';
  if (d.reservation === 'held') return 'reserved';
  if (d.reservation === 'expired') return 'expired';
  return 'backordered';
}

/** SHA-256 of the request with object keys sorted, so key order does not matter. */
export function requestHash(req: AllocateRequest): string {
  return createHash('sha256').update(canonical(req)).digest('hex');
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}
