import { createHash, randomUUID } from 'node:crypto';
import { shipmentWeightKg } from '../../solver/cost.js';
import { decide, type Outcome } from '../../solver/chain.js';
import type { Plan, SolveStats } from '../../solver/types.js';
import type { Solver } from '../solve/pool.js';
import type { Config } from '../config.js';
import type { ListEntry, LotFree, OpenShipment } from '../store/types.js';
import type { AllocateRequest, Decision } from '../domain/schemas.js';

export interface OrderView {
  orderId: string;
  state: OrderState;
  reservationExpiresAt: string | null;
  /** The decision as it stands: its last re-optimisation (src/allocate/reoptimize.ts) and reroutes applied. */
  decision: Decision;
  reroutes: Reroute[];
  /** The waybills the order shares with other orders of its customer and address (absent: none). */
  groups?: GroupView[];
}
import { DspError } from '../errors.js';
import type { NetworkContext } from '../network/context.js';
import { ReservationExistsError, ReservationLostError, StoreUnavailableError, type CounterUse, type ReservationItem, type Store, type StoredDecision } from '../store/types.js';
import { buildCandidates, NO_LIMIT, type Candidates, type CourierTerms, type OrderInput } from './candidates.js';
import { courierLimit } from './stages/couriers.js';
import { horizonDays } from './stages/ship-days.js';
import { counterKeys, lotCell, storeKeys } from '../store/keys.js';
import { assignLots, latestLotEta, offerLots, sameLots, type LotOffer, type LotPick } from './stages/lots.js';
import { parseShelfLifeOverrides } from '../config.js';
import { CourierBook } from '../couriers/book.js';
import { explain } from './explain.js';
import { trackingNumber } from './ids.js';
import { applyReroutes, type Reroute } from './reroute.js';
import { currentDecision, type Reoptimization } from './reoptimized.js';
import { scarceHint } from './reoptimize.js';
import { KeyedLock } from './keyed-lock.js';
import { orderListTtlMs } from './retention.js';
import { groupViews, joinableShipments, joinAll, leaveAll, mergeFacts, plannedJoins, recordOpenShipments, type GroupView, type MergeFacts } from './open-shipments.js';
import { DAY_MS, parseIsoWithOffset, toIsoWithOffset } from '../domain/time.js';
import type { ActionSink, OutboundAction } from '../domain/actions.js';
import { ACTIONS } from '../rules/actions.js';
import type { RuleEngine, RuleEvaluation, RuleSnapshot } from '../rules/engine.js';
import { orderFacts, planFacts } from '../rules/input.js';
import { resolve, type Known, type RuleEffects } from '../rules/resolve.js';
import type { PriceSource } from '../pricing/snapshot.js';
import { priceCandidates, type PriceWeights } from './stages/prices.js';

const round2 = (x: number) => Math.round(x * 100) / 100;

/**
 * A group lock outlives a crashed holder by this long at most, ms; and an order waits this long at
 * most for its group's lock before it is decided without it, ms (a decision takes milliseconds).
 */
const GROUP_LOCK_TTL_MS = 10_000;
const GROUP_LOCK_WAIT_MS = 1_000;

/** Units of one SKU an order may ask for, after its lines are merged (the schema's per-line maximum). */
const MAX_LINE_QTY = 1_000_000;

export type OrderState = 'reserved' | 'committed' | 'cancelled' | 'expired' | 'backordered' | 'held' | 'refused';

/** Optional collaborators of the allocator, given by the composition root. */
export interface AllocatorDeps {
  /** Business rules (src/rules): none, or none active, and decisions carry no rules section. */
  rules?: RuleEngine;
  /** Where the rules' outbound actions go after a decision is stored (the outbox); none: only listed in the decision. */
  actions?: ActionSink;
  /**
   * Shadow prices of scarce stock and capacity (src/pricing): each new order is counted into the
   * observed demand, and decisions of the policy `optimized` add the last snapshot's prices to
   * their costs as decision weights. None: no prices.
   */
  prices?: PriceSource;
}

/** One decision's rules: the snapshot it runs on, what fired, and the effects after precedence. */
interface RuleRun {
  snap: RuleSnapshot;
  evaluation: RuleEvaluation;
  effects: RuleEffects;
  facts: ReturnType<typeof orderFacts>;
}

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
/** Planning passes with lots before the shelf-life lines give up their lots (planWithLots). */
const LOT_PASSES = 4;

export class Allocator {
  /** Decisions in progress per orderId, so concurrent retries wait for the first instead of racing it. */
  private readonly inFlight = new Map<string, Promise<Decision>>();
  private readonly skuLock = new KeyedLock();
  /** Per merge group, the last decision queued in this instance (see inGroup). */
  private readonly groupTails = new Map<string, Promise<void>>();
  /** Warehouses closed now: they ship nothing (what-if replays close them; empty in service). */
  readonly closed: Set<string>;
  /** Observers of every new decision (metrics, live stream later). */
  readonly listeners: ((d: Decision, stats: DecisionStats, stored: StoredDecision<Decision>) => void)[] = [];
  /** Observers of an order shipped or cancelled here (the running KPI counters). */
  readonly changed: ((orderId: string) => void)[] = [];

  constructor(
    /** The network decisions are made on (the tracker reads list prices from it). */
    readonly net: NetworkContext,
    private readonly cfg: Config,
    private readonly store: Store,
    private readonly solver: Solver,
    private readonly clock: () => number = Date.now,
    /** Live courier quotes and capacity limits (the bundled cards when none were pushed). */
    readonly book: CourierBook = new CourierBook(net, store, clock),
    private readonly deps: AllocatorDeps = {},
    /** The closed-warehouse set, when another part (the shadow prices) shares it. */
    closed: Set<string> = new Set(),
  ) {
    this.closed = closed;
    this.known = { warehouses: new Set(net.warehouseById.keys()), couriers: new Set(net.couriers.map((c) => c.id)) };
    this.shelfLifeOverrides = parseShelfLifeOverrides(cfg.minShelfLifeOverrides);
  }

