import type { FastifyInstance } from 'fastify';
import type { Cluster, Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { OrderView } from '../../src/allocate/allocator.js';
import { Rerouter, type Reroute } from '../../src/allocate/reroute.js';
import { CourierBook } from '../../src/couriers/book.js';
import type { Decision } from '../../src/domain/schemas.js';
import { counterKeys, storeKeys } from '../../src/store/keys.js';
import { RedisStore } from '../../src/store/redis.js';
import type { Store } from '../../src/store/types.js';
import { FIXED_NOW, network, order, PLACES, testApp } from '../support/app.js';
import { useRedis, useRedisCluster } from '../support/redis-server.js';

/**
 * A waybill reroute (a master and the two orders that joined its open shipment) is a row of
 * separate store calls: the intent, each member's capacity move, the open-shipment move, each
 * member's reroute entry, the intent's deletion. The process dies before each of them in turn
 * (the store wrapper throws instead of sending the call, and nothing of the rerouter runs after
 * it); then the recovery pass runs from a fresh store connection and a fresh rerouter, as another
 * instance would. Whatever the point of death, the waybill ends wholly moved or wholly where it
 * was: the counters, every member's reservation and order view agree, no reroute is recorded
 * twice, and no intent is left.
 */

const ADDRESSES = ['上海市黄浦区人民大道２００号', '上海 黄浦区 人民大道 200 号', '黄浦区人民大道二百号'];
const PROVINCE = '310000';
/** The store calls of a reroute that change something: where the process is made to die. */
const STEPS = new Set<PropertyKey>(['rerouteIntentPut', 'moveCounter', 'openShipmentMove', 'listPush', 'rerouteIntentDelete']);

class Died extends Error {
  override name = 'Died';
}

/** The store as a process sees it that dies before its (k+1)-th changing call: that call and everything after it never happen. */
function dyingAfter(store: Store, k: number): { store: Store; calls: string[] } {
  const calls: string[] = [];
  const wrapped = new Proxy(store, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      if (!STEPS.has(prop)) return (value as (...a: unknown[]) => unknown).bind(target);
      return async (...args: unknown[]) => {
        if (calls.length >= k) throw new Died(`died before ${String(prop)}`);
        calls.push(String(prop));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store: wrapped, calls };
}

interface Backend {
  /** A fresh app on an emptied store. */
  app(): Promise<{ app: FastifyInstance; store: Store }>;
  /** Another connection to the same store, as another instance has (the embedded store: itself). */
  fresh(store: Store): Promise<Store>;
}

function recoveryCases(name: string, backend: () => Backend) {
  describe(`a waybill reroute interrupted at any step is completed or rolled back (${name})`, () => {
    const counterList = (day: string) => network().couriers.flatMap((c) => [counterKeys.courierParcels(c.id, PROVINCE, day), counterKeys.courierGrams(c.id, PROVINCE, day)]);
    const view = async (app: FastifyInstance, id: string) => (await app.inject(`/v1/orders/${id}`)).json<OrderView>();

    /** One run: the merged waybill, the cut, a rerouter dying before its (k+1)-th changing call, then recovery elsewhere. */
    async function run(k: number): Promise<{ died: boolean; moved: boolean; calls: string[] }> {
      const b = backend();
      const { app, store } = await b.app();
      try {
        const ds: Decision[] = [];
        const qty = [4, 2, 3];
        const placed = ['2026-11-11T09:58:00+08:00', '2026-11-11T10:00:00+08:00', '2026-11-11T10:05:00+08:00'];
        for (let i = 0; i < 3; i++) {
          const r = await app.inject({ method: 'POST', url: '/v1/allocate', payload: order({ customerId: 'C-RECOVER', placedAt: placed[i], destination: { ...PLACES.shanghaiPeoplesSquare, address: ADDRESSES[i] }, lines: [{ sku: 'BRK-0001', qty: qty[i] }] }) });
          expect(r.statusCode, r.body).toBe(200);
          ds.push(r.json<Decision>());
        }
        const master = ds[0]!;
        const waybill = master.shipments[0]!.trackingNumber;
        for (const d of ds.slice(1)) expect(d.shipments[0]).toMatchObject({ trackingNumber: waybill, joinedOrderId: master.orderId });
        const from = master.shipments[0]!.courierId;
        const day = master.shipments[0]!.pickupAt!.slice(0, 10);
        const total = ds.reduce((n, d) => n + Math.round(d.shipments[0]!.weightKg * 1_000), 0);
        const before = await store.counters(counterList(day));

        // The cut, and the reroute by a process that dies before its (k+1)-th changing store call.
        const svc = app.dspServices;
        await svc.allocator.book.setCapacity(from, PROVINCE, day, 0, null);
        const dying = dyingAfter(store, k);
        let died = false;
        try {
          await new Rerouter(svc.net, svc.config, dying.store, svc.allocator.book, svc.machine, () => FIXED_NOW).onCapacityChange(from, PROVINCE, day);
        } catch (err) {
          if (!(err instanceof Died)) throw err;
          died = true;
        }

        // Other instances, each on its own connection. Within the grace period an intent may still
        // have a live writer: nothing is touched.
        const grace = svc.config.rerouteRecoveryGraceMs;
        const instance = async (clock: () => number) => {
          const s = await b.fresh(store);
          return new Rerouter(svc.net, svc.config, s, new CourierBook(svc.net, s, clock), svc.machine, clock);
        };
        const left = await store.rerouteIntents(Number.MAX_SAFE_INTEGER);
        expect(left.length).toBe(died && dying.calls.length > 0 ? 1 : 0);
        expect(await (await instance(() => FIXED_NOW + grace - 1)).recover()).toEqual({ completed: 0, rolledBack: 0 });
        expect(await store.rerouteIntents(Number.MAX_SAFE_INTEGER)).toEqual(left);
        // Past it, two instances recover at once: the intent is settled once.
        const later = () => FIXED_NOW + grace + 1;
        const [one, two] = await Promise.all([(await instance(later)).recover(), (await instance(later)).recover()]);
        expect(one.completed + one.rolledBack + two.completed + two.rolledBack).toBe(left.length);
        expect(await store.rerouteIntents(Number.MAX_SAFE_INTEGER)).toEqual([]);

        // Wholly moved or wholly not: every member's reroutes, reservation and view agree with the counters.
        const s = await b.fresh(store);
        const reroutes = await Promise.all(ds.map((d) => s.listAll<Reroute>(storeKeys.reroutes(d.orderId))));
        const moved = reroutes[0]!.length > 0;
        const after = await s.counters(counterList(day));
        if (!moved) {
          for (const r of reroutes) expect(r).toEqual([]);
          expect(after).toEqual(before);
          for (const d of ds) {
            const v = await view(app, d.orderId);
            expect(v.reroutes).toEqual([]);
            expect(v.decision.shipments[0]).toMatchObject({ courierId: from, trackingNumber: waybill });
            expect(v.groups![0]).toMatchObject({ waybill, masterOrderId: master.orderId });
          }
        } else {
          const { toCourierId: to, trackingNumber: tracking, parcels } = reroutes[0]![0]!;
          for (const r of reroutes) {
            // One entry per member, never two.
            expect(r).toHaveLength(1);
            expect(r[0]).toMatchObject({ fromCourierId: from, toCourierId: to, fromTrackingNumber: waybill, trackingNumber: tracking });
          }
          for (const d of ds) {
            const v = await view(app, d.orderId);
            expect(v.decision.shipments[0]).toMatchObject({ courierId: to, trackingNumber: tracking });
            expect(v.groups![0]).toMatchObject({ waybill: tracking, masterOrderId: master.orderId });
          }
          const delta = (key: string) => after.get(key)! - before.get(key)!;
          for (const key of counterList(day)) {
            const want =
              key === counterKeys.courierParcels(from, PROVINCE, day) ? -master.shipments[0]!.parcels
              : key === counterKeys.courierGrams(from, PROVINCE, day) ? -total
              : key === counterKeys.courierParcels(to, PROVINCE, day) ? parcels
              : key === counterKeys.courierGrams(to, PROVINCE, day) ? total
              : 0;
            expect(delta(key), key).toBe(want);
          }
        }
        // The counters are exactly what the members' reservations hold (they are the only orders).
        const held = (await Promise.all(ds.map((d) => s.heldCounters(d.orderId)))).flatMap((h) => h ?? []);
        for (const key of counterList(day)) expect(after.get(key), key).toBe(held.filter((h) => h.key === key).reduce((n, h) => n + h.amount, 0));
        return { died, moved, calls: dying.calls };
      } finally {
        await app.close();
      }
    }

    it('dies before each changing call in turn; recovery leaves it whole', async () => {
      // The uninterrupted reroute first: which calls it makes, and that it moves the waybill.
      const whole = await run(Number.MAX_SAFE_INTEGER);
      expect(whole.died).toBe(false);
      expect(whole.moved).toBe(true);
      expect(whole.calls).toEqual(['rerouteIntentPut', ...Array(4).fill('moveCounter'), 'openShipmentMove', ...Array(3).fill('listPush'), 'rerouteIntentDelete']);
      const lastMove = whole.calls.lastIndexOf('moveCounter') + 1;
      for (let k = 0; k < whole.calls.length; k++) {
        const r = await run(k);
        expect(r.died, `k=${k}`).toBe(true);
        // Completed once every capacity move took effect, rolled back before.
        expect(r.moved, `died after ${k} calls (${r.calls.join(', ')})`).toBe(k >= lastMove);
      }
    }, 240_000);
  });
}

recoveryCases('embedded store (recovered on itself: the same code path)', () => ({
  app: () => testApp(),
  fresh: async (store) => store,
}));

describe('on one Redis node', () => {
  const db = useRedis();
  const opened: RedisStore[] = [];
  recoveryCases('one Redis node', () => ({
    app: async () => {
      for (const s of opened.splice(0)) await s.close();
      const c = db.client();
      await c.flushall();
      return testApp({}, async (net) => {
        const s = new RedisStore(c, net.warehouses.map((w) => w.id), { clock: () => FIXED_NOW });
        await s.seed(net.network.stock);
        return s;
      });
    },
    fresh: async () => {
      const s = new RedisStore(db.client() as Redis, network().warehouses.map((w) => w.id), { clock: () => FIXED_NOW });
      opened.push(s);
      return s;
    },
  }));
});

describe('on a Redis Cluster', () => {
  const cluster = useRedisCluster();
  const opened: RedisStore[] = [];
  recoveryCases('Redis Cluster (3 masters)', () => ({
    app: async () => {
      for (const s of opened.splice(0)) await s.close();
      const c: Cluster = await cluster.client();
      await Promise.all(c.nodes('master').map((n) => n.flushall()));
      return testApp({}, async (net) => {
        const s = new RedisStore(c, net.warehouses.map((w) => w.id), { clock: () => FIXED_NOW });
        await s.seed(net.network.stock);
        return s;
      });
    },
    fresh: async () => {
      const s = new RedisStore(await cluster.client(), network().warehouses.map((w) => w.id), { clock: () => FIXED_NOW });
      opened.push(s);
      return s;
    },
  }));
});
