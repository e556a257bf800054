/**
 * Builds data/geo/regions.geojson: the region polygons dispatchd uses for region lookup, courier
 * lanes and the offline map.
 *
 *   npx tsx data/scripts/build-geo.ts [sharedDataDir]      (default: ../shared/data from the repo root)
 *
 * Inputs (see data/README.md for provenance and licences):
 *   - <shared>/geo/east_cities.geojson   41 prefecture-level cities of Shanghai, Jiangsu, Zhejiang,
 *                                        Anhui, in GCJ-02 (the Chinese "Mars" datum used by Chinese
 *                                        web maps). Converted to WGS84 with gcoord, because every
 *                                        point in dispatchd (warehouses, stores, orders) is WGS84;
 *                                        mixing the two shifts borders by ~0.5 km.
 *   - <shared>/geo/ne_admin1_china.geojson  Natural Earth admin-1 provinces (WGS84). Used for every
 *                                        province outside the four East-China ones, which the
 *                                        prefectures already cover in finer detail.
 *   - data/demand/prefecture-population.csv  2020 census population and names, joined by adcode.
 *
 * The output is deterministic: the same inputs give a byte-identical file (features sorted by
 * code, fixed property order, coordinates rounded to 5 decimals ≈ 1 m).
 */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import gcoordModule from 'gcoord';
import * as turf from '@turf/turf';
import type { Feature, FeatureCollection, MultiPolygon, Polygon, Position } from 'geojson';
import type { RegionProps } from '../../src/domain/network.js';

// gcoord is CommonJS with an ESM-style .d.ts: under Node ESM the default import is module.exports
// itself (which holds transform, GCJ02, ...), while TypeScript (NodeNext) types it as the module
// namespace. Re-type it to what Node actually hands us.
const gcoord = gcoordModule as unknown as (typeof gcoordModule)['default'];

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const sharedDir = resolve(process.argv[2] ?? join(repoRoot, '..', 'shared', 'data'));
const outFile = join(repoRoot, 'data', 'geo', 'regions.geojson');
const populationCsv = join(repoRoot, 'data', 'demand', 'prefecture-population.csv');

/**
 * Douglas-Peucker tolerance in degrees (0.002° ≈ 200 m). Large enough to bring the file from
 * ~2 MB to ~0.75 MB, well under the 1.2 MB budget, small enough that county-scale borders, the Yangtze
 * estuary and Hangzhou Bay stay recognisable on the dispatcher map.
 */
const PREFECTURE_TOLERANCE_DEG = 0.002;
/** Provinces outside East China are only lane destinations and map context: coarser is fine. */
const PROVINCE_TOLERANCE_DEG = 0.004;
/**
 * Island parts smaller than this are dropped. Zhoushan, Ningbo, Taizhou and Wenzhou carry
 * hundreds of rocks of a few hectares each; nobody orders brake pads there, and after
 * simplification they would be slivers of 4 points anyway. The largest part of every region is
 * always kept.
 */
const MIN_PART_KM2 = 1;

/**
 * Natural Earth admin-1 name -> GB/T 2260 province code. The four East-China provinces map to
 * null: their prefectures from east_cities.geojson replace them. "Paracel Islands" (a separate
 * NE unit of a few km² of reef, administratively part of Hainan) is left out: no parcel lane goes
 * there and it would be dropped by MIN_PART_KM2 anyway.
 */
