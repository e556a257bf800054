import type { Cluster, Redis } from 'ioredis';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Decision } from '../../src/domain/schemas.js';
import { counterKeys } from '../../src/store/keys.js';
import { MemoryStore } from '../../src/store/memory.js';
import { RedisStore } from '../../src/store/redis.js';
import type { Store } from '../../src/store/types.js';
import { FIXED_NOW, network, order, testApp } from '../support/app.js';
import { useRedis, useRedisCluster } from '../support/redis-server.js';

/**
 * Capacity over days (issue 17, item 2): an order whose warehouse or couriers are full today ships
 * on a later day's first collection wave when that still meets the promise (or is the least late),
 * books that day's capacity, and is backordered only when no day of CAPACITY_HORIZON_DAYS fits.
 * The test decides on Double-11 at 10:00 in Shanghai (FIXED_NOW), to People's Square (310000).
 */
const SKU = 'BRK-0001';
const PROVINCE = '310000';
const TODAY = '2026-11-11';

/** The store the next app runs on: embedded, one Redis node or a Cluster (wiped first). */
let freshStore: () => Promise<Store> = async () => new MemoryStore(network().network.stock, { clock: () => FIXED_NOW });

async function appWith(horizon: number) {
  const { app, store } = await testApp({ capacityHorizonDays: horizon }, () => freshStore());
  // One warehouse holds the SKU: Shanghai's.
  const rows = await store.stock({ sku: SKU });
  await store.setOnHand(rows.map((r) => ({ warehouseId: r.warehouseId, sku: SKU, onHand: r.warehouseId === 'SH01' ? 100 : 0 })));
  return { app, store };
}

/** Every courier takes no parcels to Shanghai on `day`. */
async function couriersFull(app: Awaited<ReturnType<typeof appWith>>['app'], day: string) {
  for (const c of network().couriers) {
    const r = await app.inject({ method: 'PUT', url: `/v1/couriers/${c.id}/capacity`, payload: { provinceCodes: [PROVINCE], day, parcels: 0 } });
    expect(r.statusCode, r.body).toBe(200);
  }
}

/** SH01's outbound parcels of `day` all booked (by a reservation of capacity alone). */
async function warehouseFull(store: Awaited<ReturnType<typeof appWith>>['store'], day: string) {
  const cap = network().warehouses.find((w) => w.id === 'SH01')!.dailyOutboundParcels;
  const r = await store.reserve({ id: `FILL-${day}`, items: [], counters: [{ key: counterKeys.warehouseParcels('SH01', day), amount: cap, limit: cap }], ttlMs: 7 * 86_400_000 });
  expect(r.ok).toBe(true);
}

const promised = (iso: string) => order({ lines: [{ sku: SKU, qty: 2 }], promisedBy: iso });

