/**
 * Seeded demo order streams for the bundled East-China network: used by the live demo, the
 * benchmarks and scenario replays. Same inputs -> the same orders, byte for byte: no Math.random,
 * no clock, no environment.
 *
 * What the stream models (numbers from ../shared/case-study.md and data/README.md):
 * - volume: ~800 orders/day normally, ~3,500/day on Double-11, Poisson-like around that;
 * - customers: the 63 stores plus WORKSHOP_COUNT repair-shop customers, spread over the 41
 *   East-China prefectures by 2020 census population, each with a fixed location;
 * - arrivals: a business-hours profile (08:00-20:00), with a midnight burst on Double-11 when the
 *   promotion opens;
 * - lines: 1-10 per order, skewed to small; SKU popularity Zipf-like within category, category
 *   shares from CATEGORY_DEMAND_SHARE; quantities 1-20, cheap consumables in larger counts;
 * - key-account bulk orders (~1 % normal, ~2 % Double-11) such as the case's 200 sets of brake
 *   pads and 500 wipers;
 * - a promise (promisedBy) as the ERP makes it (promiseMs): from the customer's home warehouse,
 *   next day within the province, two days across East China, three days elsewhere, by 18:00
 *   local, one day more when the order comes after the home warehouse's cut-off;
 * - optionally a "spend 5,000, save 800" promotion day (PromotionOptions): repair shops stock up
 *   and split each purchase into orders at or above the threshold, minutes apart.
 */
import * as turf from '@turf/turf';
import type { Feature, MultiPolygon, Polygon } from 'geojson';
import { HOURLY_ORDER_PROFILE } from '../domain/demand-profile.js';
import type { Network, RegionProps, Sku, Warehouse } from '../domain/network.js';
import type { Regions } from '../network/load.js';
import { mulberry32 } from '../util/prng.js';

export type { Regions };

export interface DemoOrder {
  orderId: string;
  customerId: string;
  /** ISO-8601 with +08:00 offset. */
  placedAt: string;
  /** ISO-8601 with +08:00 offset: latest promised delivery. */
  promisedBy: string;
  destination: { lon: number; lat: number; address?: string };
  lines: { sku: string; qty: number }[];
  /** With a promotion option only: the order's amount at list prices, CNY, before its discount. */
  amountCny?: number;
  /** With a promotion option only: the promotion's discount the order collects, CNY (0 below the threshold or with the promotion off). */
  discountCny?: number;
}

export interface GenerateOptions {
  seed: number;
  profile: 'normal' | 'double11';
  /** Local (UTC+8) calendar day, YYYY-MM-DD. */
  date: string;
  /** Exact number of ordinary purchases; overrides the seeded daily volume (a promotion's stock-ups come on top). */
  count?: number;
  /** A promotion day (see PromotionOptions); absent: an ordinary day, orders without amounts. */
  promotion?: Partial<PromotionOptions>;
}

/**
 * A "spend thresholdCny, save discountCny" promotion day, as in the case (../shared/case-study.md
 * item 6: "spend 5,000, save 800"; customers split their orders and freight per order rose). The
 * discount is once per order at or above the threshold, so a customer who splits a purchase into
 * k orders of at least the threshold each collects it k times. docs/replays.md ("A promotion
 * day") says where each default comes from.
 *
 * - Stock-ups: each repair shop, with probability stockUpShare, places one purchase on the day
 *   filled (ordinary lines, SKU popularity and quantities as any order) until it splits into
 *   ordersPerStockUp orders at or above the threshold. They come on top of the day's ordinary
 *   purchases, which are drawn exactly as without the promotion.
 * - Splitting: every repair shop's purchase worth at least twice the threshold (stock-ups and the
 *   rare large ordinary purchase) is split into ⌊amount / threshold⌋ orders (ordersPerStockUp for
 *   a stock-up), each at or above the threshold, the units filled in line order; the orders go to
 *   the same address, each 1 minute to maxGapMinutes after the previous one. The chain's own
 *   stores collect no customer discount and key accounts buy on contract: their orders are never
 *   split.
 * - active false: the same purchases, drawn from the same seed, each as one order and without
 *   discount: the pre-promotion level of the same customers' buying.
 */
