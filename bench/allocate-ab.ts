/**
 * CPU per POST /v1/allocate of two variants of the service in one process, in alternating blocks
 * of requests: issue 21's request-path features on (lots, merging) and off (the store seeded with
 * the bundled counts without lots, MERGE_WINDOW_MINUTES=0), on the same code and data as
 * bench/allocate-cpu.ts (app.inject, stock and capacities x100, the Double-11 demo stream with
 * unique orderIds, each variant its own app, store and order ids).
 *
 * Why one process: on this shared 2-core machine two runs of allocate-cpu.ts a minute apart
 * differed by 15-30 % (another job's load comes and goes), more than the difference measured. Here
 * both variants meet the same load, block by block, so the ratio holds still; the price is that
 * the shared code (fastify, the solver) is compiled for both variants' shapes, as it would be in
 * one service whose orders do and do not use the features.
 *
 *   npx tsx bench/allocate-ab.ts [--blocks 40] [--block 100]
 */
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/app.js';
import { loadConfig, type Config } from '../src/config.js';
import { generateOrders } from '../src/demo/orders.js';
import { loadNetworkContext } from '../src/network/context.js';
import { MemoryStore } from '../src/store/memory.js';
import { scaledDataDir } from './http-load.js';
import { flag, machine } from './util.js';

const blocks = Number(flag('blocks', '40'));
const block = Number(flag('block', '100'));
const SECRET = 'bench-secret-0123456789abcdefghijklmnopqrstu';
const env = { DATA_DIR: scaledDataDir(100), LOG_LEVEL: 'warn', API_KEYS: `bench:erp+metrics:${SECRET}`, RATE_LIMIT_PER_KEY: '100000000' };
const net = loadNetworkContext(loadConfig(env));
const stream = generateOrders(net.network, net.regionsGeoJson, { seed: 1, profile: 'double11', date: '2026-11-11' });

interface Variant {
  name: string;
  app: FastifyInstance;
  sent: number;
  cpuUs: number[];
}

async function variant(name: string, overrides: Partial<Config>, plainStock: boolean): Promise<Variant> {
  const config = loadConfig(env, overrides);
  const store = plainStock ? new MemoryStore(net.network.stock, { orderRetentionMs: config.orderRetentionDays * 86_400_000, eventRetentionMs: config.eventRetentionDays * 86_400_000 }) : undefined;
  const app = await buildApp({ config, net, logger: false, ...(store ? { store } : {}) });
  await app.ready();
  return { name, app, sent: 0, cpuUs: [] };
}

async function send(v: Variant): Promise<void> {
  const o = stream[v.sent % stream.length]!;
  const now = Date.now();
  const placed = Date.parse(o.placedAt);
  const req = { ...o, orderId: `${o.orderId}-${v.name}${v.sent}`, placedAt: new Date(now).toISOString(), promisedBy: new Date(now + (Date.parse(o.promisedBy) - placed)).toISOString() };
  v.sent++;
  const r = await v.app.inject({ method: 'POST', url: '/v1/allocate', headers: { 'content-type': 'application/json', 'x-api-key': `bench.${SECRET}` }, payload: JSON.stringify(req) });
  if (r.statusCode !== 200) throw new Error(`${v.name}: ${r.statusCode} ${r.body}`);
}

const on = await variant('on', {}, false);
const off = await variant('off', { mergeWindowMinutes: 0 }, true);
// Warm-up (JIT), interleaved as the measured blocks are.
for (let k = 0; k < 5; k++) for (const v of [on, off]) for (let j = 0; j < block; j++) await send(v);
for (let b = 0; b < blocks; b++) {
  // Alternate which variant goes first, so that neither always follows the other's garbage.
  for (const v of b % 2 === 0 ? [on, off] : [off, on]) {
    const c = process.cpuUsage();
    for (let j = 0; j < block; j++) await send(v);
    const u = process.cpuUsage(c);
    v.cpuUs.push((u.user + u.system) / block);
  }
}
await on.app.close();
await off.app.close();

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
// Per block pair, on / off: the load both met is the same, so the ratio is the figure.
const ratios = on.cpuUs.map((x, k) => x / off.cpuUs[k]!);
console.log(`# POST /v1/allocate CPU per request, issue 21's features on and off in one process (${blocks} blocks of ${block} requests each, alternating); ${machine()}`);
for (const v of [on, off]) console.log(`${v.name}: mean ${mean(v.cpuUs).toFixed(0)} µs, median ${median(v.cpuUs).toFixed(0)} µs per request`);
console.log(`on / off per block pair: median ${median(ratios).toFixed(3)}, mean ${mean(ratios).toFixed(3)}; second half of the run: median ${median(ratios.slice(blocks >> 1)).toFixed(3)}`);
