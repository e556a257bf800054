#!/usr/bin/env node
import { buildApp, loadNetworkContext } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { startDemoFeed } from './demo/feed.js';
import { generateOrders } from './demo/orders.js';
import { SimulatedWms, simulatedWmsRoutes } from './demo/wms.js';
import { attachLive } from './live/index.js';
import { WmsPoller } from './tracking/poller.js';

/**
 * CLI entry.
 *   serve                        run the HTTP service (HOST/PORT, embedded store, bundled network)
 *   orders [--seed N] [--profile normal|double11] [--date YYYY-MM-DD] [--count N]
 *                                print a seeded demo order stream as NDJSON (allocate requests)
 */
async function main(argv: string[]): Promise<number> {
  const [cmd = 'serve', ...rest] = argv;
  let config;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(e.message);
      return 2;
    }
    throw e;
  }
  if (cmd === 'serve') {
    const app = await buildApp({ config });
    const svc = app.dspServices;
    const tracker = app.dspTracker;
    // The dispatchers' live map at / and its socket.io stream (/live), across instances via Redis.
    const live = await attachLive(app, svc, { redisUrl: config.redisUrl, onTime: async () => (await tracker.kpi()).onTimeRate });
    tracker.listeners.push((orderId, scan, view, d) => {
      const s = d.decision.shipments.find((x) => x.warehouseId === scan.warehouseId) ?? d.decision.shipments[0];
      live.publishStatus({
        orderId,
        warehouseId: s?.warehouseId ?? '',
        courierId: s?.courierId ?? '',
        code: view.exception ? 'EXCEPTION' : (view.state ?? 'UNKNOWN').toUpperCase(),
        atMs: scan.at,
        ...(view.deliveredAt !== null && d.promisedByMs !== undefined ? { onTime: view.deliveredAt <= d.promisedByMs } : {}),
      });
    });
    // The demo: a simulated order feed and a simulated WMS scanning what it decides (DEMO_FEED=off in production).
    let demo: { stop: () => Promise<void> } | undefined;
    if (config.demoFeed === 'on') {
      const wms = new SimulatedWms({ speedup: 60, seed: 1, clock: Date.now });
      await app.register(simulatedWmsRoutes(svc.allocator, wms));
      const poller = config.wmsUrl === '' ? new WmsPoller(async (since) => wms.feed(since), 5_000, tracker, app.log) : undefined;
      poller?.start();
      const feed = startDemoFeed(svc, {
        rate: config.demoFeedRate,
        onOrder: (o) => live.noteOrder(o.orderId, o),
        onError: (err) => app.log.warn({ err }, 'demo feed: order not allocated'),
      });
      demo = {
        stop: async () => {
          await feed.stop();
          await poller?.stop();
        },
      };
      app.log.info({ rate: config.demoFeedRate }, 'demo feed on (DEMO_FEED=off to stop it): open / for the live map');
    }
    const shutdown = async (signal: string) => {
      app.log.info({ signal }, 'shutting down');
      await demo?.stop();
      await app.close();
      process.exit(0);
    };
    process.once('SIGINT', () => void shutdown('SIGINT'));
    process.once('SIGTERM', () => void shutdown('SIGTERM'));
    await app.listen({ host: config.host, port: config.port });
    return -1;
  }
  if (cmd === 'orders') {
    const args = parseFlags(rest);
    const net = loadNetworkContext(config);
    const profile = args.profile === 'double11' ? 'double11' : 'normal';
    const orders = generateOrders(net.network, net.regionsGeoJson, {
      seed: Number(args.seed ?? 1),
      profile,
      date: args.date ?? '2026-11-11',
      ...(args.count !== undefined ? { count: Number(args.count) } : {}),
    });
    for (const o of orders) process.stdout.write(`${JSON.stringify(o)}\n`);
    return 0;
  }
  console.error(`unknown command ${cmd}; use: serve | orders [--seed N] [--profile normal|double11] [--date YYYY-MM-DD] [--count N]`);
  return 2;
}

function parseFlags(args: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a.startsWith('--')) out[a.slice(2)] = args[++i] ?? '';
  }
  return out;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
