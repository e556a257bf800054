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
});
