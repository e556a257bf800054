import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisStore } from '../../src/store/redis.js';
import { ReservationExistsError, ReservationLostError } from '../../src/store/types.js';
import { startRedis } from '../support/redis-server.js';
import { storeCases } from './store.cases.js';

// The same contract suite as the in-memory store, against a real redis-server of the test's own.
let server: Awaited<ReturnType<typeof startRedis>>;
const clients: Redis[] = [];
beforeAll(async () => {
  server = await startRedis();
});
afterAll(async () => {
  for (const c of clients) c.disconnect();
  await server?.stop();
});

storeCases('redis (one node)', async (rows, clock) => {
  const redis = new Redis(server.url);
  clients.push(redis);
  await redis.flushall();
  const store = new RedisStore(redis, ['HF01', 'SH01'], { clock });
  await store.seed(rows);
  return store;
});

describe('Redis store: abandoned attempts', () => {
  const item = [{ warehouseId: 'SH01', sku: 'BRK-0001', qty: 4 }];
  const decision = { orderId: 'ab', requestHash: 'h', decision: {}, reservation: 'held' as const, expiresAt: null, cancelled: false };

  it('a retry takes over a claim left without a decision past the claim timeout, and the old attempt loses', async () => {
    const redis = new Redis(server.url);
    clients.push(redis);
    await redis.flushall();
    let now = Date.parse('2026-11-11T10:00:00+08:00');
    const store = new RedisStore(redis, ['HF01', 'SH01'], { clock: () => now, claimTimeoutMs: 10_000 });
    await store.seed([{ warehouseId: 'SH01', sku: 'BRK-0001', onHand: 10 }]);
    const first = await store.reserve({ id: 'ab', items: item, counters: [], ttlMs: 3_600_000 });
    expect(first.ok).toBe(true);
    // Within the timeout the claim is respected ...
    now += 9_000;
    await expect(store.reserve({ id: 'ab', items: item, counters: [], ttlMs: 3_600_000 })).rejects.toBeInstanceOf(ReservationExistsError);
    // ... past it, the first attempt's units return and the retry holds the order.
    now += 2_000;
    const second = await store.reserve({ id: 'ab', items: [{ warehouseId: 'SH01', sku: 'BRK-0001', qty: 3 }], counters: [], ttlMs: 3_600_000 });
    expect(second.ok).toBe(true);
    expect((await store.stock({ warehouseId: 'SH01' }))[0]).toMatchObject({ onHand: 10, reserved: 3, free: 7 });
    if (!first.ok || !second.ok) throw new Error('unreachable');
    await expect(store.putDecisionIfAbsent(decision, first.attempt)).rejects.toBeInstanceOf(ReservationLostError);
    expect(await store.putDecisionIfAbsent(decision, second.attempt)).toMatchObject({ reservation: 'held' });
    expect((await store.stock({ warehouseId: 'SH01' }))[0]).toMatchObject({ reserved: 3 });
    expect(await store.release('ab')).toBe(true);
    expect((await store.stock({ warehouseId: 'SH01' }))[0]).toMatchObject({ reserved: 0, free: 10 });
  });
});

describe('Redis store: stock counts across warehouses', () => {
  it('all or none: a reservation landing between the check and the writes sets back the warehouses already written', async () => {
    const redis = new Redis(server.url);
    clients.push(redis);
    await redis.flushall();
    const store = new RedisStore(redis, ['HF01', 'SH01']);
    await store.seed([
      { warehouseId: 'SH01', sku: 'BRK-0001', onHand: 10 },
      { warehouseId: 'HF01', sku: 'BRK-0001', onHand: 3 },
    ]);
    const check = store.stock.bind(store);
    store.stock = async (filter) => {
      const rows = await check(filter);
      store.stock = check;
      // Another instance reserves HF01's 3 units right after the check saw none reserved.
      expect((await store.reserve({ id: 'race', items: [{ warehouseId: 'HF01', sku: 'BRK-0001', qty: 3 }], counters: [], ttlMs: 3_600_000 })).ok).toBe(true);
      return rows;
    };
    const r = await store.setOnHand([
      { warehouseId: 'SH01', sku: 'BRK-0001', onHand: 20 },
      { warehouseId: 'HF01', sku: 'BRK-0001', onHand: 2 },
    ]);
    expect(r).toEqual({ ok: false, rejected: [{ warehouseId: 'HF01', sku: 'BRK-0001', onHand: 2, reserved: 3, locked: 0 }] });
    expect(await store.stock({ sku: 'BRK-0001' })).toEqual([
      { warehouseId: 'HF01', sku: 'BRK-0001', onHand: 3, free: 0, reserved: 3, locked: 0 },
      { warehouseId: 'SH01', sku: 'BRK-0001', onHand: 10, free: 10, reserved: 0, locked: 0 },
    ]);
  });
});