export interface PromotionOptions {
  /** Order amount from which an order collects the discount, CNY (list prices). */
  thresholdCny: number;
  /** Discount per order at or above the threshold, CNY. */
  discountCny: number;
  /** Share of the repair shops that place a stock-up purchase on the day, 0..1. */
  stockUpShare: number;
  /** Orders, each at or above the threshold, a stock-up purchase is filled for (2..10). */
  ordersPerStockUp: number;
  /** Longest gap between two consecutive orders of a split purchase, minutes (each gap uniform from 1 minute to this). */
  maxGapMinutes: number;
  /** False: the same purchases unsplit and without discount (the pre-promotion level). */
  active: boolean;
}

/** Defaults of a promotion day: the case's threshold, discount and orders per split purchase; the rest docs/replays.md explains. */
export const PROMOTION_DEFAULTS: Readonly<PromotionOptions> = Object.freeze({
  thresholdCny: 5_000,
  discountCny: 800,
  stockUpShare: 0.25,
  ordersPerStockUp: 3,
  maxGapMinutes: 5,
  active: true,
});

/** The bounds every promotion option is checked against (the scenario schema states the same). */
export const PROMOTION_LIMITS = {
  thresholdCny: { min: 100, max: 1_000_000 },
  discountCny: { min: 0, max: 1_000_000 },
  stockUpShare: { min: 0, max: 1 },
  ordersPerStockUp: { min: 2, max: 10 },
  maxGapMinutes: { min: 1, max: 60 },
} as const;

/** A promotion's options with the defaults filled in; throws naming every option out of bounds. */
export function promotionOptions(p: Partial<PromotionOptions>): PromotionOptions {
  const o: PromotionOptions = { ...PROMOTION_DEFAULTS, ...p };
  const bad: string[] = [];
  for (const [k, { min, max }] of Object.entries(PROMOTION_LIMITS) as [keyof typeof PROMOTION_LIMITS, { min: number; max: number }][]) {
    const v = o[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) bad.push(`${k} must be within ${min}..${max} (got ${String(v)})`);
  }
  if (!Number.isInteger(o.ordersPerStockUp)) bad.push(`ordersPerStockUp must be a whole number (got ${o.ordersPerStockUp})`);
  if (o.discountCny >= o.thresholdCny) bad.push(`discountCny (${o.discountCny}) must be below thresholdCny (${o.thresholdCny})`);
  if (typeof o.active !== 'boolean') bad.push('active must be true or false');
  if (bad.length > 0) throw new Error(`promotion: ${bad.join('; ')}`);
  return o;
}

/** Mean orders a promotion adds to a day: each stock-up's orders (one when the promotion is off). */
export function promotionExtraOrders(p: PromotionOptions): number {
  return p.stockUpShare * WORKSHOP_COUNT * (p.active ? p.ordersPerStockUp : 1);
}

/** A customer of the demo stream: one of the chain's stores or an independent repair shop. */
export interface DemoCustomer {
  id: string;
  kind: 'store' | 'workshop';
  name: string;
  /** Prefecture code (Region.code) the customer lies in. */
  regionCode: string;
  provinceCode: string;
  lon: number;
  lat: number;
  /** Relative ordering frequency (dimensionless). */
  weight: number;
  /** Key accounts place the occasional bulk order. */
  keyAccount: boolean;
}

/** Mean orders per day by profile (case study: ~800 normally, ~3,500 at the Double-11 peak). */
export const DAILY_ORDERS = { normal: 800, double11: 3500 } as const;

/** Independent repair shops ordering from the chain ("a few hundred"). */
export const WORKSHOP_COUNT = 400;

/**
 * Customers are part of the network, not of one day's stream: they are placed with this fixed
 * seed so that every seed and every date sees the same customers at the same addresses.
 */
const CUSTOMER_SEED = 20201101; // 2020-11-01, the census reference day

/**
 * Share of order lines by category. An estimate for an independent-aftermarket distributor:
 * service parts that every car needs at every service (filters, oil, brake pads, wipers) dominate;
 * remanufactured units and calipers are rare. Values are normalised, so only ratios matter.
 */
export const CATEGORY_DEMAND_SHARE: Readonly<Record<string, number>> = {
  'brake-pad': 16,
  'oil-filter': 12,
  'engine-oil': 10,
  wiper: 10,
  'air-filter': 8,
  'cabin-filter': 8,
  'spark-plug': 6,
  bulb: 6,
  'brake-disc': 5,
  'brake-fluid': 3,
  coolant: 3,
  belt: 3,
  'shock-absorber': 3,
  battery: 3,
  'brake-caliper': 1,
  alternator: 1,
  starter: 1,
};

