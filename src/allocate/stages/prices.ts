import type { Plan } from '../../../solver/types.js';
import type { PriceSnapshot } from '../../pricing/snapshot.js';
import type { Candidates } from '../candidates.js';

/** The scarcity weights one decision's problem carries, per option (per parcel) and per arc (per unit), CNY weights, never money. */
export interface PriceWeights {
  perParcel: Float64Array;
  perUnit: Float64Array;
}

/**
 * Stage "shadow prices" (policy `optimized`, issue 17 item 3): each option's cost per parcel is
 * raised by the prices of what its parcels consume today (an outbound parcel of its warehouse, a
 * parcel of its courier's capacity to the destination province) and each arc's cost per unit by
 * the price of a unit of the stock it draws on (the pool's warehouse and SKU). Shipments on a
 * later day of the capacity horizon use that day's capacity, which today's prices do not value,
 * so only their stock is priced. The solver stays generic: the prices are more cost on options and
 * arcs. Changes the problem in place and returns the weights it added (the decision's money is
 * reported without them; its explanation shows them apart).
 */
export function priceCandidates(cands: Candidates, snap: PriceSnapshot): PriceWeights {
  const p = cands.problem;
  const perParcel = new Float64Array(p.options.length);
  const perUnit = new Float64Array(p.arcs.length);
  const prov = cands.region.provinceCode;
  p.options.forEach((o, i) => {
    const site = cands.sites[o.site]!;
    if (site.dayOffset !== 0) return;
    const w = (snap.outbound.get(site.warehouse.id) ?? 0) + (snap.courier.get(`${cands.optionInfo[i]!.courierId}|${prov}`) ?? 0);
    if (w > 0) {
      perParcel[i] = w;
      o.perParcel += w;
    }
  });
  p.arcs.forEach((a, i) => {
    const info = cands.arcInfo[i]!;
    const w = snap.stock.get(info.fromWarehouseId)?.get(info.sku) ?? 0;
    if (w > 0) {
      perUnit[i] = w;
      a.unitCost += w;
    }
  });
  return { perParcel, perUnit };
}

/** The scarcity weight a plan carries under `weights` (0 without weights): what its objective holds beyond money and penalties. */
export function planWeight(weights: PriceWeights | undefined, plan: Pick<Plan, 'shipments'>): number {
  if (weights === undefined) return 0;
  let total = 0;
  for (const s of plan.shipments) {
    total += weights.perParcel[s.option]! * s.parcels;
    for (const { arc, qty } of s.arcs) total += weights.perUnit[arc]! * qty;
  }
  return total;
}
