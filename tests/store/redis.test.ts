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
