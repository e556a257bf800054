/**
 * The seeded demo order stream (src/demo/orders.ts): determinism, volumes from the case study,
 * line and quantity shapes, bulk orders, destinations and promises.
 */
import { describe, expect, it } from 'vitest';
import { booleanPointInPolygon } from '@turf/turf';
import { loadNetwork, loadRegions } from '../../src/network/load.js';
import { DAILY_ORDERS, buildCustomers, generateOrders, mulberry32, promiseMs, type DemoOrder } from '../../src/demo/orders.js';

const net = loadNetwork();
const regions = loadRegions();
const EAST_CHINA = new Set(['310000', '320000', '330000', '340000']);
const eastPrefectures = regions.features.filter((f) => f.properties.level === 'prefecture' && EAST_CHINA.has(f.properties.provinceCode));
const skuIds = new Set(net.skus.map((s) => s.sku));

const normal = generateOrders(net, regions, { seed: 1, profile: 'normal', date: '2026-03-17' });
const d11 = generateOrders(net, regions, { seed: 1, profile: 'double11', date: '2026-11-11' });
const isBulk = (o: DemoOrder) => o.lines.some((l) => l.qty > 20);
const localHour = (iso: string) => Number(iso.slice(11, 13));

describe('mulberry32', () => {
  it('is deterministic and uniform enough', () => {
    const a = mulberry32(7);
    const b = mulberry32(7);
    const xs = Array.from({ length: 10_000 }, () => a());
    expect(xs.slice(0, 5)).toEqual(Array.from({ length: 5 }, () => b()));
    for (const x of xs) expect(x >= 0 && x < 1).toBe(true);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.02);
  });
});

describe('generateOrders: determinism', () => {
  it('gives identical output for the same seed and different output for another seed', () => {
    expect(generateOrders(net, regions, { seed: 1, profile: 'normal', date: '2026-03-17' })).toEqual(normal);
    const other = generateOrders(net, regions, { seed: 2, profile: 'normal', date: '2026-03-17' });
    expect(JSON.stringify(other)).not.toEqual(JSON.stringify(normal));
    // The next day of the same seed is another day, not the same orders shifted by 24 h.
    const nextDay = generateOrders(net, regions, { seed: 1, profile: 'normal', date: '2026-03-18' });
    expect(nextDay.map((o) => o.lines)).not.toEqual(normal.map((o) => o.lines));
  });

  it('keeps every customer at one fixed location across seeds and profiles', () => {
    const where = new Map<string, string>();
    for (const o of [...normal, ...d11, ...generateOrders(net, regions, { seed: 99, profile: 'normal', date: '2026-03-18' })]) {
      const loc = `${o.destination.lon},${o.destination.lat}`;
      expect(where.get(o.customerId) ?? loc, o.customerId).toBe(loc);
      where.set(o.customerId, loc);
    }
  });

  it('honours count and rejects bad dates', () => {
    expect(generateOrders(net, regions, { seed: 5, profile: 'double11', date: '2026-11-11', count: 123 })).toHaveLength(123);
    expect(() => generateOrders(net, regions, { seed: 5, profile: 'normal', date: '2026-02-30' })).toThrow(/calendar date/);
    expect(() => generateOrders(net, regions, { seed: 5, profile: 'normal', date: '17/03/2026' })).toThrow(/YYYY-MM-DD/);
  });
});