/**
 * Zipf exponent of popularity within a category. The catalogue lists each category's SKUs in
 * descending order of the fitted vehicles' sales (VW Lavida, Nissan Sylphy, Toyota Corolla, ...),
 * so the k-th SKU of a category gets weight 1/k^s.
 */
const ZIPF_EXPONENT = 1;

/** The project's seeded PRNG, re-exported for the data scripts that import it from here. */
export { mulberry32 };

/** 32-bit FNV-1a hash of a string: turns (seed, profile, date) into one PRNG seed. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Standard normal deviate (Box-Muller) from a uniform source. */
export function gaussian(rand: () => number): number {
  const u = Math.max(rand(), 1e-12);
  const v = rand();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/**
 * Share of order lines per SKU (sums to 1): category share × Zipf rank within the category, by
 * catalogue order. Shared with data/scripts/build-stock.ts so that the fast movers in the orders
 * are the ones stocked everywhere.
 */
export function skuPopularity(skus: readonly Sku[]): Map<string, number> {
  const byCategory = new Map<string, Sku[]>();
  for (const s of skus) {
    const list = byCategory.get(s.category) ?? [];
    list.push(s);
    byCategory.set(s.category, list);
  }
  const raw = new Map<string, number>();
  let total = 0;
  for (const [category, list] of byCategory) {
    const share = CATEGORY_DEMAND_SHARE[category] ?? 1;
    const sorted = [...list].sort((a, b) => a.sku.localeCompare(b.sku));
    const harmonic = sorted.reduce((h, _s, k) => h + 1 / (k + 1) ** ZIPF_EXPONENT, 0);
    sorted.forEach((s, k) => {
      const w = (share * (1 / (k + 1) ** ZIPF_EXPONENT)) / harmonic;
      raw.set(s.sku, w);
      total += w;
    });
  }
  const out = new Map<string, number>();
  for (const s of skus) out.set(s.sku, (raw.get(s.sku) ?? 0) / total);
  return out;
}

/**
 * Mean quantity per order line for a SKU: workshops buy cheap consumables by the box and
 * expensive, heavy units one at a time. Shared with build-stock.ts for stock sizing.
 */
export function meanLineQty(sku: Sku): number {
  if (sku.priceCny < 60) return 4;
  if (sku.priceCny < 150) return 3;
  if (sku.priceCny < 400) return 2;
  return 1.3;
}

/** Distribution of lines per order, 1..10: most B2B top-up orders are one or two lines. */
const LINE_COUNT_WEIGHTS = [34, 22, 14, 9, 7, 5, 3, 2, 2, 2];

/** Orders per local hour, relative: the day's demand profile (src/domain/demand-profile.ts). */
const HOURLY_PROFILE_NORMAL = HOURLY_ORDER_PROFILE;
/** Double-11: the same day shape plus a burst right after midnight when the promotion opens. */
const HOURLY_PROFILE_DOUBLE11 = HOURLY_PROFILE_NORMAL.map((w, h) => (h === 0 ? 6 : h === 1 ? 3 : w));

/** Share of orders that are key-account bulk orders. */
const BULK_SHARE = { normal: 0.01, double11: 0.02 } as const;

/**
 * Bulk order templates. The first two are the case's own examples (a key account locking 200
 * sets of brake pads; 500 wipers ordered); the rest are plausible fleet and chain replenishments.
 */
const BULK_TEMPLATES: readonly { weight: number; lines: readonly { sku: string; qty: number }[] }[] = [
  { weight: 4, lines: [{ sku: 'BRK-0001', qty: 200 }] },
  { weight: 1, lines: [{ sku: 'WIP-0001', qty: 500 }] },
  { weight: 3, lines: [{ sku: 'WIP-0001', qty: 100 }, { sku: 'WIP-0002', qty: 100 }] },
  { weight: 2, lines: [{ sku: 'FLO-0001', qty: 120 }, { sku: 'FLA-0001', qty: 60 }, { sku: 'FLC-0001', qty: 60 }] },
  { weight: 2, lines: [{ sku: 'OIL-0001', qty: 50 }, { sku: 'FLO-0001', qty: 50 }] },
  { weight: 2, lines: [{ sku: 'BRK-0001', qty: 100 }, { sku: 'BRK-0002', qty: 100 }, { sku: 'DSC-0001', qty: 40 }] },
  { weight: 1, lines: [{ sku: 'RECY-BAT-0002', qty: 30 }] },
];

/**
 * Expected units per SKU per day for a profile: ordinary lines (volume × mean lines × popularity ×
 * mean quantity) plus the key-account bulk templates. build-stock.ts sizes stock from this so that
 * the bundled stock and the demo stream agree on what moves fast.
 */
export function expectedDailyUnits(skus: readonly Sku[], profile: 'normal' | 'double11'): Map<string, number> {
  const orders = DAILY_ORDERS[profile];
  const meanLines = LINE_COUNT_WEIGHTS.reduce((s, w, i) => s + w * (i + 1), 0) / LINE_COUNT_WEIGHTS.reduce((s, w) => s + w, 0);
  const ordinary = orders * (1 - BULK_SHARE[profile]) * meanLines;
  const popularity = skuPopularity(skus);
  const out = new Map<string, number>();
  for (const s of skus) out.set(s.sku, ordinary * (popularity.get(s.sku) ?? 0) * meanLineQty(s));
  const ids = new Set(skus.map((s) => s.sku));
  const templates = BULK_TEMPLATES.filter((t) => t.lines.every((l) => ids.has(l.sku)));
  const totalWeight = templates.reduce((sum, t) => sum + t.weight, 0);
  const bulkOrders = orders * BULK_SHARE[profile];
  for (const t of templates) {
    for (const l of t.lines) out.set(l.sku, (out.get(l.sku) ?? 0) + (bulkOrders * t.weight * l.qty) / totalWeight);
  }
  return out;
}

/** Detour factor from great-circle to road km (design §5 default). */
const ROAD_FACTOR = 1.3;

/** Province codes of East China as used by the promise tiers and the courier lanes. */
export const EAST_CHINA_PROVINCES: ReadonlySet<string> = new Set(['310000', '320000', '330000', '340000']);

const HOUR_MS = 3_600_000;
const LOCAL_OFFSET_MS = 8 * HOUR_MS;

/** Epoch ms of a local (UTC+8) wall-clock time on `date`. */
function localMs(date: string, h: number, m = 0, s = 0): number {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  if (!match) throw new Error(`generateOrders: date must be YYYY-MM-DD, got "${date}"`);
  const [, y, mo, d] = match;
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), h, m, s) - LOCAL_OFFSET_MS;
  const check = new Date(ms + LOCAL_OFFSET_MS).toISOString().slice(0, 10);
  if (check !== date) throw new Error(`generateOrders: "${date}" is not a calendar date`);
  return ms;
}

