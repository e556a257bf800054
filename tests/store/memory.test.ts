import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/store/memory.js';
import { openGroup } from '../../src/store/keys.js';
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
