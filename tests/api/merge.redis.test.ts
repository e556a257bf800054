import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Decision } from '../../src/domain/schemas.js';
import type { OrderView } from '../../src/allocate/allocator.js';
import { RedisStore } from '../../src/store/redis.js';
import { FIXED_NOW, order, PLACES, testApp } from '../support/app.js';
import { useRedis } from '../support/redis-server.js';

/**
 * Issue 21's merge acceptance across instances: two service instances (each its own allocator,
 * client and store object) on one Redis receive a customer's three orders to one address at once,
 * 100 times over (10 customers at a time): every group is merged exactly once, one waybill, one
 * master, two children, each order once in the group record.
 */
const db = useRedis();
const apps: FastifyInstance[] = [];

beforeAll(async () => {
  for (let i = 0; i < 2; i++) {
    const c = db.client({ enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 5_000 });
    c.on('error', () => undefined);
    await new Promise((r) => c.once('ready', r));
    if (i === 0) await c.flushall();
    const { app } = await testApp({}, async (net) => {
      // The store reads the service's clock: open shipments close at their pickup wave on that clock.
      const s = new RedisStore(c, net.warehouses.map((w) => w.id), { clock: () => FIXED_NOW });
      await s.seed(net.network.stock);
      return s;
    });
    apps.push(app);
  }
  const put = await apps[0]!.inject({ method: 'PUT', url: '/v1/stock', payload: { items: [{ warehouseId: 'SH01', sku: 'BRK-0001', onHand: 5_000 }] } });
  expect(put.statusCode).toBe(200);
}, 60_000);

afterAll(async () => {
  for (const a of apps) await a.close().catch(() => undefined);
});

it('three concurrent orders of one customer and address on two instances, 100 times: each group merged exactly once', async () => {
  const round = async (k: number) => {
    const orders = [0, 1, 2].map((i) =>
      order({
        orderId: `MR-${k}-${i}`,
        customerId: `C-RACE-${k}`,
        placedAt: `2026-11-11T09:5${5 + i}:00+08:00`,
        destination: { ...PLACES.shanghaiPeoplesSquare, address: i === 1 ? '上海 黄浦区 人民大道 200 号' : '上海市黄浦区人民大道２００号' },
        lines: [{ sku: 'BRK-0001', qty: 1 + i }],
      }),
    );
    const replies = await Promise.all(orders.map((o, i) => apps[(i + k) % 2]!.inject({ method: 'POST', url: '/v1/allocate', payload: o })));
    expect(replies.filter((r) => r.statusCode !== 200).map((r) => r.body)).toEqual([]);
    const ds = replies.map((r) => r.json<Decision>());
    const masters = ds.filter((d) => d.shipments[0]!.joinedOrderId === undefined);
    expect(masters).toHaveLength(1);
    expect(new Set(ds.map((d) => d.shipments[0]!.trackingNumber)).size).toBe(1);
    const view = (await apps[k % 2]!.inject({ method: 'GET', url: `/v1/orders/${masters[0]!.orderId}` })).json<OrderView>();
    expect(view.groups).toHaveLength(1);
    expect(view.groups![0]!.merged).toBe(true);
    expect(view.groups![0]!.members.map((m) => m.orderId).sort()).toEqual(orders.map((o) => o.orderId).sort());
  };
  for (let k = 0; k < 100; k += 10) await Promise.all(Array.from({ length: 10 }, (_, j) => round(k + j)));
}, 120_000);