/** ISO-8601 with the +08:00 offset, second resolution. */
export function toLocalIso(ms: number): string {
  return `${new Date(ms + LOCAL_OFFSET_MS).toISOString().slice(0, 19)}+08:00`;
}

/**
 * The ERP's promise (data/README.md "Promises"): an order placed by the ERP cut-off of the
 * customer's promise tier is promised for the tier's days after the order day, by
 * ERP_PROMISE.deliverByLocal; one placed later, a day after that. Orders placed at night (before
 * the warehouses open at 08:00) count as placed that morning.
 */
export const ERP_PROMISE = {
  /** End of the promised delivery window, local time. */
  deliverByLocal: '18:00',
} as const;

/** Epoch ms of the promise for an order placed at `ms`, with the tier's days and ERP cut-off. */
export function promiseMs(ms: number, days: number, cutoffLocal: string): number {
  const local = ms + LOCAL_OFFSET_MS;
  const dayStart = Math.floor(local / (24 * HOUR_MS)) * 24 * HOUR_MS;
  const minute = (local - dayStart) / 60_000;
  const [ch, cm] = cutoffLocal.split(':').map(Number) as [number, number];
  const [dh, dm] = ERP_PROMISE.deliverByLocal.split(':').map(Number) as [number, number];
  const late = minute > ch * 60 + cm ? 1 : 0;
  return dayStart + (days + late) * 24 * HOUR_MS + (dh * 60 + dm) * 60_000 - LOCAL_OFFSET_MS;
}

