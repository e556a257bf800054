import { describe, expect, it } from 'vitest';
import type { Problem } from '../../solver/types.js';
import { solveExact } from '../../solver/exact/index.js';
import { buildCandidates } from '../../src/allocate/candidates.js';
import { offerLots, sameLots } from '../../src/allocate/stages/lots.js';
import { loadConfig } from '../../src/config.js';
import { generateOrders } from '../../src/demo/orders.js';
import { DAY_MS } from '../../src/domain/time.js';
import { utcDayMs } from '../../src/domain/time.js';
import type { LotFree, OpenShipment } from '../../src/store/types.js';
import { mulberry32 } from '../../src/util/prng.js';
import { network } from '../support/app.js';

// The lots stage leaves out a warehouse's arc from its fresher lots when its near-expiry lots alone
// hold every unit of the SKU the order asks for (src/allocate/stages/lots.ts pushStockArcs). Here
// the arcs left out are put back, as the stage built them before, and both problems are solved
// exactly: the optimum must not move.

const net = network();
const cfg = loadConfig({}, { nearExpiryWindowDays: 60 });
const shelf = new Set(net.network.skus.filter((s) => s.shelfLifeDays !== null).map((s) => s.sku));
const day = '2026-11-11';
const stream = generateOrders(net.network, net.regionsGeoJson, { seed: 21, profile: 'double11', date: day }).filter((o) => o.lines.some((l) => shelf.has(l.sku)));

/** A lot as the stores list it (with its expiry day's UTC midnight). */
const lf = (l: Omit<LotFree, 'expiresOnUtcMs'>): LotFree => ({ ...l, expiresOnUtcMs: utcDayMs(l.expiresOn) });

