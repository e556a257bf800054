import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Allocator } from '../allocate/allocator.js';
import type { Reoptimization } from '../allocate/reoptimized.js';
import type { Reroute } from '../allocate/reroute.js';
import { etaOf, kpiFromTotals, kpiShare } from './kpi.js';
import { catalogueWriteOffs, type WriteOffs } from './write-offs.js';
import { storeKeys } from '../store/keys.js';
import { parseIsoWithOffset, toIsoWithOffset } from '../domain/time.js';
import type { Config } from '../config.js';
import type { Decision } from '../domain/schemas.js';
import { DspError } from '../errors.js';
import type { Store, StoredDecision, StoredScan } from '../store/types.js';
import { LEFT_WAREHOUSE_RANK, scanKey, type StatusMachine, type TrackingView } from '../domain/scan-states.js';

/** A WMS event as the WMS sends it (POST /v1/wms/events, or the polled feed). */
export interface WmsEvent {
  orderId: string;
  /** Raw WMS status code, e.g. SHIPPED_READY. */
  code: string;
  /** Operation time, ISO-8601 with an offset. */
  at: string;
  warehouseId?: string;
  location?: string;
}

export type WmsResult =
  | { index: number; status: 'applied' | 'duplicate'; state: string | null; warning?: string }
  | { index: number; status: 'rejected'; code: string; message: string };

/**
 * Applies WMS scans to orders (idempotent, any order; see status.ts), commits the reservation when
 * an order leaves the warehouse, and computes the customer's timeline and the KPIs.
 */
export class Tracker {
  /** Observers of every new scan: the order, the scan (epoch ms), the order's view after it, and its decision. */
  readonly listeners: ((orderId: string, scan: { code: string; at: number; warehouseId?: string }, view: TrackingView, d: StoredDecision<Decision>) => void)[] = [];

  constructor(
    private readonly store: Store,
    private readonly allocator: Allocator,
    private readonly machine: StatusMachine,
    private readonly cfg: Pick<Config, 'timezoneOffsetMinutes' | 'wmsMaxClockSkewMinutes' | 'staleTrackingHours'>,
    private readonly clock: () => number,
  ) {}

  /**
   * Applies a batch: a bad event is rejected with its reason, the others apply. Work is per order,
   * not per event: each order's new scans are stored in one call, its scans read and its view
   * computed once, so a batch costs time linear in its events and in the order's stored scans
   * (per event, it grew with every scan the order already had: 1,000 scans on one order were
   * quadratic). Each result carries the order's state after the whole batch.
   */
  async apply(events: readonly WmsEvent[]): Promise<WmsResult[]> {
    const out: WmsResult[] = new Array(events.length);
    const byOrder = new Map<string, { index: number; scan: StoredScan }[]>();
    for (const [index, e] of events.entries()) {
      try {
        const scan = this.checked(e);
        let group = byOrder.get(e.orderId);
        if (group === undefined) byOrder.set(e.orderId, (group = []));
        group.push({ index, scan });
      } catch (err) {
        if (!(err instanceof DspError)) throw err;
        out[index] = { index, status: 'rejected', code: err.code, message: err.message };
      }
    }
    for (const [orderId, group] of byOrder) {
      try {
        const applied = await this.applyOrder(orderId, group.map((g) => g.scan));
        group.forEach((g, k) => (out[g.index] = { index: g.index, ...applied[k]! }));
      } catch (err) {
        if (!(err instanceof DspError)) throw err;
        for (const g of group) out[g.index] = { index: g.index, status: 'rejected', code: err.code, message: err.message };
      }
    }
    return out;
  }

  /** What can be judged of one event alone: a known code, a valid time, not in the future. */
  private checked(e: WmsEvent): StoredScan {
    if (!this.machine.knows(e.code)) throw new DspError('DSP_UNKNOWN_WMS_CODE', `unknown WMS status code ${e.code}`, [{ code: e.code }]);
    const at = parseIsoWithOffset(e.at);
    if (at === null) throw new DspError('DSP_BAD_TIME', `at is not ISO-8601 with an offset: ${e.at}`);
    if (at > this.clock() + this.cfg.wmsMaxClockSkewMinutes * 60_000) throw new DspError('DSP_BAD_TIME', `at ${e.at} lies in the future`);
    return { code: e.code, at, ...(e.warehouseId !== undefined ? { warehouseId: e.warehouseId } : {}), ...(e.location !== undefined ? { location: e.location } : {}) };
  }

