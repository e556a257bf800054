import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { openStore } from '../../src/services.js';
import { openGroup, storeKeys } from '../../src/store/keys.js';
import { network } from '../support/app.js';
import { RedisStore } from '../../src/store/redis.js';
import { ReservationExistsError, ReservationLostError, StoreUnavailableError, type OpenShipment } from '../../src/store/types.js';
import { startRedis, useRedis } from '../support/redis-server.js';
import { storeCases } from './store.cases.js';

// The same contract suite as the in-memory store, against a real redis-server of the test's own.
const db = useRedis();

storeCases('redis (one node)', async (rows, clock, retention) => {
  const redis = db.client();
  await redis.flushall();
  const store = new RedisStore(redis, ['HF01', 'SH01'], { clock, ...retention });
  await store.seed(rows);
  return store;
});

describe('Redis store: retention is a TTL on every key it names', () => {
  it('an order, its scans and reroutes, an event id, an idempotency record and a day index expire by themselves', async () => {
    const redis = db.client();
    await redis.flushall();
    const DAY = 86_400_000;
    const store = new RedisStore(redis, ['HF01', 'SH01'], { orderRetentionMs: 7 * DAY, eventRetentionMs: 2 * DAY });
    await store.seed([{ warehouseId: 'SH01', sku: 'BRK-0001', onHand: 10 }]);
    const r = await store.reserve({ id: 'ttl', items: [{ warehouseId: 'SH01', sku: 'BRK-0001', qty: 1 }], counters: [], ttlMs: DAY });
    if (!r.ok) throw new Error('reserve failed');
    await store.putDecisionIfAbsent({ orderId: 'ttl', requestHash: 'h', decision: {}, reservation: 'held', expiresAt: null, cancelled: false }, r.attempt);
    await store.addScans('ttl', [{ key: 'k', scan: { code: 'PICK_DONE', at: Date.now() } }]);
    await store.listPush(storeKeys.reroutes('ttl'), { n: 1 }, 9 * DAY);
    await store.listPush(storeKeys.shipmentIndex('STO', '310000', '2026-11-11'), { orderId: 'ttl', shipment: 0 }, 9 * DAY);
    await store.markEvent('GRN-9');
    await store.claimIdempotency('lock:K', { a: 1 }, 3_600_000);
    const ttl = async (key: string) => redis.pttl(key);
    // The order: its reservation (1 day) plus the retention (7 days).
    expect(await ttl(storeKeys.order('ttl'))).toBeGreaterThan(8 * DAY - 60_000);
    expect(await ttl(storeKeys.order('ttl'))).toBeLessThanOrEqual(8 * DAY);
    expect(await ttl(storeKeys.scans('ttl'))).toBeGreaterThan(8 * DAY - 60_000);
    expect(await ttl(storeKeys.reroutes('ttl'))).toBeGreaterThan(9 * DAY - 60_000);
    expect(await ttl(storeKeys.shipmentIndex('STO', '310000', '2026-11-11'))).toBeGreaterThan(9 * DAY - 60_000);
    expect(await ttl(storeKeys.event('GRN-9'))).toBeGreaterThan(2 * DAY - 60_000);
    expect(await ttl(storeKeys.idempotency('lock:K'))).toBeGreaterThan(3_600_000 - 60_000);
    // Keys without an owner in time (configuration, API keys) have none.
    await store.kvSet('{cfg}:x', 1);
    expect(await ttl('{cfg}:x')).toBe(-1);
  });
});

