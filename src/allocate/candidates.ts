import type { Config } from '../config.js';
import type { LaneTerms } from '../couriers/book.js';
import type { Courier } from '../domain/network.js';
import type { RegionProps, Warehouse } from '../domain/network.js';
import type { NetworkContext } from '../network/context.js';
import type { Problem, ProblemArc, ProblemOption } from '../../solver/types.js';
import type { RadiusFacts } from '../../solver/rules.js';
import { HOUR_MS, localDay, nextReadyMs } from './time.js';

/** A validated order in internal units (epoch ms, merged lines). */
export interface OrderInput {
  orderId: string;
  customerId: string;
  /** Epoch ms. */
  promisedByMs: number;
  destination: { lon: number; lat: number };
  /** One line per SKU. */
  lines: { sku: string; qty: number }[];
  allowSplit: boolean;
}

export interface SiteInfo {
  warehouse: Warehouse;
  /** Road km to the destination. */
  roadKm: number;
}

export interface ArcInfo {
  fromWarehouseId: string;
  sku: string;
  /** Storage occupation, CNY per unit. */
  storagePerUnit: number;
  /** Line haul + handling, CNY per unit (0 for direct arcs). */
  transferPerUnit: number;
}

export interface OptionInfo {
  courierId: string;
  /** Lateness penalty of this option's ETA, CNY. */
  latenessCny: number;
  /** Hours late (0 when on time). */
  hoursLate: number;
  /** Epoch ms. */
  etaMs: number;
  /** The courier quote's version (null: the bundled rate card) and when it was quoted (epoch ms). */
  quoteVersion: number | null;
  quotedAt: number | null;
  /** Transit hours of the lane. */
  transitHours: number;
}

/** Live courier terms for one decision: lane rates (quotes or rate card) and capacity limits. */
export interface CourierTerms {
  terms: (courier: Courier, fromProvince: string, toProvince: string) => LaneTerms | null;
  /** Per courier id: parcels and kg the courier takes for the destination province today (null = no limit). */
  limits: Map<string, { parcels: number | null; kg: number | null }>;
  /** Warehouses closed now (they ship nothing and send no transfers). */
  closed?: ReadonlySet<string>;
}

export interface Exclusion {
  warehouseId: string;
  code: 'WAREHOUSE_CLOSED' | 'WAREHOUSE_AT_CAPACITY' | 'NO_STOCK' | 'COURIER_NO_CAPACITY' | 'NO_COURIER_LANE';
  detail: string;
}

export interface Candidates {
  problem: Problem;
  facts: RadiusFacts[];
  region: RegionProps;
  sites: SiteInfo[];
  arcInfo: ArcInfo[];
  optionInfo: OptionInfo[];
  excluded: Exclusion[];
  /** Local day (YYYY-MM-DD) whose capacities the decision uses. */
  day: string;
}

/** The limit of a counter that has none: counted, never refused. */
export const NO_LIMIT = Number.MAX_SAFE_INTEGER;

/** Capacity counter keys, shared by candidate generation and reservations. */
export const counterKeys = {
  warehouseParcels: (warehouseId: string, day: string) => `cap:wh:${warehouseId}:${day}:parcels`,
  courierParcels: (courierId: string, provinceCode: string, day: string) => `cap:courier:${courierId}:${provinceCode}:${day}:parcels`,
  /** Grams (integers, so that Redis counts them exactly). */
  courierGrams: (courierId: string, provinceCode: string, day: string) => `cap:courier:${courierId}:${provinceCode}:${day}:grams`,
};

export type CandidateConfig = Pick<
  Config,
  | 'splitPenaltyCny'
  | 'latenessCnyPerHour'
  | 'holdingRatePerYear'
  | 'transferHandlingCnyPerUnit'
  | 'backorderPenaltyCny'
  | 'maxTransferSources'
  | 'timezoneOffsetMinutes'
>;

/**
 * Turns an order, a stock snapshot and capacity usage into the solver's generic problem
 * (design §3): which warehouses may ship (sites), from which stock (arcs, incl. line-haul
 * transfers), by which courier at what price and lateness (options), under which caps.
 * Business rules live here, not in the optimiser.
 */
