import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Decision } from '../../src/domain/schemas.js';
import { RedisStore } from '../../src/store/redis.js';
import { order, seededRedisStore, testApp } from '../support/app.js';
import { useRedis } from '../support/redis-server.js';

// The allocate path on a real Redis of the test's own (the Redis store; issue 4 builds on it).
const db = useRedis();
let app: FastifyInstance;
let store: RedisStore;
let redis: Redis;

beforeAll(async () => {
  redis = db.client({ enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 1_000 });
  redis.on('error', () => undefined);
  await new Promise((r) => redis.once('ready', r));
  ({ app, store } = await testApp({}, seededRedisStore(redis)));
});
afterAll(async () => {
  await app?.close().catch(() => undefined);
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
      expect(row.onHand).toBe(row.free + row.reserved + row.locked);
    }
  });

  it('a 200-unit lock with a short real expiry: invisible to others, used by its owner, released by itself', async () => {
    // Its own service on the real clock, sharing the Redis: expiry runs on wall time here.
    const client = new Redis(db.url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 1_000 });
    client.on('error', () => undefined);
    await new Promise((r) => client.once('ready', r));
    const live = await testApp({}, async (net) => new RedisStore(client, net.warehouses.map((w) => w.id)), Date.now);
    try {
      const sku = 'BRK-0005';
      const rows = await live.store.stock({ sku });
      await live.store.setOnHand(rows.map((r) => ({ warehouseId: r.warehouseId, sku, onHand: r.warehouseId === 'SH01' ? 230 : 0 })));
      const now = Date.now();
      const promised = { placedAt: new Date(now).toISOString(), promisedBy: new Date(now + 48 * 3_600_000).toISOString() };
      const made = await live.app.inject({
        method: 'POST',
        url: '/v1/locks',
        payload: { customerId: 'KEY-ACCOUNT', sku, qty: 200, warehouseId: 'SH01', expiresAt: new Date(now + 1_500).toISOString() },
      });
      expect(made.statusCode).toBe(201);
      const other = await live.app.inject({ method: 'POST', url: '/v1/allocate', payload: order({ ...promised, customerId: 'WALK-IN', lines: [{ sku, qty: 50 }] }) });
      expect(other.json<Decision>()).toMatchObject({ status: 'partial', backordered: [{ sku, qty: 20 }] });
      const own = await live.app.inject({ method: 'POST', url: '/v1/allocate', payload: order({ ...promised, customerId: 'KEY-ACCOUNT', lines: [{ sku, qty: 150 }] }) });
      expect(own.json<Decision>()).toMatchObject({ status: 'allocated' });
      expect((await live.store.stock({ warehouseId: 'SH01', sku }))[0]).toMatchObject({ onHand: 230, free: 0, reserved: 180, locked: 50 });
      await new Promise((r) => setTimeout(r, Math.max(0, now + 1_600 - Date.now())));
      const lockId = made.json<{ lockId: string }>().lockId;
      expect((await live.app.inject({ method: 'GET', url: `/v1/locks/${lockId}` })).json()).toMatchObject({ state: 'expired', remaining: 0 });
      expect((await live.store.stock({ warehouseId: 'SH01', sku }))[0]).toMatchObject({ onHand: 230, free: 50, reserved: 180, locked: 0 });
    } finally {
      await live.app.close();
    }
  });

  it('the GRN-1 correction applies on Redis: a rejected event does not use up its eventId', async () => {
    const send = (warehouseId: string) =>
      app.inject({ method: 'POST', url: '/v1/stock/events', payload: { events: [{ type: 'receipt', eventId: 'GRN-1', warehouseId, sku: 'FLO-0002', qty: 5 }] } });
    const before = (await store.stock({ warehouseId: 'SH01', sku: 'FLO-0002' }))[0]!.onHand;
    expect((await send('SH99')).json()).toMatchObject({ results: [{ status: 'rejected', code: 'DSP_UNKNOWN_WAREHOUSE' }] });
    expect((await send('SH01')).json()).toMatchObject({ results: [{ status: 'applied' }] });
    expect((await send('SH01')).json()).toMatchObject({ results: [{ status: 'duplicate' }] });
    expect((await store.stock({ warehouseId: 'SH01', sku: 'FLO-0002' }))[0]!.onHand).toBe(before + 5);
  });

  it('a lock Idempotency-Key shared across customers answers 409 on Redis; 20 concurrent twins lock once', async () => {
    // The store here runs on the real clock (the app on FIXED_NOW, weeks before): a lock an hour from now holds.
    const body = { customerId: 'CUST-A', sku: 'WIP-0002', qty: 2, warehouseId: 'SH01', expiresAt: new Date(Date.now() + 3_600_000).toISOString() };
    const lock = (b: object, key: string) => app.inject({ method: 'POST', url: '/v1/locks', payload: b, headers: { 'idempotency-key': key } });
    const locked = (await store.stock({ warehouseId: 'SH01', sku: 'WIP-0002' }))[0]!.locked;
    const twins = await Promise.all(Array.from({ length: 20 }, () => lock(body, 'redis-shared')));
    expect(twins.filter((r) => r.statusCode === 201)).toHaveLength(1);
    // A twin answers the lock, or (while the first is still writing it) 409 asking for a retry: never a second lock.
    for (const r of twins) expect([200, 201, 409]).toContain(r.statusCode);
    expect(new Set(twins.filter((r) => r.statusCode < 300).map((r) => r.json<{ lockId: string }>().lockId)).size).toBe(1);
    const other = await lock({ ...body, customerId: 'CUST-B' }, 'redis-shared');
    expect(other.statusCode).toBe(409);
    expect(other.json()).toMatchObject({ error: { code: 'DSP_IDEMPOTENCY_CONFLICT' } });
    expect((await store.stock({ warehouseId: 'SH01', sku: 'WIP-0002' }))[0]!.locked).toBe(locked + 2);
  });

  it('a cancel racing a shipped stock event, through the API: exactly one succeeds, the other is refused with its reason (issue 19)', async () => {
    const sku = 'BRK-0003';
    const n = Math.max(2, Math.min(Number(process.env.RACE_COUNT ?? 40), 200));
    const before = await store.stock({ sku });
    const onHand = (rows: typeof before) => rows.reduce((t, r) => t + r.onHand, 0);
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const body = order({ lines: [{ sku, qty: 1 }] });
      expect((await allocate(body)).statusCode).toBe(200);
      ids.push(body.orderId as string);
    }
    let shipped = 0;
    for (const [i, orderId] of ids.entries()) {
      const cancel = () => app.inject({ method: 'POST', url: `/v1/orders/${orderId}/cancel` });
      const ship = () => app.inject({ method: 'POST', url: '/v1/stock/events', payload: { events: [{ type: 'shipped', orderId }] } });
      const [c, e] = i % 2 === 0 ? await Promise.all([cancel(), ship()]) : await Promise.all([ship(), cancel()]).then(([x, y]) => [y, x] as const);
      const result = e.json<{ results: { status: string; code?: string; message?: string }[] }>().results[0]!;
      if (result.status === 'applied') {
        shipped++;
        expect(c.statusCode, orderId).toBe(409);
        expect(c.json(), orderId).toMatchObject({ error: { code: 'DSP_ORDER_NOT_CANCELLABLE' } });
      } else {
        expect(c.statusCode, orderId).toBe(200);
        expect(result, orderId).toMatchObject({ status: 'rejected', code: 'DSP_ORDER_NOT_SHIPPABLE', message: expect.stringContaining('cancelled') });
      }
      expect((await app.inject(`/v1/orders/${orderId}`)).json(), orderId).toMatchObject({ state: result.status === 'applied' ? 'committed' : 'cancelled' });
    }
    // Shipped units left on hand; cancelled ones came back; nothing stays reserved.
    const after = await store.stock({ sku });
    expect(onHand(before) - onHand(after)).toBe(shipped);
    expect(after.reduce((t, r) => t + r.reserved, 0)).toBe(before.reduce((t, r) => t + r.reserved, 0));
    for (const r of after) expect(r.onHand).toBe(r.free + r.reserved + r.locked);
  });

  it('answers 503 DSP_STORE_UNAVAILABLE, not a 500, when Redis is gone', async () => {
    await db.server.stop();
    const t0 = Date.now();
    const r = await allocate(order());
    expect(r.statusCode).toBe(503);
    expect(r.json().error.code).toBe('DSP_STORE_UNAVAILABLE');
    // Measured, not a timing assertion on speed: the point is that it does not hang.
    expect(Date.now() - t0).toBeLessThan(10_000);
  });
});