/** Weighted sampler over a fixed list (cumulative weights + binary search). */
class Sampler<T> {
  private readonly cum: number[] = [];
  private readonly total: number;
  constructor(
    private readonly items: readonly T[],
    weights: readonly number[],
  ) {
    let acc = 0;
    for (const w of weights) {
      acc += Math.max(0, w);
      this.cum.push(acc);
    }
    this.total = acc;
    if (items.length === 0 || !(acc > 0)) throw new Error('Sampler: nothing to sample from');
  }
  pick(rand: () => number): T {
    const x = rand() * this.total;
    let lo = 0;
    let hi = this.cum.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.cum[mid]! > x) hi = mid;
      else lo = mid + 1;
    }
    return this.items[lo]!;
  }
}

function roadKm(aLon: number, aLat: number, bLon: number, bLat: number): number {
  return turf.distance([aLon, aLat], [bLon, bLat], { units: 'kilometers' }) * ROAD_FACTOR;
}

const round5 = (x: number): number => Math.round(x * 1e5) / 1e5;

/** A seeded point inside the feature: rejection sampling, either near `near` or uniform in the bbox. */
function pointIn(
  feature: Feature<Polygon | MultiPolygon, RegionProps>,
  rand: () => number,
  near: { lon: number; lat: number; sigmaKm: number } | null,
): [number, number] {
  const [minX, minY, maxX, maxY] = turf.bbox(feature);
  for (let attempt = 0; attempt < 20_000; attempt++) {
    let lon: number;
    let lat: number;
    if (near && attempt < 200) {
      // ~111 km per degree of latitude; longitude degrees shrink with cos(lat).
      lat = near.lat + (gaussian(rand) * near.sigmaKm) / 111;
      lon = near.lon + (gaussian(rand) * near.sigmaKm) / (111 * Math.cos((near.lat * Math.PI) / 180));
    } else {
      lon = minX + rand() * (maxX - minX);
      lat = minY + rand() * (maxY - minY);
    }
    const p: [number, number] = [round5(lon), round5(lat)];
    if (turf.booleanPointInPolygon(p, feature)) return p;
  }
  throw new Error(`no point found inside region ${feature.properties.code}`);
}

const customerCache = new WeakMap<Network, WeakMap<Regions, DemoCustomer[]>>();

/**
 * The demo's customers: every store, plus WORKSHOP_COUNT repair shops whose prefecture is drawn by
 * 2020 population and whose location is a fixed seeded point inside that prefecture (60 % near
 * the prefecture's first store, i.e. in town, the rest anywhere in the prefecture, as real
 * workshops sit along county roads too). Independent of the stream's seed.
 */
export function buildCustomers(net: Network, regions: Regions): DemoCustomer[] {
  const cached = customerCache.get(net)?.get(regions);
  if (cached) return cached;
  const rand = mulberry32(CUSTOMER_SEED);
  const prefectures = regions.features
    .filter((f) => f.properties.level === 'prefecture' && (f.properties.population ?? 0) > 0)
    .sort((a, b) => a.properties.code.localeCompare(b.properties.code));
  if (prefectures.length === 0) throw new Error('buildCustomers: regions hold no prefecture with a population');
  const byCode = new Map(regions.features.map((f) => [f.properties.code, f]));

  const customers: DemoCustomer[] = [];
  const townOf = new Map<string, { lon: number; lat: number }>();
  for (const s of net.stores) {
    const region = byCode.get(s.regionCode);
    if (!region) throw new Error(`buildCustomers: store ${s.id} has unknown regionCode ${s.regionCode}`);
    if (!townOf.has(s.regionCode)) townOf.set(s.regionCode, { lon: s.lon, lat: s.lat });
    customers.push({
      id: s.id,
      kind: 'store',
      name: s.name,
      regionCode: s.regionCode,
      provinceCode: region.properties.provinceCode,
      lon: s.lon,
      lat: s.lat,
      // A store replenishes for its own walk-in trade and serves local garages: it orders
      // several times as often as a single repair shop.
      weight: 4,
      // Every fifth store is a flagship that also takes fleet contracts.
      keyAccount: customers.length % 5 === 0,
    });
  }

  const prefSampler = new Sampler(
    prefectures,
    prefectures.map((f) => f.properties.population ?? 0),
  );
  for (let i = 1; i <= WORKSHOP_COUNT; i++) {
    const region = prefSampler.pick(rand);
    const town = townOf.get(region.properties.code) ?? null;
    const inTown = town !== null && rand() < 0.6;
    const [lon, lat] = pointIn(region, rand, inTown ? { ...town, sigmaKm: 12 } : null);
    // Log-normal order frequency: a few busy garages, many small ones (median 1, mean ~1.2).
    const weight = Math.exp(0.6 * gaussian(rand));
    customers.push({
      id: `WS${String(i).padStart(4, '0')}`,
      kind: 'workshop',
      name: `Repair shop ${String(i).padStart(4, '0')}`,
      regionCode: region.properties.code,
      provinceCode: region.properties.provinceCode,
      lon,
      lat,
      weight,
      keyAccount: false,
    });
  }
  // The busiest 3 % of workshops are key accounts (fleet operators, 4S-shop groups).
  const workshops = customers.filter((c) => c.kind === 'workshop').sort((a, b) => b.weight - a.weight || a.id.localeCompare(b.id));
  for (const c of workshops.slice(0, Math.ceil(WORKSHOP_COUNT * 0.03))) c.keyAccount = true;

  let perNet = customerCache.get(net);
  if (!perNet) {
    perNet = new WeakMap();
    customerCache.set(net, perNet);
  }
  perNet.set(regions, customers);
  return customers;
}

