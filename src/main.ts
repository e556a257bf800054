#!/usr/bin/env node
import { buildApp } from './app.js';
import { loadNetworkContext } from './network/context.js';
import { ConfigError, loadConfig } from './config.js';
import { startDemo } from './demo/index.js';
import { generateOrders } from './demo/orders.js';
import { attachLive } from './live/index.js';
import { startDemoKeys } from './demo/keys.js';
import { shutdownOnSignals } from './ops/shutdown.js';
import { openServices } from './services.js';

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
    const services = await openServices(config);
    const app = await buildApp({ config, services });
    // The dispatchers' live map at / and its socket.io stream (/live), across instances via Redis.
    const live = await attachLive(app, services, { redisUrl: config.redisUrl });
    // The demo: a simulated order feed and a simulated WMS scanning what it decides (DEMO_FEED=off in production).
    let demo: Awaited<ReturnType<typeof startDemo>> | undefined;
    let demoKeys: Awaited<ReturnType<typeof startDemoKeys>> | undefined;
    if (config.demoFeed === 'on') {
      demoKeys = await startDemoKeys(app);
      demo = await startDemo(app, services, live, { rate: config.demoFeedRate });
      app.log.info({ rate: config.demoFeedRate }, 'demo feed on (DEMO_FEED=off to stop it): open / for the live map');
    }
    // Readiness 503 first, then the listener, live sockets, in-flight work; exit within SHUTDOWN_GRACE_MS.
    shutdownOnSignals(app, config, async () => demo?.stop());
    await app.listen({ host: config.host, port: config.port });
    const addr = app.server.address();
    const port = typeof addr === 'object' && addr ? addr.port : config.port;
    demoKeys?.print(`http://${config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`);
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
