/**
 * Loads and validates the bundled network in data/ (see data/README.md for every file's
 * provenance and units). Startup-only, so synchronous fs.
 *
 * Validation happens here, at the edge, once: every row is checked (ids unique, numbers finite and
 * in range, references resolve, points inside their region) and all problems are reported
 * together, each naming its file and row, in one NetworkDataError. Code behind this function may
 * then assume well-formed data.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, parse as parsePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import { booleanPointInPolygon } from '@turf/turf';
import type { Feature, FeatureCollection, MultiPolygon, Polygon } from 'geojson';
import type { StatusMap } from '../domain/scan-states.js';
import type {
  Corridor,
  Courier,
  LaneRate,
  LineHaul,
  Network,
  RegionProps,
  Sku,
  StockRow,
  Store,
  Warehouse,
} from '../domain/network.js';

export type Regions = FeatureCollection<Polygon | MultiPolygon, RegionProps>;

/** Paths of the bundled files, relative to the data directory. */
export const DATA_FILES = {
  warehouses: 'network/warehouses.json',
  stores: 'network/stores.json',
  stock: 'network/stock.csv',
  lineHauls: 'network/linehaul.json',
  skus: 'catalogue/skus.json',
  couriers: 'couriers/couriers.json',
  corridors: 'geo/corridors.json',
  regions: 'geo/regions.geojson',
} as const;

/** Thrown when a bundled data file is missing, unparsable or inconsistent. */
export class NetworkDataError extends Error {
  constructor(
    readonly dataDir: string,
    readonly issues: readonly string[],
  ) {
    const shown = issues.slice(0, 50);
    const more = issues.length > shown.length ? `\n  … and ${issues.length - shown.length} more` : '';
    super(`invalid network data in ${dataDir} (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n  ${shown.join('\n  ')}${more}`);
    this.name = 'NetworkDataError';
  }
}

/**
 * data/ of the installed package: the first ancestor of this module that holds package.json.
 * Works from src/network/load.ts under tsx and from dist/src/network/load.js alike.
 */
export function defaultDataDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'data');
    const parent = dirname(dir);
    if (parent === dir || dir === parsePath(dir).root) {
      throw new Error(`defaultDataDir: no package.json above ${fileURLToPath(import.meta.url)}`);
    }
    dir = parent;
  }
}

// ---------------------------------------------------------------------------------------------
// Row checking

type Obj = Record<string, unknown>;

/** Collects problems for one data directory; each check names the file and the row. */
class Issues {
  readonly list: string[] = [];
  add(file: string, where: string, msg: string): void {
    this.list.push(`${file}${where ? ` ${where}` : ''}: ${msg}`);
  }
}

const show = (v: unknown): string => (typeof v === 'string' ? `"${v}"` : v === undefined ? 'nothing' : JSON.stringify(v));

/** Field accessors for one row that record a problem and return a fallback when a check fails. */
class Row {
  constructor(
    private readonly issues: Issues,
    private readonly file: string,
    private readonly where: string,
    readonly obj: Obj,
  ) {}
  fail(msg: string): void {
    this.issues.add(this.file, this.where, msg);
  }
  str(field: string, pattern?: RegExp): string {
    const v = this.obj[field];
    if (typeof v !== 'string' || v.trim() === '') {
      this.fail(`${field} must be a non-empty string, got ${show(v)}`);
      return '';
    }
    if (pattern && !pattern.test(v)) {
      this.fail(`${field} ${show(v)} does not match ${pattern}`);
      return v;
    }
    return v;
  }
  num(field: string, min: number, max: number, opts: { integer?: boolean; minExclusive?: boolean } = {}): number {
    const v = this.obj[field];
    const kind = opts.integer ? 'an integer' : 'a finite number';
    const range = `${opts.minExclusive ? '(' : '['}${min}, ${max}]`;
    const ok =
      typeof v === 'number' &&
      Number.isFinite(v) &&
      (!opts.integer || Number.isInteger(v)) &&
      (opts.minExclusive ? v > min : v >= min) &&
      v <= max;
    if (!ok) {
      this.fail(`${field} must be ${kind} in ${range}, got ${show(v)}`);
      return NaN;
    }
    return v;
  }
  oneOf<T extends string>(field: string, values: readonly T[]): T {
    const v = this.obj[field];
    if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) {
      this.fail(`${field} must be one of ${values.map((x) => `"${x}"`).join(', ')}, got ${show(v)}`);
      return values[0]!;
    }
    return v as T;
  }
}

