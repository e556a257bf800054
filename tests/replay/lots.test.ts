/**
 * Replays with lots (issue 21, item 5): each policy's store holds the shelf-life SKUs' stock in
 * lots dated from the stream's first local day, receipts and replenishment arrive as fresh lots,
 * and the report carries the lot figures of GET /v1/kpi. The write-off figure is checked against a
 * count made here over the store's lots, independently of src/tracking/write-offs.ts.
 */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { generateOrders } from '../../src/demo/orders.js';
import type { AllocateRequest, Decision } from '../../src/domain/schemas.js';
import { StatusMachine } from '../../src/domain/scan-states.js';
import { defaultDataDir, loadStatusMap } from '../../src/network/load.js';
import { receivedLot, replayPolicy, type ReplayOptions } from '../../src/replay/engine.js';
import type { Scenario, ScenarioEvent } from '../../src/replay/scenario.js';
import { loadExactSolver } from '../../src/solve/exact.js';
import { InThreadSolver } from '../../src/solve/pool.js';
import type { StockLevel, Store } from '../../src/store/types.js';
import { network, order, PLACES } from '../support/app.js';

const net = network();
const config = loadConfig({}, { solverThreads: 0 });
const tz = config.timezoneOffsetMinutes;
const DAY = '2026-10-12';
const DAY_MS = 86_400_000;

/** Whether a lot can no longer be sold at `now` (expired, or less shelf life left than the SKU's minimum): counted here from the catalogue. */
function unsellable(l: StockLevel, now: number): boolean {
  const sku = net.skuByCode.get(l.sku)!;
  const ends = Date.parse(`${l.expiresOn!}T00:00:00Z`) - tz * 60_000;
  return ends <= now || ends - (sku.minRemainingShelfLifeDays ?? 0) * DAY_MS < now;
}

async function options(extra: Partial<ReplayOptions> = {}): Promise<ReplayOptions> {
  return { net, config, solver: new InThreadSolver(await loadExactSolver('highs')), machine: new StatusMachine(loadStatusMap(defaultDataDir())), warmUpOrders: 0, ...extra };
}

/** The store's rows at the end of a replay, and the simulated time then. */
interface End {
  rows: StockLevel[];
  at: number;
  mayHaveLots: boolean;
}
const keepEnd = (into: { end?: End }) => async (store: Store, at: number) => {
  into.end = { rows: await store.stock(), at, mayHaveLots: store.mayHaveLots() };
};

describe('a replay with lots', () => {
  // Forty demo orders of an ordinary day (most carry a shelf-life SKU), and before them a
  // receipt of brake fluid into SH01.
  const orders = generateOrders(net.network, net.regionsGeoJson, { seed: 3, profile: 'normal', date: DAY, count: 40 });
  const receipt: ScenarioEvent = { at: `${DAY}T00:00:00+08:00`, type: 'receipt', warehouseId: 'SH01', sku: 'BFL-0001', qty: 7 };
  const events: ScenarioEvent[] = [receipt, ...orders.map((o) => ({ at: o.placedAt, type: 'order' as const, order: o as AllocateRequest }))];

  it('ships near-expiry units and reports the write-offs the store holds at the end; a shelf-life receipt lands as a fresh lot', async () => {
    const seen: { end?: End } = {};
    const decided: Decision[] = [];
    const r = await replayPolicy({ name: 'lots', events }, events, 'nearest', await options({ onEnd: keepEnd(seen), onDecision: (d) => decided.push(d) }));
    const end = seen.end!;

    expect(r.lots.enabled).toBe(true);
    expect(r.lots.seededOn).toBe(DAY);
    expect(r.lots.nearExpiryUnitsShipped).toBeGreaterThan(0);
    // The near-expiry units are the decisions' own lot picks flagged near expiry.
    const near = decided.flatMap((d) => d.shipments.flatMap((s) => s.lines.flatMap((l) => l.lots ?? []))).filter((l) => l.nearExpiry === true);
    expect(r.lots.nearExpiryUnitsShipped).toBe(near.reduce((n, l) => n + l.qty, 0));

    // Write-offs at the end, counted over the store's lots: every lot row's free units that can no
    // longer be sold, at list price, judged at the end of the stream's last local day.
    expect(end.at).toBe(Date.parse('2026-10-13T00:00:00+08:00'));
    const dead = end.rows.filter((l) => l.lot !== undefined && l.free > 0 && unsellable(l, end.at));
    expect(dead.length).toBeGreaterThan(0);
    const units = dead.reduce((n, l) => n + l.free, 0);
    const value = dead.reduce((v, l) => v + l.free * net.skuByCode.get(l.sku)!.priceCny, 0);
    expect(r.lots.writtenOffUnits).toBe(units);
    expect(r.lots.writtenOffValueCny).toBeCloseTo(value, 2);
    // Nothing is held at the end (every parcel has left), so free is on hand.
    expect(end.rows.every((l) => l.reserved === 0)).toBe(true);
    // A written-off lot is never offered, so the end has at least the start's write-offs.
    expect(r.lots.writtenOffUnits).toBeGreaterThanOrEqual(r.lots.writtenOffUnitsAtStart);

    // Every shelf-life SKU's stock is in lots; the receipt is a lot made on its day with the
    // whole shelf life, and its units are on hand or were picked from it.
    const shelfLife = (sku: string) => net.skuByCode.get(sku)!.shelfLifeDays !== null;
    expect(end.rows.filter((l) => shelfLife(l.sku) && l.lot === undefined)).toEqual([]);
    const fresh = receivedLot(DAY, 1095);
    expect(fresh).toEqual({ lot: 'L20261012-R', expiresOn: '2029-10-11' });
    const row = end.rows.find((l) => l.warehouseId === 'SH01' && l.sku === 'BFL-0001' && l.lot === fresh.lot);
    expect(row?.expiresOn).toBe(fresh.expiresOn);
    const picked = decided
      .flatMap((d) => d.shipments.flatMap((s) => s.lines.flatMap((l) => l.lots ?? [])))
      .filter((l) => l.lot === fresh.lot && l.fromWarehouseId === 'SH01')
      .reduce((n, l) => n + l.qty, 0);
    expect(row!.onHand + picked).toBe(7);
  }, 60_000);

  it('overrides.lots false (CLI --no-lots) replays without lots: no lot in the store, every lot figure zero, the receipt on the plain cell', async () => {
    const seen: { end?: End } = {};
    const decided: Decision[] = [];
    const scenario: Scenario = { name: 'no lots', events, overrides: { lots: false } };
    const r = await replayPolicy(scenario, events, 'nearest', await options({ onEnd: keepEnd(seen), onDecision: (d) => decided.push(d) }));
    const end = seen.end!;
    expect(r.lots).toEqual({ enabled: false, seededOn: null, nearExpiryUnitsShipped: 0, writtenOffUnits: 0, writtenOffValueCny: 0, writtenOffUnitsAtStart: 0, writtenOffValueCnyAtStart: 0 });
    expect(end.mayHaveLots).toBe(false);
    expect(end.rows.filter((l) => l.lot !== undefined)).toEqual([]);
    const bundled = net.network.stock.find((s) => s.warehouseId === 'SH01' && s.sku === 'BFL-0001')!.onHand;
    const cell = end.rows.find((l) => l.warehouseId === 'SH01' && l.sku === 'BFL-0001')!;
    // The receipt's 7 units are on the plain cell: with what SH01 shipped of the SKU (policy
    // nearest ships from the warehouse itself, no transfer), the bundled count and the receipt.
    const shipped = decided
      .flatMap((d) => d.shipments.filter((s) => s.warehouseId === 'SH01' && s.transfers.length === 0).flatMap((s) => s.lines))
      .filter((l) => l.sku === 'BFL-0001')
      .reduce((n, l) => n + l.qty, 0);
    expect(cell.onHand + shipped).toBe(bundled + 7);
    expect(r.orders).toBe(orders.length);
  }, 60_000);
});

