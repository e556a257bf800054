/**
 * The bundled network in data/: shape, counts the case study fixes, geographic consistency,
 * courier coverage, stock story, and the loader's validation.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { booleanPointInPolygon, distance } from '@turf/turf';
import type { Courier, LaneRate } from '../../src/domain/network.js';
import { DATA_FILES, NetworkDataError, defaultDataDir, loadNetwork, loadRegions } from '../../src/network/load.js';

const dataDir = defaultDataDir();
const net = loadNetwork(dataDir);
const regions = loadRegions(dataDir);
const regionByCode = new Map(regions.features.map((f) => [f.properties.code, f]));
const EAST_CHINA = ['310000', '320000', '330000', '340000'];

/** The lane-matching rule documented on LaneRate: exact/exact > exact/* > * /exact > * /*. */
function matchRate(courier: Courier, from: string, to: string): LaneRate | undefined {
  const order: [string, string][] = [
    [from, to],
    [from, '*'],
    ['*', to],
    ['*', '*'],
  ];
  for (const [f, t] of order) {
    const r = courier.rates.find((x) => x.from === f && x.to === t);
    if (r) return r;
  }
  return undefined;
}

function provinceOf(regionCode: string): string {
  const f = regionByCode.get(regionCode);
  if (!f) throw new Error(`unknown region ${regionCode}`);
  return f.properties.provinceCode;
}

/** Road km estimate of the design (great-circle × 1.3, or the corridor's factor). */
function roadKm(a: { lon: number; lat: number; regionCode: string }, b: { lon: number; lat: number; regionCode: string }): number {
  const c = net.corridors.find((x) => (x.a === a.regionCode && x.b === b.regionCode) || (x.a === b.regionCode && x.b === a.regionCode));
  return distance([a.lon, a.lat], [b.lon, b.lat], { units: 'kilometers' }) * (c?.detourFactor ?? 1.3);
}

describe('data directory', () => {
  it('defaultDataDir is the data/ directory beside package.json', () => {
    expect(dataDir.replaceAll('\\', '/')).toMatch(/\/data$/);
    expect(statSync(join(dataDir, '..', 'package.json')).isFile()).toBe(true);
  });

  it('keeps regions.geojson within the 1.2 MB budget', () => {
    expect(statSync(join(dataDir, DATA_FILES.regions)).size).toBeLessThanOrEqual(1.2 * 1024 * 1024);
  });
});

describe('regions', () => {
  const prefectures = regions.features.filter((f) => f.properties.level === 'prefecture');
  const provinces = regions.features.filter((f) => f.properties.level === 'province');

  it('has the 41 East-China prefectures and the other provinces, with unique codes', () => {
    expect(prefectures).toHaveLength(41);
    expect(new Set(prefectures.map((f) => f.properties.provinceCode))).toEqual(new Set(EAST_CHINA));
    // 31 mainland provinces minus the four East-China ones.
    expect(provinces).toHaveLength(27);
    for (const p of provinces) expect(EAST_CHINA).not.toContain(p.properties.code);
    expect(new Set(regions.features.map((f) => f.properties.code)).size).toBe(regions.features.length);
  });

  it('carries 2020 census populations that add up to the published provincial totals', () => {
    const sum = new Map<string, number>();
    for (const f of prefectures) {
      expect(f.properties.population, f.properties.code).toBeGreaterThan(0);
      sum.set(f.properties.provinceCode, (sum.get(f.properties.provinceCode) ?? 0) + (f.properties.population ?? 0));
    }
    // Seventh National Population Census, provincial bulletins (2021).
    expect(Object.fromEntries(sum)).toEqual({ '310000': 24_870_895, '320000': 84_748_016, '330000': 64_567_588, '340000': 61_027_171 });
    expect(regionByCode.get('320500')?.properties.population).toBe(12_748_262);
    for (const p of provinces) expect(p.properties.population).toBeNull();
  });

  it('is in WGS84: the Bund (WGS84 121.4903, 31.2397) is in Shanghai, Beijing Tiananmen in Beijing', () => {
    expect(booleanPointInPolygon([121.4903, 31.2397], regionByCode.get('310000')!)).toBe(true);
    expect(booleanPointInPolygon([116.3975, 39.9087], regionByCode.get('110000')!)).toBe(true);
  });
});