function readText(dataDir: string, file: string, issues: Issues): string | null {
  const path = join(dataDir, file);
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    issues.add(file, '', `cannot read ${path}: ${(err as Error).message}`);
    return null;
  }
}

function readJson(dataDir: string, file: string, issues: Issues): unknown {
  const text = readText(dataDir, file, issues);
  if (text === null) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    issues.add(file, '', `not valid JSON: ${(err as Error).message}`);
    return null;
  }
}

/** The rows of a JSON array file, each wrapped for checking ("row N" is 1-based). */
function jsonRows(dataDir: string, file: string, issues: Issues, idField?: string): Row[] {
  const data = readJson(dataDir, file, issues);
  if (data === null) return [];
  if (!Array.isArray(data)) {
    issues.add(file, '', 'must be a JSON array');
    return [];
  }
  return data.map((item: unknown, i) => {
    const id = idField && item && typeof item === 'object' ? (item as Obj)[idField] : undefined;
    const where = `row ${i + 1}${typeof id === 'string' ? ` (${idField} ${show(id)})` : ''}`;
    if (!item || typeof item !== 'object' || Array.isArray(item)) {
      issues.add(file, where, 'must be a JSON object');
      return new Row(issues, file, where, {});
    }
    return new Row(issues, file, where, item as Obj);
  });
}

function checkUnique(issues: Issues, file: string, what: string, keys: readonly string[]): void {
  const seen = new Map<string, number>();
  keys.forEach((k, i) => {
    if (k === '') return;
    const first = seen.get(k);
    if (first !== undefined) issues.add(file, `row ${i + 1}`, `duplicate ${what} ${show(k)} (first in row ${first + 1})`);
    else seen.set(k, i);
  });
}

const ID = /^[A-Z0-9]+$/;
const SKU_ID = /^[A-Z0-9]+(-[A-Z0-9]+)+$/;
const REGION_CODE = /^\d{6}$/;
const HHMM = /^([01]\d|2[0-3]):[0-5]\d$/;

// ---------------------------------------------------------------------------------------------
// Regions

function checkRegions(dataDir: string, issues: Issues): Regions | null {
  const file = DATA_FILES.regions;
  const data = readJson(dataDir, file, issues) as Obj | null;
  if (data === null) return null;
  if (data.type !== 'FeatureCollection' || !Array.isArray(data.features)) {
    issues.add(file, '', 'must be a GeoJSON FeatureCollection');
    return null;
  }
  const before = issues.list.length;
  const codes: string[] = [];
  (data.features as unknown[]).forEach((f, i) => {
    const feature = (f ?? {}) as Obj;
    const props = (feature.properties ?? {}) as Obj;
    const row = new Row(issues, file, `feature ${i + 1}${typeof props.code === 'string' ? ` (code ${show(props.code)})` : ''}`, props);
    const geometry = (feature.geometry ?? {}) as Obj;
    if (feature.type !== 'Feature') row.fail('type must be "Feature"');
    if ((geometry.type !== 'Polygon' && geometry.type !== 'MultiPolygon') || !Array.isArray(geometry.coordinates)) {
      row.fail(`geometry must be a Polygon or MultiPolygon, got ${show(geometry.type)}`);
    }
    codes.push(row.str('code', REGION_CODE));
    row.str('name');
    row.str('nameZh');
    const province = row.str('provinceCode', /^\d{2}0000$/);
    const level = row.oneOf('level', ['prefecture', 'province'] as const);
    const code = codes[codes.length - 1]!;
    if (province && code && province.slice(0, 2) !== code.slice(0, 2)) row.fail(`provinceCode ${province} is not the province of ${code}`);
    if (props.population !== null) row.num('population', 1, 2e9, { integer: true });
    if (level === 'province' && code && code !== province) row.fail('a province-level region must have code === provinceCode');
  });
  checkUnique(issues, file, 'region code', codes);
  return issues.list.length === before ? (data as unknown as Regions) : null;
}

// ---------------------------------------------------------------------------------------------
// Network

function checkWarehouses(dataDir: string, issues: Issues): Warehouse[] {
  const file = DATA_FILES.warehouses;
  const rows = jsonRows(dataDir, file, issues, 'id');
  const out = rows.map<Warehouse>((r) => ({
    id: r.str('id', ID),
    name: r.str('name'),
    city: r.str('city'),
    cityZh: r.str('cityZh'),
    province: r.str('province'),
    regionCode: r.str('regionCode', REGION_CODE),
    lon: r.num('lon', -180, 180),
    lat: r.num('lat', -90, 90),
    radiusKm: r.num('radiusKm', 0, 3000, { minExclusive: true }),
    processingHours: r.num('processingHours', 0, 72, { minExclusive: true }),
    cutoffLocal: r.str('cutoffLocal', HHMM),
    dailyOutboundParcels: r.num('dailyOutboundParcels', 0, 1_000_000, { integer: true }),
    ...optionalWaves(r),
    kind: r.oneOf('kind', ['regional', 'national'] as const),
  }));
  if (rows.length === 0 && issues.list.length === 0) issues.add(file, '', 'holds no warehouse');
  checkUnique(issues, file, 'id', out.map((w) => w.id));
  return out;
}