function capacityOverDays(kind: string) {
describe(`capacity over days (${kind})`, () => {
  it('couriers full today: the order ships on tomorrow\'s first wave, on time, and books tomorrow\'s capacity', async () => {
    const { app, store } = await appWith(3);
    await couriersFull(app, TODAY);
    const r = await app.inject({ method: 'POST', url: '/v1/allocate', payload: promised('2026-11-14T18:00:00+08:00') });
    expect(r.statusCode, r.body).toBe(200);
    const d = r.json<Decision>();
    expect(d.status).toBe('allocated');
    expect(d.shipments).toHaveLength(1);
    const sh = d.shipments[0]!;
    expect(sh.warehouseId).toBe('SH01');
    expect(sh.pickupAt!.startsWith('2026-11-12')).toBe(true);
    expect(Date.parse(sh.eta)).toBeLessThanOrEqual(Date.parse('2026-11-14T18:00:00+08:00'));
    expect(d.reasons).toContainEqual(expect.objectContaining({ code: 'LATER_WAVE', warehouseId: 'SH01' }));
    const used = await store.counters([counterKeys.courierParcels(sh.courierId, PROVINCE, '2026-11-12'), counterKeys.courierParcels(sh.courierId, PROVINCE, TODAY), counterKeys.warehouseParcels('SH01', '2026-11-12'), counterKeys.warehouseParcels('SH01', TODAY)]);
    expect(used.get(counterKeys.courierParcels(sh.courierId, PROVINCE, '2026-11-12'))).toBe(sh.parcels);
    expect(used.get(counterKeys.courierParcels(sh.courierId, PROVINCE, TODAY)) ?? 0).toBe(0);
    expect(used.get(counterKeys.warehouseParcels('SH01', '2026-11-12'))).toBe(sh.parcels);
    expect(used.get(counterKeys.warehouseParcels('SH01', TODAY)) ?? 0).toBe(0);
    // Cancelling returns tomorrow's capacity.
    expect((await app.inject({ method: 'POST', url: `/v1/orders/${d.orderId}/cancel` })).statusCode).toBe(200);
    expect((await store.counters([counterKeys.courierParcels(sh.courierId, PROVINCE, '2026-11-12')])).get(counterKeys.courierParcels(sh.courierId, PROVINCE, '2026-11-12')) ?? 0).toBe(0);
    await app.close();
  });

  it('the warehouse\'s outbound parcels full today and tomorrow: it ships the day after', async () => {
    const { app, store } = await appWith(3);
    await warehouseFull(store, TODAY);
    await warehouseFull(store, '2026-11-12');
    const d = (await app.inject({ method: 'POST', url: '/v1/allocate', payload: promised('2026-11-16T18:00:00+08:00') })).json<Decision>();
    expect(d.status).toBe('allocated');
    expect(d.shipments.map((s) => [s.warehouseId, s.pickupAt!.slice(0, 10)])).toEqual([['SH01', '2026-11-13']]);
    await app.close();
  });

  it('backorders when no day of the horizon has room', async () => {
    const { app, store } = await appWith(2);
    await warehouseFull(store, TODAY);
    await warehouseFull(store, '2026-11-12');
    const d = (await app.inject({ method: 'POST', url: '/v1/allocate', payload: promised('2026-11-16T18:00:00+08:00') })).json<Decision>();
    expect(d.shipments).toEqual([]);
    expect(d.reasons).toContainEqual(expect.objectContaining({ code: 'WAREHOUSE_AT_CAPACITY', warehouseId: 'SH01' }));
    expect(d.reasons).toContainEqual(expect.objectContaining({ code: 'BACKORDERED' }));
    await app.close();
  });

  it('CAPACITY_HORIZON_DAYS=1 decides as before: full couriers today mean a backorder', async () => {
    const { app } = await appWith(1);
    await couriersFull(app, TODAY);
    const d = (await app.inject({ method: 'POST', url: '/v1/allocate', payload: promised('2026-11-14T18:00:00+08:00') })).json<Decision>();
    expect(d.shipments).toEqual([]);
    expect(d.reasons).toContainEqual(expect.objectContaining({ code: 'COURIER_NO_CAPACITY', warehouseId: 'SH01' }));
    await app.close();
  });

  it('with room today, a later day is never used (same plan as with a horizon of one day)', async () => {
    const a = await appWith(3);
    const b = await appWith(1);
    const body = promised('2026-11-14T18:00:00+08:00');
    const da = (await a.app.inject({ method: 'POST', url: '/v1/allocate', payload: body })).json<Decision>();
    const db = (await b.app.inject({ method: 'POST', url: '/v1/allocate', payload: body })).json<Decision>();
    expect(da.shipments).toEqual(db.shipments);
    expect(da.reasons.some((r) => r.code === 'LATER_WAVE')).toBe(false);
    await a.app.close();
    await b.app.close();
  });
});
}

capacityOverDays('embedded store');

describe('on Redis', () => {
  const db = useRedis();
  const cluster = useRedisCluster();
  const seeded = async (client: Redis | Cluster, wipe: () => Promise<unknown>) => {
    await wipe();
    const s = new RedisStore(client, network().warehouses.map((w) => w.id), { clock: () => FIXED_NOW });
    await s.seed(network().network.stock);
    return s;
  };
  describe('one node', () => {
    beforeAll(() => {
      freshStore = async () => {
        const r = db.client({ maxRetriesPerRequest: 1, commandTimeout: 2_000 });
        return seeded(r, () => r.flushall());
      };
    });
    capacityOverDays('one Redis node');
  });
  describe('Cluster', () => {
    beforeAll(() => {
      freshStore = async () => {
        const c = await cluster.client();
        return seeded(c, () => Promise.all(c.nodes('master').map((n) => n.flushall())));
      };
    });
    capacityOverDays('Redis Cluster');
  });
});