describe('Redis store: a group\'s open shipments', () => {
  const MIN = 60_000;
  const group = openGroup('C1', '310101|人民大道200号');
  /** A flushed Redis and a store on a clock the test moves. */
  const fresh = async () => {
    const redis = db.client();
    await redis.flushall();
    const clock = { now: Date.parse('2026-11-11T10:00:00+08:00') };
    return { redis, clock, store: new RedisStore(redis, ['SH01'], { clock: () => clock.now }) };
  };
  /** A one-order shipment of the group, placed at `now`, picked up `pickupInMin` later. */
  const ship = (n: string, now: number, pickupInMin: number): OpenShipment => ({
    trackingNumber: n, masterOrderId: `M${n}`, shipment: 0, warehouseId: 'SH01', courierId: 'STO', provinceCode: '310000', shipDay: '2026-11-11',
    pickupAtMs: now + pickupInMin * MIN, etaMs: now + 24 * 60 * MIN, grams: 1_000, maxGrams: 10_000, members: [{ orderId: `M${n}`, grams: 1_000, placedAtMs: now, savedCny: 0 }],
  });

  it('are indexed by pickup while not picked up: the index sheds the picked-up ones and lives as long as the records; records past their time leave', async () => {
    const { redis, clock, store } = await fresh();
    const start = clock.now;
    for (let i = 1; i <= 30; i++) await store.openShipmentPut(group, ship(`S-${i}`, start, i), 48 * 60 * MIN);
    expect(await redis.zcard(storeKeys.openShipmentsLive(group))).toBe(30);
    expect(await redis.pttl(storeKeys.openShipmentsLive(group))).toBeGreaterThan(48 * 60 * MIN - 60_000);
    clock.now += 25 * MIN + 1;
    expect((await store.openShipments(group)).map((o) => o.trackingNumber)).toEqual(['S-26', 'S-27', 'S-28', 'S-29', 'S-30']);
    // The listing read five records, and the picked-up ones left the index; the records stay.
    expect(await redis.zcard(storeKeys.openShipmentsLive(group))).toBe(5);
    expect(await redis.hlen(storeKeys.openShipments(group))).toBe(30);
    expect(await redis.zcard(storeKeys.openShipmentsUntil(group))).toBe(30);
    expect(await redis.pttl(storeKeys.openShipmentsUntil(group))).toBeGreaterThan(48 * 60 * MIN - 60_000);
    // Past their 48 hours, the next put drops the records from the hash and both indexes.
    clock.now += 48 * 60 * MIN;
    await store.openShipmentPut(group, ship('S-31', clock.now, 1), 48 * 60 * MIN);
    expect(await redis.hkeys(storeKeys.openShipments(group))).toEqual(['S-31']);
    expect(await redis.zrange(storeKeys.openShipmentsLive(group), '0', '-1')).toEqual(['S-31']);
    expect(await redis.zrange(storeKeys.openShipmentsUntil(group), '0', '-1')).toEqual(['S-31']);
  });

  it('written before their record times get them at the next put and leave one retention later', async () => {
    const { redis, clock, store } = await fresh();
    // As the store wrote them before: the records in the hash, none in the record times.
    for (let i = 1; i <= 3; i++) await redis.hset(storeKeys.openShipments(group), `OLD-${i}`, JSON.stringify(ship(`OLD-${i}`, clock.now, 1)));
    await redis.pexpire(storeKeys.openShipments(group), 48 * 60 * MIN);
    await store.openShipmentPut(group, ship('NEW-1', clock.now, 1), 48 * 60 * MIN);
    expect((await redis.zrange(storeKeys.openShipmentsUntil(group), '0', '-1')).sort()).toEqual(['NEW-1', 'OLD-1', 'OLD-2', 'OLD-3']);
    clock.now += 48 * 60 * MIN;
    await store.openShipmentPut(group, ship('NEW-2', clock.now, 1), 48 * 60 * MIN);
    expect(await redis.hkeys(storeKeys.openShipments(group))).toEqual(['NEW-2']);
    expect(await store.openShipment(group, 'OLD-1')).toBeNull();
  });
});

