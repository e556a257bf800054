import type { RadiusFacts } from '../../solver/rules.js';
import type { Problem } from '../../solver/types.js';
import type { RegionProps, Warehouse } from '../domain/network.js';
import { localDay } from '../domain/time.js';
import type { NetworkContext } from '../network/context.js';
import { counterKeys } from '../store/keys.js';
import { arcUnitCost, freeAt, Pools, type ArcInfo, type CandidateConfig, type CandidateContext, type CourierTerms, type OrderInput, type SiteInfo } from './stages/context.js';
import { courierCaps, laneTermsFrom, siteOptions, type OptionInfo, type SiteOptions } from './stages/couriers.js';
import { horizonDays, laterDays } from './stages/ship-days.js';
import { capPartialLines, orderProblem } from './stages/order.js';
import { siteStock } from './stages/stock.js';
import { linesWithNear, type LotOffer } from './stages/lots.js';
import { siteTransfers, transferHolders } from './stages/transfers.js';
import { joinSites } from './stages/open-shipments.js';
import type { OpenShipment } from '../store/types.js';

export type { ArcInfo, CandidateConfig, CourierTerms, OrderInput, RuleConstraints, SiteInfo } from './stages/context.js';
export type { OptionInfo } from './stages/couriers.js';

export interface Exclusion {
  warehouseId: string;
  code: 'WAREHOUSE_CLOSED' | 'WAREHOUSE_AT_CAPACITY' | 'NO_STOCK' | 'COURIER_NO_CAPACITY' | 'NO_COURIER_LANE' | 'RULE_FORBIDDEN_WAREHOUSE' | 'RULE_FORCED_WAREHOUSE';
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
  /** Units ordered per line (problem.lines carries what the order may take: less where capped). */
  ordered: number[];
  /** Per line, the network's free units where the partial cap lowered the line (null elsewhere). */
  partialCapped: (number | null)[];
  /** The lots offered to the order's shelf-life SKUs (absent when the order has none). */
  lots?: LotOffer;
}

/** The limit of a counter that has none: counted, never refused. */
export const NO_LIMIT = Number.MAX_SAFE_INTEGER;