/** A courier's optional delay shares: 1-8 non-negative shares of parcels 0, 1, … days late, summing to 1. */
function daysLate(r: Row): { daysLateShares?: number[] } {
  const v = r.obj.daysLateShares;
  if (v === undefined) return {};
  if (!Array.isArray(v) || v.length === 0 || v.length > 8 || v.some((x) => typeof x !== 'number' || !Number.isFinite(x) || x < 0)) {
    r.fail('daysLateShares must be 1-8 non-negative numbers (shares of parcels 0, 1, … days late)');
    return {};
  }
  const sum = (v as number[]).reduce((a, b) => a + b, 0);
  if (Math.abs(sum - 1) > 1e-9) r.fail(`daysLateShares must sum to 1, got ${sum}`);
  return { daysLateShares: [...(v as number[])] };
}

/** A warehouse's optional collection waves: a non-empty list of distinct local "HH:MM" times. */
function optionalWaves(r: Row): { pickupWavesLocal?: string[] } {
  const v = r.obj.pickupWavesLocal;
  if (v === undefined) return {};
  if (!Array.isArray(v) || v.length === 0 || v.some((t) => typeof t !== 'string' || !HHMM.test(t))) {
    r.fail('pickupWavesLocal must be a non-empty array of local "HH:MM" times');
    return {};
  }
  if (new Set(v).size !== v.length) r.fail('pickupWavesLocal lists a wave twice');
  return { pickupWavesLocal: [...(v as string[])].sort() };
}

function checkStores(dataDir: string, issues: Issues): Store[] {
  const file = DATA_FILES.stores;
  const out = jsonRows(dataDir, file, issues, 'id').map<Store>((r) => ({
    id: r.str('id', ID),
    name: r.str('name'),
    city: r.str('city'),
    regionCode: r.str('regionCode', REGION_CODE),
    lon: r.num('lon', -180, 180),
    lat: r.num('lat', -90, 90),
  }));
  checkUnique(issues, file, 'id', out.map((s) => s.id));
  return out;
}

function checkSkus(dataDir: string, issues: Issues): Sku[] {
  const file = DATA_FILES.skus;
  const out = jsonRows(dataDir, file, issues, 'sku').map<Sku>((r) => {
    const price = r.num('priceCny', 0, 1_000_000, { minExclusive: true });
    const margin = r.num('grossMarginCny', -1_000_000, 1_000_000);
    // A margin above the price would mean a negative purchase cost.
    if (Number.isFinite(price) && Number.isFinite(margin) && margin > price) r.fail(`grossMarginCny ${margin} exceeds priceCny ${price}`);
    const shelf = r.obj.shelfLifeDays;
    const shelfLifeDays = shelf === null ? null : r.num('shelfLifeDays', 1, 36_500, { integer: true });
    // Older catalogues have no minimum: the one-third rule of build-catalogue.ts stands in.
    const minRemainingShelfLifeDays =
      shelfLifeDays === null ? null : r.obj.minRemainingShelfLifeDays === undefined ? Math.ceil(shelfLifeDays / 3) : r.num('minRemainingShelfLifeDays', 0, shelfLifeDays, { integer: true });
    return {
      sku: r.str('sku', SKU_ID),
      name: r.str('name'),
      category: r.str('category'),
      unitWeightKg: r.num('unitWeightKg', 0, 10_000, { minExclusive: true }),
      priceCny: price,
      grossMarginCny: margin,
      shelfLifeDays,
      minRemainingShelfLifeDays,
    };
  });
  checkUnique(issues, file, 'sku', out.map((s) => s.sku));
  return out;
}

