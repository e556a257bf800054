import type { Reoptimization } from '../allocate/reoptimized.js';
import { hostname } from 'node:os';
import type { Namespace, Socket } from 'socket.io';
import { randomUUID } from 'node:crypto';
import { localDay } from '../domain/time.js';
import { mergeAndLotFigures } from '../tracking/kpi.js';
import { catalogueWriteOffs, type WriteOffs } from '../tracking/write-offs.js';
import { counterKeys } from '../store/keys.js';
import type { Services } from '../api/services.js';
import type { Decision } from '../domain/schemas.js';
import type { StockLevel } from '../store/types.js';
import type { LiveCodec, LiveEvent } from './codec.js';

/** What the hub needs from the service (a subset of Services, so tests and benches can build it). */
export type LiveServices = Pick<Services, 'net' | 'store' | 'config' | 'clock'> & Partial<Pick<Services, 'allocator'>>;

/** Request facts a decision does not carry (the allocate path only stores the decision). */
export interface OrderContext {
  customerId?: string;
  destination?: { lon: number; lat: number; address?: string };
  promisedBy?: string;
  placedAt?: string;
}

export interface LiveHubOptions {
  /** Server batching interval, ms (one message per event kind per frame at most). Default 16. */
  frameMs?: number;
  /** Decisions kept for the snapshot of a joining client. Default 300. */
  recentMax?: number;
  /** Rolling KPI window, s. Default 60. */
  kpiWindowS?: number;
  /** How often stock and capacity are read from the store while decisions flow, ms. Default 1000. */
  stockIntervalMs?: number;
  /** Stock and capacity are re-read at least this often even without decisions (other writers), ms. Default 5000. */
  stockIdleMs?: number;
  /** A SKU with 0 < free <= this is "low", units. Default 5. */
  lowThreshold?: number;
  /** Instance id shown on the stream; default host:pid. */
  instanceId?: string;
  /**
   * The on-time delivery rate (0..1, delivered by promisedBy among orders due), or null while
   * unknown, e.g. `async () => (await tracker.kpi()).onTimeRate` once deliveries are tracked
   * (issue 5). Absent: Kpi.on_time_pct stays absent (unknown), never invented.
   */
  onTime?: () => Promise<number | null>;
  /** How often onTime is asked, ms. Default 15000. */
  onTimeEveryMs?: number;
  /**
   * True when other instances may have listeners (the socket.io Redis adapter): every frame is
   * then encoded and broadcast. False (default, one instance): a frame is encoded only while a
   * map of this instance is in the room, so an unwatched service spends nothing on the stream.
   */
  clustered?: boolean;
}

/** The live Decision message as a plain object (camelCase fields of dispatchd.proto's Decision). */
export interface LiveDecision {
  orderId: string;
  status: string;
  mode: string;
  shipments: {
    warehouseId: string;
    courierId: string;
    lines: { sku: string; qty: number }[];
    transfers: { fromWarehouseId: string; sku: string; qty: number }[];
    weightKg: number;
    parcels: number;
    distanceKm: number;
    etaMs: number;
    cost: { freight: number; transfer: number; storage: number; lateness: number; split: number; total: number };
  }[];
  backordered: { sku: string; qty: number }[];
  totalCost: number;
  reasons: { warehouseId?: string; code: string; detail: string; costDelta?: number }[];
  solver: string;
  solveMicros: number;
  decideMicros: number;
  decidedAtMs: number;
  destination?: { lon: number; lat: number };
  customerId: string;
  address: string;
  promisedByMs?: number;
  placedAtMs?: number;
  instanceId: string;
  publishedAtMs: number;
  reasonsOmitted: number;
}

interface WarehouseStock {
  warehouseId: string;
  onHand: number;
  free: number;
  reserved: number;
  locked: number;
  skus: number;
  skusOut: number;
  skusLow: number;
  lowThreshold: number;
}

