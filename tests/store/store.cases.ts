import { describe, expect, it } from 'vitest';
import { ReservationExistsError, type OpenShipment, type OutboxEntry, type ReservationRequest, type StockSeedRow, type Store, type StoreOptions } from '../../src/store/types.js';
import { hashSecret, KeyRegistry } from '../../src/auth/keys.js';
import { counterKeys, lotCell, openGroup, storeKeys } from '../../src/store/keys.js';
import { utcDayMs } from '../../src/domain/time.js';
import { RuleEngine } from '../../src/rules/engine.js';
import { RulesRepo } from '../../src/rules/repo.js';
import { network } from '../support/app.js';
import { graph, table } from '../rules/graph.js';

/** A store factory: a fresh store seeded with the given on-hand rows, reading time from `clock`, with the given retentions. */
export type MakeStore = (
  rows: StockSeedRow[],
  clock: () => number,
  retention?: Pick<StoreOptions, 'orderRetentionMs' | 'eventRetentionMs'>,
) => Promise<Store>;

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

/**
 * Races per order transition case: RACE_COUNT (default 100, so that the three stores run them in
 * a few seconds in CI; the issue's acceptance run is RACE_COUNT=1000).
 */
const RACES = Math.max(1, Number(process.env.RACE_COUNT ?? 100));
/** Orders raced at once: enough for the operations of different orders to interleave too. */
const RACE_WAVE = 25;

/** Runs `fn` over 0..n-1, `wave` at a time. */
async function inWaves(n: number, wave: number, fn: (i: number) => Promise<void>): Promise<void> {
  for (let at = 0; at < n; at += wave) await Promise.all(Array.from({ length: Math.min(wave, n - at) }, (_, k) => fn(at + k)));
}