describe('warehouses', () => {
  const regional = net.warehouses.filter((w) => w.kind === 'regional');
  const national = net.warehouses.filter((w) => w.kind === 'national');

  it('are the 17 regional East-China warehouses plus one national one in North China', () => {
    expect(regional).toHaveLength(17);
    expect(national).toHaveLength(1);
    for (const w of regional) expect(EAST_CHINA).toContain(provinceOf(w.regionCode));
    expect(['110000', '120000', '130000']).toContain(provinceOf(national[0]!.regionCode));
  });

  it('have the radii the case names: Shanghai 150 km, Hefei 200 km', () => {
    const byId = new Map(net.warehouses.map((w) => [w.id, w]));
    expect(byId.get('SH01')?.radiusKm).toBe(150);
    expect(byId.get('SH01')?.city).toBe('Shanghai');
    expect(byId.get('HF01')?.radiusKm).toBe(200);
    expect(byId.get('HF01')?.city).toBe('Hefei');
  });

  it('have operating numbers in the documented ranges', () => {
    for (const w of regional) {
      expect(w.dailyOutboundParcels, w.id).toBeGreaterThanOrEqual(200);
      expect(w.dailyOutboundParcels, w.id).toBeLessThanOrEqual(800);
    }
    expect(national[0]!.dailyOutboundParcels).toBe(3000);
    for (const w of net.warehouses) {
      expect(w.processingHours, w.id).toBeGreaterThanOrEqual(2);
      expect(w.processingHours, w.id).toBeLessThanOrEqual(6);
      expect(w.cutoffLocal >= '15:00' && w.cutoffLocal <= '18:00', `${w.id} cutoff ${w.cutoffLocal}`).toBe(true);
      // Released by the cut-off, a parcel is packed in time for the day's last collection wave.
      const last = w.pickupWavesLocal![w.pickupWavesLocal!.length - 1]!;
      const minutes = (t: string) => Number(t.slice(0, 2)) * 60 + Number(t.slice(3));
      expect(minutes(w.cutoffLocal) + w.processingHours * 60, w.id).toBeLessThanOrEqual(minutes(last));
      expect(last >= '20:00' && last <= '21:00', `${w.id} evening wave ${last}`).toBe(true);
    }
    // Regional outbound capacity must carry the Double-11 peak (~3,500 orders ≈ 4,000 parcels).
    expect(regional.reduce((s, w) => s + w.dailyOutboundParcels, 0)).toBeGreaterThanOrEqual(4000);
  });

  it('each lie inside exactly the prefecture/province polygon named by regionCode', () => {
    for (const w of net.warehouses) {
      const hits = regions.features.filter((f) => booleanPointInPolygon([w.lon, w.lat], f)).map((f) => f.properties.code);
      expect(hits, w.id).toEqual([w.regionCode]);
    }
  });

  it('cover every East-China prefecture: each store is within some regional warehouse radius', () => {
    for (const s of net.stores) {
      const covered = regional.some((w) => roadKm(s, w) <= w.radiusKm);
      expect(covered, `${s.id} ${s.name}`).toBe(true);
    }
  });
});

describe('stores', () => {
  it('are 63, in East China, spread over all 41 prefectures', () => {
    expect(net.stores).toHaveLength(63);
    expect(new Set(net.stores.map((s) => s.regionCode)).size).toBe(41);
    for (const s of net.stores) expect(EAST_CHINA).toContain(provinceOf(s.regionCode));
  });

  it('each lie inside exactly the polygon named by regionCode', () => {
    for (const s of net.stores) {
      const hits = regions.features.filter((f) => booleanPointInPolygon([s.lon, s.lat], f)).map((f) => f.properties.code);
      expect(hits, `${s.id} ${s.name}`).toEqual([s.regionCode]);
    }
  });

  it('follow population: Shanghai has the most stores', () => {
    const count = (code: string) => net.stores.filter((s) => s.regionCode === code).length;
    expect(count('310000')).toBeGreaterThan(Math.max(count('320500'), count('330100'), count('340100')));
  });
});