export interface KpiSample {
  at: number;
  /** Money of the decision, CNY: freight + transfers + storage (no penalty). */
  cost: number;
  /** Its decision weights, CNY: lateness + split penalties (reported apart, never money). */
  penalty?: number;
  /** Units backordered and their value at list price, CNY. */
  backorderedUnits?: number;
  backorderedValue?: number;
  shipments: number;
  split: boolean;
  backordered: boolean;
  /** Courier ids, one per shipment. */
  couriers: string[];
  /** Merged groups the decision formed (its MERGED_GROUP reason), and the freight its joins saved, CNY. */
  mergedGroups?: number;
  mergeSaved?: number;
  /** Units of near-expiry lots the decision ships. */
  nearExpiryUnits?: number;
}

/** A re-optimisation move of this instance's job, for the rolling KPIs. */
export interface MoveSample {
  at: number;
  /** Shipments moved (the order's shipments before the move). */
  shipments: number;
  /** Money the move saved, CNY. */
  saving: number;
}

/**
 * The decisions of the KPI window and their running sums: a decision is added when published and
 * taken out when it leaves the window, so a KPI costs the same at 10 or 100,000 decisions a
 * minute (summing the window each second stalled the event loop for milliseconds on Double-11).
 */
export class KpiWindow {
  private readonly samples: KpiSample[] = [];
  /** Index of the oldest sample still in the window. */
  private head = 0;
  cost = 0;
  penalty = 0;
  backorderedUnits = 0;
  backorderedValue = 0;
  shipments = 0;
  split = 0;
  backordered = 0;
  mergedGroups = 0;
  mergeSaved = 0;
  nearExpiryUnits = 0;
  /** Shipments per courier id (couriers with none left in the window are dropped). */
  readonly byCourier = new Map<string, number>();

  get size(): number {
    return this.samples.length - this.head;
  }

  add(s: KpiSample): void {
    this.samples.push(s);
    this.count(s, 1);
  }

  /** Drops the samples older than `from` (epoch ms). */
  expire(from: number): void {
    while (this.head < this.samples.length && this.samples[this.head]!.at < from) this.count(this.samples[this.head++]!, -1);
    if (this.head === this.samples.length) {
      // Empty: start the sums afresh (no floating-point residue from adding and taking out).
      this.samples.length = 0;
      this.head = 0;
      this.cost = 0;
      this.penalty = 0;
      this.backorderedValue = 0;
      this.mergeSaved = 0;
    } else if (this.head > 1024 && this.head * 2 > this.samples.length) {
      this.samples.splice(0, this.head);
      this.head = 0;
    }
  }

  private count(s: KpiSample, sign: 1 | -1): void {
    this.cost += sign * s.cost;
    this.penalty += sign * (s.penalty ?? 0);
    this.backorderedUnits += sign * (s.backorderedUnits ?? 0);
    this.backorderedValue += sign * (s.backorderedValue ?? 0);
    this.shipments += sign * s.shipments;
    this.mergedGroups += sign * (s.mergedGroups ?? 0);
    this.mergeSaved += sign * (s.mergeSaved ?? 0);
    this.nearExpiryUnits += sign * (s.nearExpiryUnits ?? 0);
    if (s.split) this.split += sign;
    if (s.backordered) this.backordered += sign;
    for (const c of s.couriers) {
      const n = (this.byCourier.get(c) ?? 0) + sign;
      if (n === 0) this.byCourier.delete(c);
      else this.byCourier.set(c, n);
    }
  }
}

/**
 * The re-optimisation moves of the KPI window and their running sums (few: the job runs every
 * few minutes, on one instance at a time), in the order they were made.
 */
export class MoveWindow {
  private samples: MoveSample[] = [];
  shipments = 0;
  saving = 0;

  get size(): number {
    return this.samples.length;
  }

  add(m: MoveSample): void {
    this.samples.push(m);
    this.shipments += m.shipments;
    this.saving += m.saving;
  }

  /** Drops the moves older than `from` (epoch ms). */
  expire(from: number): void {
    let k = 0;
    while (k < this.samples.length && this.samples[k]!.at < from) {
      this.shipments -= this.samples[k]!.shipments;
      this.saving -= this.samples[k]!.saving;
      k++;
    }
    if (k > 0) this.samples = this.samples.slice(k);
    // Empty: start the sums afresh (no floating-point residue from adding and taking out).
    if (this.samples.length === 0) this.saving = 0;
  }
}