/** Every row: onHand = free + reserved + locked, none negative. */
export async function expectInvariant(s: Store): Promise<void> {
  for (const row of await s.stock()) {
    const at = `${row.warehouseId}/${row.sku}${row.lot !== undefined ? `@${row.lot}` : ''}`;
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
    const fresh = async (retention?: Pick<StoreOptions, 'orderRetentionMs' | 'eventRetentionMs'>) => {
      const clock = testClock();
      return { s: await make(seed, clock.now, retention), clock };
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

    describe('lots of a shelf-life SKU', () => {
      const lotSeed = [
        ...seed,
        { warehouseId: 'SH01', sku: 'BFL-0001', lot: 'L2', expiresOn: '2027-06-30', onHand: 4 },
        { warehouseId: 'SH01', sku: 'BFL-0001', lot: 'L1', expiresOn: '2027-01-31', onHand: 3 },
        { warehouseId: 'HF01', sku: 'BFL-0001', lot: 'L9', expiresOn: '2028-01-01', onHand: 2 },
      ];
      const L1 = lotCell('BFL-0001', 'L1');
      const L2 = lotCell('BFL-0001', 'L2');
      const lots = async () => {
        const clock = testClock();
        return { s: await make(lotSeed, clock.now), clock };
      };
      const lot = async (s: Store, warehouseId: string, name: string) => (await s.stock({ warehouseId, sku: 'BFL-0001' })).find((r) => r.lot === name)!;

      it('lists each lot under its SKU with its expiry, and its free units by expiry', async () => {
        const { s } = await lots();
        expect(await s.stock({ sku: 'BFL-0001' })).toEqual([
          { warehouseId: 'HF01', sku: 'BFL-0001', lot: 'L9', expiresOn: '2028-01-01', onHand: 2, free: 2, reserved: 0, locked: 0 },
          { warehouseId: 'SH01', sku: 'BFL-0001', lot: 'L1', expiresOn: '2027-01-31', onHand: 3, free: 3, reserved: 0, locked: 0 },
          { warehouseId: 'SH01', sku: 'BFL-0001', lot: 'L2', expiresOn: '2027-06-30', onHand: 4, free: 4, reserved: 0, locked: 0 },
        ]);
        expect(await s.freeLots(['BFL-0001', 'BRK-0001'])).toEqual([
          { warehouseId: 'HF01', sku: 'BFL-0001', lot: 'L9', expiresOn: '2028-01-01', expiresOnUtcMs: utcDayMs('2028-01-01'), free: 2 },
          { warehouseId: 'SH01', sku: 'BFL-0001', lot: 'L1', expiresOn: '2027-01-31', expiresOnUtcMs: utcDayMs('2027-01-31'), free: 3 },
          { warehouseId: 'SH01', sku: 'BFL-0001', lot: 'L2', expiresOn: '2027-06-30', expiresOnUtcMs: utcDayMs('2027-06-30'), free: 4 },
        ]);
        expect(await s.freeLots(['BRK-0001'])).toEqual([]);
      });

      it('keeps a lot\'s first expiry: defining it again answers the recorded day', async () => {
        const { s } = await lots();
        expect(await s.defineLot('SH01', 'BFL-0001', 'L1', '2030-01-01')).toBe('2027-01-31');
        expect(await s.defineLot('SH01', 'BFL-0001', 'L3', '2029-03-01')).toBe('2029-03-01');
        expect((await s.adjustOnHand('SH01', lotCell('BFL-0001', 'L3'), 6)).ok).toBe(true);
        expect(await lot(s, 'SH01', 'L3')).toMatchObject({ expiresOn: '2029-03-01', onHand: 6, free: 6 });
        // A lot defined later with an earlier expiry still lists first (the order FEFO picks in).
        expect(await s.defineLot('SH01', 'BFL-0001', 'L0', '2026-12-31')).toBe('2026-12-31');
        expect((await s.adjustOnHand('SH01', lotCell('BFL-0001', 'L0'), 1)).ok).toBe(true);
        expect((await s.freeLots(['BFL-0001'])).map((l) => `${l.warehouseId}/${l.lot}`)).toEqual(['HF01/L9', 'SH01/L0', 'SH01/L1', 'SH01/L2', 'SH01/L3']);
      });

      it('lists the lots of several SKUs by warehouse, SKU, expiry and lot, whatever the order they were defined in', async () => {
        const { s } = await lots();
        // Lots of a second SKU interleaved by warehouse with the first's, defined out of order (the
        // warehouses of the seed: the Redis stores know the network's warehouses only).
        for (const [w, sku, lot, expiresOn] of [
          ['SH01', 'ATF-0002', 'A2', '2027-03-01'],
          ['HF01', 'ATF-0002', 'A1', '2027-09-01'],
          ['SH01', 'ATF-0002', 'A1', '2027-02-01'],
        ] as const) {
          await s.defineLot(w, sku, lot, expiresOn);
          expect((await s.adjustOnHand(w, lotCell(sku, lot), 1)).ok).toBe(true);
        }
        const order = ['HF01/ATF-0002/A1', 'HF01/BFL-0001/L9', 'SH01/ATF-0002/A1', 'SH01/ATF-0002/A2', 'SH01/BFL-0001/L1', 'SH01/BFL-0001/L2'];
        const listed = async (skus: string[]) => (await s.freeLots(skus)).map((l) => `${l.warehouseId}/${l.sku}/${l.lot}`);
        expect(await listed(['BFL-0001', 'ATF-0002'])).toEqual(order);
        expect(await listed(['ATF-0002', 'BFL-0001', 'ATF-0002'])).toEqual(order);
        expect(await listed(['ATF-0002'])).toEqual(order.filter((x) => x.includes('ATF')));
      });

      it('reserves, commits and cancels per lot, the invariant holding on every lot', async () => {
        const { s } = await lots();
        // More than one lot holds: the whole plan or nothing.
        expect((await s.reserve(res('x', [{ warehouseId: 'SH01', sku: L1, qty: 4 }]))).ok).toBe(false);
        expect(await hold(s, res('a', [{ warehouseId: 'SH01', sku: L1, qty: 3 }, { warehouseId: 'SH01', sku: L2, qty: 1 }]))).toBe(true);
        expect(await hold(s, res('b', [{ warehouseId: 'SH01', sku: L2, qty: 2 }]))).toBe(true);
        expect(await lot(s, 'SH01', 'L1')).toMatchObject({ onHand: 3, free: 0, reserved: 3 });
        expect(await lot(s, 'SH01', 'L2')).toMatchObject({ onHand: 4, free: 1, reserved: 3 });
        expect(await s.freeLots(['BFL-0001'])).toEqual([
          { warehouseId: 'HF01', sku: 'BFL-0001', lot: 'L9', expiresOn: '2028-01-01', expiresOnUtcMs: utcDayMs('2028-01-01'), free: 2 },
          { warehouseId: 'SH01', sku: 'BFL-0001', lot: 'L2', expiresOn: '2027-06-30', expiresOnUtcMs: utcDayMs('2027-06-30'), free: 1 },
        ]);
        await expectInvariant(s);
        // The shipment commits the lots it names; the cancel returns its units to their lot.
        expect(await s.commit('a')).toBe('committed');
        expect(await s.cancelOrder('b')).toBe('cancelled');
        expect(await lot(s, 'SH01', 'L1')).toMatchObject({ onHand: 0, free: 0, reserved: 0 });
        expect(await lot(s, 'SH01', 'L2')).toMatchObject({ onHand: 3, free: 3, reserved: 0 });
        // A count below what a lot holds is refused for that lot.
        expect(await hold(s, res('c', [{ warehouseId: 'SH01', sku: L2, qty: 2 }]))).toBe(true);
        expect((await s.setOnHand([{ warehouseId: 'SH01', sku: L2, onHand: 1 }])).ok).toBe(false);
        expect((await s.adjustOnHand('SH01', L2, -2)).ok).toBe(false);
        expect((await s.adjustOnHand('SH01', L2, -1)).ok).toBe(true);
        await expectInvariant(s);
      });

      it('returns an expired reservation\'s units to their lot', async () => {
        const { s, clock } = await lots();
        expect(await hold(s, res('e', [{ warehouseId: 'SH01', sku: L1, qty: 2 }]))).toBe(true);
        clock.advance(49 * HOUR);
        expect(await lot(s, 'SH01', 'L1')).toMatchObject({ onHand: 3, free: 3, reserved: 0 });
        await expectInvariant(s);
      });
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

    it('a forgotten event id is free again (a rejected event); ids are forgotten after the event retention', async () => {
      const { s, clock } = await fresh({ eventRetentionMs: 24 * HOUR });
      expect(await s.markEvent('GRN-1')).toBe(true);
      await s.forgetEvent('GRN-1');
      expect(await s.markEvent('GRN-1')).toBe(true);
      expect(await s.markEvent('GRN-1')).toBe(false);
      clock.advance(24 * HOUR - 1);
      expect(await s.markEvent('GRN-1')).toBe(false);
      clock.advance(1);
      expect(await s.markEvent('GRN-1')).toBe(true);
      expect(await s.markEvent('GRN-1')).toBe(false);
    });

    it('an idempotency record is claimed once, answers what the first stored, can be dropped, and expires', async () => {
      const { s, clock } = await fresh();
      expect(await s.claimIdempotency('lock:K', { customerId: 'A', lockId: 'L1' }, HOUR)).toEqual({ created: true, value: { customerId: 'A', lockId: 'L1' } });
      expect(await s.claimIdempotency('lock:K', { customerId: 'B', lockId: 'L2' }, HOUR)).toEqual({ created: false, value: { customerId: 'A', lockId: 'L1' } });
      const raced = await Promise.all(Array.from({ length: 20 }, (_, i) => s.claimIdempotency('lock:R', { n: i }, HOUR)));
      expect(raced.filter((r) => r.created)).toHaveLength(1);
      await s.dropIdempotency('lock:K');
      expect((await s.claimIdempotency('lock:K', { customerId: 'B', lockId: 'L2' }, HOUR)).created).toBe(true);
      clock.advance(HOUR);
      expect(await s.claimIdempotency('lock:K', { customerId: 'C', lockId: 'L3' }, HOUR)).toEqual({ created: true, value: { customerId: 'C', lockId: 'L3' } });
    });

    it('drops an order past its retention, never while its reservation holds; its KPI share goes with it', async () => {
      const retention = 7 * 24 * HOUR;
      const { s, clock } = await fresh({ orderRetentionMs: retention });
      // Held for 48 h, never shipped: kept until its reservation ends, then the retention.
      expect(await hold(s, res('open', [{ warehouseId: 'SH01', sku: 'BRK-0001', qty: 2 }]))).toBe(true);
      // Nothing reserved (backordered): kept for the retention from its decision.
      await s.putDecisionIfAbsent({ orderId: 'bo', requestHash: 'h', decision: { b: 1 }, reservation: null, expiresAt: null, cancelled: false });
      await s.addScans('open', [{ key: 'k1', scan: { code: 'PICK_DONE', at: T0 } }]);
      await s.kpiPut('open', { sums: { orders: 1, moneyFen: 500 }, marks: { promise: T0 + HOUR } }, (await s.getDecision('open'))!.retainUntil ?? null);
      await s.kpiPut('bo', { sums: { orders: 1, moneyFen: 0 }, marks: { promise: T0 + 2 * HOUR } }, (await s.getDecision('bo'))!.retainUntil ?? null);
      expect((await s.getDecision('open'))!.retainUntil).toBe(T0 + 48 * HOUR + retention);
      expect((await s.getDecision('bo'))!.retainUntil).toBe(T0 + retention);
      expect((await s.kpiRead()).sums).toMatchObject({ orders: 2, moneyFen: 500 });

      clock.advance(retention);
      expect(await s.getDecision('bo')).toBeNull();
      expect(await s.orderState('bo')).toBeNull();
      expect(await s.orderIds()).toEqual(['open']);
      const k = await s.kpiRead();
      expect(k.sums).toMatchObject({ orders: 1, moneyFen: 500 });
      expect(k.marksAtOrBefore.promise).toBe(1);
      // The open order's reservation still holds its stock at 7 days... no: it expired at 48 h and returned it.
      expect((await cell(s, 'SH01', 'BRK-0001')).reserved).toBe(0);
      expect((await s.getDecision('open'))!.reservation).toBe('expired');
      // A late KPI update of a dropped order does not bring it back.
      await s.kpiPut('bo', { sums: { orders: 1 }, marks: {} }, T0 + retention);
      expect((await s.kpiRead()).sums).toMatchObject({ orders: 1 });

      clock.advance(48 * HOUR - 1);
      expect(await s.getDecision('open')).not.toBeNull();
      expect(await s.orderState('open')).toMatchObject({ reservation: 'expired' });
      clock.advance(1);
      expect(await s.getDecision('open')).toBeNull();
      expect(await s.orderState('open')).toBeNull();
      expect(await s.orderIds()).toEqual([]);
      expect((await s.kpiRead()).sums).toMatchObject({ orders: 0, moneyFen: 0 });
      await expectInvariant(s);
    });

    it('an order still reserved is never dropped before its reservation ends, whatever the retention', async () => {
      const { s, clock } = await fresh({ orderRetentionMs: 1 });
      expect(await hold(s, res('held', [{ warehouseId: 'SH01', sku: 'BRK-0001', qty: 3 }]))).toBe(true);
      clock.advance(24 * HOUR);
      expect((await s.getDecision('held'))!.reservation).toBe('held');
      expect(await s.commit('held')).toBe('committed');
      expect((await cell(s, 'SH01', 'BRK-0001')).onHand).toBe(7);
      // Kept until the reservation would have ended, plus the retention (1 ms here).
      clock.advance(24 * HOUR);
      expect((await s.getDecision('held'))!.reservation).toBe('committed');
      clock.advance(1);
      expect(await s.getDecision('held')).toBeNull();
      await expectInvariant(s);
    });

    it('drops an ended customer lock the order retention after its expiry, released or expired, and not before', async () => {
      const DAY = 24 * HOUR;
      const { s, clock } = await fresh({ orderRetentionMs: DAY });
      const lock = (id: string) => s.createLock({ id, customerId: 'K1', warehouseId: 'SH01', sku: 'BRK-0001', qty: 2, expiresAt: clock.now() + HOUR });
      expect((await lock('L-rel')).ok).toBe(true);
      expect((await lock('L-exp')).ok).toBe(true);
      expect(await s.releaseLock('L-rel')).toMatchObject({ state: 'released' });
      expect((await cell(s, 'SH01', 'BRK-0001')).locked).toBe(2);
      // Ended, and kept (readable) until its expiry plus the retention.
      clock.advance(HOUR + DAY - 1);
      expect(await s.getLock('L-rel')).toMatchObject({ state: 'released' });
      expect(await s.getLock('L-exp')).toMatchObject({ state: 'expired', remaining: 0 });
      clock.advance(1);
      expect(await s.getLock('L-rel')).toBeNull();
      expect(await s.getLock('L-exp')).toBeNull();
      expect((await cell(s, 'SH01', 'BRK-0001')).locked).toBe(0);
      // A new lock of the same customer is not disturbed by what was dropped.
      expect((await lock('L-new')).ok).toBe(true);
      expect(await s.getLock('L-new')).toMatchObject({ state: 'active', remaining: 2 });
      await expectInvariant(s);
    });

    it('keeps running KPI totals: shares replaced atomically, marks counted at or before and strictly before now', async () => {
      const { s, clock } = await fresh();
      for (const id of ['a', 'b', 'c']) await s.putDecisionIfAbsent({ orderId: id, requestHash: 'h', decision: {}, reservation: null, expiresAt: null, cancelled: false });
      await s.kpiPut('a', { sums: { orders: 1, etaSumMs: -7_200_000 }, marks: { promise: T0, staleFrom: T0 } }, null);
      await s.kpiPut('b', { sums: { orders: 1, etaSumMs: 3_600_000 }, marks: { promise: T0 + HOUR } }, null);
      await s.kpiPut('c', { sums: { orders: 1 }, marks: {} }, null);
      // Concurrent updates of one order: its share counts once, whichever came last.
      await Promise.all(Array.from({ length: 30 }, (_, i) => s.kpiPut('c', { sums: { orders: 1, moneyFen: i }, marks: { staleUntil: T0 - i } }, null)));
      let k = await s.kpiRead();
      expect(k.sums.orders).toBe(3);
      expect(k.sums.etaSumMs).toBe(-3_600_000);
      expect(k.sums.moneyFen).toBe(29);
      expect(k.marksAtOrBefore).toEqual({ promise: 1, staleFrom: 1, staleUntil: 1 });
      expect(k.marksBefore).toEqual({ promise: 0, staleFrom: 0, staleUntil: 1 });
      await s.kpiPut('a', null, null);
      clock.advance(HOUR);
      k = await s.kpiRead();
      expect(k.sums).toMatchObject({ orders: 2, etaSumMs: 3_600_000 });
      expect(k.marksAtOrBefore).toEqual({ promise: 1, staleFrom: 0, staleUntil: 1 });
      expect(k.marksBefore.promise).toBe(0);
    });

    it('stores a decision once per order, bound to its reservation', async () => {
      const { s } = await fresh();
      const r = await s.reserve(res('o', [{ warehouseId: 'SH01', sku: 'BRK-0001', qty: 1 }]));
      if (!r.ok) throw new Error('reserve failed');
      const first = await s.putDecisionIfAbsent({ orderId: 'o', requestHash: 'h1', decision: { n: 1 }, reservation: 'held', expiresAt: null, cancelled: false }, r.attempt);
      expect(first).toMatchObject({ decision: { n: 1 }, reservation: 'held', expiresAt: T0 + 48 * HOUR });
      const second = await s.putDecisionIfAbsent({ orderId: 'o', requestHash: 'h2', decision: { n: 2 }, reservation: null, expiresAt: null, cancelled: false });
      expect(second).toEqual(first);
      expect(await s.cancelOrder('o')).toBe('cancelled');
      expect(await s.getDecision('o')).toMatchObject({ cancelled: true, reservation: 'released' });
      expect(await s.orderState('o')).toEqual({ cancelled: true, reservation: 'released', expiresAt: T0 + 48 * HOUR });
      expect(await s.cancelOrder('o')).toBe('cancelled');
      expect(await s.cancelOrder('missing')).toBe('not-found');
      expect(await s.getDecision('missing')).toBeNull();
      expect(await s.orderState('missing')).toBeNull();
      // A backordered decision holds no reservation.
      const b = await s.putDecisionIfAbsent({ orderId: 'b', requestHash: 'h', decision: {}, reservation: null, expiresAt: null, cancelled: false });
      expect(b).toMatchObject({ reservation: null, expiresAt: null, cancelled: false });
      expect(await s.orderState('b')).toEqual({ reservation: null, expiresAt: null, cancelled: false });
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
      expect(await s.orderState('e')).toEqual({ reservation: 'expired', expiresAt: T0 + HOUR, cancelled: false });
      expect(await s.commit('e')).toBe('expired');
      // Cancelling it afterwards: cancelled, and it still reads expired; nothing returns twice.
      expect(await s.cancelOrder('e')).toBe('cancelled');
      expect(await s.getDecision('e')).toMatchObject({ reservation: 'expired', cancelled: true });
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

    describe('order transitions that cannot interleave (issue 19)', () => {
      // Every order holds one unit in SH01 and one in HF01 (two warehouse slots on a Cluster) and
      // one courier parcel (the courier-counter slot), so each transition spans three slots.
      const COURIER = counterKeys.courierParcels('STO', '310000', '2026-11-11');
      const raceSeed = () => [
        { warehouseId: 'SH01', sku: 'BRK-0001', onHand: RACES },
        { warehouseId: 'HF01', sku: 'BRK-0001', onHand: RACES },
      ];
      const holdAll = async (s: Store, ttlMs: (i: number) => number = () => 48 * HOUR) =>
        inWaves(RACES, 50, async (i) => {
          const req = {
            ...res(`race-${i}`, [
              { warehouseId: 'SH01', sku: 'BRK-0001', qty: 1 },
              { warehouseId: 'HF01', sku: 'BRK-0001', qty: 1 },
            ], [{ key: COURIER, amount: 1, limit: RACES }]),
            ttlMs: ttlMs(i),
          };
          expect(await hold(s, req)).toBe(true);
        });
      /** Both cells: on hand as expected, nothing left reserved, the identity on every row. */
      const expectSettled = async (s: Store, shipped: number) => {
        for (const w of ['SH01', 'HF01']) expect(await cell(s, w, 'BRK-0001')).toEqual({ warehouseId: w, sku: 'BRK-0001', onHand: RACES - shipped, free: RACES - shipped, reserved: 0, locked: 0 });
        await expectInvariant(s);
      };

      it(`a cancel racing a shipment: exactly one wins, never both (${RACES} orders)`, async () => {
        const clock = testClock();
        const s = await make(raceSeed(), clock.now);
        await holdAll(s);
        let shipped = 0;
        await inWaves(RACES, RACE_WAVE, async (i) => {
          const id = `race-${i}`;
          // Alternate who is sent first, and read the stock while both are under way.
          const [commit, cancel] = await (i % 2 === 0
            ? Promise.all([s.commit(id), s.cancelOrder(id), expectInvariant(s)])
            : Promise.all([s.cancelOrder(id), s.commit(id), expectInvariant(s)]).then(([c, m]) => [m, c] as const));
          const d = await s.getDecision(id);
          if (commit === 'committed') {
            shipped++;
            expect(cancel, id).toBe('committed');
            expect(d, id).toMatchObject({ reservation: 'committed', cancelled: false });
          } else {
            expect([commit, cancel], id).toEqual(['cancelled', 'cancelled']);
            expect(d, id).toMatchObject({ reservation: 'released', cancelled: true });
          }
          // Whoever lost, asking again gives the winner's answer.
          expect(await s.cancelOrder(id)).toBe(commit === 'committed' ? 'committed' : 'cancelled');
          expect(await s.commit(id)).toBe(commit === 'committed' ? 'not-held' : 'cancelled');
        });
        // Both outcomes happened (the alternating order sees to it), so both paths were raced.
        if (RACES > 1) expect(shipped > 0 && shipped < RACES, `${shipped} of ${RACES} shipped`).toBe(true);
        await expectSettled(s, shipped);
        // Shipped orders keep their courier capacity; cancelled ones gave it back.
        expect((await s.counters([COURIER])).get(COURIER)).toBe(shipped);
      });

      it(`a shipment racing the reservation's expiry: committed (stock gone) or expired (stock back), never both (${RACES} orders)`, async () => {
        const clock = testClock();
        const s = await make(raceSeed(), clock.now);
        // Expiries spread over 40 s around the moment the shipments arrive (T0 + 1 h), which
        // covers the Redis store's guard before expiry (the claim timeout, 10 s) on both sides.
        await holdAll(s, (i) => HOUR - 20_000 + Math.floor((i * 40_000) / RACES));
        clock.advance(HOUR);
        const results = new Map<string, string>();
        await inWaves(RACES, RACE_WAVE, async (i) => {
          const [r] = await Promise.all([s.commit(`race-${i}`), s.stock(), expectInvariant(s)]);
          results.set(`race-${i}`, r);
        });
        const shipped = [...results.values()].filter((r) => r === 'committed').length;
        expect([...new Set(results.values())].sort()).toEqual(['committed', 'expired']);
        // Past every expiry, what did not ship has come back, and the shipped units have left.
        clock.advance(HOUR);
        for (const [id, r] of results) expect((await s.getDecision(id))?.reservation, id).toBe(r === 'committed' ? 'committed' : 'expired');
        await expectSettled(s, shipped);
        expect((await s.counters([COURIER])).get(COURIER)).toBe(shipped);
      });

      it(`a reroute (capacity moved to another courier) racing a cancel: the capacity returns wherever it was (${RACES} orders)`, async () => {
        const clock = testClock();
        const s = await make(raceSeed(), clock.now);
        await holdAll(s);
        const other = counterKeys.courierParcels('ZTO', '310000', '2026-11-11');
        // Whether the move or the cancel comes first is the store's affair: either way the
        // cancel returns the order's use from the counter it is on at that moment.
        await inWaves(RACES, RACE_WAVE, async (i) => {
          const [, c] = await Promise.all([s.moveCounter(`race-${i}`, { key: COURIER, amount: 1 }, { key: other, amount: 1, limit: RACES }), s.cancelOrder(`race-${i}`)]);
          expect(c).toBe('cancelled');
        });
        expect(Object.fromEntries(await s.counters([COURIER, other]))).toEqual({ [COURIER]: 0, [other]: 0 });
        await expectSettled(s, 0);
      });
    });

    it('keeps WMS scans per order once per key, and lists decided orders', async () => {
      const { s } = await fresh();
      const scan = { code: 'PICK_DONE', at: T0, warehouseId: 'SH01' };
      expect(await s.addScans('o-s', [{ key: 'k1', scan }, { key: 'k2', scan: { code: 'PACK_DONE', at: T0 + 1 } }])).toEqual([true, true]);
      expect(await s.addScans('o-s', [{ key: 'k1', scan: { code: 'CHANGED', at: 0 } }, { key: 'k3', scan: { code: 'LOADED', at: T0 + 2 } }])).toEqual([false, true]);
      expect((await s.scans('o-s')).sort((a, b) => a.at - b.at)).toEqual([scan, { code: 'PACK_DONE', at: T0 + 1 }, { code: 'LOADED', at: T0 + 2 }]);
      expect(await s.scans('none')).toEqual([]);
      await s.putDecisionIfAbsent({ orderId: 'listed', requestHash: 'h', decision: {}, reservation: null, expiresAt: null, cancelled: false });
      expect(await s.orderIds()).toContain('listed');
    });

    it('pushes the list entries of a decision when it stores the decision, and not for a decision that exists', async () => {
      const { s } = await fresh();
      const key = storeKeys.shipmentIndex('STO', '310000', '2026-11-11');
      const r = await s.reserve(res('ix', [{ warehouseId: 'SH01', sku: 'BRK-0001', qty: 1 }]));
      expect(r.ok).toBe(true);
      if (!r.ok) return;
      const d = { orderId: 'ix', requestHash: 'h', decision: {}, reservation: 'held' as const, expiresAt: null, cancelled: false };
      await s.putDecisionIfAbsent(d, r.attempt, [{ key, value: { orderId: 'ix', shipment: 0 }, ttlMs: 60_000 }]);
      expect(await s.listAll(key)).toEqual([{ orderId: 'ix', shipment: 0 }]);
      expect(await s.orderIds()).toContain('ix');
      // A second writer of the same order (a retry that lost the race) adds nothing.
      await s.putDecisionIfAbsent({ ...d, reservation: null }, undefined, [{ key, value: { orderId: 'ix', shipment: 1 } }]);
      expect(await s.listAll(key)).toEqual([{ orderId: 'ix', shipment: 0 }]);
      expect((await s.getDecision('ix'))?.reservation).toBe('held');
      await expectInvariant(s);
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

    it('reads the counter uses a held reservation holds, as moveCounter leaves them, and none once it ended (reroute recovery)', async () => {
      const { s } = await fresh();
      const from = counterKeys.courierParcels('STO', '310000', '2026-11-11');
      const to = counterKeys.courierParcels('ZTO', '310000', '2026-11-11');
      const whp = counterKeys.warehouseParcels('SH01', '2026-11-11');
      expect(await s.heldCounters('hc')).toBeNull();
      expect(await hold(s, res('hc', [{ warehouseId: 'SH01', sku: 'BRK-0001', qty: 1 }], [{ key: whp, amount: 1, limit: 10 }, { key: from, amount: 2, limit: 10 }]))).toBe(true);
      const sorted = (h: { key: string; amount: number }[] | null) => h?.sort((a, b) => (a.key < b.key ? -1 : 1)) ?? null;
      expect(sorted(await s.heldCounters('hc'))).toEqual(sorted([{ key: whp, amount: 1 }, { key: from, amount: 2 }]));
      expect(await s.moveCounter('hc', { key: from, amount: 2 }, { key: to, amount: 3, limit: 10 })).toBe(true);
      expect(sorted(await s.heldCounters('hc'))).toEqual(sorted([{ key: whp, amount: 1 }, { key: to, amount: 3 }]));
      expect(await s.cancelOrder('hc')).toBe('cancelled');
      expect(await s.heldCounters('hc')).toBeNull();
    });

    it('keeps reroute intents until deleted, listed by age (the reroute journal)', async () => {
      const { s } = await fresh();
      const intent = (id: string, createdAt: number) => ({
        id,
        createdAt,
        steps: [{ orderId: 'o1', from: { key: 'cap:courier:STO:310000:2026-11-11:grams', amount: 900 }, to: { key: 'cap:courier:ZTO:310000:2026-11-11:grams', amount: 900, limit: 10_000 }, toHeldBefore: 0 }],
        open: null,
        entries: [{ orderId: 'o1', reroute: { shipment: 0, trackingNumber: 'ZTO1' } }],
        listTtlMs: HOUR,
      });
      expect(await s.rerouteIntents(T0)).toEqual([]);
      await s.rerouteIntentPut(intent('b', T0 + 10));
      await s.rerouteIntentPut(intent('a', T0));
      expect(await s.rerouteIntentGet('a')).toEqual(intent('a', T0));
      expect(await s.rerouteIntentGet('none')).toBeNull();
      expect((await s.rerouteIntents(T0 + 10)).map((i) => i.id)).toEqual(['a', 'b']);
      expect((await s.rerouteIntents(T0 + 9)).map((i) => i.id)).toEqual(['a']);
      await s.rerouteIntentDelete('a');
      await s.rerouteIntentDelete('a');
      expect((await s.rerouteIntents(T0 + 10)).map((i) => i.id)).toEqual(['b']);
    });

    it('re-plans a held reservation atomically with its own use counted as available, never once it shipped (re-optimisation)', async () => {
      const { s } = await fresh();
      const sto = counterKeys.courierParcels('STO', '310000', '2026-11-11');
      const zto = counterKeys.courierParcels('ZTO', '310000', '2026-11-11');
      const whp = counterKeys.warehouseParcels('SH01', '2026-11-11');
      const items = [{ warehouseId: 'SH01', sku: 'BRK-0001', qty: 4 }];
      expect(await hold(s, res('rp', items, [{ key: whp, amount: 1, limit: 5 }, { key: sto, amount: 2, limit: 2 }]))).toBe(true);
      // Another courier over its limit: refused, nothing changed.
      const over = await s.replan('rp', { items, counters: [{ key: whp, amount: 1, limit: 5 }, { key: zto, amount: 3, limit: 2 }] });
      expect(over).toMatchObject({ ok: false, why: 'short' });
      expect(Object.fromEntries(await s.counters([sto, zto, whp]))).toEqual({ [sto]: 2, [zto]: 0, [whp]: 1 });
      // Its own use counts as available: the same courier at its limit still fits the same plan.
      expect(await s.replan('rp', { items, counters: [{ key: whp, amount: 1, limit: 1 }, { key: sto, amount: 2, limit: 2 }] })).toEqual({ ok: true });
      expect(await s.replan('rp', { items, counters: [{ key: whp, amount: 1, limit: 5 }, { key: zto, amount: 1, limit: 2 }] })).toEqual({ ok: true });
      expect(Object.fromEntries(await s.counters([sto, zto, whp]))).toEqual({ [sto]: 0, [zto]: 1, [whp]: 1 });
      await expectInvariant(s);
      // A move to another warehouse: atomic on the embedded store; on Redis it would span slots
      // and is refused without changing anything.
      const moved = await s.replan('rp', { items: [{ warehouseId: 'HF01', sku: 'BRK-0001', qty: 3 }, { warehouseId: 'SH01', sku: 'BRK-0001', qty: 1 }], counters: [{ key: zto, amount: 1, limit: 2 }] });
      if (s.kind === 'memory') {
        expect(moved).toEqual({ ok: true });
        expect(await cell(s, 'HF01', 'BRK-0001')).toMatchObject({ free: 0, reserved: 3 });
        expect(await cell(s, 'SH01', 'BRK-0001')).toMatchObject({ free: 9, reserved: 1 });
        expect(Object.fromEntries(await s.counters([zto, whp]))).toEqual({ [zto]: 1, [whp]: 0 });
      } else {
        expect(moved).toEqual({ ok: false, why: 'unsupported' });
        expect(await cell(s, 'SH01', 'BRK-0001')).toMatchObject({ free: 6, reserved: 4 });
      }
      await expectInvariant(s);
      // Shipped: never moved again, and the stock it took leaves on hand exactly once.
      expect(await s.commit('rp')).toBe('committed');
      expect(await s.replan('rp', { items, counters: [{ key: sto, amount: 1, limit: 9 }] })).toEqual({ ok: false, why: 'not-held' });
      expect(Object.fromEntries(await s.counters([sto]))).toEqual({ [sto]: 0 });
      await expectInvariant(s);
      // Cancelled, or never decided: not moved either.
      expect(await hold(s, res('rc', [{ warehouseId: 'SH01', sku: 'WIP-0001', qty: 1 }]))).toBe(true);
      expect(await s.cancelOrder('rc')).toBe('cancelled');
      expect(await s.replan('rc', { items: [{ warehouseId: 'SH01', sku: 'WIP-0001', qty: 1 }], counters: [] })).toEqual({ ok: false, why: 'not-held' });
      expect(await s.replan('none', { items: [], counters: [] })).toEqual({ ok: false, why: 'not-held' });
      await expectInvariant(s);
    });

    it('holds a named lease for one token at a time, renewed by its holder, free again after its time or when released', async () => {
      const { s, clock } = await fresh();
      expect(await s.leaseAcquire('job', 'a', 10_000)).toBe(true);
      expect(await s.leaseAcquire('job', 'b', 10_000)).toBe(false);
      expect(await s.leaseAcquire('other', 'b', 10_000)).toBe(true);
      clock.advance(8_000);
      expect(await s.leaseAcquire('job', 'a', 10_000)).toBe(true);
      expect(await s.leaseRelease('job', 'b')).toBe(false);
      expect(await s.leaseAcquire('job', 'b', 10_000)).toBe(false);
      expect(await s.leaseRelease('job', 'a')).toBe(true);
      expect(await s.leaseAcquire('job', 'b', 10_000)).toBe(true);
      if (s.kind === 'memory') {
        // Redis expires the key by its own clock (PX); the embedded store reads the injected one.
        clock.advance(10_001);
        expect(await s.leaseAcquire('job', 'a', 10_000)).toBe(true);
      }
    });

    it('keeps API keys (src/auth/keys.ts): hashes only, constant-time checks, revocation, rotation, configured keys across restarts', async () => {
      const { s, clock } = await fresh();
      // No cache: every check reads the store, so what one instance writes the next check sees.
      const reg = new KeyRegistry(s, { cacheMs: 0, clock: clock.now });
      const { record, key } = await reg.create({ name: 'ERP', roles: ['erp', 'dispatcher'] });
      const [id, secret] = key.split('.') as [string, string];
      expect(record).toMatchObject({ id, name: 'ERP', roles: ['erp', 'dispatcher'], source: 'api', revokedAt: null });
      // The store holds the SHA-256 of the secret, never the secret.
      const stored = await s.kvGet<Record<string, unknown>>(storeKeys.apiKey(id));
      expect(stored?.hash).toBe(hashSecret(secret));
      expect(JSON.stringify(stored)).not.toContain(secret);
      expect(await reg.authenticate(key)).toEqual({ ok: true, principal: { id, name: 'ERP', roles: ['erp', 'dispatcher'] } });
      expect((await reg.authenticate(`${id}.${secret.slice(0, -1)}x`)).ok).toBe(false);
      expect((await reg.authenticate(`nobody.${secret}`)).ok).toBe(false);
      expect((await reg.authenticate('not a key')).ok).toBe(false);
      // A second registry on the same store (another instance) sees the same keys.
      const other = new KeyRegistry(s, { cacheMs: 0, clock: clock.now });
      expect((await other.authenticate(key)).ok).toBe(true);
      expect(await other.revoke(id)).toMatchObject({ id, revokedAt: T0 });
      expect(await reg.authenticate(key)).toMatchObject({ ok: false, reason: expect.stringContaining('revoked') });
      expect(await reg.stillAllowed(id, ['dispatcher'])).toBe(false);
      expect(await reg.revoke('nope')).toBeNull();
      // Rotation with a grace period: both work until it ends, then only the new one.
      const b = await reg.create({ name: 'planner desk', roles: ['planner'] });
      const rot = await reg.rotate(b.record.id, 60_000);
      expect(rot?.record).toMatchObject({ name: 'planner desk', roles: ['planner'] });
      expect((await reg.authenticate(b.key)).ok).toBe(true);
      clock.advance(60_000);
      expect((await reg.authenticate(b.key)).ok).toBe(false);
      expect((await reg.authenticate(rot!.key)).ok).toBe(true);
      expect(await reg.rotate(id, 0)).toBeNull();
      // Configured keys: written once; a revoked one stays revoked while its secret is unchanged.
      const cfg = { name: 'prom', roles: ['metrics' as const], secret: 'S'.repeat(40) };
      expect(await reg.loadConfigured([cfg])).toEqual({ written: ['prom'], keptRevoked: [] });
      expect((await reg.authenticate(`prom.${'S'.repeat(40)}`)).ok).toBe(true);
      await reg.revoke('prom');
      expect(await reg.loadConfigured([cfg])).toEqual({ written: [], keptRevoked: ['prom'] });
      expect(await reg.loadConfigured([{ ...cfg, secret: 'T'.repeat(40) }])).toEqual({ written: ['prom'], keptRevoked: [] });
      expect((await reg.authenticate(`prom.${'T'.repeat(40)}`)).ok).toBe(true);
      const ids = (await reg.list()).map((r) => r.id);
      expect(ids).toEqual(expect.arrayContaining([id, b.record.id, rot!.record.id, 'prom']));
      expect(new Set(ids).size).toBe(ids.length);
    });

    it('outbox: adds an entry once, claims it under a lease, records attempts, lists, replays and counts', async () => {
      const { s, clock } = await fresh();
      const entry = (id: string, orderId: string, code: string, discriminator = ''): OutboxEntry => ({
        id,
        target: 'finance',
        orderId,
        code,
        discriminator,
        // An empty array and a unicode string: the stored action must come back byte for byte.
        action: JSON.stringify({ orderId, code, discriminator, params: { lines: [], note: '请收旧件' }, source: { ruleset: 'r', version: 1, rule: 'x' }, decidedAtMs: T0 }),
        state: 'pending',
        attempts: 0,
        replays: 0,
        createdAt: clock.now(),
        nextAttemptAt: clock.now(),
        lease: null,
        leaseUntil: null,
        lastAttemptAt: null,
        lastError: null,
        deliveredAt: null,
      });
      const a = entry('OBX-a', 'ORD-1', 'CORE_RETURN_TASK', 'RECY-1');
      expect(await s.outboxAdd([a, entry('OBX-a', 'ORD-1', 'CORE_RETURN_TASK', 'RECY-1')])).toEqual([true, false]);
      expect(await s.outboxAdd([a])).toEqual([false]);
      clock.advance(1);
      const b = entry('OBX-b', 'ORD-1', 'FREEZE_RECEIVABLE');
      const c = entry('OBX-c', 'ORD-2', 'CORE_RETURN_TASK', 'RECY-2');
      expect(await s.outboxAdd([b, c])).toEqual([true, true]);
      expect(await s.outboxGet('OBX-a')).toEqual(a);
      expect(await s.outboxGet('OBX-none')).toBeNull();
      expect(await s.outboxCounts()).toEqual({ pending: 3, delivered: 0, dead: 0 });

      // Two instances claim at once: each entry goes to one of them only.
      const [x, y] = await Promise.all([s.outboxClaim(2, 1_000), s.outboxClaim(2, 1_000)]);
      const claimed = [...x, ...y];
      expect(claimed.map((e) => e.id).sort()).toEqual(['OBX-a', 'OBX-b', 'OBX-c']);
      for (const e of claimed) expect(e).toMatchObject({ leaseUntil: clock.now() + 1_000, lease: expect.any(String) });
      expect(await s.outboxClaim(10, 1_000)).toEqual([]);
      const leaseOf = (id: string) => claimed.find((e) => e.id === id)!.lease!;

      // a: a failed attempt, retried after its backoff; b: delivered; c: its instance died (never settled).
      expect(await s.outboxSettle('OBX-a', 'not-the-lease', { state: 'delivered', nextAttemptAt: clock.now(), error: null })).toBeNull();
      const failed = await s.outboxSettle('OBX-a', leaseOf('OBX-a'), { state: 'pending', nextAttemptAt: clock.now() + 500, error: 'HTTP 503' });
      expect(failed).toMatchObject({ state: 'pending', attempts: 1, lastError: 'HTTP 503', lease: null, leaseUntil: null, lastAttemptAt: clock.now() });
      expect(await s.outboxSettle('OBX-a', leaseOf('OBX-a'), { state: 'delivered', nextAttemptAt: clock.now(), error: null })).toBeNull();
      expect(await s.outboxSettle('OBX-b', leaseOf('OBX-b'), { state: 'delivered', nextAttemptAt: clock.now(), error: null })).toMatchObject({ state: 'delivered', attempts: 1, deliveredAt: clock.now(), lastError: null });
      clock.advance(499);
      expect(await s.outboxClaim(10, 1_000)).toEqual([]);
      clock.advance(1);
      const again = await s.outboxClaim(10, 1_000);
      expect(again.map((e) => e.id)).toEqual(['OBX-a']);
      // Both leases end (c's first, so it comes first): any instance claims them again; the dead
      // instance's late answer for c is refused.
      clock.advance(1_000);
      const retaken = await s.outboxClaim(10, 60_000);
      expect(retaken.map((e) => e.id)).toEqual(['OBX-c', 'OBX-a']);
      expect(await s.outboxSettle('OBX-c', leaseOf('OBX-c'), { state: 'delivered', nextAttemptAt: clock.now(), error: null })).toBeNull();
      const cLease = retaken.find((e) => e.id === 'OBX-c')!.lease!;
      const dead = await s.outboxSettle('OBX-c', cLease, { state: 'dead', nextAttemptAt: clock.now(), error: 'HTTP 500: boom' });
      expect(dead).toMatchObject({ state: 'dead', attempts: 1, lastError: 'HTTP 500: boom' });
      expect(await s.outboxCounts()).toEqual({ pending: 1, delivered: 1, dead: 1 });
      expect((await s.outboxGet('OBX-a'))!.action).toBe(a.action);

      // Lists: filters, and pages that together hold each entry once, oldest first.
      const ids = async (f: Parameters<Store['outboxList']>[0]) => (await s.outboxList(f, null, 50)).items.map((e) => e.id);
      expect(await ids({})).toEqual(['OBX-a', 'OBX-b', 'OBX-c']);
      expect(await ids({ state: 'dead' })).toEqual(['OBX-c']);
      expect(await ids({ orderId: 'ORD-1' })).toEqual(['OBX-a', 'OBX-b']);
      expect(await ids({ code: 'CORE_RETURN_TASK' })).toEqual(['OBX-a', 'OBX-c']);
      expect(await ids({ code: 'CORE_RETURN_TASK', state: 'pending' })).toEqual(['OBX-a']);
      expect(await ids({ orderId: 'ORD-9' })).toEqual([]);
      const pages: string[][] = [];
      let cursor: string | null = null;
      do {
        const page: { items: OutboxEntry[]; next: string | null } = await s.outboxList({}, cursor, 2);
        pages.push(page.items.map((e) => e.id));
        cursor = page.next;
      } while (cursor !== null && pages.length < 10);
      expect(pages.flat()).toEqual(['OBX-a', 'OBX-b', 'OBX-c']);
      expect(pages[0]).toEqual(['OBX-a', 'OBX-b']);

      // Replay: a dead or delivered entry is due again from 0 attempts; a pending one is left alone.
      expect(await s.outboxReplay('OBX-none')).toBeNull();
      expect(await s.outboxReplay('OBX-a')).toMatchObject({ replayed: false, entry: { state: 'pending' } });
      const r = await s.outboxReplay('OBX-c');
      expect(r).toMatchObject({ replayed: true, entry: { state: 'pending', attempts: 0, replays: 1, nextAttemptAt: clock.now(), lastError: 'HTTP 500: boom' } });
      expect(await ids({ state: 'dead' })).toEqual([]);
      expect(await ids({ state: 'pending' })).toEqual(['OBX-a', 'OBX-c']);
      expect(await s.outboxReplay('OBX-b')).toMatchObject({ replayed: true, entry: { state: 'pending', deliveredAt: null } });
      expect(await s.outboxCounts()).toEqual({ pending: 3, delivered: 0, dead: 0 });
      expect((await s.outboxClaim(10, 1_000)).map((e) => e.id).sort()).toEqual(['OBX-b', 'OBX-c']);
    });

    it('outbox: forgets old delivered entries only, oldest first, a bounded number at a time', async () => {
      const { s, clock } = await fresh();
      const add = async (id: string, orderId: string) => {
        const at = clock.now();
        const action = JSON.stringify({ orderId, code: 'TAG', discriminator: '', params: {}, source: { ruleset: 'r', version: 1, rule: 'x' }, decidedAtMs: at });
        await s.outboxAdd([{ id, target: 't', orderId, code: 'TAG', discriminator: '', action, state: 'pending', attempts: 0, replays: 0, createdAt: at, nextAttemptAt: at, lease: null, leaseUntil: null, lastAttemptAt: null, lastError: null, deliveredAt: null }]);
      };
      const settleAll = async (state: 'delivered' | 'dead', ids: string[]) => {
        for (const e of await s.outboxClaim(10, 1_000)) {
          await s.outboxSettle(e.id, e.lease!, ids.includes(e.id) ? { state, nextAttemptAt: clock.now(), error: state === 'dead' ? 'x' : null } : { state: 'pending', nextAttemptAt: clock.now() + 10 * 86_400_000, error: 'later' });
        }
      };
      await add('OBX-old-1', 'O-1');
      await add('OBX-old-2', 'O-2');
      await settleAll('delivered', ['OBX-old-1', 'OBX-old-2']);
      await add('OBX-old-dead', 'O-3');
      await settleAll('dead', ['OBX-old-dead']);
      await add('OBX-old-pending', 'O-4');
      clock.advance(10 * 86_400_000);
      await add('OBX-new', 'O-5');
      await settleAll('delivered', ['OBX-new']);
      const before = T0 + 5 * 86_400_000;
      expect(await s.outboxPurge(before, 1)).toBe(1);
      expect(await s.outboxGet('OBX-old-1')).toBeNull();
      expect(await s.outboxGet('OBX-old-2')).not.toBeNull();
      expect(await s.outboxPurge(before, 10)).toBe(1);
      expect(await s.outboxPurge(before, 10)).toBe(0);
      expect((await s.outboxList({}, null, 10)).items.map((e) => e.id)).toEqual(['OBX-old-dead', 'OBX-old-pending', 'OBX-new']);
      expect((await s.outboxList({ orderId: 'O-2' }, null, 10)).items).toEqual([]);
      expect((await s.outboxList({ code: 'TAG', state: 'delivered' }, null, 10)).items.map((e) => e.id)).toEqual(['OBX-new']);
      expect(await s.outboxCounts()).toEqual({ pending: 1, delivered: 1, dead: 1 });
      // Forgotten, the same action can be enqueued again.
      await add('OBX-old-1', 'O-1');
      expect((await s.outboxGet('OBX-old-1'))?.state).toBe('pending');
    });

    it('business rules: DRAFT -> ACTIVE -> INACTIVE, one active version, rollback, audit; another instance follows within its poll', async () => {
      const { s } = await fresh();
      const net = network();
      const tagged = (tag: string) => ({ name: `tag ${tag}`, failMode: 'open' as const, graph: graph(table('t', { c: 'order.customerId' }, [{ when: {}, rule: 'tag it', action: 'TAG', params: { tag: `"${tag}"` } }], 'first', ['tag'])) });
      const a = new RulesRepo(s, new RuleEngine(), net, () => T0, 480);
      const b = new RulesRepo(s, new RuleEngine(), net, () => T0, 480);
      await b.reload();
      b.start(20);
      try {
        const v1 = await a.create('rs', tagged('v1'), 'key-1');
        expect(a.stateOf(v1, await a.active('rs'))).toBe('draft');
        await expect(a.create('rs', tagged('again'), 'key-1')).rejects.toMatchObject({ code: 'DSP_RULESET_EXISTS' });
        expect((await a.activate('rs', 1, 'key-1')).previous).toBeNull();
        await a.draft('rs', tagged('v2'), 'key-2');
        expect((await a.activate('rs', 2, 'key-2')).previous).toBe(1);
        const active = await a.active('rs');
        expect(active).toMatchObject({ version: 2, activatedBy: 'key-2' });
        expect((await a.versions('rs')).map((v) => a.stateOf(v, active))).toEqual(['inactive', 'active']);
        await expect(a.update('rs', 1, tagged('edit'), 'key-2')).rejects.toMatchObject({ code: 'DSP_RULESET_NOT_DRAFT' });
        // The other instance follows the store: polled, not told.
        const t0 = Date.now();
        while (b.engine.versions.rs !== 2) {
          expect(Date.now() - t0).toBeLessThan(1_000);
          await new Promise((r) => setTimeout(r, 10));
        }
        expect((await a.rollback('rs', 'key-3')).record.version).toBe(1);
        expect((await a.active('rs'))?.version).toBe(1);
        expect((await a.audit('rs')).map((e) => [e.what, e.version, e.by])).toEqual([
          ['create', 1, 'key-1'],
          ['activate', 1, 'key-1'],
          ['draft', 2, 'key-2'],
          ['activate', 2, 'key-2'],
          ['rollback', 1, 'key-3'],
        ]);
        expect(await a.ids()).toEqual(['rs']);
      } finally {
        b.stop();
      }
    });

    it('API keys: an instance trusts what it read of a key for the cache bound only', async () => {
      const { s } = await fresh();
      const a = new KeyRegistry(s, { cacheMs: 150 });
      const b = new KeyRegistry(s, { cacheMs: 150 });
      const { record, key } = await a.create({ name: 'x', roles: ['erp'] });
      expect((await b.authenticate(key)).ok).toBe(true);
      await a.revoke(record.id);
      // b read the key before the revocation; within its bound it may still answer from memory ...
      const t0 = Date.now();
      while ((await b.authenticate(key)).ok) {
        expect(Date.now() - t0).toBeLessThan(150 + 100);
        await new Promise((r) => setTimeout(r, 10));
      }
      // ... and after it, never.
      expect(Date.now() - t0).toBeLessThanOrEqual(150 + 100);
    });

    it('open shipments: listed while not picked up, joined atomically and once, within their room', async () => {
      const clock = testClock();
      const s = await make([], clock.now);
      const group = openGroup('C1', '310101|人民大道200号');
      const master = { orderId: 'M', grams: 4_000, placedAtMs: T0, savedCny: 0 };
      const open: OpenShipment = {
        trackingNumber: 'STO-1', masterOrderId: 'M', shipment: 0, warehouseId: 'SH01', courierId: 'STO', provinceCode: '310000', shipDay: '2026-11-11',
        pickupAtMs: T0 + 2 * HOUR, etaMs: T0 + 26 * HOUR, grams: 4_000, maxGrams: 10_000, members: [master],
      };
      await s.openShipmentPut(group, open, 48 * HOUR);
      // A second put (a retry of the master) keeps the record as it is.
      await s.openShipmentPut(group, { ...open, grams: 1 }, 48 * HOUR);
      expect((await s.openShipments(group)).map((o) => o.grams)).toEqual([4_000]);
      expect(await s.openShipments(openGroup('C2', '310101|人民大道200号'))).toEqual([]);
      // Only the shipments whose first order was placed within the asked window, ends included.
      expect((await s.openShipments(group, { fromMs: T0, toMs: T0 })).map((o) => o.trackingNumber)).toEqual(['STO-1']);
      expect(await s.openShipments(group, { fromMs: T0 + 1, toMs: T0 + HOUR })).toEqual([]);
      expect(await s.openShipments(group, { fromMs: T0 - HOUR, toMs: T0 - 1 })).toEqual([]);
      // Concurrent joins of 4 kg each: the 10 kg room takes one, never both.
      const joins = await Promise.all(['A', 'B'].map((id) => s.openShipmentJoin(group, 'STO-1', { orderId: id, grams: 4_000, placedAtMs: T0, savedCny: 5 })));
      expect(joins.map((j) => `${j.result}:${j.members}`).sort()).toEqual(['full:2', 'joined:2']);
      const joined = joins[0]!.result === 'joined' ? 'A' : 'B';
      expect(await s.openShipmentJoin(group, 'STO-1', { orderId: joined, grams: 4_000, placedAtMs: T0, savedCny: 5 })).toEqual({ result: 'member', members: 2 });
      expect((await s.openShipmentJoin(group, 'STO-9', { orderId: 'X', grams: 1, placedAtMs: T0, savedCny: 0 })).result).toBe('missing');
      let o = (await s.openShipment(group, 'STO-1'))!;
      expect(o.grams).toBe(8_000);
      expect(o.members.map((m) => m.orderId)).toEqual(['M', joined]);
      // Leaving gives the room back; the master never leaves.
      await s.openShipmentLeave(group, 'STO-1', joined);
      await s.openShipmentLeave(group, 'STO-1', 'M');
      o = (await s.openShipment(group, 'STO-1'))!;
      expect(o.grams).toBe(4_000);
      expect(o.members.map((m) => m.orderId)).toEqual(['M']);
      // At pickup the shipment is no longer open: not listed, not joinable, but still readable.
      clock.advance(2 * HOUR);
      expect(await s.openShipments(group)).toEqual([]);
      expect((await s.openShipmentJoin(group, 'STO-1', { orderId: 'Z', grams: 1, placedAtMs: T0, savedCny: 0 })).result).toBe('closed');
      expect((await s.openShipment(group, 'STO-1'))?.masterOrderId).toBe('M');
    });

    it('open shipments: a group that has had many lists only those not picked up, moved ones under their new pickup', async () => {
      const clock = testClock();
      const s = await make([], clock.now);
      const group = openGroup('C1', '310101|人民大道200号');
      const MIN = 60_000;
      const ship = (n: string, pickupAtMs: number): OpenShipment => ({
        trackingNumber: n, masterOrderId: `M${n}`, shipment: 0, warehouseId: 'SH01', courierId: 'STO', provinceCode: '310000', shipDay: '2026-11-11',
        pickupAtMs, etaMs: pickupAtMs + 24 * HOUR, grams: 1_000, maxGrams: 10_000, members: [{ orderId: `M${n}`, grams: 1_000, placedAtMs: T0, savedCny: 0 }],
      });
      // A busy customer's day: forty shipments, one wave a minute.
      for (let i = 1; i <= 40; i++) await s.openShipmentPut(group, ship(`S-${i}`, T0 + i * MIN), 48 * HOUR);
      clock.advance(20 * MIN + 30_000);
      const names = async () => (await s.openShipments(group)).map((o) => o.trackingNumber).sort();
      expect(await names()).toEqual(Array.from({ length: 20 }, (_, i) => `S-${i + 21}`).sort());
      // Moved to a later wave: listed under its new waybill until that pickup; closed (pickup now): not listed.
      const later = { warehouseId: 'SH01', shipment: 0, shipDay: '2026-11-11', grams: 1_000, members: [{ orderId: 'MS-25', grams: 1_000, placedAtMs: T0, savedCny: 0 }] };
      expect(await s.openShipmentMove(group, 'S-25', { trackingNumber: 'Z-25', courierId: 'STO', etaMs: T0 + 30 * HOUR, maxGrams: 10_000, pickupAtMs: T0 + 100 * MIN, ...later }, ['MS-25'])).toBe('moved');
      expect(await s.openShipmentMove(group, 'S-30', { trackingNumber: 'S-30', courierId: 'STO', etaMs: T0 + 30 * HOUR, maxGrams: 10_000, pickupAtMs: clock.now() }, ['MS-30'])).toBe('moved');
      expect(await names()).toEqual([...Array.from({ length: 20 }, (_, i) => `S-${i + 21}`).filter((n) => n !== 'S-25' && n !== 'S-30'), 'Z-25'].sort());
      clock.advance(20 * MIN);
      expect(await names()).toEqual(['Z-25']);
      await s.openShipmentPut(group, ship('S-41', T0 + 50 * MIN), 48 * HOUR);
      expect(await names()).toEqual(['S-41', 'Z-25']);
      // Every record stays readable for the group's view, picked up or not.
      expect((await s.openShipment(group, 'S-1'))?.masterOrderId).toBe('MS-1');
      expect((await s.openShipment(group, 'Z-25'))?.pickupAtMs).toBe(T0 + 100 * MIN);
      clock.advance(60 * MIN);
      expect(await names()).toEqual([]);
    });

    it('open shipments: a customer who orders every day keeps the records of the last retention, not every one it had', async () => {
      const clock = testClock();
      const s = await make([], clock.now);
      const group = openGroup('C1', '310101|人民大道200号');
      const ship = (n: string): OpenShipment => ({
        trackingNumber: n, masterOrderId: `M${n}`, shipment: 0, warehouseId: 'SH01', courierId: 'STO', provinceCode: '310000', shipDay: '2026-11-11',
        pickupAtMs: clock.now() + HOUR, etaMs: clock.now() + 25 * HOUR, grams: 1_000, maxGrams: 10_000, members: [{ orderId: `M${n}`, grams: 1_000, placedAtMs: clock.now(), savedCny: 0 }],
      });
      // Ten days of a shipment every six hours, each kept for 48 hours after its pickup.
      for (let i = 0; i < 40; i++) {
        if (i > 0) clock.advance(6 * HOUR);
        await s.openShipmentPut(group, ship(`S-${i}`), 48 * HOUR);
      }
      // The last put (at 234 h) dropped every record put 48 hours before it or earlier.
      expect(await s.openShipment(group, 'S-0')).toBeNull();
      expect(await s.openShipment(group, 'S-31')).toBeNull();
      expect((await s.openShipment(group, 'S-32'))?.masterOrderId).toBe('MS-32');
      expect((await s.openShipment(group, 'S-39'))?.masterOrderId).toBe('MS-39');
      // A record moved to a pickup a day later stays a day longer (and its group with it: the last
      // put's 48 hours end before).
      const later = { warehouseId: 'SH01', shipment: 0, shipDay: '2026-11-12', grams: 1_000, members: [{ orderId: 'MS-38', grams: 1_000, placedAtMs: T0, savedCny: 0 }] };
      expect(await s.openShipmentMove(group, 'S-38', { trackingNumber: 'Z-38', courierId: 'STO', etaMs: clock.now() + 48 * HOUR, maxGrams: 10_000, pickupAtMs: clock.now() - 5 * HOUR + 24 * HOUR, ...later }, ['MS-38'])).toBe('moved');
      clock.advance(56 * HOUR);
      await s.openShipmentPut(group, ship('S-40'), 48 * HOUR);
      expect(await s.openShipment(group, 'S-39')).toBeNull();
      expect(await s.openShipment(group, 'S-38')).toBeNull();
      expect((await s.openShipment(group, 'Z-38'))?.masterOrderId).toBe('MS-38');
      expect((await s.openShipment(group, 'S-40'))?.masterOrderId).toBe('MS-40');
      clock.advance(24 * HOUR);
      await s.openShipmentPut(group, ship('S-41'), 48 * HOUR);
      expect(await s.openShipment(group, 'Z-38')).toBeNull();
      expect((await s.openShipment(group, 'S-40'))?.masterOrderId).toBe('MS-40');
    });

    it('open shipments: a reroute replaces the record under the new waybill and courier, only with the members it moved', async () => {
      const clock = testClock();
      const s = await make([], clock.now);
      const group = openGroup('C1', '310101|人民大道200号');
      const open: OpenShipment = {
        trackingNumber: 'STO-1', masterOrderId: 'M', shipment: 0, warehouseId: 'SH01', courierId: 'STO', provinceCode: '310000', shipDay: '2026-11-11',
        pickupAtMs: T0 + 2 * HOUR, etaMs: T0 + 26 * HOUR, grams: 4_000, maxGrams: 10_000, members: [{ orderId: 'M', grams: 4_000, placedAtMs: T0, savedCny: 0, amountCny: 99, discountCny: 9 }],
      };
      await s.openShipmentPut(group, open, 48 * HOUR);
      expect((await s.openShipmentJoin(group, 'STO-1', { orderId: 'A', grams: 3_000, placedAtMs: T0 + 60_000, savedCny: 5 })).result).toBe('joined');
      const to = { trackingNumber: 'ZTO-2', courierId: 'ZTO', etaMs: T0 + 30 * HOUR, maxGrams: 12_000 };
      // The caller moved the capacity of M alone, but A is on the waybill too: refused, nothing changes.
      expect(await s.openShipmentMove(group, 'STO-1', to, ['M'])).toBe('changed');
      expect(await s.openShipmentMove(group, 'STO-1', to, ['A', 'M'])).toBe('changed');
      expect((await s.openShipment(group, 'STO-1'))?.members.map((m) => m.orderId)).toEqual(['M', 'A']);
      expect(await s.openShipment(group, 'ZTO-2')).toBeNull();
      expect(await s.openShipmentMove(group, 'STO-9', to, ['M', 'A'])).toBe('missing');
      // With exactly its members: the record lives under the new waybill, courier, ETA and room, the rest as it was.
      expect(await s.openShipmentMove(group, 'STO-1', to, ['M', 'A'])).toBe('moved');
      expect(await s.openShipment(group, 'STO-1')).toBeNull();
      expect(await s.openShipment(group, 'ZTO-2')).toEqual({ ...open, ...to, grams: 7_000, members: [open.members[0], { orderId: 'A', grams: 3_000, placedAtMs: T0 + 60_000, savedCny: 5 }] });
      expect((await s.openShipments(group)).map((o) => o.trackingNumber)).toEqual(['ZTO-2']);
      // Moving it again finds nothing under the old waybill (a retry changes nothing).
      expect(await s.openShipmentMove(group, 'STO-1', to, ['M', 'A'])).toBe('missing');
      // Later orders join the moved parcel under its new waybill, within its new room; a leave finds it there.
      expect((await s.openShipmentJoin(group, 'STO-1', { orderId: 'B', grams: 1_000, placedAtMs: T0, savedCny: 5 })).result).toBe('missing');
      expect(await s.openShipmentJoin(group, 'ZTO-2', { orderId: 'B', grams: 5_000, placedAtMs: T0 + 120_000, savedCny: 5 })).toEqual({ result: 'joined', members: 3 });
      expect((await s.openShipmentJoin(group, 'ZTO-2', { orderId: 'C', grams: 1_000, placedAtMs: T0 + 180_000, savedCny: 5 })).result).toBe('full');
      await s.openShipmentLeave(group, 'ZTO-2', 'A');
      expect((await s.openShipment(group, 'ZTO-2'))).toMatchObject({ grams: 9_000, courierId: 'ZTO', members: [{ orderId: 'M' }, { orderId: 'B' }] });
      // A shipment without a parcel weight limit keeps none.
      await s.openShipmentPut(group, { ...open, trackingNumber: 'STO-3', maxGrams: 20_000 }, 48 * HOUR);
      expect(await s.openShipmentMove(group, 'STO-3', { ...to, trackingNumber: 'SF-4', maxGrams: null }, ['M'])).toBe('moved');
      expect((await s.openShipment(group, 'SF-4'))?.maxGrams).toBeNull();
      // A re-optimisation moves a master alone on its shipment to another warehouse, wave and weight,
      // or closes the record under its own waybill (pickup now): then it is neither listed nor joinable.
      const moved = { members: [{ orderId: 'M', grams: 3_000, placedAtMs: T0, savedCny: 0 }], grams: 3_000, warehouseId: 'SZ01', shipment: 0, shipDay: '2026-11-12', pickupAtMs: T0 + 30 * HOUR };
      expect(await s.openShipmentMove(group, 'SF-4', { trackingNumber: 'SF-5', courierId: 'SF', etaMs: T0 + 40 * HOUR, maxGrams: 30_000, ...moved }, ['M'])).toBe('moved');
      expect(await s.openShipment(group, 'SF-5')).toMatchObject({ ...moved, trackingNumber: 'SF-5', masterOrderId: 'M', etaMs: T0 + 40 * HOUR, maxGrams: 30_000 });
      expect((await s.openShipments(group)).map((o) => o.trackingNumber)).toContain('SF-5');
      expect(await s.openShipmentMove(group, 'SF-5', { trackingNumber: 'SF-5', courierId: 'SF', etaMs: T0 + 40 * HOUR, maxGrams: 30_000, pickupAtMs: clock.now() }, ['M'])).toBe('moved');
      expect((await s.openShipments(group)).map((o) => o.trackingNumber)).not.toContain('SF-5');
      expect((await s.openShipmentJoin(group, 'SF-5', { orderId: 'D', grams: 1, placedAtMs: T0, savedCny: 0 })).result).toBe('closed');
    });
  });
}
