/**
 * Seeded generator of per-order optimisation problems for the reference and differential tests.
 *
 * The instances imitate what candidate generation produces for a real order: a handful of lines,
 * a few to a dozen-odd candidate warehouses (sites) and four couriers. Stock is deliberately
 * uneven (absent, zero, short, enough, plenty) so that the optimum sometimes ships from one site,
 * sometimes splits, sometimes pulls stock in by transfer and sometimes backorders.
 *
 * Every random draw comes from a mulberry32 generator seeded by the caller, never from
 * Math.random, so that a failing seed can be replayed exactly.
 *
 * Money is whole CNY or two-decimal CNY and unit weights have two decimals, as in production
 * data. Weight limits (parcelMaxKg, kgCap) are whole kilograms, so a shipment weight is a
 * multiple of 0.01 kg and any genuine excess over a limit is at least 0.01 kg: it can never hide
 * inside a 1e-6 solver tolerance. Conversely, weights that sit exactly on a limit in decimal
 * arithmetic (200 x 0.1 kg against a 20 kg parcel) do occur, and must count as fitting.
 */
import type {
  Problem,
  ProblemArc,
  ProblemCourier,
  ProblemLine,
  ProblemOption,
  ProblemPool,
  ProblemSite,
} from '../../solver/types.js';
import { mulberry32 } from '../../src/util/prng.js';

/** The optional size overrides of `generateProblem`. Unset fields are drawn at random. */
export interface ProblemSize {
  /** Number of order lines (default: 1–10). */
  lines?: number;
  /** Number of sites (default: 5–17). */
  sites?: number;
  /** Number of couriers (default: exactly 4). */
  couriers?: number;
  /**
   * Largest ordered quantity per line. When set, quantities are drawn uniformly in 1..maxQty;
   * this keeps the tiny instances small enough for brute-force enumeration. When unset,
   * quantities follow the production-like mix (mostly 1–50, sometimes 200).
   */
  maxQty?: number;
  /**
   * Largest number of transfer arcs into one site for one line (default 2). The brute-force
   * instances use 1 so that enumeration stays fast.
   */
  maxTransfersPerLine?: number;
  /** Probability that a site holds a given SKU (default: 0.7, 0.45 or 0.25 by stock regime). */
  holdProbability?: number;
  /** Probability that a site pulls stock from other sites by transfer (default 0.35). */
  hubProbability?: number;
  /**
   * Multiplier on the weight limits (parcelMaxKg 20–60, kgCap 0–80), default 1. The tiny
   * instances carry a few units only, so they scale the limits down to make them bind as often
   * as the full limits bind on real orders.
   */
  kgScale?: number;
}

/** One generated instance, with the seed that reproduces it. */
export interface GeneratedProblem {
  index: number;
  seed: number;
  problem: Problem;
}

/** Convenience draws on top of a [0, 1) generator. */
class Rng {
  constructor(private readonly next: () => number) {}