  /** MIN_SHELF_LIFE_OVERRIDES: customer id -> minimum remaining shelf life at delivery, days. */
  private readonly shelfLifeOverrides: Map<string, number>;

  /** The least shelf life, days, a unit of `sku` must have left when it reaches `customerId`. */
  private minShelfLifeDays(sku: string, customerId: string): number {
    return this.shelfLifeOverrides.get(customerId) ?? this.net.skuByCode.get(sku)!.minRemainingShelfLifeDays ?? 0;
  }

  /**
   * Candidates and plan for the order. With lots, each lot is judged at a cutoff no shipment of the
   * plan arrives after: first the promised time; when the plan ships shelf-life units later than
   * that, again with its latest ETA as the cutoff (fewer lots, so possibly another plan), until the
   * plan keeps to its cutoff. Should that not settle, the shelf-life lines take no lots at all
   * rather than risk a lot below its minimum.
   */
  private async planWithLots(
    order: NormalOrder,
    cfg: Config,
    free: Map<string, Map<string, number>>,
    usage: Map<string, number>,
    now: number,
    terms: CourierTerms,
    lots: LotFree[] | undefined,
    shelf: ReadonlySet<string>,
    /** Open shipments of the customer to this address the order may join (merging). */
    open: readonly OpenShipment[] = [],
  ): Promise<{ cands: Candidates; outcome: Outcome; weights: PriceWeights | undefined }> {
    // Shadow prices (policy optimized): the last snapshot only; a decision never computes them.
    const snap = this.cfg.policy === 'optimized' ? this.deps.prices?.snapshot(now) : undefined;
    const solve = async (offer?: LotOffer) => {
      const cands = buildCandidates(this.net, cfg, order, order.region, free, usage, now, terms, offer, open);
      if (offer !== undefined) cands.lots = offer;
      const weights = snap !== undefined ? priceCandidates(cands, snap) : undefined;
      const outcome = await decide({ problem: cands.problem, facts: cands.facts, policy: this.cfg.policy, radiusLockFactor: this.cfg.radiusLockFactor }, (p) =>
        this.solver.solve(p, this.cfg.solveTimeoutMs),
      );
      return { cands, outcome, weights };
    };
    // No lot is free anywhere: the shelf-life lines can only take stock kept without a lot, as before lots.
    if (lots === undefined || lots.length === 0) return solve();
    const offerAt = (cutoffMs: number, from: readonly LotFree[]) =>
      offerLots(from, shelf, {
        nowMs: now,
        cutoffMs,
        timezoneOffsetMinutes: this.cfg.timezoneOffsetMinutes,
        nearWindowDays: this.cfg.nearExpiryWindowDays,
        minDays: (sku) => this.minShelfLifeDays(sku, order.customerId),
        latestFirst: this.cfg.lotPickOrder === 'latest-expiry-first',
      });
    let cutoff = Math.max(now, order.promisedByMs);
    let offer = offerAt(cutoff, lots);
    for (let pass = 0; pass < LOT_PASSES; pass++) {
      const r = await solve(offer);
      const latest = latestLotEta(r.cands.problem, r.outcome.plan, r.cands.lots!, (o) => r.cands.optionInfo[o]!.etaMs);
      if (latest === null || latest <= cutoff) return r;
      cutoff = latest;
      const later = offerAt(cutoff, lots);
      // Lots span months, so the later cutoff rarely removes one: the problem is then the one just
      // solved, and so is its answer, whose lots are all good until this cutoff. Solving it again
      // was most of the extra solver work lots brought (an order with no on-time plan solved its
      // full problem twice).
      if (sameLots(later, offer)) return r;
      offer = later;
    }
    return solve(offerAt(cutoff, []));
  }

  /** The lots each shipment of the plan takes (FEFO per warehouse), or undefined without lots. */
  private lotPicks(cands: Candidates, plan: Plan): LotPick[][] | undefined {
    if (cands.lots === undefined) return undefined;
    return assignLots(
      plan,
      cands.lots,
      (i) => {
        // A shipment draws from a few (warehouse, SKU) sources: a short list searched in place,
        // not a map keyed by a string built per arc.
        const bySource: { fromWarehouseId: string; sku: string; qty: number }[] = [];
        for (const { arc, qty } of plan.shipments[i]!.arcs) {
          const a = cands.arcInfo[arc]!;
          const u = bySource.find((x) => x.fromWarehouseId === a.fromWarehouseId && x.sku === a.sku);
          if (u === undefined) bySource.push({ fromWarehouseId: a.fromWarehouseId, sku: a.sku, qty });
          else u.qty += qty;
        }
        return bySource;
      },
      (i) => cands.optionInfo[plan.shipments[i]!.option]!.etaMs,
    );
  }

