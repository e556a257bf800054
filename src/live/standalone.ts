/**
 * A service with the live map and, optionally, the demo feed, listening on a port: for the live
 * tests, the fan-out bench and a quick look (`npx tsx src/live/standalone.ts`, PORT and
 * DEMO_FEED_RATE from the environment). It opens its services in the composition root
 * (src/services.ts) like `npm start` does, so the feed's decisions are the service's own: they
 * reach the metrics, the tracker and the map through the one allocator.
 */
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../app.js';
import { loadConfig, type Config } from '../config.js';
import { startDemo } from '../demo/index.js';
import type { DemoFeed } from '../demo/feed.js';
import type { NetworkContext } from '../network/context.js';
import { openServices, type Services } from '../services.js';
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
  const svc = await openServices(config, { ...(opts.net ? { net: opts.net } : {}), ...(opts.store ? { store: opts.store } : {}) });
  const app = await buildApp({ config, services: svc, logger: opts.logger ?? false });
  const hub = await attachLive(app, svc, opts.live ?? {});
  const demo = opts.feedRate && opts.feedRate > 0 ? await startDemo(app, svc, hub, { rate: opts.feedRate, seed: opts.feedSeed ?? 1, simulatedWms: false }) : undefined;
  await app.listen({ host: opts.host ?? '127.0.0.1', port: opts.port ?? 0 });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : (opts.port ?? 0);
  return {
    app,
    hub,
    svc,
    feed: demo?.feed,
    url: `http://${opts.host ?? '127.0.0.1'}:${port}`,
    async close() {
      await demo?.stop();
      await app.close();
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