  /** One order's scans of a batch: stored at once, then the view, the commit on leaving the warehouse, the listeners. */
  private async applyOrder(orderId: string, scans: StoredScan[]): Promise<Omit<Extract<WmsResult, { status: 'applied' | 'duplicate' }>, 'index'>[]> {
    const d = await this.store.getDecision<Decision>(orderId);
    if (!d) throw new DspError('DSP_ORDER_NOT_FOUND', `no decision for order ${orderId}`, [{ orderId }]);
    const isNew = await this.store.addScans(
      orderId,
      scans.map((scan) => ({ key: scanKey(scan), scan })),
    );
    const view = this.machine.view(await this.store.scans(orderId));
    let warning: string | undefined;
    // "Left warehouse" commits the reserved stock (idempotent: a committed order stays committed).
    if (view.rank >= LEFT_WAREHOUSE_RANK && d.reservation === 'held') {
      try {
        await this.allocator.ship(orderId);
      } catch (err) {
        if (!(err instanceof DspError)) throw err;
        warning = `${err.code}: ${err.message}`;
      }
    } else if (view.rank >= LEFT_WAREHOUSE_RANK && d.reservation !== 'committed') {
      warning = `order ${orderId} left the warehouse but holds no reservation (${d.cancelled ? 'cancelled' : (d.reservation ?? 'backordered')})`;
    }
    scans.forEach((scan, k) => {
      if (isNew[k]) for (const l of this.listeners) l(orderId, scan, view, d);
    });
    return scans.map((_, k) => ({ status: isNew[k] ? ('applied' as const) : ('duplicate' as const), state: view.state, ...(warning !== undefined ? { warning } : {}) }));
  }

  async timeline(orderId: string) {
    const d = await this.store.getDecision<Decision>(orderId);
    if (!d) throw new DspError('DSP_ORDER_NOT_FOUND', `no decision for order ${orderId}`, [{ orderId }]);
    const view = this.machine.view(await this.store.scans(orderId));
    const tz = this.cfg.timezoneOffsetMinutes;
    const iso = (ms: number | null) => (ms === null ? null : toIsoWithOffset(ms, tz));
    return {
      orderId,
      state: view.state,
      stateLabel: view.state === null ? null : this.machine.label(view.state),
      exception: view.exception,
      promisedBy: iso(d.promisedByMs ?? null),
      eta: iso(etaOf(d.decision)),
      deliveredAt: iso(view.deliveredAt),
      events: view.timeline.map((t) => ({
        at: iso(t.at)!,
        code: t.code,
        kind: t.kind,
        name: t.name,
        label: t.label,
        labelZh: t.labelZh,
        ...(t.warehouseId !== undefined ? { warehouseId: t.warehouseId } : {}),
        ...(t.location !== undefined ? { location: t.location } : {}),
      })),
    };
  }

  /** Per order, the last KPI share refresh queued in this instance (they run one after another per order). */
  private readonly refreshing = new Map<string, Promise<void>>();
  /** Orders whose queued refresh has not started reading yet: more changes meanwhile need no second one. */
  private readonly queued = new Set<string>();
  /** Decisions just stored whose queued refresh may use them as read (see noteDecision). */
  private readonly fresh = new Map<string, StoredDecision<Decision>>();

  /**
   * An order changed (decided, cancelled, shipped, scanned, rerouted): its share of the running
   * KPI counters is recomputed from the order as stored now and replaced in the store. Changes
   * that come together (a batch of 1,000 scans of one order) are one refresh, so the work stays
   * linear in the batch; refreshes of one order run one after another, so an older reading never
   * overwrites a newer one here (across instances, the order's next change puts it right). A
   * refresh the store refuses (an outage) is redone at the order's next change.
   */
  noteChange(orderId: string): void {
    this.fresh.delete(orderId);
    this.queue(orderId);
  }