function checkStock(dataDir: string, issues: Issues, warehouseIds: Set<string>, skuIds: Set<string>): StockRow[] {
  const file = DATA_FILES.stock;
  const text = readText(dataDir, file, issues);
  if (text === null) return [];
  const lines = text.split(/\r?\n/);
  const header = lines[0]?.trim();
  if (header !== 'warehouseId,sku,onHand') {
    issues.add(file, 'line 1', `header must be "warehouseId,sku,onHand", got ${show(header)}`);
    return [];
  }
  const out: StockRow[] = [];
  const seen = new Map<string, number>();
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    const where = `line ${i + 1}`;
    const cells = line.split(',');
    if (cells.length !== 3) {
      issues.add(file, where, `expected 3 comma-separated fields, got ${cells.length}: ${show(line)}`);
      continue;
    }
    const [warehouseId, sku, qty] = cells.map((c) => c.trim()) as [string, string, string];
    if (!warehouseIds.has(warehouseId)) issues.add(file, where, `unknown warehouseId ${show(warehouseId)}`);
    if (!skuIds.has(sku)) issues.add(file, where, `unknown sku ${show(sku)}`);
    const onHand = /^\d+$/.test(qty) ? Number(qty) : NaN;
    if (!Number.isSafeInteger(onHand)) issues.add(file, where, `onHand must be a non-negative integer, got ${show(qty)}`);
    const key = `${warehouseId}\u0000${sku}`;
    const first = seen.get(key);
    if (first !== undefined) issues.add(file, where, `duplicate row for ${warehouseId}/${sku} (first on line ${first})`);
    else seen.set(key, i + 1);
    out.push({ warehouseId, sku, onHand });
  }
  return out;
}

function checkCouriers(dataDir: string, issues: Issues, provinceCodes: Set<string> | null): Courier[] {
  const file = DATA_FILES.couriers;
  const out = jsonRows(dataDir, file, issues, 'id').map<Courier>((r) => {
    const id = r.str('id', ID);
    const capacity = r.obj.dailyParcelsPerRegion;
    const rawRates = r.obj.rates;
    const rates: LaneRate[] = [];
    if (!Array.isArray(rawRates) || rawRates.length === 0) r.fail('rates must be a non-empty array');
    else {
      const lanes = new Map<string, number>();
      rawRates.forEach((rate: unknown, j) => {
        const rr = new Row(issues, file, `courier ${show(id)} rate ${j + 1}`, (rate ?? {}) as Obj);
        const lane = (field: 'from' | 'to'): string => {
          const v = rr.str(field, /^(\*|\d{6})$/);
          if (v && v !== '*' && provinceCodes && !provinceCodes.has(v)) rr.fail(`${field} ${show(v)} is not a province code in ${DATA_FILES.regions}`);
          return v;
        };
        const parsed: LaneRate = {
          from: lane('from'),
          to: lane('to'),
          baseCny: rr.num('baseCny', 0, 10_000),
          perKgCny: rr.num('perKgCny', 0, 10_000),
          transitHours: rr.num('transitHours', 0, 720, { minExclusive: true }),
          ...(rr.obj.transitDays !== undefined ? { transitDays: rr.num('transitDays', 0, 30, { integer: true }) } : {}),
          ...(rr.obj.deliverByLocal !== undefined ? { deliverByLocal: rr.str('deliverByLocal', HHMM) } : {}),
        };
        const key = `${parsed.from}>${parsed.to}`;
        const first = lanes.get(key);
        if (first !== undefined) rr.fail(`duplicate lane ${parsed.from} -> ${parsed.to} (first is rate ${first})`);
        else lanes.set(key, j + 1);
        rates.push(parsed);
      });
    }
    return {
      id,
      name: r.str('name'),
      kind: r.oneOf('kind', ['economy', 'express'] as const),
      maxParcelKg: r.num('maxParcelKg', 0, 10_000, { minExclusive: true }),
      dailyParcelsPerRegion: capacity === null ? null : r.num('dailyParcelsPerRegion', 0, 10_000_000, { integer: true }),
      rates,
      ...daysLate(r),
    };
  });
  checkUnique(issues, file, 'id', out.map((c) => c.id));
  return out;
}

function checkLineHauls(dataDir: string, issues: Issues, warehouseIds: Set<string>): LineHaul[] {
  const file = DATA_FILES.lineHauls;
  const out = jsonRows(dataDir, file, issues).map<LineHaul>((r) => {
    const from = r.str('from');
    const to = r.str('to');
    if (from && !warehouseIds.has(from)) r.fail(`unknown warehouse ${show(from)} in from`);
    if (to && !warehouseIds.has(to)) r.fail(`unknown warehouse ${show(to)} in to`);
    if (from && from === to) r.fail('from and to are the same warehouse');
    return {
      from,
      to,
      km: r.num('km', 0, 10_000, { minExclusive: true }),
      perKgCny: r.num('perKgCny', 0, 100),
      hours: r.num('hours', 0, 720, { minExclusive: true }),
    };
  });
  checkUnique(issues, file, 'lane', out.map((l) => (l.from && l.to ? `${l.from} -> ${l.to}` : '')));
  return out;
}

