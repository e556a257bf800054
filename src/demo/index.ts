import type { FastifyInstance } from 'fastify';
import type { LiveHub } from '../live/hub.js';
import type { Services } from '../services.js';
import { WmsPoller } from '../tracking/poller.js';
import { startDemoFeed, type DemoFeed } from './feed.js';
import { SimulatedWms, simulatedWmsRoutes } from './wms.js';

export interface DemoOptions {
  /** Orders per second of the simulated feed (> 0). */
  rate: number;
  /** Stream seed. Default 1. */
  seed?: number;
  /**
   * Also simulate a WMS scanning what the service decides, polled like a real feed (unless
   * WMS_URL names a real one). Default true.
   */
  simulatedWms?: boolean;
}

export interface Demo {
  feed: DemoFeed;
  /** Stops the feed (waiting for its orders in flight) and the simulated WMS's poller. */
  stop(): Promise<void>;
}

/**
 * The demo of `npm start` (DEMO_FEED=on): the seeded order feed through the service's own
 * allocator (so its decisions reach the metrics, the live map and the tracker like any ERP's),
 * and a simulated WMS whose scans move the orders along. Call before app.listen / app.ready.
 */
export async function startDemo(app: FastifyInstance, svc: Services, live: LiveHub | undefined, opts: DemoOptions): Promise<Demo> {
  let poller: WmsPoller | undefined;
  if (opts.simulatedWms !== false) {
    const wms = new SimulatedWms({ speedup: 60, seed: opts.seed ?? 1, clock: svc.clock });
    await app.register(simulatedWmsRoutes(svc.allocator, wms));
    if (svc.config.wmsUrl === '') poller = new WmsPoller(async (since) => wms.feed(since), 5_000, svc.tracker, app.log);
    poller?.start();
  }
  const feed = startDemoFeed(svc, {
    rate: opts.rate,
    seed: opts.seed ?? 1,
    ...(live ? { onOrder: (o) => live.noteOrder(o.orderId, o) } : {}),
    onError: (err) => app.log.warn({ err }, 'demo feed: order not allocated'),
  });
  return {
    feed,
    async stop() {
      await feed.stop();
      await poller?.stop();
    },
  };
}