/**
 * Promise tier from the customer's home warehouse (the nearest regional one by estimated road km,
 * which the ERP quotes to the customer): next day when it is in the destination's province
 * (intra-province lanes deliver next day), two days elsewhere in East China, three beyond; the
 * ERP's order cut-off is the home warehouse's release cut-off.
 */
function promiseTier(c: DemoCustomer, regional: readonly Warehouse[], provinceOfRegion: Map<string, string>): { days: number; cutoffLocal: string } {
  let best: Warehouse | undefined;
  let bestKm = Infinity;
  for (const w of regional) {
    const km = roadKm(c.lon, c.lat, w.lon, w.lat);
    if (km < bestKm) {
      bestKm = km;
      best = w;
    }
  }
  const homeProvince = best ? provinceOfRegion.get(best.regionCode) : undefined;
  const cutoffLocal = best?.cutoffLocal ?? '16:00';
  if (homeProvince === c.provinceCode) return { days: 1, cutoffLocal };
  if (EAST_CHINA_PROVINCES.has(c.provinceCode)) return { days: 2, cutoffLocal };
  return { days: 3, cutoffLocal };
}

/** Seeded daily volume: overdispersed Poisson (±3 % day effect + √λ noise), clamped to ±12 %. */
function dailyVolume(mean: number, rand: () => number): number {
  const n = Math.round(mean * (1 + 0.03 * gaussian(rand)) + Math.sqrt(mean) * gaussian(rand));
  return Math.min(Math.round(mean * 1.12), Math.max(Math.round(mean * 0.88), n));
}

/** Quantity for one ordinary line: geometric around meanLineQty, 1..20. */
function lineQty(sku: Sku, rand: () => number): number {
  const mean = meanLineQty(sku);
  // Geometric on {1, 2, ...} with the given mean: P(stop) = 1/mean.
  const p = 1 / mean;
  const q = 1 + Math.floor(Math.log(Math.max(rand(), 1e-12)) / Math.log(1 - p));
  let qty = Math.min(20, Math.max(1, q));
  // Spark plugs are bought per cylinder set: a four-cylinder engine takes 4.
  if (sku.category === 'spark-plug' && !/set/i.test(sku.name) && rand() < 0.6) qty = 4 * Math.ceil(qty / 4);
  return qty;
}

/**
 * Generates one local day of demo orders, sorted by placedAt. Deterministic in (network,
 * regions, opts). Order ids are `<ORD|D11>-<yyyymmdd>-<seq>` with seq in placedAt order.
 */