  /**
   * A decision was just stored (the store's own view of it, as putDecisionIfAbsent answered): its
   * refresh computes the share from that view instead of reading the order back, which costs a
   * JSON parse of the decision (and a round trip on Redis) on every allocation. Any other change
   * noted before the refresh starts drops the view, so the refresh then reads the store.
   */
  noteDecision(stored: StoredDecision<Decision>): void {
    this.fresh.set(stored.orderId, stored);
    this.queue(stored.orderId);
  }

  private queue(orderId: string): void {
    if (this.queued.has(orderId)) return;
    this.queued.add(orderId);
    const before = this.refreshing.get(orderId) ?? Promise.resolve();
    const p: Promise<void> = before.then(async () => {
      // A turn first: the rest of the change (the listeners of the same batch) joins this refresh.
      await nextTurn();
      this.queued.delete(orderId);
      await this.refreshKpi(orderId).catch(() => undefined);
    });
    this.refreshing.set(orderId, p);
    void p.finally(() => {
      if (this.refreshing.get(orderId) === p) this.refreshing.delete(orderId);
    });
  }

  /** Recomputes one order's KPI share (see noteChange). */
  async refreshKpi(orderId: string): Promise<void> {
    const known = this.fresh.get(orderId);
    this.fresh.delete(orderId);
    const d = known ?? (await this.store.getDecision<Decision>(orderId));
    if (!d) {
      await this.store.kpiPut(orderId, null, null);
      return;
    }
    const [reroutes, reopts] = await Promise.all([this.store.listAll<Reroute>(storeKeys.reroutes(orderId)), this.store.listAll<Reoptimization>(storeKeys.reoptimizations(orderId))]);
    const view = !d.cancelled && d.decision.shipments.length > 0 ? this.machine.view(await this.store.scans(orderId)) : null;
    const net = this.allocator.net;
    const share = kpiShare(d, reroutes, view, { staleTrackingHours: this.cfg.staleTrackingHours, priceCny: (sku) => net.skuByCode.get(sku)?.priceCny ?? 0 }, reopts);
    await this.store.kpiPut(orderId, share, d.retainUntil ?? null);
  }

  /**
   * Recomputes the share of every stored order, one at a time with a turn of the event loop
   * between chunks: for a store whose orders were decided before the counters existed (a Redis
   * kept across the upgrade). A full pass, so not for requests; the tests compare the counters
   * it gives with those kept along the way.
   */
  async rebuildKpi(): Promise<number> {
    const ids = await this.store.orderIds();
    for (const [i, id] of ids.entries()) {
      if (i > 0 && i % REBUILD_CHUNK === 0) await nextTurn();
      await this.refreshKpi(id);
    }
    return ids.length;
  }

  /**
   * KPIs over the stored orders, at the store's present, from the running counters: a few counters
   * and counts whatever the number of orders (src/tracking/kpi.ts).
   */
  async kpi() {
    await Promise.all([...this.refreshing.values()]);
    const now = this.clock();
    const [totals, writtenOff] = await Promise.all([this.store.kpiRead(), this.writeOffs(now)]);
    return kpiFromTotals(totals, now, this.cfg.staleTrackingHours, toIsoWithOffset(now, this.cfg.timezoneOffsetMinutes), writtenOff);
  }

  /**
   * Units that can no longer be sold at `now` and their list value (src/tracking/write-offs.ts),
   * from the free units of the shelf-life SKUs' lots: one read of the lots, never of the orders,
   * and none at all while the store has no lot.
   */
  private async writeOffs(now: number): Promise<WriteOffs> {
    if (!this.store.mayHaveLots()) return { units: 0, valueFen: 0 };
    const net = this.allocator.net;
    this.shelfLifeSkus ??= [...net.skuByCode.values()].filter((s) => s.shelfLifeDays !== null).map((s) => s.sku);
    const lots = await this.store.freeLots(this.shelfLifeSkus);
    return catalogueWriteOffs(lots, now, net.skuByCode, this.cfg.timezoneOffsetMinutes);
  }

  /** The SKUs whose stock is kept in lots (those with a shelf life), listed once. */
  private shelfLifeSkus: string[] | undefined;
}

/** Orders a KPI rebuild refreshes between two turns of the event loop. */
const REBUILD_CHUNK = 100;
