/**
 * CPU time per POST /v1/allocate through the whole fastify stack (routing, hooks, validation,
 * decision, serialisation; app.inject, so no sockets), on the bundled network with stock and
 * capacities x100 (as bench/http-load.ts), the Double-11 demo stream with unique orderIds.
 * process.cpuUsage() per request is far steadier than req/s when the machine is shared: the
 * figure to compare two versions of the request path with, run after run in one session.
 *
 * With --healthz it sends GET /healthz instead: the per-request cost of the HTTP stack alone
 * (hooks, request ids, metrics), which a decision's ~1 ms hides.
 *
 * With --no-lots the store is seeded with the bundled counts as they are, without lots (issue 21's
 * FEFO off); with MERGE_WINDOW_MINUTES=0 nothing joins an open shipment (its merging off). Both
 * together give the request path with issue 21's features switched off, on the same code.
 *
 * With --stream-clock the service runs on the stream's own clock (each order decided at its
 * placedAt; each pass over the day's stream one day later) instead of stamping every order "now":
 * the merge window, cut-offs and pickups then meet orders as spread as in the day, where the
 * default packs a whole day's repeat orders of a customer into seconds.
 *
 * With --dist the service's modules come from dist/ (`npm run build` first): tsc's output, what
 * `npm start` and the image run.
 *
 * `--requests day` makes each round one whole pass over the day's stream (3,526 orders), and
 * `--warmup day` warms up on one: every round then decides the same orders at the same hours, so
 * rounds compare with each other, where rounds of a part of the day meet different hours (the
 * cut-offs, the merge window) and differ by their workload as much as by the machine.
 *
 *   npx tsx bench/allocate-cpu.ts [--requests 3000|day] [--warmup 500|day] [--rounds 3] [--healthz] [--no-lots] [--stream-clock] [--dist]
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { existsSync } from 'node:fs';
import { scaledDataDir } from './http-load.js';
import { flag, machine } from './util.js';

// With --dist the service's modules come from dist/ (tsc's output, what `npm start` and the image
// run) instead of being compiled on the fly by tsx, whose output differs: it wraps every named
// inner function in a call that names it (esbuild's keepNames), a cost production never pays.
const fromDist = process.argv.includes('--dist');
const distRoot = new URL('../dist/', import.meta.url);
if (fromDist && !existsSync(new URL('src/app.js', distRoot))) throw new Error('--dist: run `npm run build` first (dist/src/app.js is missing)');
const load = <T>(path: string): Promise<T> => import(fromDist ? new URL(`${path}.js`, distRoot).href : `../${path}.js`) as Promise<T>;
const { buildApp } = await load<typeof import('../src/app.js')>('src/app');
const { loadConfig } = await load<typeof import('../src/config.js')>('src/config');
const { generateOrders } = await load<typeof import('../src/demo/orders.js')>('src/demo/orders');
const { loadNetworkContext } = await load<typeof import('../src/network/context.js')>('src/network/context');
const { MemoryStore } = await load<typeof import('../src/store/memory.js')>('src/store/memory');
const rounds = Number(flag('rounds', '3'));
const healthz = process.argv.includes('--healthz');
const noLots = process.argv.includes('--no-lots');
const streamClock = process.argv.includes('--stream-clock');
const dataDir = scaledDataDir(100);
// The service checks API keys (issue 18): the bench calls with its own key, and its rate limit is
// out of reach. ALLOCATION_POLICY, CAPACITY_HORIZON_DAYS, RULES_DIR, PRICES_REFRESH_MS and MERGE_WINDOW_MINUTES pass
// through to compare variants.
const SECRET = 'bench-secret-0123456789abcdefghijklmnopqrstu';
const passThrough = Object.fromEntries(['ALLOCATION_POLICY', 'CAPACITY_HORIZON_DAYS', 'RULES_DIR', 'PRICES_REFRESH_MS', 'MERGE_WINDOW_MINUTES'].flatMap((k) => (process.env[k] ? [[k, process.env[k]!]] : [])));
const config = loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'warn', API_KEYS: `bench:erp+metrics:${SECRET}`, RATE_LIMIT_PER_KEY: '100000000', ...passThrough });
const net = loadNetworkContext(config);
const stream = generateOrders(net.network, net.regionsGeoJson, { seed: 1, profile: 'double11', date: '2026-11-11' });
const count = (name: string, fallback: string) => {
  const v = flag(name, fallback)!;
  const n = v === 'day' ? stream.length : Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name}: a positive whole number or "day", not ${v}`);
  return n;
};
const requests = count('requests', '3000');
const warmup = count('warmup', '500');
const DAY_MS = 86_400_000;
/** The stream clock: the placedAt of the order being sent, shifted by one day per pass. */
let streamNow = Date.parse(stream[0]!.placedAt);
const clock = streamClock ? () => streamNow : Date.now;
const app = await buildApp({
  config,
  net,
  logger: false,
  ...(streamClock ? { clock } : {}),
  ...(noLots ? { store: new MemoryStore(net.network.stock, { clock, orderRetentionMs: config.orderRetentionDays * 86_400_000, eventRetentionMs: config.eventRetentionDays * 86_400_000 }) } : {}),
});
await app.ready();
let i = 0;
const body = () => {
  const o = stream[i % stream.length]!;
  const placed = Date.parse(o.placedAt);
  const shift = Math.floor(i / stream.length) * DAY_MS;
  if (streamClock) streamNow = placed + shift;
  const now = streamClock ? streamNow : Date.now();
  const req = { ...o, orderId: `${o.orderId}-C${i}`, placedAt: new Date(now).toISOString(), promisedBy: new Date(now + (Date.parse(o.promisedBy) - placed)).toISOString() };
  i++;
  return JSON.stringify(req);
};
const send = async () => {
  const r = healthz ? await app.inject('/healthz') : await app.inject({ method: 'POST', url: '/v1/allocate', headers: { 'content-type': 'application/json', 'x-api-key': `bench.${SECRET}` }, payload: body() });
  if (r.statusCode !== 200) throw new Error(`${r.statusCode} ${r.body}`);
};
for (let k = 0; k < warmup; k++) await send(); // warm-up (JIT, heap sizing)
// Garbage-collection pauses per round (their sum, in ms): a variant that keeps more alive or makes
// more garbage pays here, spread over every request rather than in one function of a profile.
let gcMs = 0;
const gcObserver = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcMs += e.duration;
});
gcObserver.observe({ entryTypes: ['gc'] });
const perRequest: number[] = [];
const gcPerRequest: number[] = [];
for (let round = 0; round < rounds; round++) {
  const cpu0 = process.cpuUsage();
  const gc0 = gcMs;
  for (let k = 0; k < requests; k++) await send();
  const cpu = process.cpuUsage(cpu0);
  // The observer is called asynchronously: let the round's last entries arrive.
  await new Promise((r) => setImmediate(r));
  perRequest.push((cpu.user + cpu.system) / requests);
  gcPerRequest.push(((gcMs - gc0) * 1000) / requests);
}
gcObserver.disconnect();
const heapMb = process.memoryUsage().heapUsed / 1e6;
await app.close();
console.log(`# ${healthz ? 'GET /healthz' : 'POST /v1/allocate'} CPU per request (app.inject, ${warmup} to warm up, then ${requests} requests x ${rounds} rounds${fromDist ? ', service from dist/' : ''}); ${machine()}`);
const mean = perRequest.reduce((a, b) => a + b, 0) / perRequest.length;
console.log(`CPU µs per request by round: ${perRequest.map((x) => x.toFixed(0)).join(', ')}; min ${Math.min(...perRequest).toFixed(0)}; mean ${mean.toFixed(0)}`);
console.log(`GC pause µs per request by round: ${gcPerRequest.map((x) => x.toFixed(0)).join(', ')}; heap used at the end ${heapMb.toFixed(0)} MB`);