describe('catalogue', () => {
  it('has at least 200 SKUs incl. BRK-0001, RECY- core-return items and shelf-life items', () => {
    expect(net.skus.length).toBeGreaterThanOrEqual(200);
    const brk = net.skus.find((s) => s.sku === 'BRK-0001');
    expect(brk?.unitWeightKg).toBeCloseTo(1.2, 1);
    expect(brk?.category).toBe('brake-pad');
    const recy = net.skus.filter((s) => s.sku.startsWith('RECY-'));
    expect(new Set(recy.map((s) => s.category))).toEqual(new Set(['battery', 'alternator', 'starter', 'brake-caliper']));
    const shelf = net.skus.filter((s) => s.shelfLifeDays !== null);
    expect(new Set(shelf.map((s) => s.category))).toEqual(
      new Set(['coolant', 'brake-fluid', 'engine-oil', 'wiper', 'belt', 'battery']),
    );
    for (const s of shelf) expect(s.shelfLifeDays!).toBeGreaterThanOrEqual(730);
  });

  it('has gross margins of 15-40 % of price and plausible weights', () => {
    for (const s of net.skus) {
      const share = s.grossMarginCny / s.priceCny;
      expect(share, s.sku).toBeGreaterThanOrEqual(0.15);
      expect(share, s.sku).toBeLessThanOrEqual(0.4);
      expect(s.unitWeightKg, s.sku).toBeGreaterThan(0.01);
      expect(s.unitWeightKg, s.sku).toBeLessThan(30);
    }
  });
});

describe('stock', () => {
  const skuIds = new Set(net.skus.map((s) => s.sku));
  const whIds = new Set(net.warehouses.map((w) => w.id));
  const national = net.warehouses.find((w) => w.kind === 'national')!;
  const qty = (wh: string, sku: string) => net.stock.find((r) => r.warehouseId === wh && r.sku === sku)?.onHand ?? 0;

  it('references only known warehouses and SKUs, and stocks every SKU somewhere', () => {
    for (const r of net.stock) {
      expect(whIds.has(r.warehouseId), r.warehouseId).toBe(true);
      expect(skuIds.has(r.sku), r.sku).toBe(true);
    }
    expect(new Set(net.stock.filter((r) => r.onHand > 0).map((r) => r.sku))).toEqual(skuIds);
  });

  it('gives the national warehouse the largest quantity of every SKU', () => {
    for (const sku of skuIds) {
      const rows = net.stock.filter((r) => r.sku === sku);
      const nat = rows.find((r) => r.warehouseId === national.id)?.onHand ?? 0;
      const maxRegional = Math.max(0, ...rows.filter((r) => r.warehouseId !== national.id).map((r) => r.onHand));
      expect(nat, sku).toBeGreaterThan(maxRegional);
    }
  });

  it('holds plenty of BRK-0001 in SH01 (a 200-set lock needs 1.2 × 200 free)', () => {
    expect(qty('SH01', 'BRK-0001')).toBeGreaterThanOrEqual(500);
  });

  it('stocks fast movers everywhere and keeps some SKUs scarce', () => {
    const holders = new Map<string, number>();
    for (const r of net.stock) if (r.onHand > 0) holders.set(r.sku, (holders.get(r.sku) ?? 0) + 1);
    expect(holders.get('BRK-0001')).toBe(18);
    // Scarce: held in at most two warehouses (the national one included), a handful of units in all.
    const total = new Map<string, number>();
    for (const r of net.stock) total.set(r.sku, (total.get(r.sku) ?? 0) + r.onHand);
    const scarce = [...holders].filter(([sku, n]) => n <= 2 && (total.get(sku) ?? 0) <= 20).map(([sku]) => sku);
    expect(scarce.length).toBeGreaterThanOrEqual(5);
  });
});