export function buildCandidates(
  net: NetworkContext,
  cfg: CandidateConfig,
  order: OrderInput,
  region: RegionProps,
  free: Map<string, Map<string, number>>,
  usage: Map<string, number>,
  nowMs: number,
  courierTerms?: CourierTerms,
): Candidates {
  const tz = cfg.timezoneOffsetMinutes;
  const day = localDay(nowMs, tz);
  const destProvince = region.provinceCode;
  const lines = order.lines.map((l) => ({ sku: l.sku, qty: l.qty, unitWeightKg: net.skuByCode.get(l.sku)!.unitWeightKg }));
  const problem: Problem = {
    lines,
    pools: [],
    sites: [],
    arcs: [],
    options: [],
    couriers: net.couriers.map((c) => {
      const limit = courierTerms?.limits.get(c.id) ?? { parcels: c.dailyParcelsPerRegion, kg: null };
      return {
        id: c.id,
        parcelCap: limit.parcels === null ? null : Math.max(0, limit.parcels - (usage.get(counterKeys.courierParcels(c.id, destProvince, day)) ?? 0)),
        kgCap: limit.kg === null ? null : Math.max(0, limit.kg - (usage.get(counterKeys.courierGrams(c.id, destProvince, day)) ?? 0) / 1_000),
      };
    }),
    splitPenalty: cfg.splitPenaltyCny,
    backorderPenalty: cfg.backorderPenaltyCny,
    allowSplit: order.allowSplit,
  };
  const facts: RadiusFacts[] = [];
  const sites: SiteInfo[] = [];
  const arcInfo: ArcInfo[] = [];
  const optionInfo: OptionInfo[] = [];
  const excluded: Exclusion[] = [];

  // Pools are shared between a site's own shipment and transfers out of it: one per (warehouse, SKU).
  const poolIndex = new Map<string, Map<string, number>>();
  const pool = (warehouseId: string, sku: string, qty: number): number => {
    let bySku = poolIndex.get(warehouseId);
    if (bySku === undefined) poolIndex.set(warehouseId, (bySku = new Map()));
    let i = bySku.get(sku);
    if (i === undefined) {
      i = problem.pools.push({ id: `${warehouseId}/${sku}`, qty }) - 1;
      bySku.set(sku, i);
    }
    return i;
  };
  // Holding cost of one unit for a day, CNY, per line.
  const holdingPerUnitDay = lines.map((l) => (net.skuByCode.get(l.sku)!.priceCny * cfg.holdingRatePerYear) / 365);
  // Lane terms per courier and origin province (warehouses share provinces): looked up once each.
  const termsFrom = new Map<string, (LaneTerms | null)[]>();
  const laneTerms = (fromProvince: string): (LaneTerms | null)[] => {
    let all = termsFrom.get(fromProvince);
    if (all === undefined) {
      all = net.couriers.map((c) => {
        const lane = courierTerms ? courierTerms.terms(c, fromProvince, destProvince) : net.laneRate(c, fromProvince, destProvince);
        return !lane ? null : 'rate' in lane ? lane : { rate: lane, quoteVersion: null, quotedAt: null };
      });
      termsFrom.set(fromProvince, all);
    }
    return all;
  };
  const freeAt = (warehouseId: string, sku: string) => free.get(warehouseId)?.get(sku) ?? 0;

  // Per line, the warehouses holding free stock of it: the possible transfer sources (computed once).
  const closed = courierTerms?.closed ?? new Set<string>();
  const holders = lines.map((l) => net.warehouses.filter((v) => !closed.has(v.id) && freeAt(v.id, l.sku) > 0));

  for (const w of net.warehouses) {
    if (closed.has(w.id)) {
      excluded.push({ warehouseId: w.id, code: 'WAREHOUSE_CLOSED', detail: `${w.id} is closed` });
      continue;
    }
    const freePerLine = lines.map((l) => freeAt(w.id, l.sku));
    if (freePerLine.every((f) => f <= 0)) {
      excluded.push({ warehouseId: w.id, code: 'NO_STOCK', detail: `no free stock of ${lines.map((l) => l.sku).join(', ')}` });
      continue;
    }
    const used = usage.get(counterKeys.warehouseParcels(w.id, day)) ?? 0;
    const parcelsLeft = w.dailyOutboundParcels - used;
    if (parcelsLeft <= 0) {
      excluded.push({ warehouseId: w.id, code: 'WAREHOUSE_AT_CAPACITY', detail: `${used} of ${w.dailyOutboundParcels} outbound parcels for ${day} already used` });
      continue;
    }
    const whRegion = w.regionCode;
    const roadKm = net.road.roadKm(w, whRegion, order.destination, region.code);
    const readyMs = nextReadyMs(nowMs, w, 0, tz);
    const site = problem.sites.length;
    const siteArcs: ProblemArc[] = [];
    const siteArcInfo: ArcInfo[] = [];

    // Direct arcs: the site's own free stock.
    lines.forEach((l, li) => {
      if (freePerLine[li]! <= 0) return;
      siteArcs.push({ site, line: li, pool: pool(w.id, l.sku, freePerLine[li]!), unitCost: 0, transfer: false });
      const storage = (holdingPerUnitDay[li]! * (readyMs - nowMs)) / (24 * HOUR_MS);
      siteArcInfo.push({ fromWarehouseId: w.id, sku: l.sku, storagePerUnit: storage, transferPerUnit: 0 });
    });

    // Transfer arcs: for lines the site cannot cover alone, the cheapest few line-haul sources
    // (line haul + handling + storage while the stock travels, ties by warehouse id).
    let transferLeadHours = 0;
    const k = cfg.maxTransferSources;
    if (k > 0) {
      // When stock that arrives after `hours` of line haul is ready here: per lane duration, once per site.
      const readyAfter = new Map<number, number>();
      lines.forEach((l, li) => {
        if (freePerLine[li]! >= l.qty) return;
        const holding = holdingPerUnitDay[li]!;
        // The k cheapest so far, cheapest first (k is small: insertion beats sorting every holder).
        const best: { v: Warehouse; hours: number; transferPerUnit: number; storagePerUnit: number; total: number }[] = [];
        for (const v of holders[li]!) {
          if (v.id === w.id) continue;
          const lane = net.lineHaulLane(v.id, w.id);
          if (lane === undefined) continue;
          let ready = readyAfter.get(lane.hours);
          if (ready === undefined) {
            ready = nextReadyMs(nowMs, w, lane.hours, tz);
            readyAfter.set(lane.hours, ready);
          }
          const transferPerUnit = lane.perKgCny * l.unitWeightKg + cfg.transferHandlingCnyPerUnit;
          const storagePerUnit = (holding * (ready - nowMs)) / (24 * HOUR_MS);
          const total = transferPerUnit + storagePerUnit;
          let at = best.length;
          while (at > 0 && (best[at - 1]!.total > total || (best[at - 1]!.total === total && best[at - 1]!.v.id > v.id))) at--;
          if (at >= k) continue;
          best.splice(at, 0, { v, hours: lane.hours, transferPerUnit, storagePerUnit, total });
          if (best.length > k) best.pop();
        }
        for (const src of best) {
          siteArcs.push({ site, line: li, pool: pool(src.v.id, l.sku, freeAt(src.v.id, l.sku)), unitCost: 0, transfer: true });
          siteArcInfo.push({ fromWarehouseId: src.v.id, sku: l.sku, storagePerUnit: src.storagePerUnit, transferPerUnit: src.transferPerUnit });
          transferLeadHours = Math.max(transferLeadHours, src.hours);
        }
      });
    }
    const hasTransfers = siteArcs.some((a) => a.transfer);

    // Options: every courier with a lane rate and capacity left; a transfer variant waits for line haul.
    const siteOptions: { option: ProblemOption; info: OptionInfo }[] = [];
    let noCapacity = 0;
    let noLane = 0;
    const siteTerms = laneTerms(net.warehouseProvince.get(w.id)!);
    // When the site hands over: at once, or after the slowest transfer's line haul.
    const readyAfterTransfers = hasTransfers ? nextReadyMs(nowMs, w, transferLeadHours, tz) : readyMs;
    for (let ci = 0; ci < net.couriers.length; ci++) {
      const c = net.couriers[ci]!;
      const terms = siteTerms[ci]!;
      if (!terms) {
        noLane++;
        continue;
      }
      const rate = terms.rate;
      if (problem.couriers[ci]!.parcelCap === 0 || problem.couriers[ci]!.kgCap === 0) {
        noCapacity++;
        continue;
      }
      for (let variant = 0; variant < (hasTransfers ? 2 : 1); variant++) {
        const transfer = variant === 1;
        const ready = transfer ? readyAfterTransfers : readyMs;
        const etaMs = ready + rate.transitHours * HOUR_MS;
        const hoursLate = Math.max(0, (etaMs - order.promisedByMs) / HOUR_MS);
        const latenessCny = hoursLate * cfg.latenessCnyPerHour;
        siteOptions.push({
          option: { site, courier: ci, fixedCost: latenessCny, perParcel: rate.baseCny, perKg: rate.perKgCny, parcelMaxKg: c.maxParcelKg, transfer },
          info: { courierId: c.id, latenessCny, hoursLate, etaMs, quoteVersion: terms.quoteVersion, quotedAt: terms.quotedAt, transitHours: rate.transitHours },
        });
      }
    }
    if (siteOptions.length === 0) {
      excluded.push(
        noCapacity > 0
          ? { warehouseId: w.id, code: 'COURIER_NO_CAPACITY', detail: `every courier serving ${region.name} is out of capacity for ${day}` }
          : { warehouseId: w.id, code: 'NO_COURIER_LANE', detail: `no courier rate from ${w.province} to ${region.name} (${noLane} couriers checked)` },
      );
      continue;
    }

    problem.sites.push({ id: w.id, parcelCap: parcelsLeft });
    sites.push({ warehouse: w, roadKm });
    facts.push({ roadKm, radiusKm: w.radiusKm, freePerLine });
    siteArcs.forEach((a, i) => {
      const info = siteArcInfo[i]!;
      a.unitCost = info.storagePerUnit + info.transferPerUnit;
      problem.arcs.push(a);
      arcInfo.push(info);
    });
    for (const o of siteOptions) {
      problem.options.push(o.option);
      optionInfo.push(o.info);
    }
  }
  return { problem, facts, region, sites, arcInfo, optionInfo, excluded, day };
}