const CONTEXT_MAX = 20_000;
/** The key of the store's id (LiveHub.readWriteOffs) among the store's shared values. */
const STORE_ID_KEY = 'live:store-id';

/**
 * The live stream's state and fan-out: it turns decisions (and, later, reroutes and statuses)
 * into protobuf batches emitted at most once per frame per event kind to the sockets of the /live
 * namespace that have received their snapshot (room "live"), keeps the recent decisions, rolls
 * the KPIs, and reads stock and courier capacity from the store.
 */
export class LiveHub {
  readonly instanceId: string;
  readonly frameMs: number;
  private readonly recentMax: number;
  private readonly kpiWindowMs: number;
  private readonly stockIntervalMs: number;
  private readonly stockIdleMs: number;
  private readonly lowThreshold: number;
  private readonly clustered: boolean;

  private readonly recent: LiveDecision[] = [];
  private readonly pending: { decisions: LiveDecision[]; reroutes: object[]; statuses: object[] } = { decisions: [], reroutes: [], statuses: [] };
  private frameTimer: NodeJS.Timeout | undefined;
  private readonly contexts = new Map<string, OrderContext>();
  private readonly window = new KpiWindow();
  private readonly moves = new MoveWindow();
  /** The stock written off now (read with the stock), and the id of the store it is of; undefined until read. */
  private writtenOff: (WriteOffs & { storeId: string }) | undefined;
  private ordersTotal = 0;
  private readonly startedAt: number;
  private stock = new Map<string, WarehouseStock>();
  private capacity: { day: string; couriers: object[]; warehouses: object[] } | undefined;
  private stockDirty = true;
  private lastStockRead = 0;
  private readonly timers: NodeJS.Timeout[] = [];
  private closed = false;
  private refreshing: Promise<void> | undefined;
  private kpiChanged = true;
  private onTimePct: number | undefined;
  private onTimeBusy = false;
  /** True when a poll of the on-time rate was skipped because nobody watched: a joining map asks again. */
  private onTimeStale = false;
  private pollOnTime: (() => Promise<void>) | undefined;
  /** Counters for tests and the bench. */
  readonly stats = { frames: 0, decisionsPublished: 0, snapshots: 0, refreshErrors: 0 };

  constructor(
    private readonly nsp: Namespace,
    private readonly codec: LiveCodec,
    private readonly svc: LiveServices,
    opts: LiveHubOptions = {},
  ) {
    this.instanceId = opts.instanceId ?? `${hostname()}:${process.pid}`;
    this.frameMs = opts.frameMs ?? 16;
    this.recentMax = opts.recentMax ?? 300;
    this.kpiWindowMs = (opts.kpiWindowS ?? 60) * 1000;
    this.stockIntervalMs = opts.stockIntervalMs ?? 1000;
    this.stockIdleMs = opts.stockIdleMs ?? 5000;
    this.lowThreshold = opts.lowThreshold ?? 5;
    this.clustered = opts.clustered ?? false;
    this.startedAt = Date.now();
    nsp.on('connection', (socket) => void this.join(socket));
    this.timers.push(setInterval(() => void this.tick(), this.stockIntervalMs).unref());
    this.timers.push(setInterval(() => this.emitKpi(), 1000).unref());
    if (opts.onTime) {
      const ask = opts.onTime;
      const poll = async () => {
        if (this.onTimeBusy || this.closed) return;
        // The on-time rate reads every tracked order: only worth it while a map can show it.
        if (!this.watched()) {
          this.onTimeStale = true;
          return;
        }
        this.onTimeStale = false;
        this.onTimeBusy = true;
        try {
          const rate = await ask();
          const pct = rate === null || !Number.isFinite(rate) ? undefined : Math.round(rate * 1000) / 10;
          if (pct !== this.onTimePct) this.kpiChanged = true;
          this.onTimePct = pct;
        } catch {
          // unknown this round (store away); keep the last known value
        } finally {
          this.onTimeBusy = false;
        }
      };
      this.pollOnTime = poll;
      void poll();
      this.timers.push(setInterval(() => void poll(), opts.onTimeEveryMs ?? 15_000).unref());
    }
  }