describe('couriers', () => {
  it('are STO, ZTO, YUNDA (economy) and SF (express)', () => {
    expect(net.couriers.map((c) => `${c.id}:${c.kind}`).sort()).toEqual(['SF:express', 'STO:economy', 'YUNDA:economy', 'ZTO:economy']);
  });

  it('price every warehouse to every region, for every courier', () => {
    const provinces = new Set(regions.features.map((f) => f.properties.provinceCode));
    for (const c of net.couriers) {
      for (const w of net.warehouses) {
        for (const p of provinces) expect(matchRate(c, provinceOf(w.regionCode), p), `${c.id} ${w.id} -> ${p}`).toBeDefined();
      }
    }
  });

  it('have rates in the documented 2026 bands, and most specific lanes are not dearer than the fallback', () => {
    for (const c of net.couriers) {
      const [bLo, bHi, kLo, kHi, tLo, tHi] = c.kind === 'economy' ? [5, 14, 1, 3.5, 24, 72] : [12, 27, 2, 7, 12, 36];
      for (const r of c.rates) {
        const lane = `${c.id} ${r.from}->${r.to}`;
        expect(r.baseCny, lane).toBeGreaterThanOrEqual(bLo);
        expect(r.baseCny, lane).toBeLessThanOrEqual(bHi);
        expect(r.perKgCny, lane).toBeGreaterThanOrEqual(kLo);
        expect(r.perKgCny, lane).toBeLessThanOrEqual(kHi);
        expect(r.transitHours, lane).toBeGreaterThanOrEqual(tLo);
        expect(r.transitHours, lane).toBeLessThanOrEqual(tHi);
        // Sold in days: the days are the nominal hours' days, the window ends by 18:00.
        expect(r.transitDays, lane).toBe(Math.ceil(r.transitHours / 24));
        expect(r.deliverByLocal! <= '18:00', lane).toBe(true);
      }
      const fallback = matchRate(c, '*', '*')!;
      const intra = matchRate(c, '320000', '320000')!;
      expect(intra.baseCny).toBeLessThan(fallback.baseCny);
      expect(intra.transitHours).toBeLessThanOrEqual(fallback.transitHours);
    }
  });

  it('make the North-China warehouse dearer and slower to a Yangtze-delta customer than SH01', () => {
    for (const c of net.couriers) {
      const fromTj = matchRate(c, '120000', '310000')!;
      const fromSh = matchRate(c, '310000', '310000')!;
      expect(fromTj.baseCny + 9 * fromTj.perKgCny).toBeGreaterThan(fromSh.baseCny + 9 * fromSh.perKgCny);
      expect(fromTj.transitHours).toBeGreaterThan(fromSh.transitHours);
    }
  });

  it('have capacities and parcel limits in the documented ranges', () => {
    for (const c of net.couriers) {
      if (c.kind === 'economy') {
        expect(c.maxParcelKg).toBeGreaterThanOrEqual(30);
        expect(c.maxParcelKg).toBeLessThanOrEqual(50);
        expect(c.dailyParcelsPerRegion).toBeGreaterThanOrEqual(1500);
        expect(c.dailyParcelsPerRegion).toBeLessThanOrEqual(3000);
      } else {
        expect(c.dailyParcelsPerRegion).toBe(800);
      }
    }
    // STO is the courier that runs out in the case: the tightest economy capacity.
    const sto = net.couriers.find((c) => c.id === 'STO')!;
    for (const c of net.couriers.filter((x) => x.kind === 'economy')) expect(sto.dailyParcelsPerRegion!).toBeLessThanOrEqual(c.dailyParcelsPerRegion!);
  });
});

describe('line haul and corridors', () => {
  const byId = new Map(net.warehouses.map((w) => [w.id, w]));
  const national = net.warehouses.find((w) => w.kind === 'national')!;

  it('connects the national warehouse to every regional one', () => {
    for (const w of net.warehouses.filter((x) => x.kind === 'regional')) {
      expect(net.lineHauls.some((l) => l.from === national.id && l.to === w.id), w.id).toBe(true);
    }
  });

  it('connects regional warehouses within 450 road km in both directions, with consistent km, price and hours', () => {
    const regional = net.warehouses.filter((x) => x.kind === 'regional');
    for (const a of regional) {
      for (const b of regional) {
        if (a === b) continue;
        const lane = net.lineHauls.find((l) => l.from === a.id && l.to === b.id);
        expect(lane !== undefined, `${a.id}->${b.id}`).toBe(roadKm(a, b) <= 450);
      }
    }
    for (const l of net.lineHauls) {
      const a = byId.get(l.from)!;
      const b = byId.get(l.to)!;
      expect(Math.abs(l.km - roadKm(a, b)), `${l.from}->${l.to}`).toBeLessThanOrEqual(1);
      expect(l.perKgCny).toBeGreaterThanOrEqual(0.15);
      expect(l.perKgCny).toBeLessThanOrEqual(0.6);
      // Driving time at 60 km/h plus a departure wave of 6-12 h.
      expect(l.hours).toBeGreaterThanOrEqual(l.km / 60 + 5.5);
      expect(l.hours).toBeLessThanOrEqual(l.km / 60 + 12.5);
    }
  });

  it('line haul is cheaper per kg than the cheapest parcel rate on the same lane', () => {
    for (const l of net.lineHauls) {
      const from = provinceOf(byId.get(l.from)!.regionCode);
      const to = provinceOf(byId.get(l.to)!.regionCode);
      const cheapestPerKg = Math.min(...net.couriers.map((c) => matchRate(c, from, to)!.perKgCny));
      expect(l.perKgCny, `${l.from}->${l.to}`).toBeLessThan(cheapestPerKg);
    }
  });

  it('has corridors between known regions, each with a reason', () => {
    expect(net.corridors.length).toBeGreaterThanOrEqual(5);
    for (const c of net.corridors) {
      expect(regionByCode.has(c.a) && regionByCode.has(c.b), `${c.a}-${c.b}`).toBe(true);
      expect(c.note.length).toBeGreaterThan(20);
    }
    const bay = net.corridors.find((c) => [c.a, c.b].sort().join() === ['310000', '330200'].join());
    expect(bay?.note).toMatch(/Hangzhou Bay/);
  });
});