describe('replenishment with lots', () => {
  it("tops each shelf-life cell up to its bundled level, less what is written off, with a fresh lot of the day", async () => {
    // Day 1: orders in the morning (their parcels leave by day 2's waves); day 2: one late order
    // of a SKU without shelf life, whose event replenishes every cell first.
    const day1 = generateOrders(net.network, net.regionsGeoJson, { seed: 5, profile: 'normal', date: DAY, count: 30 }).map((o, i) => ({ ...o, placedAt: `${DAY}T${String(8 + Math.floor(i / 10)).padStart(2, '0')}:${String((i % 10) * 5).padStart(2, '0')}:00+08:00` }));
    const late = order({ orderId: 'LATE', placedAt: '2026-10-13T23:00:00+08:00', promisedBy: '2026-10-20T18:00:00+08:00', destination: { ...PLACES.hefeiCentre, address: 'Hefei' }, lines: [{ sku: 'BRK-0001', qty: 1 }] });
    const events: ScenarioEvent[] = [...day1, late].map((o) => ({ at: o.placedAt as string, type: 'order' as const, order: o as AllocateRequest }));
    const seen: { end?: End } = {};
    const r = await replayPolicy({ name: 'replenish', events, overrides: { replenishEveryDays: 1 } }, events, 'nearest', await options({ onEnd: keepEnd(seen) }));
    expect(r.orders).toBe(31);
    const end = seen.end!;
    const replenishedAt = Date.parse(late.placedAt as string);
    // Per shelf-life cell: on hand over its lots, less the free units unsellable when it was
    // replenished, is the bundled count (the late order takes none of these SKUs).
    const level = new Map<string, number>();
    for (const l of end.rows) {
      if (net.skuByCode.get(l.sku)!.shelfLifeDays === null) continue;
      expect(l.lot, `${l.warehouseId}/${l.sku} has a lot`).toBeDefined();
      const key = `${l.warehouseId}|${l.sku}`;
      level.set(key, (level.get(key) ?? 0) + l.onHand - (unsellable(l, replenishedAt) ? l.free : 0));
    }
    let checked = 0;
    for (const s of net.network.stock) {
      if (net.skuByCode.get(s.sku)!.shelfLifeDays === null) continue;
      expect(level.get(`${s.warehouseId}|${s.sku}`), `${s.warehouseId}/${s.sku}`).toBe(s.onHand);
      checked++;
    }
    expect(checked).toBeGreaterThan(0);
    // The top-ups are lots made on day 2 with their whole shelf life.
    const fresh = end.rows.filter((l) => l.lot?.endsWith('-R'));
    expect(fresh.length).toBeGreaterThan(0);
    for (const l of fresh) expect(l).toMatchObject(receivedLot('2026-10-13', net.skuByCode.get(l.sku)!.shelfLifeDays!));
  }, 60_000);
});
