import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Decision } from '../src/domain/schemas.js';
import { RedisStore } from '../src/store/redis.js';
import { order, testApp } from './support/app.js';
import { startRedis } from './support/redis-server.js';

// The allocate path on a real Redis of the test's own (the Redis store; issue 4 builds on it).
let server: Awaited<ReturnType<typeof startRedis>>;
let app: FastifyInstance;
let store: RedisStore;
let redis: Redis;

beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 1_000 });
  redis.on('error', () => undefined);
  await new Promise((r) => redis.once('ready', r));
  ({ app, store } = await testApp({}, async (net) => {
    const s = new RedisStore(redis, net.warehouses.map((w) => w.id));
    await s.seed(net.network.stock);
    return s;
  }));
});
afterAll(async () => {
  await app?.close().catch(() => undefined);
  redis?.disconnect();
  await server?.stop().catch(() => undefined);
});

const allocate = (body: unknown) => app.inject({ method: 'POST', url: '/v1/allocate', payload: body as object });

describe('allocate on Redis', () => {
  it('radius-locks, reserves in Redis, answers a retry from Redis, cancels', async () => {
    const body = order({ lines: [{ sku: 'BRK-0001', qty: 4 }] });
    const before = (await store.stock({ warehouseId: 'SH01', sku: 'BRK-0001' }))[0]!;
    const [a, b] = await Promise.all([allocate(body), allocate(body)]);
    expect(a.statusCode).toBe(200);
    expect(a.json()).toEqual(b.json());
    expect(a.json<Decision>()).toMatchObject({ mode: 'radius-lock', shipments: [{ warehouseId: 'SH01' }] });
    expect(await redis.hget('{wh:SH01}:reserved', 'BRK-0001')).toBe(String(before.reserved + 4));
    const cancel = await app.inject({ method: 'POST', url: `/v1/orders/${body.orderId as string}/cancel` });
    expect(cancel.json()).toMatchObject({ state: 'cancelled' });
    expect((await store.stock({ warehouseId: 'SH01', sku: 'BRK-0001' }))[0]).toEqual(before);
  });

  it('200 concurrent allocations on a scarce SKU never oversell', async () => {
    const sku = 'BRK-0002';
    const rows = await store.stock({ sku });
    await app.inject({ method: 'PUT', url: '/v1/stock', payload: { items: rows.map((r) => ({ warehouseId: r.warehouseId, sku, onHand: 0 })) } });
    await app.inject({
      method: 'PUT',
      url: '/v1/stock',
      payload: {
        items: [
          { warehouseId: 'SH01', sku, onHand: 25 },
          { warehouseId: 'SZ01', sku, onHand: 15 },
        ],
      },
    });
    const replies = await Promise.all(Array.from({ length: 200 }, () => allocate(order({ lines: [{ sku, qty: 1 }] }))));
    expect(replies.map((r) => r.statusCode).filter((s) => s !== 200)).toEqual([]);
    const shipped = replies.reduce((n, r) => n + r.json<Decision>().shipments.reduce((m, s) => m + s.lines[0]!.qty, 0), 0);
    expect(shipped).toBe(40);
    for (const row of await store.stock({ sku })) {
      expect(row.free).toBeGreaterThanOrEqual(0);
      expect(row.onHand).toBe(row.free + row.reserved);
    }
  });

  it('two instances on one Redis: each order sent 3 times across both gets one reservation and one decision', async () => {
    const other = new Redis(server.url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 1_000 });
    other.on('error', () => undefined);
    await new Promise((r) => other.once('ready', r));
    const second = await testApp({}, async (net) => new RedisStore(other, net.warehouses.map((w) => w.id)));
    try {
      const sku = 'FLO-0001';
      const before = (await store.stock({ sku })).reduce((n, r) => n + r.reserved, 0);
      const orders = Array.from({ length: 100 }, (_, i) => order({ lines: [{ sku, qty: 1 + (i % 3) }] }));
      const sends = orders.flatMap((o, i) => [0, 1, 2].map((k) => ({ o, via: (i + k) % 2 === 0 ? app : second.app })));
      const replies = await Promise.all(sends.map(({ o, via }) => via.inject({ method: 'POST', url: '/v1/allocate', payload: o })));
      expect(replies.map((r) => r.statusCode).filter((c) => c !== 200)).toEqual([]);
      const byOrder = new Map<string, string[]>();
      replies.forEach((r, i) => {
        const id = sends[i]!.o.orderId as string;
        byOrder.set(id, [...(byOrder.get(id) ?? []), r.body]);
      });
      for (const bodies of byOrder.values()) expect(new Set(bodies).size).toBe(1);
      const shipped = orders.reduce((n, o) => n + JSON.parse(byOrder.get(o.orderId as string)![0]!).shipments.reduce((m: number, s: { lines: { qty: number }[] }) => m + s.lines[0]!.qty, 0), 0);
      const after = (await store.stock({ sku })).reduce((n, r) => n + r.reserved, 0);
      expect(after - before).toBe(shipped);
      expect(shipped).toBe(orders.reduce((n, o) => n + (o.lines as { qty: number }[])[0]!.qty, 0));
    } finally {
      await second.app.close();
    }
  });

  it('answers 503 DSP_STORE_UNAVAILABLE, not a 500, when Redis is gone', async () => {
    await server.stop();
    const t0 = Date.now();
    const r = await allocate(order());
    expect(r.statusCode).toBe(503);
    expect(r.json().error.code).toBe('DSP_STORE_UNAVAILABLE');
    // Measured, not a timing assertion on speed: the point is that it does not hang.
    expect(Date.now() - t0).toBeLessThan(10_000);
  });
});
