import type { FastifyInstance } from 'fastify';
import type { Cluster, Redis as RedisClient } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Decision } from '../../src/domain/schemas.js';
import { RedisStore } from '../../src/store/redis.js';
import { network, order, PLACES, testApp } from '../support/app.js';
import { useRedis, useRedisCluster } from '../support/redis-server.js';
import { expectInvariant } from '../store/store.cases.js';

/**
 * Issue 4's acceptance on both topologies: two service instances (two fastify apps, each with its
 * own allocator, Redis client and store object, sharing nothing but Redis) on one Redis node and
 * on a 3-master Redis Cluster that the test starts itself.
 */
type Topology = {
  name: string;
  /** Starts the topology for the describe block it is called in (see useRedis), and stops it after. */
  use: () => { client: () => Promise<RedisClient | Cluster>; flush: (c: RedisClient | Cluster) => Promise<void> };
};

const topologies: Topology[] = [
  {
    name: 'one Redis node',
    use: () => {
      const db = useRedis();
      return {
        client: async () => {
          const c = db.client({ enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 5_000, enableAutoPipelining: true });
          c.on('error', () => undefined);
          await new Promise((r) => c.once('ready', r));
          return c;
        },
        flush: async (c) => void (await (c as RedisClient).flushall()),
      };
    },
  },
  {
    name: 'a 3-master Redis Cluster',
    use: () => {
      const cluster = useRedisCluster();
      return {
        client: () => cluster.client(),
        flush: async (c) => void (await Promise.all((c as Cluster).nodes('master').map((n) => n.flushall()))),
      };
    },
  },
];

const DESTINATIONS = [PLACES.shanghaiPeoplesSquare, PLACES.suzhouCentre, { lon: 120.1551, lat: 30.2741 } /* Hangzhou */];

/** POSTs an allocation, retrying the retryable 503s as the ERP does; returns the final reply and the retries. */
async function allocateWithRetry(app: FastifyInstance, body: object): Promise<{ status: number; body: string; retries: number }> {
  for (let retries = 0; ; retries++) {
    const r = await app.inject({ method: 'POST', url: '/v1/allocate', payload: body });
    if (r.statusCode !== 503 || retries >= 50) return { status: r.statusCode, body: r.body, retries };
    await new Promise((res) => setTimeout(res, 5 + Math.random() * 20));
  }
}

const unitsShipped = (d: Decision) => d.shipments.reduce((n, s) => n + s.lines.reduce((m, l) => m + l.qty, 0), 0);