  /** Records request facts of an order (its destination above all) for the decision that follows. */
  noteOrder(orderId: string, ctx: OrderContext): void {
    if (this.contexts.size >= CONTEXT_MAX) {
      const first = this.contexts.keys().next();
      if (!first.done) this.contexts.delete(first.value);
    }
    this.contexts.set(orderId, ctx);
  }

  /** A new decision of this instance: queued for the next frame, kept for snapshots and KPIs. */
  publishDecision(d: Decision, ctx?: OrderContext): LiveDecision {
    const known = ctx ?? this.contexts.get(d.orderId);
    this.contexts.delete(d.orderId);
    const now = Date.now();
    const live = toLiveDecision(d, known, this.instanceId, now);
    this.recent.push(live);
    if (this.recent.length > this.recentMax) this.recent.splice(0, this.recent.length - this.recentMax);
    this.ordersTotal++;
    const sku = this.svc.net.skuByCode;
    const f = mergeAndLotFigures(d);
    this.window.add({
      at: now,
      // Money only, over every decision of the window (issue 16); penalties apart.
      cost: d.shipments.reduce((n, x) => n + x.cost.freight + x.cost.transfer + x.cost.storage, 0),
      penalty: d.shipments.reduce((n, x) => n + x.cost.lateness + x.cost.split, 0),
      backorderedUnits: d.backordered.reduce((n, b) => n + b.qty, 0),
      backorderedValue: d.backordered.reduce((n, b) => n + b.qty * (sku.get(b.sku)?.priceCny ?? 0), 0),
      shipments: d.shipments.length,
      split: d.shipments.length > 1,
      backordered: d.backordered.length > 0,
      couriers: d.shipments.map((s) => s.courierId),
      mergedGroups: f.mergedGroups,
      mergeSaved: f.mergeSavedMicroCny / 1_000_000,
      nearExpiryUnits: f.nearExpiryUnits,
    });
    this.kpiChanged = true;
    this.stockDirty = true;
    this.pending.decisions.push(live);
    this.schedule();
    return live;
  }

  /** Emits a pre-built live decision (the bench injects these directly). */
  publishLive(live: LiveDecision): void {
    this.pending.decisions.push(live);
    this.schedule();
  }

  /** A reroute (Reroute message fields, camelCase): queued like decisions. */
  publishReroute(r: object): void {
    this.pending.reroutes.push(r);
    this.schedule();
  }

  /**
   * A reroute of the service's Rerouter (src/allocate/reroute.ts listeners: (orderId, r)): the
   * warehouse and destination come from the recent decision when this instance holds it, whose
   * shipment then carries the new courier (so a later snapshot shows it).
   */
  publishServiceReroute(
    orderId: string,
    r: { at: string; shipment: number; fromCourierId: string; toCourierId: string; fromTrackingNumber: string; trackingNumber: string; code: string; detail: string; parcels: number; freight: number; lateness: number; eta: string },
  ): void {
    let known: LiveDecision | undefined;
    for (let i = this.recent.length - 1; i >= 0 && !known; i--) if (this.recent[i]!.orderId === orderId) known = this.recent[i];
    const ship = known?.shipments[r.shipment];
    const eta = Date.parse(r.eta);
    if (ship) {
      ship.courierId = r.toCourierId;
      ship.parcels = r.parcels;
      if (Number.isFinite(eta)) ship.etaMs = eta;
    }
    this.publishReroute({
      orderId,
      fromWarehouseId: ship?.warehouseId ?? '',
      toWarehouseId: ship?.warehouseId ?? '',
      fromCourierId: r.fromCourierId,
      toCourierId: r.toCourierId,
      reasonCode: r.code,
      detail: r.detail,
      atMs: Date.parse(r.at) || Date.now(),
      ...(known?.destination ? { destination: known.destination } : {}),
      shipment: r.shipment,
      fromTrackingNumber: r.fromTrackingNumber,
      trackingNumber: r.trackingNumber,
      parcels: r.parcels,
      freight: r.freight,
      lateness: r.lateness,
      ...(Number.isFinite(eta) ? { etaMs: eta } : {}),
    });
  }