describe('generateOrders: volume and timing', () => {
  it.each([1, 2, 3, 4, 5])('seed %i: ~800/day normal and ~3,500/day on Double-11 (±15 %)', (seed) => {
    const n = generateOrders(net, regions, { seed, profile: 'normal', date: '2026-03-17' }).length;
    const p = generateOrders(net, regions, { seed, profile: 'double11', date: '2026-11-11' }).length;
    expect(Math.abs(n - DAILY_ORDERS.normal) / DAILY_ORDERS.normal).toBeLessThanOrEqual(0.15);
    expect(Math.abs(p - DAILY_ORDERS.double11) / DAILY_ORDERS.double11).toBeLessThanOrEqual(0.15);
    expect(DAILY_ORDERS).toEqual({ normal: 800, double11: 3500 });
  });

  it('is sorted by placedAt, on the requested local day, with +08:00 offsets', () => {
    for (const [orders, day] of [
      [normal, '2026-03-17'],
      [d11, '2026-11-11'],
    ] as const) {
      for (let i = 1; i < orders.length; i++) expect(Date.parse(orders[i]!.placedAt)).toBeGreaterThanOrEqual(Date.parse(orders[i - 1]!.placedAt));
      for (const o of orders) {
        expect(o.placedAt).toMatch(new RegExp(`^${day}T\\d{2}:\\d{2}:\\d{2}\\+08:00$`));
        expect(o.promisedBy).toMatch(/^\d{4}-\d{2}-\d{2}T18:00:00\+08:00$/);
      }
    }
  });

  it('follows business hours: most orders 08:00-20:00, few at night', () => {
    const inHours = normal.filter((o) => localHour(o.placedAt) >= 8 && localHour(o.placedAt) < 20).length;
    expect(inHours / normal.length).toBeGreaterThan(0.85);
    const night = normal.filter((o) => localHour(o.placedAt) < 6).length;
    expect(night / normal.length).toBeLessThan(0.03);
  });

  it('has unique, deterministic order ids in time order', () => {
    expect(new Set(d11.map((o) => o.orderId)).size).toBe(d11.length);
    expect(d11[0]!.orderId).toBe('D11-20261111-000001');
    expect(normal[41]!.orderId).toBe('ORD-20260317-000042');
    for (const o of d11) expect(o.orderId).toMatch(/^D11-20261111-\d{6}$/);
  });
});

describe('generateOrders: lines', () => {
  it('has 1-10 distinct, known SKUs per order with integer quantities 1-20 (bulk aside)', () => {
    for (const o of [...normal, ...d11]) {
      expect(o.lines.length, o.orderId).toBeGreaterThanOrEqual(1);
      expect(o.lines.length, o.orderId).toBeLessThanOrEqual(10);
      expect(new Set(o.lines.map((l) => l.sku)).size, o.orderId).toBe(o.lines.length);
      for (const l of o.lines) {
        expect(skuIds.has(l.sku), l.sku).toBe(true);
        expect(Number.isInteger(l.qty) && l.qty >= 1, `${o.orderId} ${l.sku}`).toBe(true);
        if (!isBulk(o)) expect(l.qty, o.orderId).toBeLessThanOrEqual(20);
      }
    }
  });

  it('skews to small orders and small quantities', () => {
    const lines = d11.flatMap((o) => o.lines);
    const small = d11.filter((o) => o.lines.length <= 2).length;
    expect(small / d11.length).toBeGreaterThan(0.45);
    expect(lines.filter((l) => l.qty <= 5).length / lines.length).toBeGreaterThan(0.75);
  });

  it('has Zipf-like SKU popularity with BRK-0001 among the top sellers', () => {
    const count = new Map<string, number>();
    for (const o of d11) for (const l of o.lines) count.set(l.sku, (count.get(l.sku) ?? 0) + 1);
    const ranked = [...count.entries()].sort((a, b) => b[1] - a[1]);
    expect(ranked.slice(0, 5).map(([sku]) => sku)).toContain('BRK-0001');
    const total = ranked.reduce((s, [, n]) => s + n, 0);
    const top20 = ranked.slice(0, Math.ceil(net.skus.length * 0.2)).reduce((s, [, n]) => s + n, 0);
    expect(top20 / total).toBeGreaterThan(0.5);
  });

  it('contains key-account bulk orders: ~2 % on Double-11 incl. 200 × BRK-0001, ~1 % normally', () => {
    const bulk = d11.filter(isBulk);
    expect(bulk.length / d11.length).toBeGreaterThan(0.008);
    expect(bulk.length / d11.length).toBeLessThan(0.03);
    expect(bulk.some((o) => o.lines.some((l) => l.sku === 'BRK-0001' && l.qty === 200))).toBe(true);
    expect(bulk.some((o) => o.lines.some((l) => l.sku.startsWith('WIP-') && l.qty >= 100))).toBe(true);
    const customers = new Map(buildCustomers(net, regions).map((c) => [c.id, c]));
    for (const o of bulk) expect(customers.get(o.customerId)?.keyAccount, o.orderId).toBe(true);
    expect(normal.filter(isBulk).length / normal.length).toBeLessThan(0.02);
  });
});

