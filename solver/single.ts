import { makePlan, parcelsFor } from './cost.js';
import type { Plan, PlanShipment, Problem } from './types.js';

/**
 * The cheapest plan in which one site ships every line in full from its own stock (direct arcs,
 * no transfers), or null when it cannot: not enough free stock, or no courier option with
 * parcels and kilograms left for it. Used by the radius-lock rule, the greedy fallback and to price the
 * "why not this warehouse?" alternative in explanations.
 */
export function bestSingleSitePlan(p: Problem, site: number): Plan | null {
  const arcs: PlanShipment['arcs'] = [];
  let weight = 0;
  // Two lines of one SKU draw on one pool: what earlier lines took is no longer free.
  const taken = new Map<number, number>();
  for (let li = 0; li < p.lines.length; li++) {
    const line = p.lines[li]!;
    let best = -1;
    p.arcs.forEach((a, ai) => {
      if (a.site !== site || a.line !== li || a.transfer || p.pools[a.pool]!.qty - (taken.get(a.pool) ?? 0) < line.qty) return;
      if (best < 0 || a.unitCost < p.arcs[best]!.unitCost) best = ai;
    });
    if (best < 0) return null;
    const pool = p.arcs[best]!.pool;
    taken.set(pool, (taken.get(pool) ?? 0) + line.qty);
    arcs.push({ arc: best, qty: line.qty });
    weight += line.qty * line.unitWeightKg;
  }
  let bestPlan: Plan | null = null;
  p.options.forEach((o, oi) => {
    if (o.site !== site || o.transfer) return;
    const parcels = parcelsFor(o, weight);
    const c = p.couriers[o.courier]!;
    const siteCap = p.sites[site]!.parcelCap;
    if ((c.parcelCap !== null && c.parcelCap < parcels) || (siteCap !== null && siteCap < parcels)) return;
    if (c.kgCap !== null && c.kgCap < weight) return;
    const plan = makePlan(p, [{ option: oi, arcs }]);
    if (!bestPlan || plan.objective < bestPlan.objective) bestPlan = plan;
  });
  return bestPlan;
}