const NE_PROVINCES: Record<string, { code: string; name: string } | null> = {
  Beijing: { code: '110000', name: 'Beijing' },
  Tianjin: { code: '120000', name: 'Tianjin' },
  Hebei: { code: '130000', name: 'Hebei' },
  Shanxi: { code: '140000', name: 'Shanxi' },
  'Inner Mongol': { code: '150000', name: 'Inner Mongolia' },
  Liaoning: { code: '210000', name: 'Liaoning' },
  Jilin: { code: '220000', name: 'Jilin' },
  Heilongjiang: { code: '230000', name: 'Heilongjiang' },
  Shanghai: null,
  Jiangsu: null,
  Zhejiang: null,
  Anhui: null,
  Fujian: { code: '350000', name: 'Fujian' },
  Jiangxi: { code: '360000', name: 'Jiangxi' },
  Shandong: { code: '370000', name: 'Shandong' },
  Henan: { code: '410000', name: 'Henan' },
  Hubei: { code: '420000', name: 'Hubei' },
  Hunan: { code: '430000', name: 'Hunan' },
  Guangdong: { code: '440000', name: 'Guangdong' },
  Guangxi: { code: '450000', name: 'Guangxi' },
  Hainan: { code: '460000', name: 'Hainan' },
  'Paracel Islands': null,
  Chongqing: { code: '500000', name: 'Chongqing' },
  Sichuan: { code: '510000', name: 'Sichuan' },
  Guizhou: { code: '520000', name: 'Guizhou' },
  Yunnan: { code: '530000', name: 'Yunnan' },
  Xizang: { code: '540000', name: 'Xizang' },
  Shaanxi: { code: '610000', name: 'Shaanxi' },
  Gansu: { code: '620000', name: 'Gansu' },
  Qinghai: { code: '630000', name: 'Qinghai' },
  Ningxia: { code: '640000', name: 'Ningxia' },
  Xinjiang: { code: '650000', name: 'Xinjiang' },
};

interface PopulationRow {
  code: string;
  name: string;
  nameZh: string;
  population2020: number;
}

function readPopulation(file: string): Map<string, PopulationRow> {
  const lines = readFileSync(file, 'utf8').split(/\r?\n/).filter((l) => l.trim() !== '');
  const header = lines.shift();
  if (header !== 'code,name,nameZh,population2020') {
    throw new Error(`${file}: unexpected header "${header}"`);
  }
  const rows = new Map<string, PopulationRow>();
  lines.forEach((line, i) => {
    const [code, name, nameZh, pop] = line.split(',');
    const population2020 = Number(pop);
    if (!code || !/^\d{6}$/.test(code) || !name || !nameZh || !Number.isInteger(population2020) || population2020 <= 0) {
      throw new Error(`${file}: row ${i + 2} is malformed: "${line}"`);
    }
    if (rows.has(code)) throw new Error(`${file}: row ${i + 2}: duplicate code ${code}`);
    rows.set(code, { code, name, nameZh, population2020 });
  });
  return rows;
}

const round5 = (x: number): number => Math.round(x * 1e5) / 1e5;

/** Rounds a ring, removes the repeated points rounding creates, and closes it; null if degenerate. */
function cleanRing(ring: Position[]): Position[] | null {
  const out: Position[] = [];
  for (const p of ring) {
    const q: Position = [round5(p[0]!), round5(p[1]!)];
    const last = out[out.length - 1];
    if (!last || last[0] !== q[0] || last[1] !== q[1]) out.push(q);
  }
  const first = out[0];
  const last = out[out.length - 1];
  if (first && last && (first[0] !== last[0] || first[1] !== last[1])) out.push([first[0]!, first[1]!]);
  // A closed ring needs 4 positions, i.e. 3 distinct corners.
  return out.length >= 4 ? out : null;
}

/** Splits any (Multi)Polygon into its parts, dropping parts whose outer ring is degenerate. */
function partsOf(geom: Polygon | MultiPolygon): Position[][][] {
  const parts = geom.type === 'Polygon' ? [geom.coordinates] : geom.coordinates;
  return parts.filter((p) => p[0] !== undefined && p[0].length >= 4);
}

/**
 * Drops tiny islands, simplifies, rounds and rewinds one region's geometry. Returns a Polygon
 * when one part survives, else a MultiPolygon with parts sorted by descending area (the stable
 * order keeps the output byte-identical across runs).
 */
function tidy(geom: Polygon | MultiPolygon, toleranceDeg: number, label: string): Polygon | MultiPolygon {
  const withArea = partsOf(geom).map((rings) => ({ rings, km2: turf.area(turf.polygon(rings)) / 1e6 }));
  withArea.sort((a, b) => b.km2 - a.km2);
  const kept = withArea.filter((p, i) => i === 0 || p.km2 >= MIN_PART_KM2);
  const parts: Position[][][] = [];
  for (const { rings } of kept) {
    const simplified = turf.simplify(turf.polygon(rings), { tolerance: toleranceDeg, highQuality: false, mutate: false });
    const [outer, ...holes] = simplified.geometry.coordinates.map(cleanRing);
    // An outer ring that collapsed drops the whole part; a collapsed hole just disappears.
    if (!outer) continue;
    parts.push([outer, ...holes.filter((h): h is Position[] => h !== null)]);
  }
  if (parts.length === 0) throw new Error(`${label}: every part collapsed during simplification`);
  const out: Polygon | MultiPolygon =
    parts.length === 1 ? { type: 'Polygon', coordinates: parts[0]! } : { type: 'MultiPolygon', coordinates: parts };
  // RFC 7946: outer rings counter-clockwise, holes clockwise.
  return turf.rewind(out, { mutate: true }) as Polygon | MultiPolygon;
}