  /** Warehouse and courier ids a rule may name. */
  private readonly known: Known;

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
    let order = this.normalise(req);
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
      if (existing) {
        const d = this.replay(existing, hash);
        // An ERP retry hands the actions over again: the sink is idempotent per order, code and
        // discriminator, and this recovers a hand-over that failed after the decision was stored.
        await afterDecision(order.orderId, () => this.enqueueActions(d));
        return d;
      }
      // Optimistic first: decide on a snapshot without holding the SKU lock, and let the store's
      // atomic reservation judge. Stock and capacity only shrink between snapshot and reservation
      // (other reservations), so a plan that still reserves is still optimal among what is left.
      // Only when the reservation fails does the order re-plan under the lock, one at a time
      // with the other orders on its SKUs, so a slow solve never holds up unrelated decisions.
      const t0 = performance.now();
      // The before hook: rules that read no plan run once, before the candidates are built.
      let ruled: RuleRun | undefined;
      const snap = this.deps.rules?.snapshot();
      if (snap !== undefined && !snap.empty) {
        const facts = orderFacts(req, this.net, order.region, this.clock(), this.cfg.timezoneOffsetMinutes);
        const evaluation = await snap.evaluate(facts, 'pre');
        const effects = resolve(evaluation, snap, this.known);
        ruled = { snap, evaluation, effects, facts };
        if (effects.intercept) return this.intercepted(order, hash, ruled, t0);
        order = withRuleEffects(order, effects);
      }
      // A new order joins the demand the shadow prices forecast from (a few counters; no I/O).
      this.deps.prices?.observe({ provinceCode: order.region.provinceCode, lines: order.lines }, this.clock());
      const first = await this.inGroup(order, () => this.decide(order, hash, t0, true, ruled));
      if (first !== undefined) return first;
      const planned = order;
      return this.skuLock.run(
        order.lines.map((l) => l.sku),
        async () => (await this.inGroup(planned, () => this.decide(planned, hash, t0, false, ruled)))!,
      );
    })();
    this.inFlight.set(order.orderId, work);
    try {
      return await work;
    } finally {
      this.inFlight.delete(order.orderId);
    }
  }

  /**
   * Runs a decision holding its customer-and-address group's lock in the store, so that orders of
   * one group are decided one at a time across instances: a later order sees an earlier one's open
   * shipment even when both arrive at once (the merge rule). The wait is bounded: past
   * GROUP_LOCK_WAIT_MS the order is decided without the lock (it may then ship on its own, never
   * wrongly: each join is atomic in the store), so merging never holds an order up for long.
   */
  private async inGroup<T>(order: NormalOrder, fn: () => Promise<T>): Promise<T> {
    const group = order.merge.group;
    if (group === null) return fn();
    // In this instance, orders of a group queue in memory, so that only the head of the queue asks
    // the store for the group's lock (a burst of one customer's orders costs no polling).
    const deadline = performance.now() + GROUP_LOCK_WAIT_MS;
    const prev = this.groupTails.get(group);
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const tail = prev === undefined ? mine : prev.then(() => mine);
    this.groupTails.set(group, tail);
    // The head of the queue (the usual case: one order of the group at a time) sets no timer.
    let queued = true;
    if (prev !== undefined) {
      let timer: NodeJS.Timeout | undefined;
      queued = await Promise.race([prev.then(() => true), new Promise<false>((r) => (timer = setTimeout(() => r(false), GROUP_LOCK_WAIT_MS)))]);
      clearTimeout(timer);
    }
    // The embedded store serves this process alone (one allocator per composition root), where the
    // queue above already orders a group's orders: its lock would only be taken and given back.
    const lockInStore = this.store.kind !== 'memory';
    const token = lockInStore ? randomUUID() : '';
    let held = false;
    try {
      if (queued && lockInStore) {
        for (let waitMs = 2; !(held = await this.store.groupLock(group, token, GROUP_LOCK_TTL_MS)) && performance.now() < deadline; waitMs = Math.min(waitMs * 2, 50)) {
          await new Promise((r) => setTimeout(r, waitMs));
        }
      }
      return await fn();
    } finally {
      if (held) await this.store.groupUnlock(group, token).catch(() => undefined);
      release();
      if (this.groupTails.get(group) === tail) this.groupTails.delete(group);
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

  /**
   * Validates what the schema cannot: known SKUs, times, a served destination; merges repeated SKUs.
   * The times are judged at `now`, the decision time: the service's clock for a live request, the
   * order's own instant when a replay's hindsight models rebuild a past (or future) stream.
   */
  private normalise(req: AllocateRequest, now: number = this.clock()): NormalOrder {
    if (req.lines.length > this.cfg.maxLinesPerOrder) {
      throw new DspError('DSP_VALIDATION', `at most ${this.cfg.maxLinesPerOrder} lines per order (MAX_LINES_PER_ORDER; got ${req.lines.length})`);
    }
    const merged = new Map<string, number>();
    for (const l of req.lines) merged.set(l.sku, (merged.get(l.sku) ?? 0) + l.qty);
    const unknown = [...merged.keys()].filter((s) => !this.net.skuByCode.has(s));
    if (unknown.length > 0) {
      throw new DspError('DSP_UNKNOWN_SKU', `unknown SKU: ${unknown.join(', ')}`, unknown.map((sku) => ({ sku })));
    }
    if (merged.size > this.cfg.maxLinesPerOrder) {
      throw new DspError('DSP_VALIDATION', `at most ${this.cfg.maxLinesPerOrder} distinct SKUs per order (got ${merged.size})`);
    }
    // Quantities are checked again after merging: two lines of 600,000 are one of 1,200,000.
    const tooMany = [...merged].filter(([, qty]) => qty > MAX_LINE_QTY);
    if (tooMany.length > 0) {
      throw new DspError('DSP_VALIDATION', `at most ${MAX_LINE_QTY} units of a SKU per order (${tooMany.map(([sku, qty]) => `${sku}: ${qty}`).join(', ')})`, tooMany.map(([sku, qty]) => ({ sku, qty })));
    }
    const promisedByMs = parseIsoWithOffset(req.promisedBy);
    if (promisedByMs === null) throw new DspError('DSP_BAD_TIME', `promisedBy is not a valid time (ISO-8601 with an offset, on the calendar): ${req.promisedBy}`);
    const placed = req.placedAt === undefined ? now : parseIsoWithOffset(req.placedAt);
    if (placed === null) throw new DspError('DSP_BAD_TIME', `placedAt is not a valid time (ISO-8601 with an offset, on the calendar): ${req.placedAt}`);
    if (promisedByMs <= placed) throw new DspError('DSP_BAD_TIME', req.placedAt === undefined ? 'promisedBy must lie in the future' : 'promisedBy must be after placedAt');
    const windowMs = this.cfg.promiseWindowDays * 86_400_000;
    if (promisedByMs - placed > windowMs) throw new DspError('DSP_BAD_TIME', `promisedBy lies more than PROMISE_WINDOW_DAYS (${this.cfg.promiseWindowDays}) days after ${req.placedAt === undefined ? 'now' : 'placedAt'}`);
    if (Math.abs(placed - now) > windowMs) throw new DspError('DSP_BAD_TIME', `placedAt lies more than PROMISE_WINDOW_DAYS (${this.cfg.promiseWindowDays}) days from now`);
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
      merge: mergeFacts(this.net, this.cfg, req, region, placed),
    };
  }

  /**
   * Snapshot -> candidates -> plan -> atomic reservation -> decision. An optimistic attempt
   * answers undefined when its reservation fails (the caller re-plans under the SKU lock);
   * otherwise a failed reservation re-plans from fresh stock up to RESERVE_RETRIES times.
   */
  private async decide(order: NormalOrder, hash: string, t0: number, optimistic: true, ruled?: RuleRun): Promise<Decision | undefined>;
  private async decide(order: NormalOrder, hash: string, t0: number, optimistic: false, ruled?: RuleRun): Promise<Decision>;
  private async decide(order: NormalOrder, hash: string, t0: number, optimistic: boolean, ruled?: RuleRun): Promise<Decision | undefined> {
    const skus = order.lines.map((l) => l.sku);
    const shelf = new Set(skus.filter((sku) => this.net.skuByCode.get(sku)!.shelfLifeDays !== null));
    for (let attempt = 1; ; attempt++) {
      const now = this.clock();
      const prov = order.region.provinceCode;
      const [today, ...later] = horizonDays(now, this.cfg);
      const [free, usage, books, limits, lots, open] = await Promise.all([
        this.store.freeStock(skus, order.customerId),
        this.store.counters(this.counterKeysFor(prov, today!)),
        this.book.quotes(),
        this.book.limits(prov, today!),
        shelf.size > 0 && this.store.mayHaveLots() ? this.store.freeLots([...shelf]) : undefined,
        joinableShipments(this.store, this.cfg, order.orderId, order.merge),
      ]);
      // The later days of the capacity horizon matter only where today is full: their counters
      // and limits are read then, and otherwise the decision looks at today alone (as fast as
      // with a horizon of one day, and the same problem).
      const limitsByDay = new Map([[today!, limits]]);
      const terms: CourierTerms = { terms: (c, from, to) => this.book.terms(books, c, from, to), limits, limitsByDay, closed: this.closed };
      const horizon = later.length > 0 && this.todayFull(usage, terms, prov, today!) ? later : [];
      if (horizon.length > 0) {
        const [more, ...moreLimits] = await Promise.all([this.store.counters(horizon.flatMap((d) => this.counterKeysFor(prov, d))), ...horizon.map((d) => this.book.limits(prov, d))]);
        for (const [k, v] of more) usage.set(k, v);
        horizon.forEach((d, i) => limitsByDay.set(d, moreLimits[i]!));
      }
      const { cands, outcome, weights } = await this.planWithLots(order, horizon.length > 0 ? this.cfg : this.todayOnly, free, usage, now, terms, lots, shelf, open);
      const { plan, stats } = outcome;
      const picks = this.lotPicks(cands, plan);
      // The after-plan hook: tables that read plan.* run now, before anything is reserved, so an
      // intercept there reserves nothing either. A retry re-plans and runs them again.
      let run = ruled;
      if (ruled !== undefined && ruled.snap.hasPlanRules) {
        const draft = this.assemble(order, cands, outcome, 0, now, weights, picks);
        const post = await ruled.snap.evaluate({ ...ruled.facts, plan: planFacts(draft, order.promisedByMs, this.cfg.timezoneOffsetMinutes) }, 'post');
        const effects = resolve(post, ruled.snap, this.known, cloneEffects(ruled.effects));
        run = { ...ruled, effects, evaluation: { fired: [...ruled.evaluation.fired, ...post.fired], failed: [...ruled.evaluation.failed, ...post.failed] } };
        if (effects.intercept) return this.intercepted(order, hash, run, t0);
      }
      // Joining open shipments first: each join checks in one atomic step that the shipment is
      // still open and has the room; a lost race re-plans like a failed reservation.
      const joins = plannedJoins(cands, plan);
      if (joins.length > 0 && !(await joinAll(this.store, order.orderId, order.merge, joins))) {
        if (optimistic) return undefined;
        if (attempt < this.cfg.reserveRetries) continue;
        throw new DspError('DSP_RESERVATION_CONFLICT', `the open shipments order ${order.orderId} could join kept changing; retry`, [{ orderId: order.orderId }]);
      }
      const reservation = this.reservationFor(cands, plan, terms, picks);
      let claim: string | undefined;
      if (reservation.items.length > 0) {
        let res;
        try {
          res = await this.store.reserve({
            id: order.orderId,
            customerId: order.customerId,
            ...reservation,
            // A shipment on a later day of the capacity horizon is held that much longer.
            ttlMs: this.cfg.reservationTtlMinutes * 60_000 + Math.max(0, ...plan.shipments.map((sh) => cands.sites[cands.problem.options[sh.option]!.site]!.dayOffset)) * DAY_MS,
          });
        } catch (err) {
          // Another instance is deciding the same order right now: its decision is the answer.
          if (err instanceof ReservationExistsError) return this.awaitDecision(order.orderId, hash);
          throw err;
        }
        if (!res.ok) {
          await leaveAll(this.store, order.orderId, order.merge, joins);
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
      const decision = this.assemble(order, cands, outcome, micros, now, weights, picks);
      if (run !== undefined) withRules(decision, run);
      for (const j of joins) {
        decision.reasons.push({
          warehouseId: j.shipment.warehouseId,
          code: 'JOINED_OPEN_SHIPMENT',
          detail: `joins order ${j.shipment.masterOrderId}'s shipment ${j.shipment.trackingNumber} (same customer and address, not picked up yet): no base rate, ${j.savedCny} CNY less freight than shipping alone`,
          costDelta: j.savedCny,
        });
        // The join that brings the waybill to MERGE_MIN_ORDERS orders makes it a merged group: said once, by that order.
        if (j.members === this.cfg.mergeMinOrders) {
          decision.reasons.push({
            warehouseId: null,
            code: 'MERGED_GROUP',
            detail: `waybill ${j.shipment.trackingNumber} now carries ${j.members} orders of this customer to this address (MERGE_MIN_ORDERS ${this.cfg.mergeMinOrders}): master ${j.shipment.masterOrderId}, the others its child orders`,
          });
        }
      }
      // The new shipments indexed by courier, province and ship day, for reroutes when a gap
      // opens: pushed by the store with the decision (or by its recovery pass after an outage).
      // The customer and destination ride along (same write) for the re-optimisation job.
      const hint = scarceHint(decision);
      // A joined shipment adds no parcel and moves with its master: it is not indexed.
      const index: ListEntry[] = decision.shipments.flatMap((sh, shipment) => sh.joinedOrderId !== undefined ? [] : [{
        key: storeKeys.shipmentIndex(sh.courierId, prov, cands.optionInfo[plan.shipments[shipment]!.option]!.shipDay),
        value: { orderId: order.orderId, shipment, customerId: order.customerId, to: [order.destination.lon, order.destination.lat], scarce: hint },
        ttlMs: orderListTtlMs(this.cfg),
      }]);
      // The order's merge group, beside its record, so GET /v1/orders/{id} finds the group's
      // waybills: written with the decision (and by the store's recovery pass after an outage),
      // once, as a retry finds its decision stored first.
      if (order.merge.group !== null) index.push({ key: storeKeys.orderGroup(order.orderId), value: order.merge.group, ttlMs: orderListTtlMs(this.cfg) });
      let stored;
      try {
        stored = await afterDecision(order.orderId, () =>
          this.store.putDecisionIfAbsent<Decision>(
            { orderId: order.orderId, requestHash: hash, decision, reservation: claim ? 'held' : null, expiresAt: null, cancelled: false, promisedByMs: order.promisedByMs },
            claim,
            index,
          ),
        );
      } catch (err) {
        if (err instanceof ReservationLostError) {
          throw new DspError('DSP_RESERVATION_CONFLICT', `order ${order.orderId} was taken over by a later attempt while this one stalled; nothing was reserved; retry`, [
            { orderId: order.orderId },
          ]);
        }
        throw err;
      }
      if (stored.requestHash !== hash) return this.replay(stored, hash);
      if (stored.decision.decidedAt === decision.decidedAt) {
        // The order's own shipments become open shipments its customer's later orders to the same address may join.
        await afterDecision(order.orderId, () => recordOpenShipments(this.store, this.net, this.cfg, decision, cands, plan, order.merge, now));
      }
      for (const l of this.listeners) l(stored.decision, { solver: stored.decision.solver as DecisionStats['solver'], solveMicros: stats.micros, nodes: stats.nodes, decideMicros: micros }, stored);
      await afterDecision(order.orderId, () => this.enqueueActions(stored.decision));
      return stored.decision;
    }
  }

  /**
   * The intercept hook: a rule held or refused the order. The decision says so (status, reason,
   * the rule), nothing is reserved, and only the intercept's own action is handed to the outbox
   * (the order does not ship, so its after-hook actions do not apply).
   */
  private async intercepted(order: NormalOrder, hash: string, run: RuleRun, t0: number): Promise<Decision> {
    const x = run.effects.intercept!;
    const now = this.clock();
    for (const f of run.evaluation.fired) {
      if (f.hook !== 'intercept' && f.applied) {
        f.applied = false;
        f.note = `the order is ${x.action === 'REFUSE' ? 'refused' : 'held for review'}`;
      }
    }
    const by = x.rule === null ? `ruleset ${x.ruleset} v${x.version} (it failed and is failClosed)` : `rule ${JSON.stringify(x.rule)} of ruleset ${x.ruleset} v${x.version}`;
    const decision: Decision = {
      orderId: order.orderId,
      status: x.action === 'REFUSE' ? 'refused' : 'held',
      mode: 'intercepted',
      shipments: [],
      backordered: [],
      totalCost: 0,
      reasons: [{ warehouseId: null, code: x.action === 'REFUSE' ? 'RULE_REFUSED' : 'RULE_HELD_FOR_REVIEW', detail: `${x.reason}: ${by}; nothing was reserved` }],
      solver: 'none',
      solveMicros: 0,
      searchNodes: 0,
      decideMicros: Math.round((performance.now() - t0) * 1_000),
      decidedAt: toIsoWithOffset(now, this.cfg.timezoneOffsetMinutes),
    };
    withRules(decision, run);
    const stored = await afterDecision(order.orderId, () =>
      this.store.putDecisionIfAbsent<Decision>({ orderId: order.orderId, requestHash: hash, decision, reservation: null, expiresAt: null, cancelled: false, promisedByMs: order.promisedByMs }),
    );
    if (stored.requestHash !== hash) return this.replay(stored, hash);
    for (const l of this.listeners) l(stored.decision, { solver: 'none', solveMicros: 0, nodes: 0, decideMicros: decision.decideMicros }, stored);
    await afterDecision(order.orderId, () => this.enqueueActions(stored.decision));
    return stored.decision;
  }

  /** Hands the decision's outbound actions (applied, of an outbound code) to the sink, if there is one. */
  private async enqueueActions(d: Decision): Promise<void> {
    const sink = this.deps.actions;
    if (sink === undefined || d.rules === undefined) return;
    const decidedAtMs = parseIsoWithOffset(d.decidedAt) ?? this.clock();
    const actions: OutboundAction[] = d.rules.fired
      .filter((f) => f.applied && (ACTIONS as Record<string, { outbound: boolean }>)[f.action]?.outbound === true)
      .map((f) => ({ orderId: d.orderId, code: f.action, discriminator: f.sku ?? '', params: f.params, source: { ruleset: f.ruleset, version: f.version, rule: f.rule }, decidedAtMs }));
    if (actions.length > 0) await sink.enqueue(actions);
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
   * (src/replay/hindsight.ts) and the clairvoyant model's per-order options
   * (src/replay/clairvoyant.ts). Reserves nothing. The request is validated at `now` too, not at
   * this allocator's clock: those callers open the services without a simulated clock, so the wall
   * clock refused every order placed more than PROMISE_WINDOW_DAYS from today (a replayed week two
   * months back: the clairvoyant model came out empty, the per-order bound 0).
   */
  async relaxedProblem(req: AllocateRequest, now: number, free: Map<string, Map<string, number>>): Promise<Candidates> {
    const order = this.normalise(req, now);
    const books = await this.book.quotes();
    const noLimits = new Map(this.net.couriers.map((c) => [c.id, { parcels: null, kg: null }]));
    const terms: CourierTerms = { terms: (c, from, to) => this.book.terms(books, c, from, to), limits: noLimits };
    const cands = buildCandidates(this.net, this.cfg, order, order.region, free, new Map(), now, terms);
    for (const site of cands.problem.sites) site.parcelCap = null;
    return cands;
  }

  /**
   * The plan the order would get now (re-optimisation, src/allocate/reoptimize.ts): the same
   * candidates, policy and solver as a new decision, from the current stock and capacity over the
   * whole capacity horizon, with the order's own holding (`own`: its reserved units and counter
   * use) counted as available to itself. Reserves nothing: the caller moves the reservation with
   * Store.replan. Null when no region contains the destination any more.
   */
  async propose(
    order: OrderInput,
    own: { items: readonly ReservationItem[]; counters: readonly { key: string; amount: number }[] },
  ): Promise<{ decision: Decision; reservation: { items: ReservationItem[]; counters: CounterUse[] }; shipDays: string[]; provinceCode: string } | null> {
    const region = this.net.regions.lookup(order.destination.lon, order.destination.lat);
    if (!region) return null;
    const now = this.clock();
    const prov = region.provinceCode;
    const days = horizonDays(now, this.cfg);
    const [free, usage, books, ...limits] = await Promise.all([
      this.store.freeStock(order.lines.map((l) => l.sku), order.customerId),
      this.store.counters(days.flatMap((d) => this.counterKeysFor(prov, d))),
      this.book.quotes(),
      ...days.map((d) => this.book.limits(prov, d)),
    ]);
    for (const i of own.items) {
      const w = free.get(i.warehouseId) ?? free.set(i.warehouseId, new Map()).get(i.warehouseId)!;
      w.set(i.sku, (w.get(i.sku) ?? 0) + i.qty);
    }
    for (const u of own.counters) if (usage.has(u.key)) usage.set(u.key, Math.max(0, usage.get(u.key)! - u.amount));
    const limitsByDay = new Map(days.map((d, k) => [d, limits[k]!]));
    const terms: CourierTerms = { terms: (c, from, to) => this.book.terms(books, c, from, to), limits: limits[0]!, limitsByDay, closed: this.closed };
    const cands = buildCandidates(this.net, this.cfg, order, region, free, usage, now, terms);
    const outcome = await decide({ problem: cands.problem, facts: cands.facts, policy: this.cfg.policy, radiusLockFactor: this.cfg.radiusLockFactor }, (p) =>
      this.solver.solve(p, this.cfg.solveTimeoutMs),
    );
    return {
      decision: this.assemble(order, cands, outcome, 0, now),
      reservation: this.reservationFor(cands, outcome.plan, terms),
      shipDays: outcome.plan.shipments.map((sh) => cands.optionInfo[sh.option]!.shipDay),
      provinceCode: prov,
    };
  }

  /** The configuration with a capacity horizon of today alone (for decisions where today has room everywhere). */
  private todayOnlyCfg: Config | undefined;
  private get todayOnly(): Config {
    return (this.todayOnlyCfg ??= { ...this.cfg, capacityHorizonDays: 1 });
  }

  /** Whether some warehouse's outbound parcels, or some courier's parcels or kilograms to the province, are used up today. */
  private todayFull(usage: Map<string, number>, terms: CourierTerms, provinceCode: string, day: string): boolean {
    if (this.net.warehouses.some((w) => (usage.get(counterKeys.warehouseParcels(w.id, day)) ?? 0) >= w.dailyOutboundParcels)) return true;
    return this.net.couriers.some((c) => {
      const limit = courierLimit(terms, c, day, day);
      return (
        (limit.parcels !== null && (usage.get(counterKeys.courierParcels(c.id, provinceCode, day)) ?? 0) >= limit.parcels) ||
        (limit.kg !== null && (usage.get(counterKeys.courierGrams(c.id, provinceCode, day)) ?? 0) >= limit.kg * 1_000)
      );
    });
  }

  private counterKeysFor(provinceCode: string, day: string): string[] {
    return [
      ...this.net.warehouses.map((w) => counterKeys.warehouseParcels(w.id, day)),
      ...this.net.couriers.map((c) => counterKeys.courierParcels(c.id, provinceCode, day)),
      ...this.net.couriers.map((c) => counterKeys.courierGrams(c.id, provinceCode, day)),
    ];
  }

  private reservationFor(cands: Candidates, plan: Plan, terms: CourierTerms, picks?: LotPick[][]): { items: ReservationItem[]; counters: CounterUse[] } {
    const p = cands.problem;
    const items: ReservationItem[] = [];
    const counters: CounterUse[] = [];
    plan.shipments.forEach((s, si) => {
      const o = p.options[s.option]!;
      const w = cands.sites[o.site]!.warehouse;
      // Capacity is counted on the day the shipment leaves (its site's ship day).
      const { courierId, shipDay } = cands.optionInfo[s.option]!;
      for (const { arc, qty } of s.arcs) {
        const info = cands.arcInfo[arc]!;
        // A shelf-life SKU's units are reserved on the lots the decision names (below).
        if (cands.lots?.skus.has(info.sku) !== true) items.push({ warehouseId: info.fromWarehouseId, sku: info.sku, qty });
      }
      for (const pick of picks?.[si] ?? []) {
        items.push({ warehouseId: pick.fromWarehouseId, sku: pick.lot === null ? pick.sku : lotCell(pick.sku, pick.lot), qty: pick.qty });
      }
      // A shipment that joins an open one adds no parcel: only its kilograms count.
      const joins = cands.optionInfo[s.option]!.join !== undefined;
      if (!joins) counters.push({ key: counterKeys.warehouseParcels(w.id, shipDay), amount: s.parcels, limit: w.dailyOutboundParcels });
      // Courier use is always counted (a reroute moves it), against the live limit or none.
      const courier = this.net.couriers.find((c) => c.id === courierId)!;
      const limit = courierLimit(terms, courier, shipDay, cands.day);
      const prov = cands.region.provinceCode;
      if (!joins) counters.push({ key: counterKeys.courierParcels(courier.id, prov, shipDay), amount: s.parcels, limit: limit.parcels ?? NO_LIMIT });
      counters.push({
        key: counterKeys.courierGrams(courier.id, prov, shipDay),
        amount: Math.round(shipmentWeightKg(p, s) * 1_000),
        limit: limit.kg === null ? NO_LIMIT : Math.round(limit.kg * 1_000),
      });
    });
    return { items, counters };
  }

  private assemble(
    order: OrderInput,
    cands: Candidates,
    outcome: Outcome,
    micros: number,
    now: number,
    /** The scarcity weights the problem carries (shadow prices): never money, so taken out of the freight. */
    weights?: PriceWeights,
    /** The lots each shipment takes (FEFO), when the order has shelf-life lines. */
    picks?: LotPick[][],
  ): Decision {
    const { plan, mode, stats } = outcome;
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
      const freight = (o.perParcel - (weights?.perParcel[s.option] ?? 0)) * s.parcels + o.perKg * weightKg;
      const split = idx === 0 ? 0 : p.splitPenalty;
      const total = freight + transfer + storage + info.latenessCny + split;
      moneyTotal += total;
      const join = info.join?.shipment;
      return {
        warehouseId: site.warehouse.id,
        courierId: info.courierId,
        // A joined shipment travels on its master's waybill.
        trackingNumber: join?.trackingNumber ?? trackingNumber(info.courierId, order.orderId, idx, 0),
        lines: [...qtyBySku].map(([sku, qty]) => {
          const lots = (picks?.[idx] ?? []).filter((k) => k.sku === sku && k.lot !== null);
          return lots.length === 0 ? { sku, qty } : { sku, qty, lots: lots.map((k) => ({ lot: k.lot!, expiresOn: k.expiresOn!, fromWarehouseId: k.fromWarehouseId, qty: k.qty, ...(k.near ? { nearExpiry: true } : {}) })) };
        }),
        transfers,
        weightKg: round2(weightKg),
        parcels: join === undefined ? s.parcels : 0,
        distanceKm: Math.round(site.roadKm * 10) / 10,
        pickupAt: toIsoWithOffset(info.pickupMs, tz),
        eta: toIsoWithOffset(info.etaMs, tz),
        cost: {
          freight: round2(freight),
          transfer: round2(transfer),
          storage: round2(storage),
          lateness: round2(info.latenessCny),
          split: round2(split),
          total: round2(total),
        },
        ...(join !== undefined ? { joinedOrderId: join.masterOrderId } : {}),
      };
    });
    // Backordered: what the plan leaves of each line, plus what the partial cap kept out of the problem.
    const backordered = p.lines.map((l, i) => ({ sku: l.sku, qty: plan.backordered[i]! + cands.ordered[i]! - l.qty })).filter((b) => b.qty > 0);
    const shippedUnits = p.lines.reduce((n, l, i) => n + l.qty - plan.backordered[i]!, 0);
    const status: Decision['status'] = backordered.length === 0 ? 'allocated' : shippedUnits > 0 ? 'partial' : 'backordered';
    const reasons = explain({ cands, outcome, radiusLockFactor: this.cfg.radiusLockFactor, ...(weights !== undefined ? { weights } : {}) });
    cands.partialCapped.forEach((networkFree, i) => {
      if (networkFree === null) return;
      reasons.push({
        warehouseId: null,
        code: 'PARTIAL_CAPPED',
        detail: `${p.lines[i]!.sku}: ${cands.ordered[i]} ordered, more than ${this.cfg.partialCapAbove} x the ${networkFree} free in the whole network (PARTIAL_CAP_ABOVE); such a line takes at most ${this.cfg.partialMaxShare} of them (PARTIAL_MAX_SHARE): ${p.lines[i]!.qty}`,
      });
    });
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
    const [reroutes, reopts] = await Promise.all([this.store.listAll<Reroute>(storeKeys.reroutes(orderId)), this.store.listAll<Reoptimization>(storeKeys.reoptimizations(orderId))]);
    const decision = currentDecision(d.decision, reroutes, reopts);
    // The group records live under the waybills as they stand: a reroute moves a shared waybill's record to its new number.
    const groups = await groupViews(this.store, this.cfg, decision, this.clock());
    return { orderId, state: stateOf(d), reservationExpiresAt, decision, reroutes, ...(groups.length > 0 ? { groups } : {}) };
  }

  /**
   * The order's stock left the warehouse: its reservation is committed (on hand and reserved both
   * drop). One atomic step in the store against a cancel and the reservation's expiry (of a
   * shipment and a cancel racing, exactly one wins); the loser's answer is the winner's state.
   * Shipping twice answers the same; a cancelled, expired or unreserved order cannot ship.
   */
  async ship(orderId: string): Promise<OrderView> {
    const r = await this.store.commit(orderId);
    if (r === 'committed') {
      for (const l of this.changed) l(orderId);
      return this.get(orderId);
    }
    // Refused: the order's state is final now (committed, cancelled, expired or never held), so
    // reading it after the refusal names the reason without a race.
    const d = await this.store.getDecision<Decision>(orderId);
    if (!d) throw new DspError('DSP_ORDER_NOT_FOUND', `no decision for order ${orderId}`, [{ orderId }]);
    if (r === 'cancelled' || d.cancelled) {
      throw new DspError('DSP_ORDER_NOT_SHIPPABLE', `order ${orderId} was cancelled; its stock was returned`, [{ orderId, state: 'cancelled' }]);
    }
    if (d.reservation === 'committed') return this.get(orderId);
    if (r === 'expired' || d.reservation === 'expired') {
      throw new DspError('DSP_RESERVATION_EXPIRED', `order ${orderId}'s reservation expired before it shipped; its stock was returned`, [{ orderId }]);
    }
    throw new DspError('DSP_ORDER_NOT_SHIPPABLE', `order ${orderId} holds no reservation (${stateOf(d)})`, [{ orderId, state: stateOf(d) }]);
  }

  /**
   * Releases the order's reservation and marks it cancelled, in one atomic step in the store
   * against a shipment. Cancelling twice answers the same; a shipped order cannot be cancelled.
   */
  async cancel(orderId: string): Promise<OrderView> {
    const r = await this.store.cancelOrder(orderId);
    if (r === 'not-found') throw new DspError('DSP_ORDER_NOT_FOUND', `no decision for order ${orderId}`, [{ orderId }]);
    if (r === 'committed') {
      throw new DspError('DSP_ORDER_NOT_CANCELLABLE', `order ${orderId} has shipped; its stock is committed`, [{ orderId, state: 'committed' }]);
    }
    for (const l of this.changed) l(orderId);
    await this.leaveJoined(orderId);
    return this.get(orderId);
  }

  /**
   * A cancelled child order gives its room in the shipments it joined back (it stays listed
   * nowhere else), under the waybills as they stand: a reroute moved its master's waybill, and the
   * record with it, to a new number.
   */
  private async leaveJoined(orderId: string): Promise<void> {
    const d = await this.store.getDecision<Decision>(orderId);
    if (d === null || !d.decision.shipments.some((s) => s.joinedOrderId !== undefined)) return;
    const reroutes = await this.store.listAll<Reroute>(storeKeys.reroutes(orderId));
    const joined = applyReroutes(d.decision, reroutes).shipments.filter((s) => s.joinedOrderId !== undefined);
    const [group] = await this.store.listAll<string>(storeKeys.orderGroup(orderId));
    if (group !== undefined) await Promise.all(joined.map((s) => this.store.openShipmentLeave(group, s.trackingNumber, orderId)));
  }
}

function stateOf(d: StoredDecision<Decision>): OrderState {
  if (d.cancelled) return 'cancelled';
  if (d.decision.status === 'held' || d.decision.status === 'refused') return d.decision.status;
  if (d.reservation === 'committed') return 'committed';
  if (d.reservation === 'held') return 'reserved';
  if (d.reservation === 'expired') return 'expired';
  return 'backordered';
}

type NormalOrder = OrderInput & { region: NonNullable<ReturnType<NetworkContext['regions']['lookup']>>; merge: MergeFacts };

/** The order as the before hook changed it: candidate constraints, no split, a moved promise. */
function withRuleEffects(order: NormalOrder, fx: RuleEffects): NormalOrder {
  const constrained = fx.forbidWarehouses.size > 0 || fx.forceWarehouse !== null || fx.forbidCouriers.size > 0 || fx.forceCourier !== null;
  return {
    ...order,
    allowSplit: order.allowSplit && !fx.noSplit,
    promisedByMs: order.promisedByMs + fx.promiseShiftHours * 3_600_000,
    ...(constrained ? { rules: { forbidWarehouses: fx.forbidWarehouses, forceWarehouse: fx.forceWarehouse, forbidCouriers: fx.forbidCouriers, forceCourier: fx.forceCourier } } : {}),
  };
}

function cloneEffects(fx: RuleEffects): RuleEffects {
  return { ...fx, forbidWarehouses: new Set(fx.forbidWarehouses), forbidCouriers: new Set(fx.forbidCouriers), attributes: { ...fx.attributes }, notes: [...fx.notes], tags: [...fx.tags] };
}

/** The decision's rules section, and the waybill notes on the shipments they concern. */
function withRules(d: Decision, run: RuleRun): void {
  const fx = run.effects;
  // Nothing fired and nothing failed: the decision is what it would be without rules.
  if (run.evaluation.fired.length === 0 && run.evaluation.failed.length === 0 && fx.intercept === null) return;
  d.rules = {
    versions: run.snap.versions(),
    fired: run.evaluation.fired,
    failed: run.evaluation.failed,
    intercept: fx.intercept,
    attributes: fx.attributes,
    tags: fx.tags,
  };
  for (const s of d.shipments) {
    const notes = [...new Set(fx.notes.filter((n) => n.sku === null || s.lines.some((l) => l.sku === n.sku)).map((n) => n.note))];
    if (notes.length > 0) s.waybillNote = notes.join('; ');
  }
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

/**
 * Runs a store step from which on the order's decision may be stored: once the store is asked to
 * store it, a failure can no longer say that nothing was reserved (the command may have run with
 * its reply lost, or the indexes after it failed). Such a failure answers DSP_DECISION_PENDING:
 * the ERP retries with the same orderId and gets the stored decision, or a fresh one when it was
 * not stored; the recovery pass completes a stored decision's indexes meanwhile.
 */
async function afterDecision<T>(orderId: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    if (!(err instanceof StoreUnavailableError)) throw err;
    throw new DspError('DSP_DECISION_PENDING', `the decision of order ${orderId} may have been stored (the state store failed while storing it: ${err.message}); retry with the same orderId to get it`, [
      { orderId },
    ]);
  }
}
