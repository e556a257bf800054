/**
 * Decision latency over a demo stream: a seeded Double-11 day (≈3,500 orders) decided one by one
 * through the real pipeline (candidates, radius lock or exact MIP, reservation, explanation) on
 * the embedded store, in simulated time (each decision at its order's placedAt). Reports p50/p90/
 * p99/max of the decision wall time per mode and overall. Not a test: numbers go to the issue note.
 *
 *   npx tsx bench/allocate-stream.ts [--profile double11|normal] [--seed 1] [--count N]
 */
import { openServices } from '../src/services.js';
import { loadNetworkContext } from '../src/network/context.js';
import { loadConfig } from '../src/config.js';
import { generateOrders } from '../src/demo/orders.js';
import { MemoryStore } from '../src/store/memory.js';
import { quantiles, machine, flag } from './util.js';

export async function runAllocateStream(opts: { profile: 'normal' | 'double11'; seed: number; count?: number }) {
  const config = loadConfig(process.env);
  const net = loadNetworkContext(config);
  const orders = generateOrders(net.network, net.regionsGeoJson, {
    seed: opts.seed,
    profile: opts.profile,
    date: '2026-11-11',
    ...(opts.count !== undefined ? { count: opts.count } : {}),
  });
  const store = new MemoryStore(net.network.stock);
  let now = 0;
  // Opened as the service opens them, the request-thread solver warmed up (SOLVER_WARM_UP_ROUNDS).
  const { allocator } = await openServices({ ...config, solverThreads: 0 }, { net, store, clock: () => now });
  const byMode = new Map<string, number[]>();
  const solverMicros: number[] = [];
  const all: number[] = [];
  const statuses = new Map<string, number>();
  let errors = 0;
  const t0 = performance.now();
  for (const o of orders) {
    now = Date.parse(o.placedAt);
    const s = performance.now();
    try {
      const d = await allocator.allocate(o);
      const us = (performance.now() - s) * 1000;
      all.push(us);
      (byMode.get(d.mode) ?? byMode.set(d.mode, []).get(d.mode)!).push(us);
      statuses.set(d.status, (statuses.get(d.status) ?? 0) + 1);
      if (d.mode !== 'radius-lock') solverMicros.push(d.solveMicros);
    } catch (e) {
      errors++;
      if (errors <= 3) console.error(o.orderId, e);
    }
  }
  const wallS = (performance.now() - t0) / 1000;
  const rows = [['all', all] as const, ...[...byMode].sort()].map(([mode, xs]) => ({ mode, n: xs.length, ...quantiles(xs) }));
  rows.push({ mode: 'solveMicros (optimized + fallback)', n: solverMicros.length, ...quantiles(solverMicros) });
  return { orders: orders.length, errors, wallS, statuses: Object.fromEntries(statuses), rows };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const profile = flag('profile', 'double11') === 'normal' ? 'normal' : 'double11';
  const r = await runAllocateStream({ profile, seed: Number(flag('seed', '1')), ...(flag('count') ? { count: Number(flag('count')) } : {}) });
  console.log(`# allocate stream: ${profile}, ${r.orders} orders, ${machine()}`);
  console.log(`wall ${r.wallS.toFixed(1)} s, ${(r.orders / r.wallS).toFixed(0)} decisions/s sequential, errors ${r.errors}, statuses ${JSON.stringify(r.statuses)}`);
  console.table(r.rows.map((x) => ({ mode: x.mode, n: x.n, 'p50 µs': x.p50, 'p90 µs': x.p90, 'p99 µs': x.p99, 'max µs': x.max })));
}