export function generateOrders(net: Network, regions: Regions, opts: GenerateOptions): DemoOrder[] {
  if (!Number.isFinite(opts.seed)) throw new Error('generateOrders: seed must be a finite number');
  if (opts.count !== undefined && (!Number.isInteger(opts.count) || opts.count < 0)) {
    throw new Error(`generateOrders: count must be a non-negative integer, got ${opts.count}`);
  }
  const dayStart = localMs(opts.date, 0);
  // Mix profile and date into the seed: a multi-day replay with one seed must not repeat the
  // same day, and the normal and Double-11 streams of one seed must differ.
  const rand = mulberry32(fnv1a(`${opts.seed}|${opts.profile}|${opts.date}`));

  const customers = buildCustomers(net, regions);
  const customerSampler = new Sampler(
    customers,
    customers.map((c) => c.weight),
  );
  const keyAccounts = customers.filter((c) => c.keyAccount);
  const popularity = skuPopularity(net.skus);
  const skuSampler = new Sampler(
    net.skus,
    net.skus.map((s) => popularity.get(s.sku) ?? 0),
  );
  const skuIds = new Set(net.skus.map((s) => s.sku));
  const templates = BULK_TEMPLATES.filter((t) => t.lines.every((l) => skuIds.has(l.sku)));
  const templateSampler = templates.length > 0 ? new Sampler(templates, templates.map((t) => t.weight)) : null;
  const hourSampler = new Sampler(
    Array.from({ length: 24 }, (_, h) => h),
    opts.profile === 'double11' ? HOURLY_PROFILE_DOUBLE11 : HOURLY_PROFILE_NORMAL,
  );
  // Bulk orders are negotiated by account managers: office hours only.
  const officeHourSampler = new Sampler([9, 10, 11, 13, 14, 15, 16], [1, 1, 1, 1, 1, 1, 1]);
  const lineCountSampler = new Sampler(
    LINE_COUNT_WEIGHTS.map((_, i) => i + 1),
    LINE_COUNT_WEIGHTS,
  );
  const regional = net.warehouses.filter((w) => w.kind === 'regional');
  const provinceOfRegion = new Map(regions.features.map((f) => [f.properties.code, f.properties.provinceCode]));
  const regionName = new Map(regions.features.map((f) => [f.properties.code, f.properties.name]));
  const promiseCache = new Map<string, { days: number; cutoffLocal: string }>();

  const n = opts.count ?? dailyVolume(DAILY_ORDERS[opts.profile], rand);
  const drawLine = (r: () => number, chosen: Map<string, number>) => {
    const s = skuSampler.pick(r);
    chosen.set(s.sku, (chosen.get(s.sku) ?? 0) + lineQty(s, r));
  };
  /** One purchase of the day: who, when, what; `splittable` when a promotion may split it (a repair shop's, not on contract). */
  const purchases: { ms: number; customer: DemoCustomer; lines: { sku: string; qty: number }[]; splittable: boolean }[] = [];
  for (let i = 0; i < n; i++) {
    const bulk = templateSampler !== null && keyAccounts.length > 0 && rand() < BULK_SHARE[opts.profile];
    const customer = bulk ? keyAccounts[Math.floor(rand() * keyAccounts.length)]! : customerSampler.pick(rand);
    const hour = bulk ? officeHourSampler.pick(rand) : hourSampler.pick(rand);
    const ms = dayStart + hour * HOUR_MS + Math.floor(rand() * 3600) * 1000;

    let lines: { sku: string; qty: number }[];
    if (bulk) {
      lines = templateSampler!.pick(rand).lines.map((l) => ({ ...l }));
    } else {
      const k = Math.min(lineCountSampler.pick(rand), net.skus.length);
      const chosen = new Map<string, Sku>();
      // Distinct SKUs per order; popular SKUs collide often, so cap the retries.
      for (let tries = 0; chosen.size < k && tries < k * 50; tries++) {
        const s = skuSampler.pick(rand);
        if (!chosen.has(s.sku)) chosen.set(s.sku, s);
      }
      lines = [...chosen.values()].map((s) => ({ sku: s.sku, qty: lineQty(s, rand) }));
    }
    purchases.push({ ms, customer, lines, splittable: !bulk && customer.kind === 'workshop' });
  }

  const promo = opts.promotion === undefined ? null : promotionOptions(opts.promotion);
  /** The promotion's threshold in cents of a yuan (fen), the unit amounts are summed in so that they are exact. */
  const threshold = promo === null ? 0 : Math.round(promo.thresholdCny * 100);
  const priceCents = new Map(net.skus.map((s) => [s.sku, Math.round(s.priceCny * 100)]));
  const cents = (lines: readonly { sku: string; qty: number }[]) => lines.reduce((v, l) => v + l.qty * priceCents.get(l.sku)!, 0);
  const dayEnd = dayStart + 24 * HOUR_MS - 1_000;
  // The promotion draws from its own stream, after the ordinary purchases: those stay exactly as
  // without it, and the same seed gives the same purchases whether the promotion is on or off.
  const prand = mulberry32(fnv1a(`${opts.seed}|${opts.profile}|${opts.date}|promotion`));
  if (promo !== null) {
    for (const customer of customers) {
      if (customer.kind !== 'workshop' || prand() >= promo.stockUpShare) continue;
      const hour = hourSampler.pick(prand);
      // The purchase's last order still falls on the day.
      const ms = Math.min(dayStart + hour * HOUR_MS + Math.floor(prand() * 3600) * 1000, dayEnd - (promo.ordersPerStockUp - 1) * promo.maxGapMinutes * 60_000);
      const chosen = new Map<string, number>();
      // The shop fills its cart until it splits into ordersPerStockUp orders at the threshold.
      while (splitPurchase(linesOf(chosen), priceCents, threshold, promo.ordersPerStockUp).length < promo.ordersPerStockUp) drawLine(prand, chosen);
      purchases.push({ ms, customer, lines: linesOf(chosen), splittable: true });
    }
  }

  const drafts: { ms: number; idx: number; part: number; order: Omit<DemoOrder, 'orderId'> }[] = [];
  purchases.forEach((b, idx) => {
    let parts = [b.lines];
    if (promo?.active && b.splittable) {
      const k = Math.floor(cents(b.lines) / threshold);
      if (k >= 2) parts = splitPurchase(b.lines, priceCents, threshold, k);
    }
    let ms = b.ms;
    parts.forEach((lines, j) => {
      // Each order of a split purchase comes 1 minute to maxGapMinutes after the previous one.
      if (j > 0) ms = Math.min(dayEnd, ms + 60_000 + Math.floor(prand() * ((promo!.maxGapMinutes - 1) * 60 + 1)) * 1_000);
      const amount = cents(lines);
      const money =
        promo === null ? {} : { amountCny: amount / 100, discountCny: promo.active && amount >= threshold ? promo.discountCny : 0 };
      drafts.push({ ms, idx, part: j, order: { ...orderOf(b.customer, ms, lines), ...money } });
    });
  });
  drafts.sort((a, b) => a.ms - b.ms || a.idx - b.idx || a.part - b.part);
  const prefix = opts.profile === 'double11' ? 'D11' : 'ORD';
  const ymd = opts.date.replaceAll('-', '');
  return drafts.map((d, i) => ({ orderId: `${prefix}-${ymd}-${String(i + 1).padStart(6, '0')}`, ...d.order }));

  function orderOf(customer: DemoCustomer, ms: number, lines: { sku: string; qty: number }[]): Omit<DemoOrder, 'orderId'> {
    let tier = promiseCache.get(customer.id);
    if (tier === undefined) {
      tier = promiseTier(customer, regional, provinceOfRegion);
      promiseCache.set(customer.id, tier);
    }
    return {
      customerId: customer.id,
      placedAt: toLocalIso(ms),
      promisedBy: toLocalIso(promiseMs(ms, tier.days, tier.cutoffLocal)),
      destination: {
        lon: customer.lon,
        lat: customer.lat,
        address: `${customer.name}, ${regionName.get(customer.regionCode) ?? customer.regionCode}`,
      },
      lines,
    };
  }
}