/**
 * Turns an order, a stock snapshot and capacity usage into the solver's generic problem
 * (design §3): which warehouses may ship (sites), from which stock (arcs, incl. line-haul
 * transfers), by which courier at what price and lateness (options), under which caps. Business
 * rules live here, not in the optimiser, as a short pipeline of stages (src/allocate/stages/):
 *
 *   order      the order's own constraints: lines, split, backorder weight, storage per day,
 *              and the partial cap (a line the network cannot supply in full takes at most a
 *              share of what the network has)
 *   couriers   what each courier can still take to the destination today
 *   per warehouse, unless it is closed, holds none of the lines or has shipped its day's parcels:
 *     stock      its own free stock (this customer's view, its locks included) as direct arcs
 *     transfers  the cheapest line-haul sources for what it lacks, as transfer arcs
 *     couriers   one option per courier with a lane and capacity (and a transfer variant)
 *   a warehouse with no option is excluded with the reason; the others become sites.
 *
 *   open shipments  a shipment of this customer to this address not picked up yet, as one more
 *              site and option that pays no base rate (stages/open-shipments.ts)
 *
 * A new rule (lots, open shipments, later days, rule constraints) is one more stage: the solver
 * stays untouched.
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
  lots?: LotOffer,
  /** Open shipments of this customer to this address that the order may join (stages/open-shipments.ts). */
  open: readonly OpenShipment[] = [],
): Candidates {
  const day = localDay(nowMs, cfg.timezoneOffsetMinutes);
  const days = horizonDays(nowMs, cfg);
  const { problem, holdingPerUnitDay } = orderProblem(net, cfg, order);
  const ctx: CandidateContext = { net, cfg, order, region, free, usage, nowMs, courierTerms, day, days, lines: problem.lines, holdingPerUnitDay };
  // Stage "lots": a shelf-life SKU's free units are its eligible lots and any stock without a lot (freeAt).
  if (lots !== undefined) {
    ctx.lots = lots;
    ctx.lineHasNear = linesWithNear(problem.lines, lots);
  }
  const ordered = problem.lines.map((l) => l.qty);
  const partialCapped = capPartialLines(ctx);
  problem.couriers = courierCaps(ctx);
  const later = laterDays(ctx, problem);
  const facts: RadiusFacts[] = [];
  const sites: SiteInfo[] = [];
  const arcInfo: ArcInfo[] = [];
  const optionInfo: OptionInfo[] = [];
  const excluded: Exclusion[] = [];
  const pools = new Pools(problem);
  const laneTerms = laneTermsFrom(ctx);
  const closed = courierTerms?.closed ?? new Set<string>();
  const rules = order.rules;
  // A warehouse a rule forbids neither ships nor sends transfers; one forced elsewhere may still send transfers.
  const holders = transferHolders(ctx, rules && rules.forbidWarehouses.size > 0 ? new Set([...closed, ...rules.forbidWarehouses]) : closed);
  const parcelsLeftOn = (w: Warehouse, k: number) => w.dailyOutboundParcels - (usage.get(counterKeys.warehouseParcels(w.id, days[k]!)) ?? 0);
  const horizon = days.length > 1 ? ` (and every day of the ${days.length}-day capacity horizon)` : '';

  for (const w of net.warehouses) {
    if (closed.has(w.id)) {
      excluded.push({ warehouseId: w.id, code: 'WAREHOUSE_CLOSED', detail: `${w.id} is closed` });
      continue;
    }
    if (rules?.forbidWarehouses.has(w.id)) {
      excluded.push({ warehouseId: w.id, code: 'RULE_FORBIDDEN_WAREHOUSE', detail: `a business rule forbids ${w.id} for this order (FORBID_WAREHOUSE)` });
      continue;
    }
    if (rules?.forceWarehouse != null && rules.forceWarehouse !== w.id) {
      excluded.push({ warehouseId: w.id, code: 'RULE_FORCED_WAREHOUSE', detail: `a business rule makes ${rules.forceWarehouse} the only warehouse that ships this order (FORCE_WAREHOUSE)` });
      continue;
    }
    if (problem.lines.every((l) => freeAt(ctx, w.id, l.sku) <= 0)) {
      excluded.push({ warehouseId: w.id, code: 'NO_STOCK', detail: `no free stock of ${problem.lines.map((l) => l.sku).join(', ')}` });
      continue;
    }
    // Stage "capacity over days": the first day of the horizon on which the warehouse has outbound
    // parcels left and a courier with room takes the order. When today can, nothing changes; a
    // later day ships on that day's first collection wave, with its ETA and a day's more storage
    // per day waited, and books that day's counters.
    const firstOpen = days.findIndex((_d, k) => parcelsLeftOn(w, k) > 0);
    if (firstOpen < 0) {
      const used = usage.get(counterKeys.warehouseParcels(w.id, day)) ?? 0;
      excluded.push({ warehouseId: w.id, code: 'WAREHOUSE_AT_CAPACITY', detail: `${used} of ${w.dailyOutboundParcels} outbound parcels for ${day} already used${horizon}` });
      continue;
    }
    const roadKm = net.road.roadKm(w, w.regionCode, order.destination, region.code);
    const draft = siteStock(ctx, w, problem.sites.length, pools);
    siteTransfers(ctx, draft, holders, pools);
    const terms = laneTerms(net.warehouseProvince.get(w.id)!);
    let offered: SiteOptions = { ok: false, noCapacity: 0, noLane: 0 };
    let k = firstOpen;
    for (; k < days.length; k++) {
      if (parcelsLeftOn(w, k) <= 0) continue;
      offered = k === 0 ? siteOptions(ctx, draft, problem.couriers, terms) : siteOptions(ctx, draft, later.caps(k), terms, later.shipDay(k, w));
      if (offered.ok || offered.noCapacity === 0) break;
    }
    if (!offered.ok) {
      excluded.push(
        offered.noCapacity > 0
          ? { warehouseId: w.id, code: 'COURIER_NO_CAPACITY', detail: `every courier serving ${region.name} is out of capacity for ${day}${horizon}` }
          : { warehouseId: w.id, code: 'NO_COURIER_LANE', detail: `no courier rate from ${w.province} to ${region.name} (${offered.noLane} couriers checked)` },
      );
      continue;
    }
    problem.sites.push({ id: w.id, parcelCap: parcelsLeftOn(w, k) });
    sites.push({ warehouse: w, roadKm, shipDay: days[k]!, dayOffset: k });
    facts.push({ roadKm, radiusKm: w.radiusKm, freePerLine: draft.freePerLine });
    draft.arcs.forEach((a, i) => {
      const info = draft.arcInfo[i]!;
      // Each day waited for a later wave holds the units a day longer.
      if (k > 0) info.storagePerUnit += k * holdingPerUnitDay[a.line]!;
      a.unitCost = arcUnitCost(info);
      problem.arcs.push(a);
      arcInfo.push(info);
    });
    for (const o of offered.options) {
      problem.options.push(o.option);
      optionInfo.push(o.info);
    }
  }
  if (open.length > 0) {
    const joins = joinSites(ctx, problem, pools, open);
    sites.push(...joins.sites);
    facts.push(...joins.facts);
    arcInfo.push(...joins.arcInfo);
    optionInfo.push(...joins.optionInfo);
  }
  return { problem, facts, region, sites, arcInfo, optionInfo, excluded, day, ordered, partialCapped };
}