describe.each(topologies)('two instances on $name', (topo) => {
  const env = topo.use();
  const apps: FastifyInstance[] = [];
  const stores: RedisStore[] = [];
  /**
   * The stock watcher's own connection: on an instance's connection its reads would queue behind
   * the thousands of pipelined commands of 5,000 orders in flight and time out (5 s) on a slow
   * machine, though Redis itself answers them at once.
   */
  let watchClient: RedisClient | Cluster;
  let watchStore: RedisStore;

  beforeAll(async () => {
    const first = await env.client();
    await env.flush(first);
    for (const client of [first, await env.client()]) {
      // All 5,000 orders are in flight at once: lift the per-instance overload guard above that.
      const { app, store } = await testApp({ maxInflightDecisions: 10_000 }, async (net) => {
        const s = new RedisStore(client, net.warehouses.map((w) => w.id));
        await s.seed(net.network.stock);
        return s;
      });
      apps.push(app);
      stores.push(store);
    }
    watchClient = await env.client();
    watchStore = new RedisStore(watchClient, network().warehouses.map((w) => w.id));
  }, 60_000);
  afterAll(async () => {
    watchClient?.disconnect();
    for (const a of apps) await a.close().catch(() => undefined);
  });

  it('5,000 concurrent one-unit orders for 1,000 units in 3 warehouses: exactly 1,000 allocated, never oversold', async () => {
    const sku = 'BRK-0002';
    const [store] = stores;
    const rows = await store!.stock({ sku });
    const units: Record<string, number> = { SH01: 400, SZ01: 300, HZ01: 300 };
    const put = await apps[0]!.inject({
      method: 'PUT',
      url: '/v1/stock',
      payload: { items: rows.map((r) => ({ warehouseId: r.warehouseId, sku, onHand: units[r.warehouseId] ?? 0 })) },
    });
    expect(put.statusCode).toBe(200);

    // Watch free stock while the orders run: it must never go below zero, and every row must balance.
    // A read that times out while Redis works through thousands of pipelined commands on a busy
    // machine is skipped (and counted): the watcher observes, it is not what is tested.
    let minFree = Infinity;
    let samples = 0;
    let slowReads = 0;
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        let rows;
        try {
          rows = await watchStore.stock({ sku });
        } catch {
          slowReads++;
          continue;
        }
        for (const row of rows) {
          minFree = Math.min(minFree, row.free);
          expect(row.onHand, `${row.warehouseId}/${sku}`).toBe(row.free + row.reserved + row.locked);
        }
        samples++;
        await new Promise((r) => setTimeout(r, 5));
      }
    })();

    const orders = Array.from({ length: 5_000 }, (_, i) =>
      order({ orderId: `OS-${i}`, customerId: `C-${i % 50}`, destination: DESTINATIONS[i % 3], lines: [{ sku, qty: 1 }] }),
    );
    const replies = await Promise.all(orders.map((o, i) => allocateWithRetry(apps[i % 2]!, o)));
    watching = false;
    await watcher;

    expect(replies.filter((r) => r.status !== 200).map((r) => r.body)).toEqual([]);
    const decisions = replies.map((r) => JSON.parse(r.body) as Decision);
    const shipped = decisions.reduce((n, d) => n + unitsShipped(d), 0);
    expect(shipped).toBe(1_000);
    expect(decisions.filter((d) => d.status === 'allocated')).toHaveLength(1_000);
    expect(decisions.filter((d) => d.status === 'backordered')).toHaveLength(4_000);
    const after = await store!.stock({ sku });
    expect(after.reduce((n, r) => n + r.reserved, 0)).toBe(1_000);
    expect(after.reduce((n, r) => n + r.free, 0)).toBe(0);
    expect(minFree).toBeGreaterThanOrEqual(0);
    expect(samples).toBeGreaterThan(0);
    await expectInvariant(store!);
    // Every allocated order holds exactly its reservation; the others hold none.
    // Read back in slices, not 5,000 reads at once (each slice within the client's command timeout).
    const states = [];
    for (let i = 0; i < orders.length; i += 250) states.push(...(await Promise.all(orders.slice(i, i + 250).map((o) => store!.getDecision(o.orderId as string)))));
    expect(states.filter((d) => d?.reservation === 'held')).toHaveLength(1_000);
    console.log(`[${topo.name}] 5,000 orders: ${replies.reduce((n, r) => n + r.retries, 0)} retried 503s, ${samples} stock samples (${slowReads} timed out), min free ${minFree}`);
  }, 300_000);

  it('1,000 orders each sent 3 times concurrently across both instances: 1,000 reservations, identical decisions', async () => {
    const sku = 'FLO-0001';
    const [store] = stores;
    const before = (await store!.stock({ sku })).reduce((n, r) => n + r.reserved, 0);
    const orders = Array.from({ length: 1_000 }, (_, i) => order({ orderId: `ID-${i}`, destination: DESTINATIONS[i % 3], lines: [{ sku, qty: 1 + (i % 3) }] }));
    const sends = orders.flatMap((o, i) => [0, 1, 2].map((k) => ({ o, app: apps[(i + k) % 2]! })));
    const replies = await Promise.all(sends.map(({ o, app }) => allocateWithRetry(app, o)));
    expect(replies.filter((r) => r.status !== 200).map((r) => r.body)).toEqual([]);
    const byOrder = new Map<string, Set<string>>();
    replies.forEach((r, i) => {
      const id = sends[i]!.o.orderId as string;
      (byOrder.get(id) ?? byOrder.set(id, new Set()).get(id)!).add(r.body);
    });
    expect([...byOrder.values()].filter((bodies) => bodies.size !== 1)).toEqual([]);
    const stored = await Promise.all(orders.map((o) => store!.getDecision<Decision>(o.orderId as string)));
    expect(stored.filter((d) => d?.reservation === 'held')).toHaveLength(1_000);
    const shipped = stored.reduce((n, d) => n + unitsShipped(d!.decision), 0);
    expect(shipped).toBe(orders.reduce((n, o) => n + (o.lines as { qty: number }[])[0]!.qty, 0));
    const after = (await store!.stock({ sku })).reduce((n, r) => n + r.reserved, 0);
    expect(after - before).toBe(shipped);
    await expectInvariant(store!);
  }, 300_000);
});