describe('loadNetwork validation', () => {
  const tmpDirs: string[] = [];
  afterAll(() => {
    for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });
  });
  /** A copy of data/ with one file rewritten. */
  function corrupted(file: string, edit: (text: string) => string): string {
    const dir = mkdtempSync(join(tmpdir(), 'dispatchd-data-'));
    tmpDirs.push(dir);
    cpSync(dataDir, dir, { recursive: true });
    writeFileSync(join(dir, file), edit(readFileSync(join(dir, file), 'utf8')));
    return dir;
  }
  function errorOf(dir: string): NetworkDataError {
    try {
      loadNetwork(dir);
    } catch (err) {
      expect(err).toBeInstanceOf(NetworkDataError);
      return err as NetworkDataError;
    }
    throw new Error('loadNetwork accepted corrupted data');
  }

  it('names file, row and field for an out-of-range number', () => {
    const dir = corrupted(DATA_FILES.warehouses, (t) => t.replace('"radiusKm":150', '"radiusKm":-150'));
    expect(errorOf(dir).message).toContain('network/warehouses.json row 1 (id "SH01"): radiusKm must be');
  });

  it('rejects duplicate ids', () => {
    const dir = corrupted(DATA_FILES.stores, (t) => t.replace('"id":"ST02"', '"id":"ST01"'));
    expect(errorOf(dir).message).toMatch(/network\/stores\.json row 2: duplicate id "ST01"/);
  });

  it('rejects stock rows that reference unknown SKUs or have bad quantities', () => {
    const dir = corrupted(DATA_FILES.stock, (t) => `${t}SH01,NOPE-0001,5\nSH01,BRK-0002,-3\n`);
    const msg = errorOf(dir).message;
    expect(msg).toMatch(/network\/stock\.csv line \d+: unknown sku "NOPE-0001"/);
    expect(msg).toMatch(/network\/stock\.csv line \d+: onHand must be a non-negative integer, got "-3"/);
  });

  it('rejects a warehouse that lies outside its region', () => {
    // Move SH01 onto Hangzhou while it still claims Shanghai.
    const dir = corrupted(DATA_FILES.warehouses, (t) => t.replace('"lon":121.18,"lat":31.22', '"lon":120.16,"lat":30.27'));
    expect(errorOf(dir).message).toContain('row 1 (id "SH01"): (120.16, 30.27) lies outside region 310000');
  });

  it('rejects courier lanes to unknown provinces and line hauls to unknown warehouses', () => {
    const dir1 = corrupted(DATA_FILES.couriers, (t) => t.replace('"to": "340000"', '"to": "990000"'));
    expect(errorOf(dir1).message).toMatch(/couriers\/couriers\.json courier "STO" rate \d+: to "990000" is not a province code/);
    const dir2 = corrupted(DATA_FILES.lineHauls, (t) => t.replace('"to":"SZ01"', '"to":"XX99"'));
    expect(errorOf(dir2).message).toMatch(/network\/linehaul\.json row \d+: unknown warehouse "XX99" in to/);
  });

  it('reports unparsable JSON with the file name', () => {
    const dir = corrupted(DATA_FILES.skus, (t) => t.slice(0, -10));
    expect(errorOf(dir).message).toContain('catalogue/skus.json: not valid JSON');
  });
});
