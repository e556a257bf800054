import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/store/memory.js';
import { lotCell, openGroup } from '../../src/store/keys.js';
import { storeCases } from './store.cases.js';

storeCases('memory', async (rows, clock, retention) => new MemoryStore(rows, { clock, ...retention }));

describe('memory store retention of open shipments', () => {
  it("drops a group's open shipments at their time even when the customer never orders again", async () => {
    let now = Date.UTC(2026, 10, 11, 1);
    const s = new MemoryStore([], { clock: () => now });
    const HOUR = 3_600_000;
    const groups = Array.from({ length: 50 }, (_, i) => openGroup(`C${i}`, `310101|addr ${i}`));
    for (const g of groups) {
      await s.openShipmentPut(g, { trackingNumber: 'STO-1', masterOrderId: 'M', shipment: 0, warehouseId: 'SH01', courierId: 'STO', provinceCode: '310000', shipDay: '2026-11-11', pickupAtMs: now + 2 * HOUR, etaMs: now + 26 * HOUR, grams: 1_000, maxGrams: 10_000, members: [{ orderId: 'M', grams: 1_000, placedAtMs: now, savedCny: 0 }] }, 48 * HOUR);
    }
    const kept = () => (s as unknown as { open: Map<string, unknown> }).open.size;
    expect(kept()).toBe(50);
    now += 49 * HOUR;
    // Any later store call applies what is due; none of these groups is asked for again.
    await s.stock();
    expect(kept()).toBe(0);
  });

  it("keeps a group as long as its last put asks, with one queue entry per group, and drops it then", async () => {
    let now = Date.UTC(2026, 10, 11, 1);
    const s = new MemoryStore([], { clock: () => now });
    const HOUR = 3_600_000;
    const g = openGroup('C1', '310101|addr 1');
    const put = (tn: string) => s.openShipmentPut(g, { trackingNumber: tn, masterOrderId: tn, shipment: 0, warehouseId: 'SH01', courierId: 'STO', provinceCode: '310000', shipDay: '2026-11-11', pickupAtMs: now + 100 * HOUR, etaMs: now + 124 * HOUR, grams: 1_000, maxGrams: 10_000, members: [{ orderId: tn, grams: 1_000, placedAtMs: now, savedCny: 0 }] }, 48 * HOUR);
    const queued = () => (s as unknown as { drops: { length: number } }).drops.length;
    const before = queued();
    for (let k = 0; k < 30; k++) {
      await put(`STO-${k}`);
      now += HOUR;
    }
    expect(queued()).toBe(before + 1);
    // 30 hours on, the last put asked for 48 hours more: the first put's time (48 h) passes, the group stays.
    now += 20 * HOUR;
    await s.stock();
    expect((await s.openShipment(g, 'STO-0'))?.trackingNumber).toBe('STO-0');
    expect(queued()).toBe(before + 1);
    now += 28 * HOUR;
    expect(await s.openShipment(g, 'STO-29')).toBeNull();
    await s.stock();
    expect((s as unknown as { open: Map<string, unknown> }).open.size).toBe(0);
    // A new group under the same key starts afresh; the old group's entry is long gone.
    await put('STO-new');
    expect((await s.openShipment(g, 'STO-new'))?.trackingNumber).toBe('STO-new');
    now += 49 * HOUR;
    await s.stock();
    expect((s as unknown as { open: Map<string, unknown> }).open.size).toBe(0);
  });
});

describe('memory store: lots that are used up', () => {
  it('leave the list freeLots reads once they are most of it, and come back with a receipt or a count, in expiry order', async () => {
    const s = new MemoryStore([], { clock: () => Date.UTC(2026, 10, 11, 1) });
    const sku = 'BFL-0001';
    // A hundred daily receipts at one warehouse, ten at another; all but the last ten shipped.
    const day = (k: number) => new Date(Date.UTC(2027, 0, 1) + k * 86_400_000).toISOString().slice(0, 10);
    const lot = (k: number) => `L${String(k).padStart(3, '0')}`;
    for (let k = 0; k < 100; k++) {
      await s.defineLot('SH01', sku, lot(k), day(k));
      expect((await s.adjustOnHand('SH01', lotCell(sku, lot(k)), 2)).ok).toBe(true);
    }
    for (let k = 0; k < 10; k++) {
      await s.defineLot('HF01', sku, lot(k), day(k));
      expect((await s.adjustOnHand('HF01', lotCell(sku, lot(k)), 1)).ok).toBe(true);
    }
    for (let k = 0; k < 90; k++) expect((await s.adjustOnHand('SH01', lotCell(sku, lot(k)), -2)).ok).toBe(true);
    const listed = async () => (await s.freeLots([sku])).map((l) => `${l.warehouseId}/${l.lot}`);
    const kept = () => (s as unknown as { lotsBySku: Map<string, unknown[]> }).lotsBySku.get(sku)!.length;
    const expected = [...Array.from({ length: 10 }, (_, k) => `HF01/${lot(k)}`), ...Array.from({ length: 10 }, (_, k) => `SH01/${lot(90 + k)}`)];
    expect(kept()).toBe(110);
    expect(await listed()).toEqual(expected);
    expect(kept()).toBe(20);
    expect(await listed()).toEqual(expected);
    // A used-up lot counted again, and one received again: back in the list, each in its place.
    expect((await s.setOnHand([{ warehouseId: 'SH01', sku: lotCell(sku, lot(5)), onHand: 4 }])).ok).toBe(true);
    expect(await s.defineLot('SH01', sku, lot(40), '2030-01-01')).toBe(day(40));
    expect((await s.adjustOnHand('SH01', lotCell(sku, lot(40)), 3)).ok).toBe(true);
    expect(await listed()).toEqual([...expected.slice(0, 10), `SH01/${lot(5)}`, `SH01/${lot(40)}`, ...expected.slice(10)]);
    expect((await s.freeLots([sku])).find((l) => l.lot === lot(40))).toMatchObject({ free: 3, expiresOn: day(40) });
    // The stock listing still names every lot with its expiry.
    expect((await s.stock({ warehouseId: 'SH01', sku })).length).toBe(100);
  });
});

describe('memory store: the lot records freeLots answers', () => {
  it('are frozen, and the same record while a lot keeps its free units; a new one once they change', async () => {
    const s = new MemoryStore([], { clock: () => Date.UTC(2026, 10, 11, 1) });
    const sku = 'BFL-0001';
    for (const lot of ['L1', 'L2']) {
      await s.defineLot('SH01', sku, lot, '2027-03-01');
      expect((await s.adjustOnHand('SH01', lotCell(sku, lot), 5)).ok).toBe(true);
    }
    const [a1, b1] = await s.freeLots([sku]);
    expect(Object.isFrozen(a1)).toBe(true);
    expect(() => {
      (a1 as { free: number }).free = 99;
    }).toThrow(TypeError);
    expect((await s.adjustOnHand('SH01', lotCell(sku, 'L2'), -2)).ok).toBe(true);
    const [a2, b2] = await s.freeLots([sku]);
    expect(a2).toBe(a1);
    expect(b2).not.toBe(b1);
    expect([b1!.free, b2!.free]).toEqual([5, 3]);
    // A reservation changes what is free too.
    const r = await s.reserve({ id: 'O1', items: [{ warehouseId: 'SH01', sku: lotCell(sku, 'L1'), qty: 1 }], counters: [], ttlMs: 60_000 });
    expect(r.ok).toBe(true);
    const [a3] = await s.freeLots([sku]);
    expect(a3).not.toBe(a1);
    expect(a3!.free).toBe(4);
  });
});