  /**
   * A re-optimisation move (src/allocate/reoptimize.ts): one Reroute message per new shipment, with
   * reason REOPTIMIZED, the old shipment of the same index (or the first) as its origin, and the
   * order's whole money saving as the first message's costDelta (negative: cheaper). The recent
   * decision, when this instance holds it, takes the new shipments, so a later snapshot shows them.
   */
  publishReoptimization(orderId: string, m: Reoptimization): void {
    this.moves.add({ at: Date.now(), shipments: m.from.length, saving: m.savingCny });
    this.kpiChanged = true;
    let known: LiveDecision | undefined;
    for (let i = this.recent.length - 1; i >= 0 && !known; i--) if (this.recent[i]!.orderId === orderId) known = this.recent[i];
    if (known) {
      known.shipments = m.shipments.map(liveShipment);
      known.totalCost = m.totalCost;
    }
    const atMs = Date.parse(m.at) || Date.now();
    m.shipments.forEach((s, i) => {
      const was = m.from[i] ?? m.from[0]!;
      const eta = Date.parse(s.eta);
      this.publishReroute({
        orderId,
        fromWarehouseId: was.warehouseId,
        toWarehouseId: s.warehouseId,
        fromCourierId: was.courierId,
        toCourierId: s.courierId,
        reasonCode: m.code,
        detail: m.detail,
        ...(i === 0 ? { costDelta: -m.savingCny } : {}),
        atMs,
        ...(known?.destination ? { destination: known.destination } : {}),
        shipment: i,
        fromTrackingNumber: was.trackingNumber,
        trackingNumber: s.trackingNumber,
        parcels: s.parcels,
        freight: s.cost.freight,
        lateness: s.cost.lateness,
        ...(Number.isFinite(eta) ? { etaMs: eta } : {}),
      });
    });
  }

  /** Shipment status changes (Status message fields), from the tracker's scans (attachLive): queued like decisions. */
  publishStatus(s: object): void {
    this.pending.statuses.push(s);
    this.schedule();
  }

  /** Recent decisions, oldest first (for tests and the page's snapshot). */
  recentDecisions(): readonly LiveDecision[] {
    return this.recent;
  }

  private schedule(): void {
    if (this.frameTimer || this.closed) return;
    this.frameTimer = setTimeout(() => this.flush(), this.frameMs);
  }

  /** One frame: at most one message per event kind, each a protobuf batch. */
  flush(): void {
    this.frameTimer = undefined;
    const room = this.nsp.to('live');
    const { decisions, reroutes, statuses } = this.pending;
    if (!this.watched()) {
      // Nobody can receive this frame: drop it unencoded. Decisions stay in `recent` and the KPI
      // window, so a map that joins later still gets them in its snapshot.
      this.pending.decisions = [];
      this.pending.reroutes = [];
      this.pending.statuses = [];
      return;
    }
    if (decisions.length > 0) {
      let oldest = Infinity;
      for (const d of decisions) if (d.publishedAtMs < oldest) oldest = d.publishedAtMs;
      this.emitTo(room, 'decision', { items: decisions, oldestPublishedAtMs: oldest });
      this.stats.decisionsPublished += decisions.length;
      this.pending.decisions = [];
    }
    if (reroutes.length > 0) {
      this.emitTo(room, 'reroute', { items: reroutes });
      this.pending.reroutes = [];
    }
    if (statuses.length > 0) {
      this.emitTo(room, 'status', { items: statuses });
      this.pending.statuses = [];
    }
    this.stats.frames++;
  }

  /**
   * Closes sockets of this instance with a reason (a Goodbye message first, then the disconnect):
   * all of them (shutdown), or those `which` picks (a revoked key).
   */
  goodbye(code: string, detail: string, which: (s: Socket) => boolean = () => true): number {
    let n = 0;
    for (const s of this.nsp.sockets.values()) {
      if (!which(s)) continue;
      this.emitTo(s, 'goodbye', { code, detail });
      s.disconnect(true);
      n++;
    }
    return n;
  }

  /** Whether a frame can reach anyone: a map of this instance in the room, or (clustered) maybe one elsewhere. */
  private watched(): boolean {
    return this.clustered || (this.nsp.adapter.rooms.get('live')?.size ?? 0) > 0;
  }

