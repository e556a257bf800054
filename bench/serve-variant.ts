/**
 * The service for bench/http-load.ts's keys on/off comparison: buildApp as `serve` builds it
 * (configuration from the environment, no demo feed, no live map), with API keys and rate limits
 * (BENCH_KEYS=on) or without them (BENCH_KEYS=off, a switch only this bench has: the service
 * itself has none). Both variants run the same way, so the difference is the keys and limits.
 */
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';

const config = loadConfig();
const on = process.env.BENCH_KEYS !== 'off';
const app = await buildApp({ config, ...(on ? {} : { keysAndRateLimits: false as const }) });
await app.listen({ host: config.host, port: config.port });
const stop = async () => {
  await app.close();
  process.exit(0);
};
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());
