import { describe, expect, it } from 'vitest';
import { joinableShipments } from '../../src/allocate/open-shipments.js';
import { openGroup } from '../../src/store/keys.js';
import { MemoryStore } from '../../src/store/memory.js';
import type { OpenShipment } from '../../src/store/types.js';

/**
 * Which open shipments of its group an order is offered (src/allocate/open-shipments.ts): one per
 * warehouse and courier, the one with the most room, never one of the order's own (it is the
 * master or already a member: a retry), never one whose master no longer holds its reservation.
 */
describe('the open shipments an order may join', () => {
  const now = Date.UTC(2026, 10, 11, 2);
  const HOUR = 3_600_000;
  const group = openGroup('C1', '310101|人民大道200号');
  const shipment = (trackingNumber: string, master: string, courierId: string, grams: number, members: string[] = [], warehouseId = 'SH01'): OpenShipment => ({
    trackingNumber,
    masterOrderId: master,
    shipment: 0,
    warehouseId,
    courierId,
    provinceCode: '310000',
    shipDay: '2026-11-11',
    pickupAtMs: now + 4 * HOUR,
    etaMs: now + 28 * HOUR,
    grams,
    maxGrams: 30_000,
    members: [master, ...members].map((orderId) => ({ orderId, grams: 1_000, placedAtMs: now, savedCny: 0 })),
  });

  it("leaves out the order's own shipments even when they have the most room, and shipments whose master no longer holds", async () => {
    const store = new MemoryStore([], { clock: () => now });
    const held = (orderId: string, reservation: 'held' | 'released' = 'held') =>
      store.putDecisionIfAbsent({ orderId, requestHash: 'h', decision: {}, reservation, expiresAt: null, cancelled: false, promisedByMs: now + 48 * HOUR });
    for (const m of ['A', 'B', 'C', 'D', 'O']) await held(m);
    await held('E', 'released');
    // STO: B's shipment has the most room but order O already joined it; A's is the next.
    await store.openShipmentPut(group, shipment('STO-A', 'A', 'STO', 20_000), 48 * HOUR);
    await store.openShipmentPut(group, shipment('STO-B', 'B', 'STO', 2_000, ['X', 'O']), 48 * HOUR);
    await store.openShipmentPut(group, shipment('STO-C', 'C', 'STO', 25_000), 48 * HOUR);
    // YTO: O's own shipment, with every gram free.
    await store.openShipmentPut(group, shipment('YTO-O', 'O', 'YTO', 0), 48 * HOUR);
    // ZTO: the only one is E's, whose reservation was released.
    await store.openShipmentPut(group, shipment('ZTO-E', 'E', 'ZTO', 25_000), 48 * HOUR);
    // YUNDA: D's, open to O.
    await store.openShipmentPut(group, shipment('YUNDA-D', 'D', 'YUNDA', 10_000), 48 * HOUR);
    const offered = await joinableShipments(store, { mergeWindowMinutes: 15 }, 'O', { group, placedAtMs: now });
    expect(offered.map((s) => s.trackingNumber)).toEqual(['YUNDA-D', 'STO-A']);
    // Another order of the group is offered B's shipment (the most room of STO) and O's own.
    const forP = await joinableShipments(store, { mergeWindowMinutes: 15 }, 'P', { group, placedAtMs: now });
    expect(forP.map((s) => s.trackingNumber)).toEqual(['YTO-O', 'STO-B', 'YUNDA-D']);
    // Outside the merge window of every shipment's first order: none.
    expect(await joinableShipments(store, { mergeWindowMinutes: 15 }, 'P', { group, placedAtMs: now + HOUR })).toEqual([]);
  });

  it('gives the place of a shipment whose master no longer holds to the next roomiest: of the same warehouse and courier, or of another', async () => {
    const store = new MemoryStore([], { clock: () => now });
    const put = (orderId: string, reservation: 'held' | 'released', cancelled = false) =>
      store.putDecisionIfAbsent({ orderId, requestHash: 'h', decision: {}, reservation, expiresAt: null, cancelled, promisedByMs: now + 48 * HOUR });
    for (const m of ['A', 'B', 'C', 'D']) await put(m, 'held');
    await put('R', 'released');
    await put('X', 'held', true);
    // STO at SH01: R's shipment has the most room of all, but R shipped or let its stock go; A's,
    // the next of the same pair, takes the place.
    await store.openShipmentPut(group, shipment('STO-R', 'R', 'STO', 0), 48 * HOUR);
    await store.openShipmentPut(group, shipment('STO-A', 'A', 'STO', 20_000), 48 * HOUR);
    // YTO at SH01: X's order was cancelled; no other shipment of the pair.
    await store.openShipmentPut(group, shipment('YTO-X', 'X', 'YTO', 1_000), 48 * HOUR);
    // Three more pairs, each held. Offered: the three roomiest pairs by their roomiest shipment that
    // holds (B 25 kg of room, C 15, A 10); D's (8) is the fourth. Chosen before the masters were
    // asked, R's and X's (30 and 29) took two of the three places and left B's alone.
    await store.openShipmentPut(group, shipment('ZTO-B', 'B', 'ZTO', 5_000, [], 'NJ01'), 48 * HOUR);
    await store.openShipmentPut(group, shipment('STO-C', 'C', 'STO', 15_000, [], 'NJ01'), 48 * HOUR);
    await store.openShipmentPut(group, shipment('YUNDA-D', 'D', 'YUNDA', 22_000, [], 'HZ01'), 48 * HOUR);
    const offered = await joinableShipments(store, { mergeWindowMinutes: 15 }, 'O', { group, placedAtMs: now });
    expect(offered.map((s) => s.trackingNumber)).toEqual(['ZTO-B', 'STO-C', 'STO-A']);
  });
});
