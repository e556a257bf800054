import { describe, expect, it } from 'vitest';
import { greatCircleKm, RoadDistance, withinRadius } from '../../src/geo/distance.js';
import { RegionIndex } from '../../src/geo/regions.js';
import { network } from '../support/app.js';

describe('road distance', () => {
  it('matches the great-circle distances measured for the shared data', () => {
    // ../shared/data/README.md: Shanghai–Hangzhou 164.9 km, Shanghai–Beijing 1,067 km (city centres).
    expect(greatCircleKm({ lon: 121.4737, lat: 31.2304 }, { lon: 120.1551, lat: 30.2741 })).toBeCloseTo(164.9, 0);
    expect(greatCircleKm({ lon: 121.4737, lat: 31.2304 }, { lon: 116.4074, lat: 39.9042 })).toBeGreaterThan(1_060);
  });

  it('applies the default detour factor and per-corridor overrides in both directions', () => {
    const road = new RoadDistance(1.3, [{ a: '310000', b: '330200', detourFactor: 1.4, note: 'bay' }]);
    const a = { lon: 121.2, lat: 31.2 };
    const b = { lon: 121.5, lat: 29.8 };
    const gc = greatCircleKm(a, b);
    expect(road.roadKm(a, '310000', b, '330200')).toBeCloseTo(gc * 1.4, 9);
    expect(road.roadKm(b, '330200', a, '310000')).toBeCloseTo(gc * 1.4, 9);
    expect(road.roadKm(a, '310000', b, '330100')).toBeCloseTo(gc * 1.3, 9);
  });

  it('tests the service radius inclusively', () => {
    expect(withinRadius(150, 150)).toBe(true);
    expect(withinRadius(150.01, 150)).toBe(false);
  });
});

describe('region lookup', () => {
  const regions = network().regions;

  it('finds prefectures in East China and provinces elsewhere', () => {
    expect(regions.lookup(121.4737, 31.2304)?.code).toBe('310000');
    expect(regions.lookup(120.5853, 31.2989)).toMatchObject({ code: '320500', provinceCode: '320000', level: 'prefecture' });
    expect(regions.lookup(117.2272, 31.8206)?.code).toBe('340100');
    expect(regions.lookup(120.6994, 27.9943)?.code).toBe('330300');
    expect(regions.lookup(116.4074, 39.9042)).toMatchObject({ code: '110000', level: 'province' });
  });

  it('snaps a point just off a simplified shoreline to the nearest region, within 5 km only', async () => {
    const { booleanPointInPolygon, point } = await import('@turf/turf');
    const offshore = point([121.95, 31.1]); // 2.8 km off Pudong's coast in the bundled map
    expect(network().regionsGeoJson.features.some((f) => booleanPointInPolygon(offshore, f))).toBe(false);
    expect(regions.lookup(121.95, 31.1)?.code).toBe('310000');
    expect(regions.lookup(121.99, 31.1)).toBeNull(); // 5.8 km off: at sea
  });

  it('has no region at sea or abroad', () => {
    expect(regions.lookup(125.5, 29.0)).toBeNull();
    expect(regions.lookup(139.69, 35.69)).toBeNull(); // Tokyo
  });

  it('answers a point it has seen as it did the first time, at sea included, also past its memo bound', () => {
    const fresh = new RegionIndex(network().regionsGeoJson);
    const points: [number, number][] = [
      [121.4737, 31.2304],
      [120.5853, 31.2989],
      [125.5, 29.0],
      [121.95, 31.1],
    ];
    const first = points.map(([lon, lat]) => fresh.lookup(lon, lat)?.code ?? null);
    expect(first).toEqual(['310000', '320500', null, '310000']);
    expect(points.map(([lon, lat]) => fresh.lookup(lon, lat)?.code ?? null)).toEqual(first);
    // 10,001 more distinct points (at sea, cheap) overflow the memo; answers stay the same.
    for (let i = 0; i <= 10_000; i++) expect(fresh.lookup(125 + i * 1e-5, 29)).toBeNull();
    expect(points.map(([lon, lat]) => fresh.lookup(lon, lat)?.code ?? null)).toEqual(first);
  });

  it('puts every warehouse in its own region', () => {
    for (const w of network().warehouses) expect(regions.lookup(w.lon, w.lat)?.code, w.id).toBe(w.regionCode);
  });
});
