/**
 * The simulated order feed of the live demo (issue 7): the seeded Double-11 stream of
 * ./orders.ts, played at DEMO_FEED_RATE orders per second through the real allocation pipeline,
 * so that a newcomer running `npm start` sees the map move. Each order is re-timed to now
 * (placedAt = now, promisedBy = 18:00 local as many days ahead as the stream promised) and gets a unique id
 * (DEMO-<run>-<seq>), so retries and earlier runs on a shared Redis never collide. When the
 * seeded day is used up, the next day of the stream follows.
 *
 * Stock: at several orders per second the demo ships a Double-11 day in minutes and would soon
 * backorder everything, so the feed also plays the warehouses' replenishment: every
 * `replenishEveryMs` it receives stock (Store.adjustOnHand, like a POST /v1/stock/events receipt)
 * for rows whose free units fell below a fifth of what they held when the feed started.
 * Production runs with DEMO_FEED=off and none of this happens.
 */
import type { Allocator } from '../allocate/allocator.js';
import type { NetworkContext } from '../network/context.js';
import type { Store } from '../store/types.js';
import { generateOrders, toLocalIso, type DemoOrder } from './orders.js';

export interface DemoFeedServices {
  net: NetworkContext;
  store: Store;
  allocator: Pick<Allocator, 'allocate'>;
}

export interface DemoFeedOptions {
  /** Orders per second (> 0). */
  rate: number;
  /** Stream seed. Default 1. */
  seed?: number;
  /** Stream profile. Default double11. */
  profile?: 'normal' | 'double11';
  /** First local day of the stream, YYYY-MM-DD. Default 2026-11-11. */
  date?: string;
  /** Receives each order just before it is allocated (the live hub notes its destination). */
  onOrder?: (order: DemoOrder) => void;
  /** Receives allocation errors (503s under load, ...); the feed goes on. */
  onError?: (err: unknown, order: DemoOrder) => void;
  /** Orders allocating at once at most; beyond, a tick is skipped. Default 32. */
  maxInFlight?: number;
  /** Replenishment period, ms; 0 turns it off. Default 20000. */
  replenishEveryMs?: number;
  /** Wall clock, epoch ms (tests). Default Date.now. */
  now?: () => number;
}

export interface DemoFeed {
  /** Stops the feed and waits for the orders in flight. */
  stop(): Promise<void>;
  readonly stats: { sent: number; decided: number; failed: number; skipped: number; replenished: number };
}

/** The stream's local time: China Standard Time (orders.ts writes +08:00). */
const LOCAL_OFFSET_MS = 8 * 3_600_000;
const DAY_MS = 86_400_000;

function addDays(date: string, n: number): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

/** Starts the feed; returns its handle (stop it before closing the app). */
export function startDemoFeed(svc: DemoFeedServices, opts: DemoFeedOptions): DemoFeed {
  if (!(opts.rate > 0) || !Number.isFinite(opts.rate)) throw new Error(`startDemoFeed: rate must be > 0 orders/s, got ${opts.rate}`);
  const now = opts.now ?? Date.now;
  const seed = opts.seed ?? 1;
  const profile = opts.profile ?? 'double11';
  const firstDate = opts.date ?? '2026-11-11';
  const maxInFlight = opts.maxInFlight ?? 32;
  const run = now().toString(36).toUpperCase();
  const stats = { sent: 0, decided: 0, failed: 0, skipped: 0, replenished: 0 };

  let day = 0;
  let queue: DemoOrder[] = [];
  let at = 0;
  const nextOrder = (): DemoOrder => {
    while (at >= queue.length) {
      queue = generateOrders(svc.net.network, svc.net.regionsGeoJson, { seed, profile, date: addDays(firstDate, day++) });
      at = 0;
    }
    return queue[at++]!;
  };

  const inFlight = new Set<Promise<void>>();
  let seq = 0;
  const send = () => {
    if (inFlight.size >= maxInFlight) {
      stats.skipped++;
      return;
    }
    const src = nextOrder();
    const t = now();
    // The stream promises by 18:00 local, N days after the order's day: keep N, move the day to today.
    const localDayOf = (ms: number) => Math.floor((ms + LOCAL_OFFSET_MS) / DAY_MS);
    const days = localDayOf(Date.parse(src.promisedBy)) - localDayOf(Date.parse(src.placedAt));
    let promised = (localDayOf(t) + Math.max(1, days)) * DAY_MS + 18 * 3_600_000 - LOCAL_OFFSET_MS;
    if (promised - t < 12 * 3_600_000) promised += DAY_MS;
    const order: DemoOrder = {
      ...src,
      orderId: `DEMO-${run}-${String(++seq).padStart(6, '0')}`,
      placedAt: toLocalIso(t),
      promisedBy: toLocalIso(promised),
    };
    stats.sent++;
    opts.onOrder?.(order);
    const p: Promise<void> = svc.allocator.allocate(order).then(
      () => {
        stats.decided++;
      },
      (err: unknown) => {
        stats.failed++;
        opts.onError?.(err, order);
      },
    );
    const tracked = p.finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
  };

  // Ticks of at least 20 ms; several orders per tick at high rates, with the fraction carried over.
  const tickMs = Math.max(20, Math.min(1000, 1000 / opts.rate));
  let owed = 0;
  let last = now();
  const timer = setInterval(() => {
    const t = now();
    owed += ((t - last) / 1000) * opts.rate;
    last = t;
    // Never catch up a long stall (a paused process) in one burst.
    owed = Math.min(owed, Math.max(1, opts.rate));
    while (owed >= 1) {
      owed -= 1;
      send();
    }
  }, tickMs);

  // Replenishment: back to the starting on-hand for rows whose free stock fell below a fifth of it.
  let baseline: Map<string, number> | undefined;
  let replenishing = false;
  let stopped = false;
  const replenish = async () => {
    if (replenishing) return;
    replenishing = true;
    try {
      const levels = await svc.store.stock();
      if (!baseline) {
        baseline = new Map(levels.map((l) => [`${l.warehouseId}/${l.sku}`, l.onHand]));
        return;
      }
      for (const l of levels) {
        // Stopping: the rows not yet topped up wait (one Redis round trip each could outlast a shutdown).
        if (stopped) break;
        const base = baseline.get(`${l.warehouseId}/${l.sku}`) ?? 0;
        if (base > 0 && l.free < base / 5) {
          const r = await svc.store.adjustOnHand(l.warehouseId, l.sku, base - l.free);
          if (r.ok) stats.replenished++;
        }
      }
    } catch {
      // The store is away (Redis outage): try again next period.
    } finally {
      replenishing = false;
    }
  };
  const replenishEvery = opts.replenishEveryMs ?? 20_000;
  const replenishTimer = replenishEvery > 0 ? setInterval(() => void replenish(), replenishEvery) : undefined;
  if (replenishTimer) void replenish();

  return {
    stats,
    async stop() {
      stopped = true;
      clearInterval(timer);
      if (replenishTimer) clearInterval(replenishTimer);
      await Promise.allSettled([...inFlight]);
      while (replenishing) await new Promise((r) => setTimeout(r, 10));
    },
  };
}