describe('generateOrders: customers, destinations and promises', () => {
  it('orders come from the 63 stores and a few hundred repair shops', () => {
    const customers = buildCustomers(net, regions);
    expect(customers.filter((c) => c.kind === 'store')).toHaveLength(63);
    const workshops = customers.filter((c) => c.kind === 'workshop');
    expect(workshops.length).toBeGreaterThanOrEqual(200);
    expect(workshops.length).toBeLessThanOrEqual(900);
    const ids = new Set(d11.map((o) => o.customerId));
    expect([...ids].some((id) => id.startsWith('ST'))).toBe(true);
    expect([...ids].some((id) => id.startsWith('WS'))).toBe(true);
  });

  it('places workshops by population: Shanghai gets many more than Zhoushan', () => {
    const workshops = buildCustomers(net, regions).filter((c) => c.kind === 'workshop');
    const inRegion = (code: string) => workshops.filter((c) => c.regionCode === code).length;
    expect(inRegion('310000')).toBeGreaterThan(4 * inRegion('330900'));
  });

  it('delivers to points inside East-China prefectures (the customer\u2019s own prefecture)', () => {
    const customers = new Map(buildCustomers(net, regions).map((c) => [c.id, c]));
    const checked = new Set<string>();
    for (const o of d11) {
      if (checked.has(o.customerId)) continue;
      checked.add(o.customerId);
      const p = [o.destination.lon, o.destination.lat];
      const hit = eastPrefectures.find((f) => booleanPointInPolygon(p, f));
      expect(hit, `${o.customerId} at ${p.join(',')}`).toBeDefined();
      expect(hit!.properties.code).toBe(customers.get(o.customerId)!.regionCode);
    }
  });

  it('promises by 18:00 local, 24-72 h tiers rounded up', () => {
    const tiers = new Map<number, number>();
    for (const o of d11) {
      const placed = Date.parse(o.placedAt);
      const promised = Date.parse(o.promisedBy);
      const h = (promised - placed) / 3_600_000;
      // At least the 24 h tier; at most the 72 h tier plus rounding up to the next 18:00.
      expect(h, o.orderId).toBeGreaterThanOrEqual(24);
      expect(h, o.orderId).toBeLessThan(72 + 24);
      const tier = h < 48 ? 24 : h < 72 ? 48 : 72;
      tiers.set(tier, (tiers.get(tier) ?? 0) + 1);
    }
    // Most customers are next-day from a warehouse in their province; some are not.
    expect((tiers.get(24) ?? 0) / d11.length).toBeGreaterThan(0.5);
    expect(tiers.get(48) ?? 0).toBeGreaterThan(0);
  });

  it('promises as the ERP does from the cut-off: next day by 18:00 before it, the day after past it', () => {
    const at = (t: string) => Date.parse(`2026-11-11T${t}:00+08:00`);
    const iso = (ms: number) => new Date(ms + 8 * 3_600_000).toISOString().slice(0, 16);
    expect(iso(promiseMs(at('16:59'), 1, '17:00'))).toBe('2026-11-12T18:00');
    expect(iso(promiseMs(at('17:01'), 1, '17:00'))).toBe('2026-11-13T18:00');
    expect(iso(promiseMs(at('03:00'), 1, '17:00'))).toBe('2026-11-12T18:00');
    expect(iso(promiseMs(at('10:00'), 2, '15:30'))).toBe('2026-11-13T18:00');
  });

  it('gives a Shanghai store next-day 18:00 for a morning order', () => {
    const o = generateOrders(net, regions, { seed: 3, profile: 'normal', date: '2026-03-17' }).find(
      (x) => x.customerId === 'ST01' && localHour(x.placedAt) < 18,
    );
    expect(o).toBeDefined();
    expect(o!.promisedBy).toBe('2026-03-18T18:00:00+08:00');
  });
});
