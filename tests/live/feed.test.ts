import { describe, expect, it } from 'vitest';
import type { AllocateRequest } from '../../src/domain/schemas.js';
import { startDemoFeed } from '../../src/demo/feed.js';
import { MemoryStore } from '../../src/store/memory.js';
import { network } from '../support/app.js';

/** The demo feed: seeded orders re-timed to now, unique ids, the pace it is given, replenishment. */
describe('demo feed', () => {
  it('sends re-timed orders with unique ids at about the given rate, and stops cleanly', async () => {
    const net = network();
    const store = new MemoryStore(net.network.stock);
    const got: AllocateRequest[] = [];
    const feed = startDemoFeed(
      { net, store, allocator: { allocate: async (o: AllocateRequest) => (got.push(o), {}) as never } },
      { rate: 50, replenishEveryMs: 0 },
    );
    await new Promise((r) => setTimeout(r, 1_000));
    await feed.stop();
    const n = got.length;
    await new Promise((r) => setTimeout(r, 200));
    expect(got.length).toBe(n); // stopped
    // ~50 in a second; wide bounds for a loaded machine.
    expect(n).toBeGreaterThan(10);
    expect(n).toBeLessThanOrEqual(60);
    expect(new Set(got.map((o) => o.orderId)).size).toBe(n);
    expect(got.every((o) => /^DEMO-[0-9A-Z]+-\d{6}$/.test(o.orderId))).toBe(true);
    const now = Date.now();
    for (const o of got) {
      const placed = Date.parse(o.placedAt!);
      const promised = Date.parse(o.promisedBy);
      expect(Math.abs(now - placed)).toBeLessThan(10_000);
      expect(promised - placed).toBeGreaterThanOrEqual(12 * 3_600_000);
      expect(o.promisedBy).toMatch(/T18:00:00\+08:00$/);
    }
    expect(feed.stats.sent).toBe(n);
    expect(feed.stats.decided).toBe(n);
  });

  it('replenishes rows whose free stock fell below a fifth of their starting on-hand', async () => {
    const net = network();
    const store = new MemoryStore(net.network.stock);
    const row = (await store.stock()).find((r) => r.onHand >= 10)!;
    const feed = startDemoFeed({ net, store, allocator: { allocate: async () => ({}) as never } }, { rate: 0.001, replenishEveryMs: 100 });
    await new Promise((r) => setTimeout(r, 150)); // the first pass records the baseline
    await store.adjustOnHand(row.warehouseId, row.sku, -row.onHand);
    for (let t0 = Date.now(); Date.now() - t0 < 10_000; ) {
      const [now] = await store.stock({ warehouseId: row.warehouseId, sku: row.sku });
      if (now!.onHand === row.onHand) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    await feed.stop();
    const [after] = await store.stock({ warehouseId: row.warehouseId, sku: row.sku });
    expect(after!.onHand).toBe(row.onHand);
    expect(feed.stats.replenished).toBeGreaterThan(0);
  });
});