const linesOf = (m: ReadonlyMap<string, number>) => [...m].map(([sku, qty]) => ({ sku, qty }));

/**
 * A purchase split as a customer fills carts for a per-order threshold: units in line order into
 * the first order until it reaches the threshold, then the next, the last of `orders` taking the
 * rest. Each order but the last ends within one unit above the threshold; when the rest falls
 * short, it rides with the order before (fewer orders). Prices and threshold in cents.
 */
export function splitPurchase(lines: readonly { sku: string; qty: number }[], priceCents: ReadonlyMap<string, number>, thresholdCents: number, orders: number): { sku: string; qty: number }[][] {
  const parts: Map<string, number>[] = [];
  let cur = new Map<string, number>();
  let value = 0;
  for (const l of lines) {
    const p = priceCents.get(l.sku)!;
    let left = l.qty;
    while (left > 0) {
      const last = parts.length === orders - 1;
      const take = last || p === 0 ? left : Math.min(left, Math.max(1, Math.ceil((thresholdCents - value) / p)));
      cur.set(l.sku, (cur.get(l.sku) ?? 0) + take);
      value += take * p;
      left -= take;
      if (!last && value >= thresholdCents) {
        parts.push(cur);
        cur = new Map();
        value = 0;
      }
    }
  }
  if (cur.size > 0) {
    if (value >= thresholdCents || parts.length === 0) parts.push(cur);
    else for (const [sku, qty] of cur) parts.at(-1)!.set(sku, (parts.at(-1)!.get(sku) ?? 0) + qty);
  }
  return parts.map(linesOf);
}