function checkCorridors(dataDir: string, issues: Issues, regionCodes: Set<string> | null): Corridor[] {
  const file = DATA_FILES.corridors;
  const out = jsonRows(dataDir, file, issues).map<Corridor>((r) => {
    const a = r.str('a', REGION_CODE);
    const b = r.str('b', REGION_CODE);
    for (const [k, v] of [['a', a], ['b', b]] as const) {
      if (v && regionCodes && !regionCodes.has(v)) r.fail(`${k} ${show(v)} is not a region code in ${DATA_FILES.regions}`);
    }
    if (a && a === b) r.fail('a and b are the same region');
    return {
      a,
      b,
      // Below 1 a road would be shorter than the straight line.
      detourFactor: r.num('detourFactor', 1, 5),
      note: r.str('note'),
    };
  });
  checkUnique(issues, file, 'corridor', out.map((c) => (c.a && c.b ? [c.a, c.b].sort().join(' <-> ') : '')));
  return out;
}

/** Region reference and point-in-region checks for warehouses and stores. */
function checkLocated(
  issues: Issues,
  file: string,
  items: readonly { id: string; regionCode: string; lon: number; lat: number }[],
  regionByCode: Map<string, Feature<Polygon | MultiPolygon, RegionProps>>,
): void {
  items.forEach((item, i) => {
    if (!item.regionCode) return;
    const where = `row ${i + 1} (id ${show(item.id)})`;
    const region = regionByCode.get(item.regionCode);
    if (!region) {
      issues.add(file, where, `regionCode ${item.regionCode} is not a region in ${DATA_FILES.regions}`);
      return;
    }
    if (Number.isFinite(item.lon) && Number.isFinite(item.lat) && !booleanPointInPolygon([item.lon, item.lat], region)) {
      issues.add(file, where, `(${item.lon}, ${item.lat}) lies outside region ${item.regionCode} (${region.properties.name})`);
    }
  });
}

/** Reads and validates data/geo/regions.geojson. */
export function loadRegions(dataDir = defaultDataDir()): Regions {
  const issues = new Issues();
  const regions = checkRegions(dataDir, issues);
  if (!regions || issues.list.length > 0) throw new NetworkDataError(dataDir, issues.list);
  return regions;
}

/** Reads and validates the whole bundled network; throws NetworkDataError listing every problem. */
export function loadNetwork(dataDir = defaultDataDir()): Network {
  const issues = new Issues();
  const regions = checkRegions(dataDir, issues);
  const regionByCode = new Map((regions?.features ?? []).map((f) => [f.properties.code, f]));
  const regionCodes = regions ? new Set(regionByCode.keys()) : null;
  const provinceCodes = regions ? new Set(regions.features.map((f) => f.properties.provinceCode)) : null;

  const warehouses = checkWarehouses(dataDir, issues);
  const stores = checkStores(dataDir, issues);
  const skus = checkSkus(dataDir, issues);
  const warehouseIds = new Set(warehouses.map((w) => w.id));
  const stock = checkStock(dataDir, issues, warehouseIds, new Set(skus.map((s) => s.sku)));
  const couriers = checkCouriers(dataDir, issues, provinceCodes);
  const lineHauls = checkLineHauls(dataDir, issues, warehouseIds);
  const corridors = checkCorridors(dataDir, issues, regionCodes);
  if (regions) {
    checkLocated(issues, DATA_FILES.warehouses, warehouses, regionByCode);
    checkLocated(issues, DATA_FILES.stores, stores, regionByCode);
  }
  if (issues.list.length > 0) throw new NetworkDataError(dataDir, issues.list);
  return { warehouses, stores, skus, stock, couriers, lineHauls, corridors };
}

/** Loads and checks the mapping: every code names a known state or exception. */
export function loadStatusMap(dataDir: string = defaultDataDir()): StatusMap {
  const map = JSON.parse(readFileSync(join(dataDir, 'wms/status-map.json'), 'utf8')) as StatusMap;
  const states = new Set(map.states.map((s) => s.state));
  const exceptions = new Set(map.exceptions.map((e) => e.exception));
  for (const [code, m] of Object.entries(map.codes)) {
    const ok = (m.state !== undefined && states.has(m.state) && m.exception === undefined) || (m.exception !== undefined && exceptions.has(m.exception) && m.state === undefined);
    if (!ok) throw new Error(`data/wms/status-map.json: code ${code} must name exactly one known state or exception`);
  }
  return map;
}
