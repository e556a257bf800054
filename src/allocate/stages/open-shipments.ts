import type { Problem } from '../../../solver/types.js';
import type { RadiusFacts } from '../../../solver/rules.js';
import { HOUR_MS } from '../../domain/time.js';
import { pickupMs } from '../../domain/waves.js';
import type { OpenShipment } from '../../store/types.js';
import { arcUnitCost, freeAt, type ArcInfo, type CandidateContext, type Pools, type SiteInfo, type StockArcs } from './context.js';
import { pushStockArcs } from './lots.js';
import type { OptionInfo } from './couriers.js';
import { laneTermsFrom } from './couriers.js';
import { lateness } from './order.js';

/** What an option that joins an open shipment stands for (OptionInfo.join). */
export interface JoinInfo {
  shipment: OpenShipment;
  /** The lane's base rate, CNY per parcel: what the order saves per parcel it would have shipped alone. */
  baseCny: number;
  /** The courier's heaviest parcel, kg (to count the parcels the order would have shipped alone). */
  parcelMaxKg: number;
}

/** The stage's additions, parallel to the problem's new sites and options. */
export interface JoinSites {
  sites: SiteInfo[];
  facts: RadiusFacts[];
  arcInfo: ArcInfo[];
  optionInfo: (OptionInfo & { join: JoinInfo })[];
}

/**
 * Stage "open shipments" (issue 21, item 1): a shipment of the same customer to the same
 * normalised address that is not picked up yet is one more place that can ship the order. It is a
 * site of its own (the shipment's warehouse: its direct arcs draw on the warehouse's pools, shared
 * with the warehouse's own site) with one option: the shipment's courier, wave and ETA, no base
 * rate (the shipment's parcels are paid already), the lane's per kg, and the lateness of its ETA
 * for this order's promise. Its courier entry caps the kilograms at the room left in the
 * shipment's parcels (and what the courier still takes today), so joining never adds a parcel:
 * the order's freight is exactly the freight its weight adds to the shipment. The site has no
 * outbound-parcel cap for the same reason. No transfers: the shipment leaves at its wave.
 *
 * The solver sees a generic site and option; which shipments are offered (open, not this order's
 * own, within the merge window, the master still held) is the allocator's choice.
 */
export function joinSites(ctx: CandidateContext, problem: Problem, pools: Pools, open: readonly OpenShipment[]): JoinSites {
  const out: JoinSites = { sites: [], facts: [], arcInfo: [], optionInfo: [] };
  const closed = ctx.courierTerms?.closed;
  const rules = ctx.order.rules;
  const laneTerms = laneTermsFrom(ctx);
  for (const sh of open) {
    const w = ctx.net.warehouseById.get(sh.warehouseId);
    const ci = ctx.net.couriers.findIndex((c) => c.id === sh.courierId);
    if (w === undefined || ci < 0 || sh.pickupAtMs <= ctx.nowMs || closed?.has(w.id)) continue;
    // A shipment collected before this order could be picked and packed (cut-off, processing) cannot take it.
    if (sh.pickupAtMs < pickupMs(ctx.nowMs, w, 0, ctx.cfg.timezoneOffsetMinutes)) continue;
    if (rules && (rules.forbidWarehouses.has(w.id) || (rules.forceWarehouse !== null && rules.forceWarehouse !== w.id))) continue;
    if (rules && (rules.forbidCouriers.has(sh.courierId) || (rules.forceCourier !== null && rules.forceCourier !== sh.courierId))) continue;
    const lane = laneTerms(ctx.net.warehouseProvince.get(w.id)!)[ci];
    if (!lane) continue;
    const roomKg = sh.maxGrams === null ? null : Math.max(0, sh.maxGrams - sh.grams) / 1_000;
    // The courier's kilograms left today bound a join on today's counters too (later days: the room alone).
    const todayKg = sh.shipDay === ctx.day ? (problem.couriers[ci]?.kgCap ?? null) : null;
    const kgCap = roomKg === null ? todayKg : todayKg === null ? roomKg : Math.min(roomKg, todayKg);
    if (kgCap !== null && kgCap <= 0) continue;
    const freePerLine = ctx.lines.map((l) => freeAt(ctx, w.id, l.sku));
    // The warehouse's own stock, drawn as its own site draws it (the same pools, near-expiry lots
    // apart with the same credit), so that a join neither counts a unit twice nor skips the weight.
    const draft: StockArcs = { site: problem.sites.length, arcs: [], arcInfo: [] };
    ctx.lines.forEach((l, li) => {
      if (freePerLine[li]! <= 0) return;
      // The units wait in the warehouse until the shipment's wave.
      const storage = (ctx.holdingPerUnitDay[li]! * Math.max(0, sh.pickupAtMs - ctx.nowMs)) / (24 * HOUR_MS);
      pushStockArcs(ctx, draft, pools, li, w.id, freePerLine[li]!, false, { fromWarehouseId: w.id, sku: l.sku, storagePerUnit: storage, transferPerUnit: 0 });
    });
    if (draft.arcs.length === 0) continue;
    const site = problem.sites.push({ id: `${w.id}+${sh.trackingNumber}`, parcelCap: null }) - 1;
    draft.arcs.forEach((a, i) => {
      const info = draft.arcInfo[i]!;
      a.unitCost = arcUnitCost(info);
      problem.arcs.push(a);
      out.arcInfo.push(info);
    });
    const courier = problem.couriers.push({ id: `${sh.courierId}+${sh.trackingNumber}`, parcelCap: null, kgCap }) - 1;
    const { hoursLate, latenessCny, lateDays } = lateness(ctx.cfg, ctx.order, sh.etaMs);
    problem.options.push({ site, courier, fixedCost: latenessCny, perParcel: 0, perKg: lane.rate.perKgCny, parcelMaxKg: null, transfer: false, late: lateDays });
    out.optionInfo.push({
      courierId: sh.courierId,
      latenessCny,
      hoursLate,
      etaMs: sh.etaMs,
      quoteVersion: lane.quoteVersion,
      quotedAt: lane.quotedAt,
      transitHours: lane.rate.transitHours,
      pickupMs: sh.pickupAtMs,
      shipDay: sh.shipDay,
      join: { shipment: sh, baseCny: lane.rate.baseCny, parcelMaxKg: ctx.net.couriers[ci]!.maxParcelKg },
    });
    const dayOffset = Math.max(0, ctx.days.indexOf(sh.shipDay));
    out.sites.push({ warehouse: w, roadKm: ctx.net.road.roadKm(w, w.regionCode, ctx.order.destination, ctx.region.code), shipDay: sh.shipDay, dayOffset });
    out.facts.push({ roadKm: out.sites[out.sites.length - 1]!.roadKm, radiusKm: w.radiusKm, freePerLine });
  }
  return out;
}
