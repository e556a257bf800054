#!/usr/bin/env node
import { buildApp, loadNetworkContext } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { generateOrders } from './demo/orders.js';

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
    const shutdown = async (signal: string) => {
      app.log.info({ signal }, 'shutting down');
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
