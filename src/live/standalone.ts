/**
 * A service with the live map and the demo feed, built from outside buildApp: for the live tests,
 * the fan-out bench and a quick look (`npx tsx src/live/standalone.ts`, PORT and DEMO_FEED_RATE
 * from the environment). buildApp does not expose its Services, so this builds a second Allocator
 * on the app's own store and network (decisions reserve the same stock); once attachLive and
 * startDemoFeed are wired into buildApp / main.ts this module is only a convenience.
 */
import type { FastifyInstance } from 'fastify';
import { Allocator } from '../allocate/allocator.js';
import type { Services } from '../api/services.js';
import { buildApp, loadNetworkContext } from '../app.js';
import { loadConfig, type Config } from '../config.js';
import { startDemoFeed, type DemoFeed } from '../demo/feed.js';
import type { NetworkContext } from '../network/context.js';
import { loadExactSolver } from '../solve/exact.js';
import { InThreadSolver } from '../solve/pool.js';
import type { Store } from '../store/types.js';
import { attachLive, type LiveOptions } from './index.js';
import type { LiveHub } from './hub.js';

export interface LiveServiceOptions {
  config?: Partial<Config>;
  net?: NetworkContext;
  store?: Store;
  /** Demo feed rate, orders/s; 0 = no feed. */
  feedRate?: number;
  feedSeed?: number;
  live?: LiveOptions;
  host?: string;
  port?: number;
  logger?: boolean;
}

export interface LiveService {
  app: FastifyInstance;
  hub: LiveHub;
  svc: Services;
  feed: DemoFeed | undefined;
  url: string;
  close(): Promise<void>;
}

export async function startLiveService(opts: LiveServiceOptions = {}): Promise<LiveService> {
  const config = loadConfig({}, { solverThreads: 0, ...opts.config });
  const net = opts.net ?? loadNetworkContext(config);
  const app = await buildApp({ config, net, logger: opts.logger ?? false, ...(opts.store ? { store: opts.store } : {}) });
  const solver = new InThreadSolver(await loadExactSolver(config.solver));
  const store = app.dspStore;
  const allocator = new Allocator(net, config, store, solver);
  const svc: Services = { net, store, allocator, solver, config, clock: Date.now };
  const hub = await attachLive(app, svc, opts.live ?? {});
  await app.listen({ host: opts.host ?? '127.0.0.1', port: opts.port ?? 0 });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port ?? 0;
  const feed =
    opts.feedRate && opts.feedRate > 0
      ? startDemoFeed(svc, {
          rate: opts.feedRate,
          seed: opts.feedSeed ?? 1,
          onOrder: (o) => hub.noteOrder(o.orderId, o),
          onError: (err) => app.log.warn({ err }, 'demo feed: order not allocated'),
        })
      : undefined;
  return {
    app,
    hub,
    svc,
    feed,
    url: `http://${opts.host ?? '127.0.0.1'}:${port}`,
    async close() {
      await feed?.stop();
      await app.close();
      await solver.close();
    },
  };
}

// `npx tsx src/live/standalone.ts`: a quick local look at the map with the demo feed.
if (import.meta.url === `file://${process.argv[1]}`) {
  const port = Number(process.env.PORT ?? 8080);
  const rate = Number(process.env.DEMO_FEED_RATE ?? 5);
  startLiveService({ port, host: process.env.HOST ?? '127.0.0.1', feedRate: rate, logger: true }).then(
    (s) => console.log(`live map on ${s.url}/ (demo feed ${rate} orders/s)`),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
