/**
 * Allocations on the shared stores: the same slice of the seeded Double-11 stream decided through
 * the whole pipeline on the embedded store, one Redis node and a 3-master Redis Cluster (each
 * started by this benchmark on free loopback ports, never the machine's shared Redis).
 *
 *   - sequential: one decision at a time, in simulated time: wall µs per decision (p50/p99), all
 *     orders and radius-locked ones (where the solver costs nearly nothing, so the store's share
 *     shows);
 *   - concurrent: the next slice with `--concurrency` decisions in flight on one instance:
 *     allocations per second;
 *   - store round trips (tinybench): freeStock for a 2-SKU order over 18 warehouses, and a
 *     one-warehouse reservation with its decision (reserve + putDecisionIfAbsent).
 *
 *   npx tsx bench/allocate-redis.ts [--orders 1000] [--concurrency 16]
 */
import type { Cluster } from 'ioredis';
import { Redis } from 'ioredis';
import { Bench } from 'tinybench';
import { openServices } from '../src/services.js';
import { loadExactSolver } from '../src/solve/exact.js';
import { InThreadSolver } from '../src/solve/pool.js';
import { loadNetworkContext } from '../src/network/context.js';
import { loadConfig } from '../src/config.js';
import { generateOrders } from '../src/demo/orders.js';
import { MemoryStore } from '../src/store/memory.js';
import { RedisStore } from '../src/store/redis.js';
import type { Store } from '../src/store/types.js';
import { clusterClient, startRedis, startRedisCluster } from '../tests/support/redis-server.js';
import { flag, machine, quantiles } from './util.js';

export async function runAllocateRedis(opts: { orders: number; concurrency: number }) {
  const config = loadConfig({});
  const net = loadNetworkContext(config);
  const exact = await loadExactSolver(config.solver);
  const stream = generateOrders(net.network, net.regionsGeoJson, { seed: 1, profile: 'double11', date: '2026-11-11' });
  const seqOrders = stream.slice(0, opts.orders);
  const parOrders = stream.slice(opts.orders, 2 * opts.orders);
  const whIds = net.warehouses.map((w) => w.id);

  const node = await startRedis();
  const cluster = await startRedisCluster();
  const kinds: { name: string; open: () => Promise<Store> }[] = [
    { name: 'memory', open: async () => new MemoryStore(net.network.stock) },
    {
      name: 'redis (1 node)',
      open: async () => {
        const c = new Redis(node.url, { enableAutoPipelining: true, maxRetriesPerRequest: 1 });
        await c.flushall();
        const s = new RedisStore(c, whIds);
        await s.seed(net.network.stock);
        return s;
      },
    },
    {
      name: 'redis cluster (3 masters)',
      open: async () => {
        const c: Cluster = await clusterClient(cluster.nodes);
        await Promise.all(c.nodes('master').map((n) => n.flushall()));
        const s = new RedisStore(c, whIds);
        await s.seed(net.network.stock);
        return s;
      },
    },
  ];

  const decisions: Record<string, unknown>[] = [];
  const rounds: Record<string, unknown>[] = [];
  try {
    for (const kind of kinds) {
      const store = await kind.open();
      let now = 0;
      const { allocator } = await openServices(config, { net, store, solver: new InThreadSolver(exact), clock: () => now });
      const all: number[] = [];
      const locked: number[] = [];
      for (const o of seqOrders) {
        now = Date.parse(o.placedAt);
        const t = performance.now();
        const d = await allocator.allocate(o);
        const us = (performance.now() - t) * 1_000;
        all.push(us);
        if (d.mode === 'radius-lock') locked.push(us);
      }
      // Concurrent: the clock stays at the slice's first order so that all of it is decidable.
      now = Date.parse(parOrders[0]!.placedAt);
      const queue = [...parOrders];
      let errors = 0;
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: opts.concurrency }, async () => {
          for (let o = queue.shift(); o; o = queue.shift()) {
            await allocator.allocate(o).catch(() => errors++);
          }
        }),
      );
      const perSecond = parOrders.length / ((performance.now() - t0) / 1_000);
      const a = quantiles(all);
      const l = quantiles(locked);
      decisions.push({
        store: kind.name,
        'all p50 µs': a.p50,
        'all p99 µs': a.p99,
        'radius-lock n': locked.length,
        'radius-lock p50 µs': l.p50,
        'radius-lock p99 µs': l.p99,
        [`allocations/s (${opts.concurrency} in flight)`]: Math.round(perSecond),
        errors,
      });

      // Store round trips alone.
      const skus = ['BRK-0001', 'FLO-0001'];
      let n = 0;
      const bench = new Bench({ time: 1_000 });
      bench
        .add('freeStock (2 SKUs, 18 warehouses)', async () => {
          await store.freeStock(skus, 'C-1');
        })
        .add('reserve + decide (1 warehouse, 1 courier counter)', async () => {
          const id = `B-${kind.name}-${n++}`;
          const r = await store.reserve({
            id,
            items: [{ warehouseId: 'SH01', sku: 'BRK-0001', qty: 1 }],
            counters: [{ key: 'cap:courier:ZTO:310000:bench', amount: 1, limit: 1e9 }],
            ttlMs: 3_600_000,
          });
          if (!r.ok) throw new Error('bench reservation refused');
          await store.putDecisionIfAbsent({ orderId: id, requestHash: 'h', decision: {}, reservation: 'held', expiresAt: null, cancelled: false }, r.attempt);
          await store.release(id);
        });
      await bench.run();
      for (const t of bench.tasks) {
        const lat = t.result && 'latency' in t.result ? t.result.latency : undefined;
        rounds.push({ store: kind.name, op: t.name, 'p50 µs': Math.round((lat?.p50 ?? NaN) * 1_000), 'p99 µs': Math.round((lat?.p99 ?? NaN) * 1_000), 'ops/s': Math.round(lat ? 1_000 / lat.mean : NaN) });
      }
      await store.close();
    }
  } finally {
    await node.stop();
    await cluster.stop();
  }
  return { decisions, rounds, orders: seqOrders.length };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const orders = Number(flag('orders', '1000'));
  const concurrency = Number(flag('concurrency', '16'));
  const r = await runAllocateRedis({ orders, concurrency });
  console.log(`# allocations on memory vs Redis: Double-11 seed 1, ${r.orders} orders sequential + ${r.orders} concurrent; ${machine()}`);
  console.table(r.decisions);
  console.table(r.rounds);
}