/** Three lots per warehouse and shelf-life SKU, a few units each, one of them near its last sellable day. */
function lots(seed: number): LotFree[] {
  const r = mulberry32(seed);
  const out: LotFree[] = [];
  const at = (days: number) => new Date(Date.parse(`${day}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);
  for (const w of net.network.warehouses) {
    for (const sku of shelf) {
      const min = net.skuByCode.get(sku)!.minRemainingShelfLifeDays ?? 0;
      if (r() < 0.3) continue;
      out.push(lf({ warehouseId: w.id, sku, lot: 'OLD', expiresOn: at(min + 5 + Math.floor(r() * 40)), free: Math.floor(r() * 12) }));
      out.push(lf({ warehouseId: w.id, sku, lot: 'MID', expiresOn: at(min + 120 + Math.floor(r() * 60)), free: Math.floor(r() * 12) }));
      out.push(lf({ warehouseId: w.id, sku, lot: 'NEW', expiresOn: at(min + 400), free: Math.floor(r() * 30) }));
    }
  }
  return out;
}

/** The problem with every near-expiry arc that has no fresher twin given one again, as the stage built it before. */
function withFresherTwins(p: Problem, nearOnly: { arc: number; restQty: number }[], credit: number): Problem {
  const q: Problem = { ...p, pools: p.pools.map((x) => ({ ...x })), arcs: p.arcs.map((a) => ({ ...a })) };
  const restPool = new Map<string, number>();
  for (const { arc, restQty } of nearOnly) {
    const a = p.arcs[arc]!;
    const id = p.pools[a.pool]!.id.replace('/near-expiry', '');
    let pool = restPool.get(id);
    if (pool === undefined) restPool.set(id, (pool = q.pools.push({ id, qty: restQty }) - 1));
    q.arcs.push({ ...a, pool, unitCost: a.unitCost + credit });
  }
  return q;
}

describe('lots stage: near-expiry lots that cover the order', () => {
  it('leave out the fresher arc, and the exact optimum stays the same (generated orders and lots)', () => {
    let checked = 0;
    let pruned = 0;
    let split = 0;
    stream.slice(0, 160).forEach((o, k) => {
      const now = Date.parse(o.placedAt);
      const promisedByMs = Date.parse(o.promisedBy);
      const region = net.regions.lookup(o.destination.lon, o.destination.lat)!;
      const skus = new Set(o.lines.map((l) => l.sku).filter((s) => shelf.has(s)));
      const offer = offerLots(lots(k + 1), skus, { nowMs: now, cutoffMs: promisedByMs, timezoneOffsetMinutes: cfg.timezoneOffsetMinutes, nearWindowDays: cfg.nearExpiryWindowDays, minDays: (sku) => net.skuByCode.get(sku)!.minRemainingShelfLifeDays ?? 0 });
      // Other SKUs from the bundled counts; shelf-life SKUs only from their lots.
      const free = new Map<string, Map<string, number>>();
      for (const r of net.network.stock) if (!shelf.has(r.sku)) (free.get(r.warehouseId) ?? free.set(r.warehouseId, new Map()).get(r.warehouseId)!).set(r.sku, r.onHand);
      const order = { orderId: o.orderId, customerId: o.customerId, promisedByMs, destination: o.destination, lines: o.lines, allowSplit: true };
      const cands = buildCandidates(net, cfg, order, region, free, new Map(), now, undefined, offer);
      const p = cands.problem;
      const nearOnly: { arc: number; restQty: number }[] = [];
      p.arcs.forEach((a, i) => {
        const info = cands.arcInfo[i]!;
        if (info.nearExpiry !== true) return;
        const twin = p.arcs.some((b, j) => j !== i && b.site === a.site && b.line === a.line && b.transfer === a.transfer && cands.arcInfo[j]!.fromWarehouseId === info.fromWarehouseId && cands.arcInfo[j]!.nearExpiry !== true);
        if (twin) {
          split++;
          return;
        }
        const cell = offer.cells.get(info.fromWarehouseId)!.get(info.sku)!;
        if (cell.total > cell.near) nearOnly.push({ arc: i, restQty: cell.total - cell.near });
      });
      if (nearOnly.length === 0) return;
      pruned += nearOnly.length;
      const a = solveExact(p, { timeoutMs: 30_000 });
      const b = solveExact(withFresherTwins(p, nearOnly, cfg.nearExpiryCreditCny), { timeoutMs: 30_000 });
      expect(a.optimal && b.optimal, o.orderId).toBe(true);
      expect(a.plan.objective, o.orderId).toBeCloseTo(b.plan.objective, 6);
      checked++;
    });
    // Both branches of the stage ran: arcs left out, and cells split where the near lots fall short.
    expect(checked).toBeGreaterThan(30);
    expect(pruned).toBeGreaterThan(checked);
    expect(split).toBeGreaterThan(10);
  });

  it("an open shipment's join site draws on its warehouse's pools as the warehouse's own site does (no unit counted twice)", () => {
    const sku = 'BFL-0001';
    const min = net.skuByCode.get(sku)!.minRemainingShelfLifeDays!;
    const now = Date.parse(`${day}T10:00:00+08:00`);
    const expires = (days: number) => new Date(now + (min + days) * DAY_MS).toISOString().slice(0, 10);
    const region = net.regions.lookup(121.47, 31.23)!;
    const wave = (d: number) => Date.parse(`${day}T20:00:00+08:00`) + d * DAY_MS;
    const open: OpenShipment = { trackingNumber: 'SF000000000001', masterOrderId: 'M1', shipment: 0, warehouseId: 'SH01', courierId: net.couriers[0]!.id, provinceCode: region.provinceCode, shipDay: day, pickupAtMs: wave(0), etaMs: wave(1), grams: 1_000, maxGrams: 30_000, members: [{ orderId: 'M1', grams: 1_000, placedAtMs: now - 60_000, savedCny: 0 }] };
    for (const [near, qty, pools] of [
      [9, 4, ['SH01/BFL-0001/near-expiry']],
      [2, 4, ['SH01/BFL-0001/near-expiry', 'SH01/BFL-0001']],
    ] as const) {
      const list: LotFree[] = [
        lf({ warehouseId: 'SH01', sku, lot: 'OLD', expiresOn: expires(5), free: near }),
        lf({ warehouseId: 'SH01', sku, lot: 'NEW', expiresOn: expires(300), free: 20 }),
      ];
      const offer = offerLots(list, new Set([sku]), { nowMs: now, cutoffMs: now + 2 * DAY_MS, timezoneOffsetMinutes: cfg.timezoneOffsetMinutes, nearWindowDays: 30, minDays: () => min });
      const order = { orderId: 'C1', customerId: 'C', promisedByMs: now + 2 * DAY_MS, destination: { lon: 121.47, lat: 31.23 }, lines: [{ sku, qty }], allowSplit: true };
      const cands = buildCandidates(net, cfg, order, region, new Map(), new Map(), now, undefined, offer, [open]);
      const p = cands.problem;
      const join = p.sites.findIndex((x) => x.id === 'SH01+SF000000000001');
      const own = p.sites.findIndex((x) => x.id === 'SH01');
      expect(join).toBeGreaterThan(own);
      const poolsOf = (site: number) => p.arcs.filter((a) => a.site === site && !a.transfer).map((a) => p.pools[a.pool]!.id);
      expect(poolsOf(own)).toEqual(pools);
      expect(poolsOf(join)).toEqual(pools);
      // One pool per part of the cell: the near-expiry units and the rest, never the whole cell beside its near part.
      expect(p.pools.filter((x) => x.id.startsWith('SH01/BFL-0001')).map((x) => [x.id, x.qty])).toEqual(pools.map((id) => [id, id.endsWith('near-expiry') ? near : 20]));
      // The fresher units carry the credit on the join's arc as on the warehouse's own.
      const cost = (site: number) => p.arcs.filter((a) => a.site === site).map((a) => a.unitCost - p.arcs.find((b) => b.site === site)!.unitCost);
      expect(cost(join)).toEqual(cost(own));
    }
  });

  it('an offer judged at a later cutoff is the same offer unless a lot stops being sellable in between', () => {
    const sku = 'BFL-0001';
    const min = net.skuByCode.get(sku)!.minRemainingShelfLifeDays!;
    const now = Date.parse(`${day}T10:00:00+08:00`);
    const expires = (days: number) => new Date(now + (min + days) * DAY_MS).toISOString().slice(0, 10);
    const base: LotFree[] = [
      lf({ warehouseId: 'SH01', sku, lot: 'A', expiresOn: expires(10), free: 4 }),
      lf({ warehouseId: 'SH01', sku, lot: 'B', expiresOn: expires(200), free: 6 }),
    ];
    const at = (cutoffMs: number, list: LotFree[]) => offerLots(list, new Set([sku]), { nowMs: now, cutoffMs, timezoneOffsetMinutes: cfg.timezoneOffsetMinutes, nearWindowDays: 30, minDays: () => min });
    expect(sameLots(at(now + DAY_MS, base), at(now + 3 * DAY_MS, base))).toBe(true);
    // Lot A's last sellable day passes between the two cutoffs.
    expect(sameLots(at(now + DAY_MS, base), at(now + 12 * DAY_MS, base))).toBe(false);
    // Each cell picks earliest expiry first, whatever order the lots came in (or freshest first on request).
    const reversed = [base[1]!, base[0]!];
    expect(at(now + DAY_MS, reversed).cells.get('SH01')!.get(sku)!.lots.map((l) => l.lot)).toEqual(['A', 'B']);
    const latest = offerLots(base, new Set([sku]), { nowMs: now, cutoffMs: now + DAY_MS, timezoneOffsetMinutes: cfg.timezoneOffsetMinutes, nearWindowDays: 30, minDays: () => min, latestFirst: true });
    expect(latest.cells.get('SH01')!.get(sku)!.lots.map((l) => l.lot)).toEqual(['B', 'A']);
    // A cell's lots interleaved with another warehouse's still make one cell each, with their totals.
    const mixed = at(now + DAY_MS, [base[1]!, lf({ warehouseId: 'HF01', sku, lot: 'X', expiresOn: expires(50), free: 3 }), base[0]!, lf({ warehouseId: 'SH01', sku: 'NOT-OFFERED', lot: 'Y', expiresOn: expires(5), free: 9 })]);
    expect([...mixed.cells.keys()].sort()).toEqual(['HF01', 'SH01']);
    expect(mixed.cells.get('SH01')!.get(sku)).toMatchObject({ total: 10, near: 4, lots: [{ lot: 'A' }, { lot: 'B' }], nearFlags: [true, false] });
    expect(mixed.cells.get('HF01')!.get(sku)).toMatchObject({ total: 3, near: 0 });
    // Other free units are another offer.
    expect(sameLots(at(now + DAY_MS, base), at(now + DAY_MS, [base[0]!, { ...base[1]!, free: 5 }]))).toBe(false);
  });
});