function main(): void {
  const population = readPopulation(populationCsv);
  const east = JSON.parse(readFileSync(join(sharedDir, 'geo', 'east_cities.geojson'), 'utf8')) as FeatureCollection<
    Polygon | MultiPolygon,
    { adcode: string; name: string }
  >;
  const ne = JSON.parse(readFileSync(join(sharedDir, 'geo', 'ne_admin1_china.geojson'), 'utf8')) as FeatureCollection<
    Polygon | MultiPolygon,
    { iso: string; name: string; name_zh: string }
  >;

  // GCJ-02 -> WGS84 for every vertex of the prefecture layer.
  const eastWgs = gcoord.transform(east as never, gcoord.GCJ02, gcoord.WGS84) as unknown as typeof east;

  const prefectures: Feature<Polygon | MultiPolygon, RegionProps>[] = [];
  const seen = new Set<string>();
  for (const f of eastWgs.features) {
    const code = String(f.properties.adcode);
    const pop = population.get(code);
    if (!pop) throw new Error(`east_cities.geojson: adcode ${code} (${f.properties.name}) has no row in ${populationCsv}`);
    if (seen.has(code)) throw new Error(`east_cities.geojson: duplicate adcode ${code}`);
    seen.add(code);
    prefectures.push({
      type: 'Feature',
      properties: {
        code,
        name: pop.name,
        nameZh: pop.nameZh,
        provinceCode: `${code.slice(0, 2)}0000`,
        level: 'prefecture',
        population: pop.population2020,
      },
      geometry: tidy(f.geometry, PREFECTURE_TOLERANCE_DEG, code),
    });
  }
  for (const code of population.keys()) {
    if (!seen.has(code)) throw new Error(`${populationCsv}: code ${code} has no polygon in east_cities.geojson`);
  }
  if (prefectures.length !== 41) throw new Error(`expected 41 East-China prefectures, got ${prefectures.length}`);

  const provinces: Feature<Polygon | MultiPolygon, RegionProps>[] = [];
  for (const f of ne.features) {
    const name = f.properties.name;
    if (!(name in NE_PROVINCES)) throw new Error(`ne_admin1_china.geojson: no province code for "${name}"; add it to NE_PROVINCES`);
    const entry = NE_PROVINCES[name];
    if (!entry) continue;
    provinces.push({
      type: 'Feature',
      properties: {
        code: entry.code,
        name: entry.name,
        nameZh: f.properties.name_zh,
        provinceCode: entry.code,
        level: 'province',
        population: null,
      },
      geometry: tidy(f.geometry, PROVINCE_TOLERANCE_DEG, entry.code),
    });
  }

  const features = [...prefectures, ...provinces].sort((a, b) => a.properties.code.localeCompare(b.properties.code));
  // One feature per line: small diffs when a number changes, still valid JSON.
  const body = features
    .map((f) =>
      JSON.stringify({
        type: 'Feature',
        properties: {
          code: f.properties.code,
          name: f.properties.name,
          nameZh: f.properties.nameZh,
          provinceCode: f.properties.provinceCode,
          level: f.properties.level,
          population: f.properties.population,
        },
        geometry: { type: f.geometry.type, coordinates: f.geometry.coordinates },
      }),
    )
    .join(',\n');
  const text = `{"type":"FeatureCollection","features":[\n${body}\n]}\n`;
  mkdirSync(dirname(outFile), { recursive: true });
  writeFileSync(outFile, text);
  console.log(
    `wrote ${outFile}: ${prefectures.length} prefectures + ${provinces.length} provinces, ${(text.length / 1024).toFixed(0)} KiB`,
  );
}

main();
