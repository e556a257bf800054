import { PriceLpFailure } from '../../solver/prices.js';
import type { Config } from '../config.js';
import type { CourierBook } from '../couriers/book.js';
import { localDay } from '../domain/time.js';
import type { NetworkContext } from '../network/context.js';
import { counterKeys } from '../store/keys.js';
import type { Store } from '../store/types.js';
import { DemandTracker } from './demand.js';
import { buildPriceLp, toSnapshot } from './model.js';
import type { PriceSnapshot, PriceSource } from './snapshot.js';
import type { PriceLpSolver } from './thread.js';

/** What one refresh did, for logs, tests and the bench. */
export interface RefreshStats {
  /** Orders seen today and the factor the rest of the day was forecast with. */
  ordersSeen: number;
  factor: number;
  rows: number;
  cols: number;
  /** Whether HiGHS solved the LP; false when no resource could be scarce and every price is 0 without solving (BuiltPriceLp.nothingBinds). */
  solved: boolean;
  /** Wall time of the whole refresh (store reads, model, HiGHS), ms. */
  millis: number;
  /** Of which HiGHS's solve, ms. */
  solveMillis: number;
  /** Resources with a positive price. */
  priced: number;
}

/**
 * The shadow-price job (issue 17 item 3): keeps the demand observed today (each new order is
 * counted by the allocator: a few map updates, nothing else on the request path) and, every
 * PRICES_REFRESH_MS, builds the price LP of the expected rest of the day against what is left of
 * stock and capacity (src/pricing/model.ts) and solves it with HiGHS (solver/prices.ts). The
 * allocator reads only the last snapshot; a decision never waits for a refresh, and without a
 * snapshot of today it decides without prices. In the service a timer runs the refresh; a replay
 * calls `refreshIfDue` between events, in simulated time.
 *
 * Each instance prices from the orders it has seen itself; the stock and capacity it prices are
 * the shared store's.
 */
export class ShadowPrices implements PriceSource {
  private readonly demand: DemandTracker;
  private last: PriceSnapshot | undefined;
  private lastRefreshAt = -Infinity;
  private running: Promise<RefreshStats | undefined> | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Stats of the last refresh that solved (undefined before the first). */
  lastStats: RefreshStats | undefined;
  /** Refreshes started, and those whose LP failed (the last prices were kept). */
  refreshes = 0;
  failures = 0;

  constructor(
    private readonly net: NetworkContext,
    private readonly cfg: Pick<Config, 'pricesRefreshMs' | 'timezoneOffsetMinutes' | 'backorderPenaltyCny'>,
    private readonly store: Store,
    private readonly book: CourierBook,
    /** Solves the price LP: in this thread (replays, tests) or in a thread of its own (the service: PriceLpThread). */
    private readonly solveLp: PriceLpSolver,
    private readonly clock: () => number,
    /** Warehouses closed now (the allocator's set). */
    private readonly closed: ReadonlySet<string> = new Set(),
  ) {
    const parcelKg = Math.max(1, ...net.couriers.map((c) => c.maxParcelKg ?? 0));
    this.demand = new DemandTracker((sku) => net.skuByCode.get(sku)?.unitWeightKg ?? 0, parcelKg, cfg.timezoneOffsetMinutes);
  }

  observe(order: { provinceCode: string; lines: readonly { sku: string; qty: number }[] }, nowMs: number): void {
    this.demand.observe(order, nowMs);
  }

  snapshot(nowMs: number): PriceSnapshot | undefined {
    const s = this.last;
    return s !== undefined && s.day === localDay(nowMs, this.cfg.timezoneOffsetMinutes) ? s : undefined;
  }

  /** Refreshes when PRICES_REFRESH_MS has passed since the last refresh (replays: in stream time). */
  async refreshIfDue(nowMs: number = this.clock()): Promise<void> {
    if (nowMs - this.lastRefreshAt >= this.cfg.pricesRefreshMs || localDay(nowMs, this.cfg.timezoneOffsetMinutes) !== localDay(this.lastRefreshAt, this.cfg.timezoneOffsetMinutes)) await this.refresh();
  }

  /** One refresh now; a refresh already running is joined, not doubled. A failed LP keeps the last prices. */
  refresh(): Promise<RefreshStats | undefined> {
    this.running ??= this.compute().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async compute(): Promise<RefreshStats | undefined> {
    const t0 = performance.now();
    const now = this.clock();
    this.lastRefreshAt = now;
    this.refreshes++;
    const tz = this.cfg.timezoneOffsetMinutes;
    const day = localDay(now, tz);
    const forecast = this.demand.forecast(now);
    if (forecast.classes.length === 0) {
      this.last = undefined;
      return undefined;
    }
    const skus = [...new Set(forecast.classes.map((c) => c.sku))];
    const provinces = [...new Set(forecast.classes.map((c) => c.provinceCode))];
    const keys = [
      ...this.net.warehouses.map((w) => counterKeys.warehouseParcels(w.id, day)),
      ...provinces.flatMap((p) => this.net.couriers.map((c) => counterKeys.courierParcels(c.id, p, day))),
    ];
    const [free, usage, books, ...limits] = await Promise.all([this.store.freeStock(skus), this.store.counters(keys), this.book.quotes(), ...provinces.map((p) => this.book.limits(p, day))]);
    const limitOf = new Map(provinces.map((p, i) => [p, limits[i]!]));
    const built = buildPriceLp({
      warehouses: this.net.warehouses,
      couriers: this.net.couriers,
      provinceOf: (w) => this.net.warehouseProvince.get(w)!,
      lane: (c, from, to) => this.book.terms(books, c, from, to)?.rate ?? null,
      free,
      outboundLeft: (w) => this.net.warehouseById.get(w)!.dailyOutboundParcels - (usage.get(counterKeys.warehouseParcels(w, day)) ?? 0),
      courierLeft: (c, p) => {
        const limit = limitOf.get(p)?.get(c)?.parcels ?? null;
        return limit === null ? null : limit - (usage.get(counterKeys.courierParcels(c, p, day)) ?? 0);
      },
      closed: this.closed,
      shortCost: this.cfg.backorderPenaltyCny,
      forecast,
    });
    let snap: PriceSnapshot;
    const t1 = performance.now();
    if (built.nothingBinds) {
      // Every price is 0 (buildPriceLp says why): the snapshot HiGHS's duals would give, without the solve.
      snap = { day, computedAtMs: now, stock: new Map(), outbound: new Map(), courier: new Map() };
    } else {
      try {
        snap = toSnapshot(built, await this.solveLp(built.lp), day, now);
      } catch (err) {
        if (!(err instanceof PriceLpFailure)) throw err;
        this.failures++;
        return undefined;
      }
    }
    this.last = snap;
    let priced = snap.outbound.size + snap.courier.size;
    for (const m of snap.stock.values()) priced += m.size;
    this.lastStats = { ordersSeen: forecast.ordersSeen, factor: forecast.factor, rows: built.lp.rows.length, cols: built.lp.cols.length, solved: !built.nothingBinds, millis: performance.now() - t0, solveMillis: performance.now() - t1, priced };
    return this.lastStats;
  }

  /** Refreshes every PRICES_REFRESH_MS on a timer that does not keep the process alive. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.refresh().catch(() => {
        // A store outage: the last prices stay in force until the next refresh succeeds.
        this.failures++;
      });
    }, this.cfg.pricesRefreshMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }
}
