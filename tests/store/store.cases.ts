import { describe, expect, it } from 'vitest';
import { ReservationExistsError, type ReservationRequest, type Store } from '../../src/store/types.js';

/** A store factory: a fresh store seeded with the given on-hand rows, reading time from `clock`. */
export type MakeStore = (rows: { warehouseId: string; sku: string; onHand: number }[], clock: () => number) => Promise<Store>;

const T0 = Date.parse('2026-11-11T10:00:00+08:00');
const HOUR = 3_600_000;

/** A test clock that only moves when told to. */
function testClock() {
  let now = T0;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

/** A reservation request with a 48 h expiry. */
function res(id: string, items: ReservationRequest['items'], counters: ReservationRequest['counters'] = [], customerId?: string): ReservationRequest {
  return { id, items, counters, ttlMs: 48 * HOUR, ...(customerId !== undefined ? { customerId } : {}) };
}

/** Reserves and stores a decision, as the allocator does: the reservation is then held. */
async function hold(s: Store, req: ReservationRequest): Promise<boolean> {
  const r = await s.reserve(req);
  if (r.ok) await s.putDecisionIfAbsent({ orderId: req.id, requestHash: 'h', decision: {}, reservation: 'held', expiresAt: null, cancelled: false }, r.attempt);
  return r.ok;
}

/** Every row: onHand = free + reserved + locked, none negative. */
export async function expectInvariant(s: Store): Promise<void> {
  for (const row of await s.stock()) {
    const at = `${row.warehouseId}/${row.sku}`;
    expect(row.onHand, at).toBe(row.free + row.reserved + row.locked);
    expect(row.free, at).toBeGreaterThanOrEqual(0);
    expect(row.reserved, at).toBeGreaterThanOrEqual(0);
    expect(row.locked, at).toBeGreaterThanOrEqual(0);
  }
}

/**
 * One test suite for every Store implementation (design example 5): memory, one Redis node and a
 * Redis Cluster run the same cases.
 */
export function storeCases(name: string, make: MakeStore) {
  describe(`Store contract: ${name}`, () => {
    const seed = [
      { warehouseId: 'SH01', sku: 'BRK-0001', onHand: 10 },
      { warehouseId: 'SH01', sku: 'WIP-0001', onHand: 5 },
      { warehouseId: 'HF01', sku: 'BRK-0001', onHand: 3 },
    ];
    const fresh = async () => {
      const clock = testClock();
      return { s: await make(seed, clock.now), clock };
    };
    const cell = async (s: Store, warehouseId: string, sku: string) => (await s.stock({ warehouseId, sku }))[0]!;

    it('reports on hand, free, reserved and locked', async () => {
      const { s } = await fresh();
      expect(await s.stock({ sku: 'BRK-0001' })).toEqual([
        { warehouseId: 'HF01', sku: 'BRK-0001', onHand: 3, free: 3, reserved: 0, locked: 0 },
        { warehouseId: 'SH01', sku: 'BRK-0001', onHand: 10, free: 10, reserved: 0, locked: 0 },
      ]);
      const free = await s.freeStock(['BRK-0001', 'WIP-0001', 'NOPE']);
      expect(free.get('SH01')?.get('WIP-0001')).toBe(5);
      expect(free.get('HF01')?.get('WIP-0001')).toBeUndefined();
    });

    it('reserves a whole plan or nothing', async () => {
      const { s } = await fresh();
      const bad = await s.reserve(
        res('o1', [
          { warehouseId: 'SH01', sku: 'BRK-0001', qty: 4 },
          { warehouseId: 'HF01', sku: 'BRK-0001', qty: 4 },
        ]),
      );
      expect(bad.ok).toBe(false);
      if (!bad.ok) expect(bad.shortages).toEqual([{ warehouseId: 'HF01', sku: 'BRK-0001', requested: 4, free: 3 }]);
      expect((await cell(s, 'SH01', 'BRK-0001')).reserved).toBe(0);
      const good = await s.reserve(
        res(
          'o1',
          [
            { warehouseId: 'SH01', sku: 'BRK-0001', qty: 4 },
            { warehouseId: 'HF01', sku: 'BRK-0001', qty: 3 },
          ],
          [{ key: 'cap:x', amount: 1, limit: 1 }],
        ),
      );
      expect(good.ok).toBe(true);
      expect(await cell(s, 'SH01', 'BRK-0001')).toMatchObject({ free: 6, reserved: 4 });
      await expectInvariant(s);
    });

    it('sums repeated items of one cell before checking', async () => {
      const { s } = await fresh();
      const r = await s.reserve(
        res('o2', [
          { warehouseId: 'HF01', sku: 'BRK-0001', qty: 2 },
          { warehouseId: 'HF01', sku: 'BRK-0001', qty: 2 },
        ]),
      );
      expect(r.ok).toBe(false);
    });

    it('enforces capacity counters atomically with stock', async () => {
      const { s } = await fresh();
      const item = [{ warehouseId: 'SH01', sku: 'BRK-0001', qty: 1 }];
      expect((await s.reserve(res('a', item, [{ key: 'cap:k', amount: 1, limit: 1 }]))).ok).toBe(true);
      const r = await s.reserve(res('b', item, [{ key: 'cap:k', amount: 1, limit: 1 }]));
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.counters).toEqual([{ key: 'cap:k', requested: 1, used: 1, limit: 1 }]);
      expect((await cell(s, 'SH01', 'BRK-0001')).reserved).toBe(1);
      expect((await s.counters(['cap:k', 'cap:none'])).get('cap:k')).toBe(1);
      expect((await s.counters(['cap:none'])).get('cap:none')).toBe(0);
    });

    it('releases stock and capacity once', async () => {
      const { s } = await fresh();
      expect(await hold(s, res('r', [{ warehouseId: 'SH01', sku: 'BRK-0001', qty: 7 }], [{ key: 'cap:k', amount: 1, limit: 5 }]))).toBe(true);
      expect(await s.release('r')).toBe(true);
      expect(await s.release('r')).toBe(false);
      expect(await cell(s, 'SH01', 'BRK-0001')).toMatchObject({ onHand: 10, free: 10, reserved: 0 });
      expect((await s.counters(['cap:k'])).get('cap:k')).toBe(0);
      await expectInvariant(s);
    });

    it('commits: reserved stock leaves on hand, capacity stays used', async () => {
      const { s } = await fresh();
      const r = await s.reserve(res('c', [{ warehouseId: 'SH01', sku: 'BRK-0001', qty: 7 }], [{ key: 'cap:k', amount: 1, limit: 5 }]));
      expect(r.ok).toBe(true);
      if (r.ok) await s.putDecisionIfAbsent({ orderId: 'c', requestHash: 'h', decision: {}, reservation: 'held', expiresAt: null, cancelled: false }, r.attempt);
      expect(await s.commit('c')).toBe('committed');
      expect(await s.commit('c')).toBe('not-held');
      expect(await s.release('c')).toBe(false);
      expect(await cell(s, 'SH01', 'BRK-0001')).toMatchObject({ onHand: 3, free: 3, reserved: 0 });
      expect((await s.counters(['cap:k'])).get('cap:k')).toBe(1);
      expect((await s.getDecision('c'))?.reservation).toBe('committed');
      await expectInvariant(s);
    });

    it('refuses on-hand below reserved + locked, changing nothing', async () => {
      const { s, clock } = await fresh();
      await s.reserve(res('x', [{ warehouseId: 'SH01', sku: 'BRK-0001', qty: 4 }]));
      expect((await s.createLock({ id: 'L-x', customerId: 'K1', warehouseId: 'SH01', sku: 'BRK-0001', qty: 2, expiresAt: clock.now() + HOUR })).ok).toBe(true);
      const r = await s.setOnHand([
        { warehouseId: 'SH01', sku: 'WIP-0001', onHand: 50 },
        { warehouseId: 'SH01', sku: 'BRK-0001', onHand: 5 },
      ]);
      expect(r).toEqual({ ok: false, rejected: [{ warehouseId: 'SH01', sku: 'BRK-0001', onHand: 5, reserved: 4, locked: 2 }] });
      expect((await cell(s, 'SH01', 'WIP-0001')).onHand).toBe(5);
      expect((await s.setOnHand([{ warehouseId: 'SH01', sku: 'BRK-0001', onHand: 6 }])).ok).toBe(true);
      expect(await cell(s, 'SH01', 'BRK-0001')).toMatchObject({ onHand: 6, free: 0, reserved: 4, locked: 2 });
      await expectInvariant(s);
    });

    it('refuses a second reservation under the same id, taking nothing', async () => {
      const { s } = await fresh();
      const req = res('dup', [{ warehouseId: 'SH01', sku: 'BRK-0001', qty: 2 }]);
      expect((await s.reserve(req)).ok).toBe(true);
      await expect(s.reserve(req)).rejects.toBeInstanceOf(ReservationExistsError);
      expect((await cell(s, 'SH01', 'BRK-0001')).reserved).toBe(2);
    });

    it('adjusts on hand atomically, never below reserved + locked, and remembers event ids', async () => {
      const { s, clock } = await fresh();
      expect(await s.adjustOnHand('SH01', 'BRK-0001', 5)).toEqual({ ok: true, onHand: 15 });
      await s.reserve(res('adj', [{ warehouseId: 'SH01', sku: 'BRK-0001', qty: 10 }]));
      await s.createLock({ id: 'L-adj', customerId: 'K1', warehouseId: 'SH01', sku: 'BRK-0001', qty: 2, expiresAt: clock.now() + HOUR });
      expect(await s.adjustOnHand('SH01', 'BRK-0001', -4)).toEqual({ ok: false, onHand: 15, reserved: 10, locked: 2 });
      expect(await s.adjustOnHand('SH01', 'BRK-0001', -3)).toEqual({ ok: true, onHand: 12 });
      expect(await s.adjustOnHand('HF01', 'NEW-1', 7)).toEqual({ ok: true, onHand: 7 });
      await expectInvariant(s);
      expect(await s.markEvent('e1')).toBe(true);
      expect(await s.markEvent('e1')).toBe(false);
    });

    it('stores a decision once per order, bound to its reservation', async () => {
      const { s } = await fresh();
      const r = await s.reserve(res('o', [{ warehouseId: 'SH01', sku: 'BRK-0001', qty: 1 }]));
      if (!r.ok) throw new Error('reserve failed');
      const first = await s.putDecisionIfAbsent({ orderId: 'o', requestHash: 'h1', decision: { n: 1 }, reservation: 'held', expiresAt: null, cancelled: false }, r.attempt);
      expect(first).toMatchObject({ decision: { n: 1 }, reservation: 'held', expiresAt: T0 + 48 * HOUR });
      const second = await s.putDecisionIfAbsent({ orderId: 'o', requestHash: 'h2', decision: { n: 2 }, reservation: null, expiresAt: null, cancelled: false });
      expect(second).toEqual(first);
      await s.markCancelled('o');
      expect((await s.getDecision('o'))?.cancelled).toBe(true);
      expect(await s.getDecision('missing')).toBeNull();
      // A backordered decision holds no reservation.
      const b = await s.putDecisionIfAbsent({ orderId: 'b', requestHash: 'h', decision: {}, reservation: null, expiresAt: null, cancelled: false });
      expect(b).toMatchObject({ reservation: null, expiresAt: null, cancelled: false });
    });

    it('never oversells under 200 concurrent reservations', async () => {
      const { s } = await fresh();
      const results = await Promise.all(Array.from({ length: 200 }, (_, i) => s.reserve(res(`c${i}`, [{ warehouseId: 'SH01', sku: 'BRK-0001', qty: 1 }]))));
      expect(results.filter((r) => r.ok)).toHaveLength(10);
      expect(await cell(s, 'SH01', 'BRK-0001')).toMatchObject({ free: 0, reserved: 10 });
      await expectInvariant(s);
    });

    it('reservations expire by themselves: stock and capacity return, a late commit is refused', async () => {
      const { s, clock } = await fresh();
      const r = await s.reserve({ ...res('e', [{ warehouseId: 'SH01', sku: 'BRK-0001', qty: 6 }], [{ key: 'cap:wh:SH01:2026-11-11', amount: 1, limit: 9 }]), ttlMs: HOUR });
      if (!r.ok) throw new Error('reserve failed');
      await s.putDecisionIfAbsent({ orderId: 'e', requestHash: 'h', decision: {}, reservation: 'held', expiresAt: null, cancelled: false }, r.attempt);
      clock.advance(HOUR - 1);
      expect(await cell(s, 'SH01', 'BRK-0001')).toMatchObject({ free: 4, reserved: 6 });
      clock.advance(1);
      expect(await cell(s, 'SH01', 'BRK-0001')).toMatchObject({ onHand: 10, free: 10, reserved: 0 });
      expect((await s.counters(['cap:wh:SH01:2026-11-11'])).get('cap:wh:SH01:2026-11-11')).toBe(0);
      expect((await s.getDecision('e'))?.reservation).toBe('expired');
      expect(await s.commit('e')).toBe('expired');
      expect(await cell(s, 'SH01', 'BRK-0001')).toMatchObject({ onHand: 10, free: 10 });
      await expectInvariant(s);
    });

    it('many reservations made in any order each expire exactly when due; released and committed ones do not', async () => {
      const { s, clock } = await fresh();
      // Ten one-unit reservations of SH01/BRK-0001 with expiries 1..10 h, made in a shuffled order;
      // two of them end early (one released, one shipped).
      const ttlHours = [7, 2, 9, 4, 1, 10, 6, 3, 8, 5];
      for (const h of ttlHours) {
        const r = await s.reserve({ ...res(`m${h}`, [{ warehouseId: 'SH01', sku: 'BRK-0001', qty: 1 }]), ttlMs: h * HOUR });
        if (!r.ok) throw new Error('reserve failed');
        await s.putDecisionIfAbsent({ orderId: `m${h}`, requestHash: 'h', decision: {}, reservation: 'held', expiresAt: null, cancelled: false }, r.attempt);
      }
      expect(await s.release('m6')).toBe(true);
      expect(await s.commit('m3')).toBe('committed');
      for (let t = 1; t <= 11; t++) {
        clock.advance(HOUR);
        const states = await Promise.all(ttlHours.map(async (h) => [h, (await s.getDecision(`m${h}`))?.reservation] as const));
        for (const [h, state] of states) {
          const want = h === 6 ? 'released' : h === 3 ? 'committed' : h <= t ? 'expired' : 'held';
          expect(state, `m${h} at +${t} h`).toBe(want);
        }
        // Held: those not yet due, less the released one; the shipped unit has left on hand.
        const held = ttlHours.filter((h) => h > t && h !== 6 && h !== 3).length;
        expect(await cell(s, 'SH01', 'BRK-0001')).toMatchObject({ onHand: 9, reserved: held, free: 9 - held });
      }
      await expectInvariant(s);
    });

    it('a customer lock is invisible to others, consumed first by its owner, and returned at expiry', async () => {
      const { s, clock } = await fresh();
      const made = await s.createLock({ id: 'L1', customerId: 'KEY-1', warehouseId: 'SH01', sku: 'BRK-0001', qty: 8, expiresAt: clock.now() + 3 * 24 * HOUR });
      expect(made).toMatchObject({ ok: true, lock: { remaining: 8, state: 'active', createdAt: T0 } });
      expect(await cell(s, 'SH01', 'BRK-0001')).toMatchObject({ onHand: 10, free: 2, reserved: 0, locked: 8 });
      // Others see 2 free units; the owner sees its 8 as well.
      expect((await s.freeStock(['BRK-0001'], 'OTHER')).get('SH01')?.get('BRK-0001')).toBe(2);
      expect((await s.freeStock(['BRK-0001'], 'KEY-1')).get('SH01')?.get('BRK-0001')).toBe(10);
      expect((await s.reserve(res('other', [{ warehouseId: 'SH01', sku: 'BRK-0001', qty: 3 }], [], 'OTHER'))).ok).toBe(false);
      // Not enough free for a second lock of 3.
      expect(await s.createLock({ id: 'L2', customerId: 'KEY-2', warehouseId: 'SH01', sku: 'BRK-0001', qty: 3, expiresAt: clock.now() + HOUR })).toEqual({ ok: false, free: 2 });
      // The owner's order takes its locked units first.
      expect(await hold(s, res('own', [{ warehouseId: 'SH01', sku: 'BRK-0001', qty: 5 }], [], 'KEY-1'))).toBe(true);
      expect(await cell(s, 'SH01', 'BRK-0001')).toMatchObject({ free: 2, reserved: 5, locked: 3 });
      expect(await s.getLock('L1')).toMatchObject({ remaining: 3, state: 'active' });
      // Cancelling the owner's order gives the units back to the lock while it is active.
      expect(await s.release('own')).toBe(true);
      expect(await cell(s, 'SH01', 'BRK-0001')).toMatchObject({ free: 2, reserved: 0, locked: 8 });
      await expectInvariant(s);
      // Expiry returns the lock's units to free stock by itself.
      clock.advance(3 * 24 * HOUR);
      expect(await cell(s, 'SH01', 'BRK-0001')).toMatchObject({ free: 10, locked: 0 });
      expect(await s.getLock('L1')).toMatchObject({ remaining: 0, state: 'expired' });
      expect(await s.getLock('nope')).toBeNull();
      await expectInvariant(s);
    });

    it('a released lock frees its remaining units; units an order took come back free after the lock ended', async () => {
      const { s, clock } = await fresh();
      await s.createLock({ id: 'L3', customerId: 'KEY-1', warehouseId: 'SH01', sku: 'BRK-0001', qty: 6, expiresAt: clock.now() + HOUR });
      expect(await hold(s, res('o3', [{ warehouseId: 'SH01', sku: 'BRK-0001', qty: 4 }], [], 'KEY-1'))).toBe(true);
      expect(await s.releaseLock('L3')).toMatchObject({ remaining: 0, state: 'released' });
      expect(await cell(s, 'SH01', 'BRK-0001')).toMatchObject({ free: 6, reserved: 4, locked: 0 });
      expect(await s.releaseLock('L3')).toMatchObject({ state: 'released' });
      expect(await s.releaseLock('nope')).toBeNull();
      expect(await s.release('o3')).toBe(true);
      expect(await cell(s, 'SH01', 'BRK-0001')).toMatchObject({ free: 10, reserved: 0, locked: 0 });
      await expectInvariant(s);
    });

    it('never oversells with locks under 100 concurrent orders from the owner and others', async () => {
      const { s, clock } = await fresh();
      await s.createLock({ id: 'L4', customerId: 'KEY-1', warehouseId: 'SH01', sku: 'BRK-0001', qty: 4, expiresAt: clock.now() + HOUR });
      const results = await Promise.all(
        Array.from({ length: 100 }, (_, i) => s.reserve(res(`m${i}`, [{ warehouseId: 'SH01', sku: 'BRK-0001', qty: 1 }], [], i % 2 === 0 ? 'KEY-1' : 'OTHER'))),
      );
      const won = results.map((r, i) => (r.ok ? i : -1)).filter((i) => i >= 0);
      // 6 free units for everyone plus 4 for the owner: at most 6 others, 10 in all.
      expect(won).toHaveLength(10);
      expect(won.filter((i) => i % 2 === 1).length).toBeLessThanOrEqual(6);
      expect(await cell(s, 'SH01', 'BRK-0001')).toMatchObject({ free: 0, reserved: 10, locked: 0 });
      await expectInvariant(s);
    });

    it('keeps WMS scans per order once per key, and lists decided orders', async () => {
      const { s } = await fresh();
      const scan = { code: 'PICK_DONE', at: T0, warehouseId: 'SH01' };
      expect(await s.addScans('o-s', [{ key: 'k1', scan }, { key: 'k2', scan: { code: 'PACK_DONE', at: T0 + 1 } }])).toBe(2);
      expect(await s.addScans('o-s', [{ key: 'k1', scan: { code: 'CHANGED', at: 0 } }])).toBe(0);
      expect((await s.scans('o-s')).sort((a, b) => a.at - b.at)).toEqual([scan, { code: 'PACK_DONE', at: T0 + 1 }]);
      expect(await s.scans('none')).toEqual([]);
      await s.putDecisionIfAbsent({ orderId: 'listed', requestHash: 'h', decision: {}, reservation: null, expiresAt: null, cancelled: false });
      expect(await s.orderIds()).toContain('listed');
    });

    it('moves the courier use of a held reservation to another counter atomically, within its limit (reroutes)', async () => {
      const { s } = await fresh();
      const from = 'cap:courier:STO:310000:2026-11-11:parcels';
      const to = 'cap:courier:ZTO:310000:2026-11-11:parcels';
      expect(await hold(s, res('mv', [{ warehouseId: 'SH01', sku: 'BRK-0001', qty: 1 }], [{ key: from, amount: 2, limit: 10 }]))).toBe(true);
      expect(await s.moveCounter('mv', { key: from, amount: 2 }, { key: to, amount: 3, limit: 2 })).toBe(false);
      expect(await s.moveCounter('mv', { key: from, amount: 5 }, { key: to, amount: 3, limit: 9 })).toBe(false);
      expect(await s.moveCounter('mv', { key: from, amount: 2 }, { key: to, amount: 3, limit: 3 })).toBe(true);
      expect(Object.fromEntries(await s.counters([from, to]))).toEqual({ [from]: 0, [to]: 3 });
      // Releasing the reservation now returns the moved use, not the old one.
      expect(await s.release('mv')).toBe(true);
      expect(Object.fromEntries(await s.counters([from, to]))).toEqual({ [from]: 0, [to]: 0 });
      expect(await s.moveCounter('mv', { key: to, amount: 3 }, { key: from, amount: 3, limit: 9 })).toBe(false);
      await s.kvSet('{cfg}:x', { a: 1 });
      expect(await s.kvGet('{cfg}:x')).toEqual({ a: 1 });
      expect(await s.kvGet('{cfg}:none')).toBeNull();
      expect([await s.kvIncr('{cfg}:v'), await s.kvIncr('{cfg}:v')]).toEqual([1, 2]);
      await s.listPush('{idx}:l', { n: 1 });
      await s.listPush('{idx}:l', { n: 2 });
      expect(await s.listAll('{idx}:l')).toEqual([{ n: 1 }, { n: 2 }]);
    });
  });
}
