import { makePlan, parcelsFor, shipmentCost } from './cost.js';
import type { Plan, PlanShipment, Problem } from './types.js';

/**
 * The cheapest plan in which one site ships every line in full from its own stock (direct arcs,
 * no transfers), or null when it cannot: not enough free stock, or no courier option with
 * parcels and kilograms left for it. Used by the radius-lock rule, the greedy fallback and to price the
 * "why not this warehouse?" alternative in explanations.
 */
export function bestSingleSitePlan(p: Problem, site: number): Plan | null {
  const arcs: number[] = [];
  for (let ai = 0; ai < p.arcs.length; ai++) if (p.arcs[ai]!.site === site && !p.arcs[ai]!.transfer) arcs.push(ai);
  const options: number[] = [];
  for (let oi = 0; oi < p.options.length; oi++) if (p.options[oi]!.site === site && !p.options[oi]!.transfer) options.push(oi);
  return planOf(p, singleSiteShipment(p, site, arcs, options, p.pools.map(() => 0)));
}

/** Each site's direct (non-transfer) arcs and options, as indices in problem order. */
export interface DirectBySite {
  arcs: number[][];
  options: number[][];
}

export function directBySite(p: Problem): DirectBySite {
  const arcs: number[][] = p.sites.map(() => []);
  for (let ai = 0; ai < p.arcs.length; ai++) if (!p.arcs[ai]!.transfer) arcs[p.arcs[ai]!.site]!.push(ai);
  const options: number[][] = p.sites.map(() => []);
  for (let oi = 0; oi < p.options.length; oi++) if (!p.options[oi]!.transfer) options[p.options[oi]!.site]!.push(oi);
  return { arcs, options };
}

/**
 * `bestSingleSitePlan` of every site, in one pass over the arcs and options instead of one per
 * site (explanations price every site; the radius lock tries them all).
 */
export function bestSingleSitePlans(p: Problem, direct: DirectBySite = directBySite(p)): (Plan | null)[] {
  const taken = p.pools.map(() => 0);
  return p.sites.map((_, s) => planOf(p, singleSiteShipment(p, s, direct.arcs[s]!, direct.options[s]!, taken)));
}

/**
 * The cheapest of the sites' single-site plans (the first such site on ties), or null when no
 * site can ship everything: the greedy plan's first try (solver/greedy.ts). Only the winner is
 * built into a plan (each site's is priced by its shipment's cost, which is its plan's objective:
 * nothing is backordered, and there is one shipment).
 */
export function cheapestSingleSitePlan(p: Problem, direct: DirectBySite = directBySite(p)): Plan | null {
  const taken = p.pools.map(() => 0);
  let best: SiteShipment | null = null;
  for (let s = 0; s < p.sites.length; s++) {
    const sh = singleSiteShipment(p, s, direct.arcs[s]!, direct.options[s]!, taken);
    if (sh && (!best || sh.cost < best.cost)) best = sh;
  }
  return planOf(p, best);
}

/** The plan of one single-site shipment (null stays null). */
function planOf(p: Problem, sh: SiteShipment | null): Plan | null {
  return sh && makePlan(p, [{ option: sh.option, arcs: sh.arcs }]);
}

interface SiteShipment {
  option: number;
  arcs: PlanShipment['arcs'];
  /** Its cost in the model (shipmentObjective). */
  cost: number;
}

/**
 * The cheapest shipment in which `site` ships every line in full from its own stock, or null.
 * `taken`: per pool, zeros; units taken by earlier lines while it runs (two lines of one SKU draw
 * on one pool), back to zeros on return.
 */
function singleSiteShipment(p: Problem, site: number, directArcs: readonly number[], directOptions: readonly number[], taken: number[]): SiteShipment | null {
  const arcs: PlanShipment['arcs'] = [];
  let weight = 0;
  let ok = true;
  for (let li = 0; li < p.lines.length; li++) {
    const line = p.lines[li]!;
    let best = -1;
    for (const ai of directArcs) {
      const a = p.arcs[ai]!;
      if (a.line !== li || p.pools[a.pool]!.qty - taken[a.pool]! < line.qty) continue;
      if (best < 0 || a.unitCost < p.arcs[best]!.unitCost) best = ai;
    }
    if (best < 0) {
      ok = false;
      break;
    }
    taken[p.arcs[best]!.pool] = taken[p.arcs[best]!.pool]! + line.qty;
    arcs.push({ arc: best, qty: line.qty });
    weight += line.qty * line.unitWeightKg;
  }
  for (const { arc } of arcs) taken[p.arcs[arc]!.pool] = 0;
  if (!ok) return null;
  // Every line ships in full in one shipment: the plan's objective is that shipment's cost, so
  // options are compared on it and only the winner is built into a plan.
  let bestOption = -1;
  let bestCost = Infinity;
  const siteCap = p.sites[site]!.parcelCap;
  for (const oi of directOptions) {
    const o = p.options[oi]!;
    const parcels = parcelsFor(o, weight);
    const c = p.couriers[o.courier]!;
    if ((c.parcelCap !== null && c.parcelCap < parcels) || (siteCap !== null && siteCap < parcels)) continue;
    if (c.kgCap !== null && c.kgCap < weight) continue;
    // `weight` is the arcs' shipmentWeightKg (the same terms in the same order).
    const cost = shipmentCost(p, o, weight, arcs);
    if (bestOption < 0 || cost < bestCost) {
      bestOption = oi;
      bestCost = cost;
    }
  }
  return bestOption < 0 ? null : { option: bestOption, arcs, cost: bestCost };
}