  private emitTo(target: { emit: (ev: string, ...args: unknown[]) => boolean }, event: LiveEvent, value: object): void {
    const bytes = this.codec.encode(event, value);
    target.emit(event, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  }

  /** A joining client: snapshot first, then it joins the room the deltas go to. */
  private async join(socket: Socket): Promise<void> {
    try {
      if (this.stock.size === 0 || this.stockDirty) await this.refresh();
      const snap = this.snapshot();
      if (!socket.connected) return;
      this.emitTo(socket, 'snapshot', snap);
      // Deltas queued before the join are in `recent` already; the next frame carries only newer ones.
      await socket.join('live');
      // An on-time rate not read while nobody watched comes with the next KPI message.
      if (this.onTimeStale) void this.pollOnTime?.();
      this.stats.snapshots++;
    } catch {
      socket.disconnect(true);
    }
  }

  /** The snapshot message as a plain object. */
  snapshot(): object {
    const net = this.svc.net;
    return {
      serverTimeMs: Date.now(),
      instanceId: this.instanceId,
      warehouses: net.warehouses.map((w) => ({
        id: w.id,
        name: w.name,
        city: w.city,
        cityZh: w.cityZh,
        kind: w.kind,
        lon: w.lon,
        lat: w.lat,
        radiusKm: w.radiusKm,
        dailyOutboundParcels: w.dailyOutboundParcels,
      })),
      couriers: net.couriers.map((c) => ({
        id: c.id,
        name: c.name,
        kind: c.kind,
        ...(c.dailyParcelsPerRegion !== null ? { dailyParcelsPerRegion: c.dailyParcelsPerRegion } : {}),
      })),
      stock: { atMs: this.lastStockRead, warehouses: [...this.stock.values()] },
      recent: this.recent,
      kpi: this.kpi(),
      ...(this.capacity ? { capacity: { atMs: this.lastStockRead, ...this.capacity } } : {}),
      frameMs: this.frameMs,
    };
  }

  /** Rolling KPIs over the window; on-time % stays absent (unknown) until deliveries are tracked. */
  kpi(): object {
    const now = Date.now();
    const from = now - this.kpiWindowMs;
    const w = this.window;
    w.expire(from);
    this.moves.expire(from);
    const money = (x: number) => Math.round(x * 100) / 100;
    const spanMs = Math.max(1_000, Math.min(this.kpiWindowMs, now - this.startedAt));
    const cost = w.cost;
    const orders = w.size;
    return {
      atMs: now,
      instanceId: this.instanceId,
      windowS: Math.round(spanMs / 1000),
      orders,
      ordersPerMin: Math.round((orders / (spanMs / 60_000)) * 10) / 10,
      costTotal: Math.round(cost * 100) / 100,
      ...(orders > 0 ? { costPerOrder: Math.round((cost / orders) * 100) / 100 } : {}),
      penaltyTotal: Math.round(w.penalty * 100) / 100,
      ...(orders > 0 ? { penaltyPerOrder: Math.round((w.penalty / orders) * 100) / 100 } : {}),
      backorderedUnits: w.backorderedUnits,
      backorderedValueCny: Math.round(w.backorderedValue * 100) / 100,
      ...(this.onTimePct !== undefined ? { onTimePct: this.onTimePct } : {}),
      shipments: w.shipments,
      splitOrders: w.split,
      backorderedOrders: w.backordered,
      couriers: [...w.byCourier].map(([courierId, shipments]) => ({ courierId, shipments, parcels: 0 })),
      ordersTotal: this.ordersTotal,
      mergedGroups: w.mergedGroups,
      mergeSavedCny: money(w.mergeSaved),
      reoptimizedShipments: this.moves.shipments,
      reoptimizationSavingCny: money(this.moves.saving),
      nearExpiryUnits: w.nearExpiryUnits,
      ...(this.writtenOff !== undefined ? { writtenOffUnits: this.writtenOff.units, writtenOffValueCny: this.writtenOff.valueFen / 100, storeId: this.writtenOff.storeId } : {}),
    };
  }

  private emitKpi(): void {
    if (this.closed) return;
    // Once a second while orders flow; also when the window empties out or on-time changes.
    if (!this.kpiChanged && this.window.size === 0 && this.moves.size === 0) return;
    if (!this.watched()) {
      // Unwatched: nothing is sent (a joining map computes the KPIs for its snapshot), but the
      // window still lets go of what has left it.
      this.window.expire(Date.now() - this.kpiWindowMs);
      return;
    }
    this.kpiChanged = false;
    this.emitTo(this.nsp.to('live'), 'kpi', this.kpi());
  }

  private async tick(): Promise<void> {
    if (this.closed) return;
    const now = Date.now();
    if (!this.stockDirty && now - this.lastStockRead < this.stockIdleMs) return;
    // Unwatched: stock stays dirty and a joining map reads it fresh (join below).
    if (!this.watched()) return;
    await this.refresh().catch(() => {
      this.stats.refreshErrors++;
    });
  }

  /** Reads stock and capacity counters from the store and emits what changed. */
  async refresh(): Promise<void> {
    this.refreshing ??= this.doRefresh().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async doRefresh(): Promise<void> {
    this.stockDirty = false;
    const levels = await this.svc.store.stock();
    const next = new Map<string, WarehouseStock>();
    for (const w of this.svc.net.warehouses) {
      next.set(w.id, { warehouseId: w.id, onHand: 0, free: 0, reserved: 0, locked: 0, skus: 0, skusOut: 0, skusLow: 0, lowThreshold: this.lowThreshold });
    }
    for (const l of levels) {
      const a = next.get(l.warehouseId);
      if (!a) continue;
      a.onHand += l.onHand;
      a.free += l.free;
      a.reserved += l.reserved;
      a.locked += l.locked;
      a.skus++;
      if (l.free <= 0) a.skusOut++;
      else if (l.free <= this.lowThreshold) a.skusLow++;
    }
    const changed = [...next.values()].filter((a) => {
      const b = this.stock.get(a.warehouseId);
      return !b || b.onHand !== a.onHand || b.free !== a.free || b.reserved !== a.reserved || b.locked !== a.locked || b.skusOut !== a.skusOut || b.skusLow !== a.skusLow;
    });
    const first = this.stock.size === 0;
    // The write-offs keep their last reading when the store id cannot be read: the stock still updates.
    await this.readWriteOffs(levels).catch(() => {
      this.stats.refreshErrors++;
    });
    this.stock = next;
    this.lastStockRead = Date.now();
    if (!first && changed.length > 0 && !this.closed) this.emitTo(this.nsp.to('live'), 'stock', { atMs: this.lastStockRead, warehouses: changed });

    const cap = await this.readCapacity();
    const capChanged = JSON.stringify(cap) !== JSON.stringify(this.capacity);
    this.capacity = cap;
    if (capChanged && !first && !this.closed) this.emitTo(this.nsp.to('live'), 'capacity', { atMs: this.lastStockRead, ...cap });
  }

  /**
   * The stock written off now (src/tracking/write-offs.ts) from the levels just read, and the id of
   * the store they come from: an id kept in the store itself, so that instances sharing one Redis
   * report one id and a map counts their (equal) figure once, while instances with stores of their
   * own are added up. A change makes the next KPI message go out.
   */
  private async readWriteOffs(levels: readonly StockLevel[]): Promise<void> {
    const { net, config, store, clock } = this.svc;
    let storeId = await store.kvGet<string>(STORE_ID_KEY);
    if (storeId === null) {
      // Two instances creating it at once: the later write wins, and the next read (every refresh) agrees.
      await store.kvSet(STORE_ID_KEY, randomUUID());
      storeId = (await store.kvGet<string>(STORE_ID_KEY)) ?? '';
    }
    const w = catalogueWriteOffs(levels, clock(), net.skuByCode, config.timezoneOffsetMinutes);
    const was = this.writtenOff;
    if (was === undefined || was.units !== w.units || was.valueFen !== w.valueFen || was.storeId !== storeId) this.kpiChanged = true;
    this.writtenOff = { ...w, storeId };
  }

  /** Today's parcels per courier and destination province, and per warehouse, from the store's counters. */
  private async readCapacity(): Promise<{ day: string; couriers: object[]; warehouses: object[] }> {
    const { net, config, store } = this.svc;
    const day = localDay(this.svc.clock(), config.timezoneOffsetMinutes);
    const provinces = [...new Set(net.regionsGeoJson.features.map((f) => f.properties.provinceCode))].sort();
    const courierKeys: { courierId: string; provinceCode: string; key: string; limit: number | null }[] = [];
    for (const c of net.couriers) {
      for (const p of provinces) courierKeys.push({ courierId: c.id, provinceCode: p, key: counterKeys.courierParcels(c.id, p, day), limit: c.dailyParcelsPerRegion });
    }
    const whKeys = net.warehouses.map((w) => ({ warehouseId: w.id, key: counterKeys.warehouseParcels(w.id, day), limit: w.dailyOutboundParcels }));
    const values = await store.counters([...courierKeys.map((k) => k.key), ...whKeys.map((k) => k.key)]);
    return {
      day,
      couriers: courierKeys
        .map((k) => ({ courierId: k.courierId, provinceCode: k.provinceCode, usedParcels: values.get(k.key) ?? 0, ...(k.limit !== null ? { limitParcels: k.limit } : {}) }))
        // Provinces a courier has not shipped to today are left out (the page shows the busiest).
        .filter((r) => r.usedParcels > 0),
      warehouses: whKeys.map((k) => ({ warehouseId: k.warehouseId, usedParcels: values.get(k.key) ?? 0, limitParcels: k.limit })),
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    if (this.frameTimer) clearTimeout(this.frameTimer);
    this.frameTimer = undefined;
    await this.refreshing?.catch(() => undefined);
  }
}

/** A service Decision (+ request facts) as the live Decision message. */
export function toLiveDecision(d: Decision, ctx: OrderContext | undefined, instanceId: string, publishedAtMs: number): LiveDecision {
  const promised = ctx?.promisedBy !== undefined ? Date.parse(ctx.promisedBy) : NaN;
  const placed = ctx?.placedAt !== undefined ? Date.parse(ctx.placedAt) : NaN;
  // The stream keeps the reasons about the order and the warehouses that ship; the page fetches
  // the rest (why not each other warehouse) from GET /v1/orders/{orderId} when asked.
  const shipping = new Set(d.shipments.map((s) => s.warehouseId));
  const kept = d.reasons.filter((r) => r.warehouseId === null || shipping.has(r.warehouseId));
  return {
    orderId: d.orderId,
    status: d.status,
    mode: d.mode,
    shipments: d.shipments.map(liveShipment),
    backordered: d.backordered,
    totalCost: d.totalCost,
    reasons: kept.map((r) => ({
      ...(r.warehouseId !== null ? { warehouseId: r.warehouseId } : {}),
      code: r.code,
      detail: r.detail,
      ...(r.costDelta !== undefined ? { costDelta: r.costDelta } : {}),
    })),
    solver: d.solver,
    solveMicros: d.solveMicros,
    decideMicros: d.decideMicros,
    decidedAtMs: Date.parse(d.decidedAt) || publishedAtMs,
    ...(ctx?.destination ? { destination: { lon: ctx.destination.lon, lat: ctx.destination.lat } } : {}),
    customerId: ctx?.customerId ?? '',
    address: ctx?.destination?.address ?? '',
    ...(Number.isFinite(promised) ? { promisedByMs: promised } : {}),
    ...(Number.isFinite(placed) ? { placedAtMs: placed } : {}),
    instanceId,
    publishedAtMs,
    reasonsOmitted: d.reasons.length - kept.length,
  };
}

/** A decision's shipment as the live map carries it (ETA in epoch ms; 0 when it does not parse). */
function liveShipment(s: Decision['shipments'][number]) {
  return {
    warehouseId: s.warehouseId,
    courierId: s.courierId,
    lines: s.lines,
    transfers: s.transfers,
    weightKg: s.weightKg,
    parcels: s.parcels,
    distanceKm: s.distanceKm,
    etaMs: Date.parse(s.eta) || 0,
    cost: s.cost,
  };
}
