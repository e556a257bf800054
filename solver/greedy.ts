import { KG_EPS, makePlan, parcelsFor, shipmentObjective, shipmentWeightKg } from './cost.js';
import { cheapestSingleSitePlan, directBySite } from './single.js';
import type { Plan, PlanShipment, Problem } from './types.js';

/**
 * The deadline fallback: a fast, always-feasible plan with no optimality promise.
 * 1. The cheapest single-site plan, if any site can ship everything.
 * 2. Otherwise, repeatedly open the site (with its cheapest direct option that fits the caps)
 *    that covers the most remaining units, until nothing more can be covered or splitting is
 *    not allowed; the rest is backordered. Transfers are not used.
 */
export function solveGreedy(p: Problem): Plan {
  // Each site's direct arcs and options, in problem order (a site ships only from its own stock here).
  const direct = directBySite(p);
  const single = cheapestSingleSitePlan(p, direct);
  if (single) return single;

  const remaining = p.lines.map((l) => l.qty);
  const poolLeft = p.pools.map((pool) => pool.qty);
  const parcelsLeft = p.couriers.map((c) => c.parcelCap ?? Infinity);
  const kgLeft = p.couriers.map((c) => c.kgCap ?? Infinity);
  const usedSites = new Set<number>();
  const shipments: Pick<PlanShipment, 'option' | 'arcs'>[] = [];
  for (;;) {
    if (!p.allowSplit && shipments.length === 1) break;
    let pick: { shipment: Pick<PlanShipment, 'option' | 'arcs'>; units: number; cost: number } | null = null;
    for (let oi = 0; oi < p.options.length; oi++) {
      const o = p.options[oi]!;
      if (o.transfer || usedSites.has(o.site)) continue;
      // Room by weight: the courier's kg left, and as many full parcels as both caps allow.
      const parcelRoom = Math.min(parcelsLeft[o.courier]!, p.sites[o.site]!.parcelCap ?? Infinity);
      if (parcelRoom < 1) continue;
      let room = Math.min(kgLeft[o.courier]!, o.parcelMaxKg === null ? Infinity : o.parcelMaxKg * parcelRoom);
      const arcs: PlanShipment['arcs'] = [];
      let units = 0;
      // Two lines of one SKU draw on one pool: count what this shipment already takes from it.
      const taking = new Map<number, number>();
      // ... and a line with direct arcs from two pools must not be over-filled either.
      const takingLine = new Map<number, number>();
      for (const ai of direct.arcs[o.site]!) {
        const a = p.arcs[ai]!;
        const w = p.lines[a.line]!.unitWeightKg;
        const byWeight = w > 0 ? Math.floor(room / w + KG_EPS) : Infinity;
        const taken = taking.get(a.pool) ?? 0;
        const qty = Math.min(remaining[a.line]! - (takingLine.get(a.line) ?? 0), poolLeft[a.pool]! - taken, byWeight);
        if (qty <= 0) continue;
        arcs.push({ arc: ai, qty });
        taking.set(a.pool, taken + qty);
        takingLine.set(a.line, (takingLine.get(a.line) ?? 0) + qty);
        units += qty;
        room -= qty * w;
      }
      if (units === 0) continue;
      const shipment = { option: oi, arcs };
      const cost = shipmentObjective(p, shipment);
      if (!pick || units > pick.units || (units === pick.units && cost < pick.cost)) pick = { shipment, units, cost };
    }
    if (!pick) break;
    const o = p.options[pick.shipment.option]!;
    const kg = shipmentWeightKg(p, pick.shipment);
    usedSites.add(o.site);
    parcelsLeft[o.courier]! -= parcelsFor(o, kg);
    kgLeft[o.courier]! -= kg;
    for (const { arc, qty } of pick.shipment.arcs) {
      const a = p.arcs[arc]!;
      remaining[a.line]! -= qty;
      poolLeft[a.pool]! -= qty;
    }
    shipments.push(pick.shipment);
  }
  return makePlan(p, shipments);
}
