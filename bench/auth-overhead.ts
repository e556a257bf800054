/**
 * What checking an API key and counting it against a rate limit costs per request, in process:
 * two apps built alike (embedded store, bundled network), one with keys and rate limits, one
 * without (buildApp's keysAndRateLimits:false, the bench-only baseline), each sent the same
 * cheap protected request (GET /v1/kpi on an empty store) through fastify's inject, in
 * alternating batches, so that a busy machine slows both alike. The difference of the mean
 * times is the hooks' cost; bench/http-load.ts --keys compare measures it over HTTP with real
 * allocations, where it is a smaller share.
 *
 *   npx tsx bench/auth-overhead.ts [--batches 20] [--batch 2000]
 */
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { loadNetworkContext } from '../src/network/context.js';
import { flag, machine } from './util.js';

const SECRET = 'bench-secret-0123456789abcdefghijklmnopqrstu';
const KEY = `bench.${SECRET}`;
const batches = Number(flag('batches', '20'));
const batch = Number(flag('batch', '2000'));

const config = loadConfig({}, { apiKeys: `bench:dispatcher:${SECRET}`, rateLimitPerKey: 100_000_000, solverThreads: 0, solverWarmUpRounds: 0 });
const net = loadNetworkContext(config);
const on = await buildApp({ config, net, logger: false });
const off = await buildApp({ config, net, logger: false, keysAndRateLimits: false });
await Promise.all([on.ready(), off.ready()]);
const req = { method: 'GET' as const, url: '/v1/kpi', headers: { 'x-api-key': KEY } };
const run = async (app: typeof on): Promise<number> => {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < batch; i++) {
    const r = await app.inject(req);
    if (r.statusCode !== 200) throw new Error(`HTTP ${r.statusCode}: ${r.body}`);
  }
  return Number(process.hrtime.bigint() - t0) / 1_000 / batch;
};
await run(on);
await run(off);
const times = { on: [] as number[], off: [] as number[] };
for (let b = 0; b < batches; b++) {
  for (const k of b % 2 === 0 ? (['on', 'off'] as const) : (['off', 'on'] as const)) times[k].push(await run(k === 'on' ? on : off));
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`# GET /v1/kpi by inject, ${batches} alternating batches of ${batch}; ${machine()}`);
console.log(`median µs per request: keys + rate limits on ${median(times.on).toFixed(1)}, off ${median(times.off).toFixed(1)}: the hooks cost ${(median(times.on) - median(times.off)).toFixed(1)} µs per request`);
await on.close();
await off.close();
