/**
 * The service for bench/http-load.ts's on/off comparisons: buildApp as `serve` builds it
 * (configuration from the environment, no demo feed, no live map), in one of the variants compared,
 * switches only this bench has (the service itself has none):
 * - BENCH_KEYS=off: without API keys and rate limits (`--keys compare`);
 * - BENCH_LOTS=off: the store seeded with the bundled counts as they are, without lots (issue 21's
 *   FEFO off; with MERGE_WINDOW_MINUTES=0 its merging is off too: `--features compare`).
 * Both variants of a comparison run the same way, so the difference is what is switched.
 */
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { loadNetworkContext } from '../src/network/context.js';
import { MemoryStore } from '../src/store/memory.js';

const config = loadConfig();
const keys = process.env.BENCH_KEYS !== 'off';
const lots = process.env.BENCH_LOTS !== 'off';
const net = loadNetworkContext(config);
const store = lots ? undefined : new MemoryStore(net.network.stock, { orderRetentionMs: config.orderRetentionDays * 86_400_000, eventRetentionMs: config.eventRetentionDays * 86_400_000 });
const app = await buildApp({ config, net, ...(keys ? {} : { keysAndRateLimits: false as const }), ...(store === undefined ? {} : { store }) });
await app.listen({ host: config.host, port: config.port });
const stop = async () => {
  await app.close();
  process.exit(0);
};
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());