describe('Redis store: abandoned attempts', () => {
  const item = [{ warehouseId: 'SH01', sku: 'BRK-0001', qty: 4 }];
  const decision = { orderId: 'ab', requestHash: 'h', decision: {}, reservation: 'held' as const, expiresAt: null, cancelled: false };

  it('a retry takes over a claim left without a decision past the claim timeout, and the old attempt loses', async () => {
    const redis = db.client();
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

describe('Redis store: the recovery pass (issue 19, item 2)', () => {
  const T = Date.parse('2026-11-11T10:00:00+08:00');
  const plan = [
    { warehouseId: 'SH01', sku: 'BRK-0001', qty: 4 },
    { warehouseId: 'HF01', sku: 'BRK-0001', qty: 2 },
  ];
  const seeded = async () => {
    const redis = db.client();
    await redis.flushall();
    const clock = { now: T };
    const open = () => {
      const c = db.client();
      return new RedisStore(c, ['HF01', 'SH01'], { clock: () => clock.now, claimTimeoutMs: 10_000 });
    };
    const first = open();
    await first.seed([
      { warehouseId: 'SH01', sku: 'BRK-0001', onHand: 10 },
      { warehouseId: 'HF01', sku: 'BRK-0001', onHand: 10 },
    ]);
    const reserved = async () => (await first.stock({ sku: 'BRK-0001' })).map((r) => `${r.warehouseId}:${r.reserved}`).join(' ');
    return { redis, clock, open, first, reserved };
  };

  it('gives back what an attempt reserved when its decision was never stored (its process died), once, with several instances recovering at once', async () => {
    const { redis, clock, open, first, reserved } = await seeded();
    // An instance reserves a two-warehouse plan and dies before it stores the decision: no
    // compensation runs (nothing failed in its process), only the pending marker is left.
    const dying = open();
    expect((await dying.reserve({ id: 'dead', items: plan, counters: [{ key: 'cap:wh:SH01:2026-11-11:parcels', amount: 1, limit: 9 }], ttlMs: 48 * 3_600_000 })).ok).toBe(true);
    // A live order beside it, decided and held: the pass must leave it alone.
    const live = await first.reserve({ id: 'live', items: [{ warehouseId: 'SH01', sku: 'BRK-0001', qty: 1 }], counters: [], ttlMs: 48 * 3_600_000 });
    if (!live.ok) throw new Error('reserve failed');
    await first.putDecisionIfAbsent({ orderId: 'live', requestHash: 'h', decision: {}, reservation: 'held', expiresAt: null, cancelled: false }, live.attempt);
    expect(await reserved()).toBe('HF01:2 SH01:5');
    // Within the claim timeout the attempt may still be deciding: nothing is touched.
    clock.now += 9_000;
    const others = [open(), open(), open()];
    expect(await others[0]!.recover()).toMatchObject({ released: 0 });
    expect(await reserved()).toBe('HF01:2 SH01:5');
    // Past it, three instances run the pass at once: the plan comes back exactly once.
    clock.now += 2_000;
    const reports = await Promise.all(others.map((o) => o.recover()));
    expect(reports.reduce((n, r) => n + r.released, 0)).toBe(1);
    expect(await reserved()).toBe('HF01:0 SH01:1');
    expect((await first.counters(['cap:wh:SH01:2026-11-11:parcels'])).get('cap:wh:SH01:2026-11-11:parcels')).toBe(0);
    expect(await first.getDecision('live')).toMatchObject({ reservation: 'held' });
    expect(await redis.exists(storeKeys.order('dead'))).toBe(0);
    expect(await redis.zcard(storeKeys.pending)).toBe(0);
    // The order can be allocated again from scratch.
    expect((await first.reserve({ id: 'dead', items: plan, counters: [], ttlMs: 3_600_000 })).ok).toBe(true);
  });

  it('runs at start-up: a service opening the store gives back what a dead instance left reserved', async () => {
    const { clock, open, reserved } = await seeded();
    const dying = open();
    expect((await dying.reserve({ id: 'before-start', items: plan, counters: [], ttlMs: 48 * 3_600_000 })).ok).toBe(true);
    expect(await reserved()).toBe('HF01:2 SH01:4');
    // The next instance starts 11 s later (past the claim timeout) on the same Redis.
    const config = loadConfig({}, { redisUrl: db.url, claimTimeoutMs: 10_000 });
    const started = await openStore(config, network(), () => clock.now + 11_000);
    try {
      expect((started as RedisStore).lastRecovery).toMatchObject({ released: 1 });
      expect(await reserved()).toBe('HF01:0 SH01:0');
    } finally {
      await started.close();
    }
  });

  it('finishes a cancel and a shipment that were interrupted between the order record and the warehouses', async () => {
    const { redis, clock, first, reserved } = await seeded();
    for (const id of ['c', 's']) {
      const r = await first.reserve({ id, items: plan, counters: [], ttlMs: 48 * 3_600_000 });
      if (!r.ok) throw new Error('reserve failed');
      await first.putDecisionIfAbsent({ orderId: id, requestHash: 'h', decision: {}, reservation: 'held', expiresAt: null, cancelled: false }, r.attempt);
    }
    expect(await reserved()).toBe('HF01:4 SH01:8');
    // The first step of each, as cancelOrder and commit take it (marker, then the order's
    // record), and then the failure: the parts in the warehouses were never finished.
    const scripted = redis as unknown as Record<string, (...a: (string | number)[]) => Promise<unknown>>;
    new RedisStore(redis, ['HF01', 'SH01']); // defines the scripts on this client
    await redis.zadd(storeKeys.pending, clock.now + 10_000, 'c\tcancel-1', clock.now + 10_000, 's\tship-1');
    expect(await scripted.dspCancelOrder!(storeKeys.order('c'), clock.now)).toEqual(['release', expect.any(String), '["wh:HF01","wh:SH01"]']);
    expect(await scripted.dspCommitOrder!(storeKeys.order('s'), clock.now, 10_000)).toEqual(['commit', expect.any(String), '["wh:HF01","wh:SH01"]']);
    expect(await reserved()).toBe('HF01:4 SH01:8');
    clock.now += 10_001;
    expect(await first.recover()).toMatchObject({ checked: 2, released: 0, finished: 2 });
    expect((await first.stock()).map((r) => [r.warehouseId, r.onHand, r.reserved, r.free])).toEqual([
      ['HF01', 8, 0, 8],
      ['SH01', 6, 0, 6],
    ]);
    expect(await first.getDecision('c')).toMatchObject({ reservation: 'released', cancelled: true });
    expect(await first.getDecision('s')).toMatchObject({ reservation: 'committed', cancelled: false });
    // Again: nothing more happens (the pass is idempotent).
    expect(await first.recover()).toMatchObject({ checked: 0 });
    expect(await reserved()).toBe('HF01:0 SH01:0');
  });
});

describe('Redis store: stock counts across warehouses', () => {
  it('all or none: a reservation landing between the check and the writes sets back the warehouses already written', async () => {
    const redis = db.client();
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

describe('Redis store: an unreachable Redis is a typed error at the store boundary', () => {
  it('every store method rejects with StoreUnavailableError once Redis is gone, whatever the client says', async () => {
    const own = await startRedis();
    const redis = new Redis(own.url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 500, connectTimeout: 500 });
    redis.on('error', () => undefined);
    await new Promise((resolve) => redis.once('ready', resolve));
    const store = new RedisStore(redis, ['SH01'], {});
    await store.seed([{ warehouseId: 'SH01', sku: 'BRK-0001', onHand: 10 }]);
    await store.ping();
    await own.kill();
    const item = { warehouseId: 'SH01', sku: 'BRK-0001', qty: 1 };
    const calls: [string, () => Promise<unknown>][] = [
      ['stock', () => store.stock()],
      ['freeStock', () => store.freeStock(['BRK-0001'])],
      ['setOnHand', () => store.setOnHand([{ warehouseId: 'SH01', sku: 'BRK-0001', onHand: 5 }])],
      ['adjustOnHand', () => store.adjustOnHand('SH01', 'BRK-0001', 1)],
      ['markEvent', () => store.markEvent('E-1')],
      ['counters', () => store.counters(['cap:wh:SH01:2026-11-11:parcels'])],
      ['reserve', () => store.reserve({ id: 'u1', items: [item], counters: [], ttlMs: 60_000 })],
      ['release', () => store.release('u1')],
      ['commit', () => store.commit('u1')],
      ['getDecision', () => store.getDecision('u1')],
      ['putDecisionIfAbsent', () => store.putDecisionIfAbsent({ orderId: 'u1', requestHash: 'h', decision: {}, reservation: null, expiresAt: null, cancelled: false })],
      ['cancelOrder', () => store.cancelOrder('u1')],
      ['recover', () => store.recover()],
      ['createLock', () => store.createLock({ id: 'L1', customerId: 'C', warehouseId: 'SH01', sku: 'BRK-0001', qty: 1, expiresAt: Date.now() + 60_000 })],
      ['getLock', () => store.getLock('L1')],
      ['releaseLock', () => store.releaseLock('L1')],
      ['addScans', () => store.addScans('u1', [{ key: 'k', scan: { code: 'X', at: 1 } }])],
      ['scans', () => store.scans('u1')],
      ['orderIds', () => store.orderIds()],
      ['kvGet', () => store.kvGet('{cfg}:x')],
      ['kvSet', () => store.kvSet('{cfg}:x', 1)],
      ['kvIncr', () => store.kvIncr('{cfg}:v')],
      ['listPush', () => store.listPush('{idx}:l', 1)],
      ['listAll', () => store.listAll('{idx}:l')],
      ['moveCounter', () => store.moveCounter('u1', { key: 'cap:courier:STO:310000:d:parcels', amount: 1 }, { key: 'cap:courier:ZTO:310000:d:parcels', amount: 1, limit: 9 })],
      ['ping', () => store.ping()],
    ];
    for (const [name, call] of calls) {
      const err = await call().then(
        () => null,
        (e: unknown) => e,
      );
      expect(err, name).toBeInstanceOf(StoreUnavailableError);
    }
    await store.close();
    await own.stop().catch(() => undefined);
  });
});
