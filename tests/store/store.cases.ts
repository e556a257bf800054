import { describe, expect, it } from 'vitest';
import { ReservationExistsError, type Store } from '../../src/store/types.js';

/**
 * One test suite for every Store implementation (design example 5): the in-memory store now,
 * Redis later. `make` returns a fresh store seeded with the given on-hand rows.
 */
export function storeCases(name: string, make: (rows: { warehouseId: string; sku: string; onHand: number }[]) => Promise<Store>) {
  describe(`Store contract: ${name}`, () => {
    const seed = [
      { warehouseId: 'SH01', sku: 'BRK-0001', onHand: 10 },
      { warehouseId: 'SH01', sku: 'WIP-0001', onHand: 5 },
      { warehouseId: 'HF01', sku: 'BRK-0001', onHand: 3 },
    ];
    const invariant = async (s: Store) => {
      for (const row of await s.stock()) {
        expect(row.onHand, `${row.warehouseId}/${row.sku}`).toBe(row.free + row.reserved);
        expect(row.free).toBeGreaterThanOrEqual(0);
      }
    };

    it('reports on hand, free and reserved', async () => {
      const s = await make(seed);
      expect(await s.stock({ sku: 'BRK-0001' })).toEqual([
        { warehouseId: 'HF01', sku: 'BRK-0001', onHand: 3, free: 3, reserved: 0 },
        { warehouseId: 'SH01', sku: 'BRK-0001', onHand: 10, free: 10, reserved: 0 },
      ]);
      const free = await s.freeStock(['BRK-0001', 'WIP-0001', 'NOPE']);
      expect(free.get('SH01')?.get('WIP-0001')).toBe(5);
      expect(free.get('HF01')?.get('WIP-0001')).toBeUndefined();
    });

    it('reserves a whole plan or nothing', async () => {
      const s = await make(seed);
      const bad = await s.reserve({
        id: 'o1',
        items: [
          { warehouseId: 'SH01', sku: 'BRK-0001', qty: 4 },
          { warehouseId: 'HF01', sku: 'BRK-0001', qty: 4 },
        ],
        counters: [],
      });
      expect(bad.ok).toBe(false);
      if (!bad.ok) expect(bad.shortages).toEqual([{ warehouseId: 'HF01', sku: 'BRK-0001', requested: 4, free: 3 }]);
      expect((await s.stock({ warehouseId: 'SH01', sku: 'BRK-0001' }))[0]!.reserved).toBe(0);
      const good = await s.reserve({
        id: 'o1',
        items: [
          { warehouseId: 'SH01', sku: 'BRK-0001', qty: 4 },
          { warehouseId: 'HF01', sku: 'BRK-0001', qty: 3 },
        ],
        counters: [{ key: 'cap:x', amount: 1, limit: 1 }],
      });
      expect(good.ok).toBe(true);
      expect((await s.stock({ warehouseId: 'SH01', sku: 'BRK-0001' }))[0]).toMatchObject({ free: 6, reserved: 4 });
      await invariant(s);
    });

    it('sums repeated items of one cell before checking', async () => {
      const s = await make(seed);
      const r = await s.reserve({
        id: 'o2',
        items: [
          { warehouseId: 'HF01', sku: 'BRK-0001', qty: 2 },
          { warehouseId: 'HF01', sku: 'BRK-0001', qty: 2 },
        ],
        counters: [],
      });
      expect(r.ok).toBe(false);
    });

    it('enforces capacity counters atomically with stock', async () => {
      const s = await make(seed);
      const item = [{ warehouseId: 'SH01', sku: 'BRK-0001', qty: 1 }];
      expect((await s.reserve({ id: 'a', items: item, counters: [{ key: 'cap:k', amount: 1, limit: 1 }] })).ok).toBe(true);
      const r = await s.reserve({ id: 'b', items: item, counters: [{ key: 'cap:k', amount: 1, limit: 1 }] });
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.counters).toEqual([{ key: 'cap:k', requested: 1, used: 1, limit: 1 }]);
      expect((await s.stock({ warehouseId: 'SH01', sku: 'BRK-0001' }))[0]!.reserved).toBe(1);
      expect((await s.counters(['cap:k', 'cap:none'])).get('cap:k')).toBe(1);
      expect((await s.counters(['cap:none'])).get('cap:none')).toBe(0);
    });

    it('releases stock and capacity once', async () => {
      const s = await make(seed);
      await s.reserve({ id: 'r', items: [{ warehouseId: 'SH01', sku: 'BRK-0001', qty: 7 }], counters: [{ key: 'cap:k', amount: 1, limit: 5 }] });
      expect(await s.release('r')).toBe(true);
      expect(await s.release('r')).toBe(false);
      expect((await s.stock({ warehouseId: 'SH01', sku: 'BRK-0001' }))[0]).toMatchObject({ onHand: 10, free: 10, reserved: 0 });
      expect((await s.counters(['cap:k'])).get('cap:k')).toBe(0);
      await invariant(s);
    });

    it('commits: reserved stock leaves on hand, capacity stays used', async () => {
      const s = await make(seed);
      await s.reserve({ id: 'c', items: [{ warehouseId: 'SH01', sku: 'BRK-0001', qty: 7 }], counters: [{ key: 'cap:k', amount: 1, limit: 5 }] });
      expect(await s.commit('c')).toBe(true);
      expect(await s.release('c')).toBe(false);
      expect((await s.stock({ warehouseId: 'SH01', sku: 'BRK-0001' }))[0]).toMatchObject({ onHand: 3, free: 3, reserved: 0 });
      expect((await s.counters(['cap:k'])).get('cap:k')).toBe(1);
      await invariant(s);
    });

    it('refuses on-hand below reserved, changing nothing', async () => {
      const s = await make(seed);
      await s.reserve({ id: 'x', items: [{ warehouseId: 'SH01', sku: 'BRK-0001', qty: 6 }], counters: [] });
      const r = await s.setOnHand([
        { warehouseId: 'SH01', sku: 'WIP-0001', onHand: 50 },
        { warehouseId: 'SH01', sku: 'BRK-0001', onHand: 5 },
      ]);
      expect(r.ok).toBe(false);
      expect((await s.stock({ warehouseId: 'SH01', sku: 'WIP-0001' }))[0]!.onHand).toBe(5);
      expect((await s.setOnHand([{ warehouseId: 'SH01', sku: 'BRK-0001', onHand: 6 }])).ok).toBe(true);
      expect((await s.stock({ warehouseId: 'SH01', sku: 'BRK-0001' }))[0]).toMatchObject({ onHand: 6, free: 0, reserved: 6 });
      await invariant(s);
    });

    it('refuses a second reservation under the same id, taking nothing', async () => {
      const s = await make(seed);
      const req = { id: 'dup', items: [{ warehouseId: 'SH01', sku: 'BRK-0001', qty: 2 }], counters: [] };
      expect((await s.reserve(req)).ok).toBe(true);
      await expect(s.reserve(req)).rejects.toBeInstanceOf(ReservationExistsError);
      expect((await s.stock({ warehouseId: 'SH01', sku: 'BRK-0001' }))[0]!.reserved).toBe(2);
    });

    it('adjusts on hand atomically, never below reserved, and remembers event ids', async () => {
      const s = await make(seed);
      expect(await s.adjustOnHand('SH01', 'BRK-0001', 5)).toEqual({ ok: true, onHand: 15 });
      await s.reserve({ id: 'adj', items: [{ warehouseId: 'SH01', sku: 'BRK-0001', qty: 12 }], counters: [] });
      expect(await s.adjustOnHand('SH01', 'BRK-0001', -4)).toEqual({ ok: false, onHand: 15, reserved: 12 });
      expect(await s.adjustOnHand('SH01', 'BRK-0001', -3)).toEqual({ ok: true, onHand: 12 });
      expect(await s.adjustOnHand('HF01', 'NEW-1', 7)).toEqual({ ok: true, onHand: 7 });
      await invariant(s);
      expect(await s.markEvent('e1')).toBe(true);
      expect(await s.markEvent('e1')).toBe(false);
    });

    it('stores a decision once per order', async () => {
      const s = await make(seed);
      const first = await s.putDecisionIfAbsent({ orderId: 'o', requestHash: 'h1', decision: { n: 1 }, reservation: 'held', cancelled: false });
      const second = await s.putDecisionIfAbsent({ orderId: 'o', requestHash: 'h2', decision: { n: 2 }, reservation: null, cancelled: false });
      expect(second).toEqual(first);
      await s.markCancelled('o');
      expect((await s.getDecision('o'))?.cancelled).toBe(true);
      expect(await s.getDecision('missing')).toBeNull();
    });

    it('never oversells under 200 concurrent reservations', async () => {
      const s = await make(seed);
      const results = await Promise.all(
        Array.from({ length: 200 }, (_, i) => s.reserve({ id: `c${i}`, items: [{ warehouseId: 'SH01', sku: 'BRK-0001', qty: 1 }], counters: [] })),
      );
      expect(results.filter((r) => r.ok)).toHaveLength(10);
      expect((await s.stock({ warehouseId: 'SH01', sku: 'BRK-0001' }))[0]).toMatchObject({ free: 0, reserved: 10 });
      await invariant(s);
    });
  });
}