  /** A float in [lo, hi). */
  float(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** An integer in [lo, hi], both ends included. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** A money or weight amount with two decimals in [lo, hi]; whole numbers half of the time. */
  amount(lo: number, hi: number): number {
    const x = this.float(lo, hi);
    const rounded = this.chance(0.5) ? Math.round(x) : Math.round(x * 100) / 100;
    return Math.min(hi, Math.max(lo, rounded));
  }

  /** A uniformly chosen element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    const item = items[Math.floor(this.next() * items.length)];
    if (item === undefined) throw new Error('pick from an empty array');
    return item;
  }

  /** A random subset of `items` of size at most k, in random order. */
  sample<T>(items: readonly T[], k: number): T[] {
    const copy = items.slice();
    for (let i = copy.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      const tmp = copy[i] as T;
      copy[i] = copy[j] as T;
      copy[j] = tmp;
    }
    return copy.slice(0, k);
  }
}

const COURIER_IDS = ['STO', 'YTO', 'ZTO', 'SF', 'JD', 'EMS'];
const CITY_CODES = ['SH', 'HZ', 'NJ', 'SZ', 'GZ', 'BJ', 'TJ', 'WH', 'CD', 'XA', 'CQ', 'NB', 'SU', 'WX', 'FZ', 'XM', 'JN', 'QD'];

/** Round to two decimals, so that generated costs and weights look like real data. */
function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

/**
 * Generates one problem from `seed`. The same seed and size always give the same problem.
 *
 * Stock regimes are drawn per instance ("plenty", "mixed", "scarce") and then per pool, so that
 * across many seeds the optimum exercises single shipments, splits, transfers and backorders.
 */
export function generateProblem(seed: number, size: ProblemSize = {}): Problem {
  const rng = new Rng(mulberry32(seed));
  const nLines = size.lines ?? rng.int(1, 10);
  const nSites = size.sites ?? rng.int(5, 17);
  const nCouriers = size.couriers ?? 4;
  const maxTransfers = size.maxTransfersPerLine ?? 2;

  // Lines. Quantities are usually small, as in e-commerce orders, with an occasional bulk line.
  // A few orders repeat a SKU on two lines (e.g. two promotions of the same item); those lines
  // then draw on the same pools, which exercises pool sharing between lines as well as arcs.
  const lines: ProblemLine[] = [];
  for (let l = 0; l < nLines; l++) {
    let qty: number;
    if (size.maxQty !== undefined) qty = rng.int(1, size.maxQty);
    else if (rng.chance(0.05)) qty = 200;
    else if (rng.chance(0.6)) qty = rng.int(1, 5);
    else qty = rng.int(1, 50);
    // Unit weights are log-uniform in 0.1–25 kg, so that both light and heavy items occur.
    const unitWeightKg = Math.min(25, Math.max(0.1, round2(Math.exp(rng.float(Math.log(0.1), Math.log(25))))));
    const previous = lines[rng.int(0, Math.max(0, l - 1))];
    const sku = l > 0 && previous !== undefined && rng.chance(0.06) ? previous.sku : `SKU-${seed % 1000}-${l}`;
    const weight = previous !== undefined && previous.sku === sku ? previous.unitWeightKg : unitWeightKg;
    lines.push({ sku, qty, unitWeightKg: weight });
  }
  const skus = [...new Set(lines.map((line) => line.sku))];
  const demandBySku = new Map<string, number>();
  for (const line of lines) demandBySku.set(line.sku, (demandBySku.get(line.sku) ?? 0) + line.qty);

  // Sites: most warehouses can hand over any number of parcels today; some are nearly full.
  const sites: ProblemSite[] = [];
  for (let s = 0; s < nSites; s++) {
    const id = `${CITY_CODES[s % CITY_CODES.length] ?? 'WH'}${String(s + 1).padStart(2, '0')}`;
    sites.push({ id, parcelCap: rng.chance(0.75) ? null : rng.int(0, 4) });
  }

  // Pools: each site holds each SKU with a probability that depends on the instance's regime;
  // the held quantity is zero, short, enough or plenty, relative to the order's demand.
  const regime = rng.pick(['plenty', 'mixed', 'mixed', 'scarce'] as const);
  const holdProbability = size.holdProbability ?? (regime === 'plenty' ? 0.7 : regime === 'mixed' ? 0.45 : 0.25);
  const pools: ProblemPool[] = [];
  const poolOf = new Map<string, number>(); // key `${site}|${sku}` -> pool index
  for (let s = 0; s < nSites; s++) {
    for (const sku of skus) {
      if (!rng.chance(holdProbability)) continue;
      const demand = demandBySku.get(sku) ?? 1;
      const kind = rng.float(0, 1);
      let qty: number;
      if (kind < 0.12) qty = 0; // A pool row exists but everything is reserved.
      else if (kind < 0.45) qty = rng.int(1, Math.max(1, demand - 1)); // Short.
      else if (kind < 0.8) qty = rng.int(demand, demand * 3); // Enough.
      else qty = rng.int(500, 5000); // Plenty.
      poolOf.set(`${s}|${sku}`, pools.length);
      pools.push({ id: `${sites[s]?.id ?? s}/${sku}`, qty });
    }
  }

  // Arcs: a direct arc from the site's own pool for every line whose SKU it holds; some sites
  // also pull the SKU from other sites' pools by line haul (transfer arcs).
  const arcs: ProblemArc[] = [];
  const siteHasTransfer: boolean[] = [];
  for (let s = 0; s < nSites; s++) {
    const isHub = rng.chance(size.hubProbability ?? 0.35);
    let transfers = 0;
    for (let l = 0; l < nLines; l++) {
      const line = lines[l] as ProblemLine;
      const own = poolOf.get(`${s}|${line.sku}`);
      if (own !== undefined) arcs.push({ site: s, line: l, pool: own, unitCost: rng.amount(0, 3), transfer: false });
      if (!isHub) continue;
      const donors: number[] = [];
      for (let t = 0; t < nSites; t++) if (t !== s && poolOf.has(`${t}|${line.sku}`)) donors.push(t);
      for (const t of rng.sample(donors, rng.int(0, maxTransfers))) {
        arcs.push({ site: s, line: l, pool: poolOf.get(`${t}|${line.sku}`) as number, unitCost: rng.amount(0.5, 15), transfer: true });
        transfers++;
      }
    }
    siteHasTransfer.push(transfers > 0);
  }

  // Options: one direct shipment per site and courier; sites with transfer arcs also get a
  // transfer shipment per courier, which costs more because it waits for the line haul. The
  // lane's base rate (4–40 CNY) is paid per parcel; fixedCost is a lateness penalty (usually 0,
  // sometimes up to 200) plus, for transfer shipments, the extra cost of waiting. A courier's
  // parcel weight limit is usually the same for all its lanes, sometimes absent.
  const options: ProblemOption[] = [];
  const kgScale = size.kgScale ?? 1;
  const parcelMaxKgDraw = (): number | null => (rng.chance(0.45) ? null : rng.int(Math.round(20 * kgScale), Math.round(60 * kgScale)));
  const courierParcelMaxKg = Array.from({ length: nCouriers }, parcelMaxKgDraw);
  for (let s = 0; s < nSites; s++) {
    for (let c = 0; c < nCouriers; c++) {
      const perParcel = rng.amount(4, 40);
      const lateness = rng.chance(0.2) ? rng.amount(0, 200) : 0;
      const perKg = rng.amount(0.5, 6);
      const parcelMaxKg = rng.chance(0.8) ? (courierParcelMaxKg[c] ?? null) : parcelMaxKgDraw();
      options.push({ site: s, courier: c, fixedCost: lateness, perParcel, perKg, parcelMaxKg, transfer: false });
      if (siteHasTransfer[s]) {
        const extra = rng.amount(5, 60);
        const perKgTransfer = rng.chance(0.5) ? perKg : rng.amount(0.5, 6);
        options.push({ site: s, courier: c, fixedCost: round2(lateness + extra), perParcel, perKg: perKgTransfer, parcelMaxKg, transfer: true });
      }
    }
  }

  // Couriers: caps are often absent and sometimes tight enough to bind (even zero).
  const couriers: ProblemCourier[] = [];
  for (let c = 0; c < nCouriers; c++) {
    couriers.push({
      id: COURIER_IDS[c % COURIER_IDS.length] ?? `C${c}`,
      parcelCap: rng.chance(0.6) ? null : rng.int(0, 3),
      kgCap: rng.chance(0.6) ? null : rng.int(0, Math.round(80 * kgScale)),
    });
  }

  const splitPenalty = rng.chance(0.15) ? 0 : rng.amount(0, 30);
  const allowSplit = !rng.chance(0.15);
  return { lines, pools, sites, arcs, options, couriers, splitPenalty, backorderPenalty: 10_000, allowSplit };
}

/**
 * The tiny instances used against brute force: 1–2 lines, 2–3 sites, 2 couriers, qty 1–3 (and
 * sometimes up to 5). With so few sites, stock is made more common and transfers more frequent
 * than in `generateProblem`'s defaults, otherwise most tiny instances would simply backorder;
 * and weight limits are scaled to the small quantities (parcelMaxKg 6–18, kgCap 0–24) so that
 * multi-parcel shipments and weight caps occur.
 */
export function generateTinyProblem(seed: number): Problem {
  const rng = new Rng(mulberry32(seed ^ 0x9e3779b9));
  return generateProblem(seed, {
    lines: rng.int(1, 2),
    sites: rng.int(2, 3),
    couriers: 2,
    maxQty: rng.chance(0.3) ? 5 : 3,
    maxTransfersPerLine: 1,
    holdProbability: rng.float(0.5, 0.9),
    hubProbability: 0.6,
    kgScale: 0.3,
  });
}

/**
 * The differential-test instance for one seed. The shape is a function of the seed alone, so
 * that any failing seed can be replayed on its own: seeds ≡ 0 (mod 4) get the largest shape
 * (10 lines x 17 sites x 4 couriers), seeds ≡ 1 a small one (1–3 lines, 5–7 sites), and the
 * rest are drawn from the full ranges (1–10 lines, 5–17 sites).
 */
export function problemForSeed(seed: number): Problem {
  const shape = new Rng(mulberry32(seed ^ 0x5bd1e995));
  let size: ProblemSize;
  if (seed % 4 === 0) size = { lines: 10, sites: 17, couriers: 4 };
  else if (seed % 4 === 1) size = { lines: shape.int(1, 3), sites: shape.int(5, 7), couriers: 4 };
  else size = { couriers: 4 };
  return generateProblem(seed, size);
}

/** Yields `count` instances from consecutive seeds starting at `baseSeed` (see `problemForSeed`). */
export function* problems(count: number, baseSeed: number): Generator<GeneratedProblem> {
  for (let i = 0; i < count; i++) {
    const seed = (baseSeed + i) >>> 0;
    yield { index: i, seed, problem: problemForSeed(seed) };
  }
}

/**
 * The seeds a differential test runs: `<PREFIX>_SEEDS=1,2,3` exactly, else `<PREFIX>_COUNT`
 * consecutive seeds from `<PREFIX>_BASE_SEED` (defaults given by the test).
 */
export function seedsFromEnv(prefix: string, baseSeed: number, count: number): number[] {
  const list = process.env[`${prefix}_SEEDS`];
  if (list) return list.split(',').map((s) => Number(s.trim()));
  const base = Number(process.env[`${prefix}_BASE_SEED`] ?? baseSeed);
  const n = Number(process.env[`${prefix}_COUNT`] ?? count);
  return Array.from({ length: n }, (_, i) => base + i);
}

/**
 * The same instance with lateness levels, as candidate generation sets them: an option with a
 * lateness cost (fixedCost > 0 on a direct option; on a transfer option, more than its site's
 * direct one) is one or two whole days late, the rest are on time. Deterministic in the seed.
 */
export function withLateness(p: Problem, seed: number): Problem {
  const rng = new Rng(mulberry32(seed ^ 0x2545f491));
  const direct = new Map<string, number>();
  for (const o of p.options) if (!o.transfer) direct.set(`${o.site}/${o.courier}`, o.fixedCost);
  return {
    ...p,
    options: p.options.map((o) => {
      const base = o.transfer ? (direct.get(`${o.site}/${o.courier}`) ?? 0) : 0;
      const late = o.fixedCost > base || (o.transfer && rng.chance(0.3)) ? rng.int(1, 2) : 0;
      return { ...o, late };
    }),
  };
}

/**
 * Capacity over days (issue 17, item 2), as candidate generation builds it: some sites ship on a
 * later day (1 or 2 days on). Their options use problem couriers of that day (copies of the
 * couriers with their own remaining capacity, appended after the day's couriers), are that many
 * whole days later and dearer by their lateness, and their arcs hold stock longer. Apply after
 * withLateness (it adds the days to each option's lateness).
 */
export function withLaterDays(p: Problem, seed: number): Problem {
  const rng = new Rng(mulberry32(seed ^ 0x5bd1e995));
  const dayOf = p.sites.map(() => (rng.chance(0.3) ? rng.int(1, 2) : 0));
  if (dayOf.every((d) => d === 0)) return p;
  const couriers = [...p.couriers];
  const base = new Map<number, number>();
  for (const d of [...new Set(dayOf)].filter((x) => x > 0).sort()) {
    base.set(d, couriers.length);
    couriers.push(
      ...p.couriers.map((c) => ({
        ...c,
        id: `${c.id}+${d}d`,
        parcelCap: c.parcelCap === null ? (rng.chance(0.5) ? null : rng.int(1, 6)) : rng.int(0, c.parcelCap + 3),
        kgCap: c.kgCap === null ? null : rng.int(0, Math.ceil(c.kgCap) + 50),
      })),
    );
  }
  return {
    ...p,
    couriers,
    options: p.options.map((o) => {
      const d = dayOf[o.site]!;
      return d === 0 ? o : { ...o, courier: base.get(d)! + o.courier, late: (o.late ?? 0) + d, fixedCost: o.fixedCost + d * rng.int(0, 36) };
    }),
    arcs: p.arcs.map((a) => (dayOf[a.site]! > 0 ? { ...a, unitCost: a.unitCost + dayOf[a.site]! * 0.05 } : a)),
  };
}

/**
 * Open shipments as options (issue 21, item 1), as candidate generation builds them: some sites
 * also have a shipment to the same customer and address that is not picked up yet. Joining it is
 * one more site (same warehouse: its direct arcs draw on the same pools) with one option that pays
 * no base rate (perParcel 0, one parcel: parcelMaxKg null), the lane's per kg, and the open
 * shipment's lateness; its courier is a copy with no parcel cap and a kg cap for the room left in
 * the shipment's parcels (sometimes none, sometimes zero). Deterministic in the seed.
 */
export function withOpenShipments(p: Problem, seed: number): Problem {
  const rng = new Rng(mulberry32(seed ^ 0x1b873593));
  const sites = [...p.sites];
  const arcs = [...p.arcs];
  const options = [...p.options];
  const couriers = [...p.couriers];
  p.sites.forEach((site, s) => {
    if (!rng.chance(0.35)) return;
    const direct = p.arcs.filter((a) => a.site === s && !a.transfer);
    if (direct.length === 0) return;
    const join = sites.push({ id: `${site.id}+open`, parcelCap: null }) - 1;
    for (const a of direct) arcs.push({ ...a, site: join });
    const like = p.options.find((o) => o.site === s && !o.transfer) ?? p.options[0]!;
    const courier = couriers.push({ id: `${p.couriers[like.courier]!.id}+open${s}`, parcelCap: null, kgCap: rng.chance(0.3) ? null : rng.int(0, 30) }) - 1;
    const late = rng.chance(0.2) ? rng.int(1, 2) : 0;
    options.push({ site: join, courier, fixedCost: late > 0 ? rng.amount(0, 200) : 0, perParcel: 0, perKg: like.perKg, parcelMaxKg: null, transfer: false, late });
  });
  return { ...p, sites, arcs, options, couriers };
}
