import type { Problem } from './types.js';

/**
 * Exact reductions applied before a MIP backend sees the problem. Each keeps at least one optimal
 * plan of the original problem, and the reduced problem keeps the original's indices of lines,
 * pools, sites and arcs, so a plan of the reduced problem is a plan of the original once its
 * option indices are mapped back (`optionMap`).
 *
 * 1. Caps that cannot bind for this order are dropped: a courier or site parcel cap at least as
 *    large as the most parcels the order could ever need, a kg cap at least its total weight.
 * 2. Dominated options are dropped: at the same site and of the same kind (direct or transfer),
 *    option B is dominated by A when A costs no more in every component (fixed, per parcel, per
 *    kg), never needs more parcels (a parcel limit at least B's), and A's courier has no binding
 *    cap (after 1.). Any plan using B then costs no less with A in its place, and stays feasible
 *    (A's caps cannot bind, parcels at the site do not increase).
 */
export interface Reduced {
  problem: Problem;
  /** Reduced option index -> original option index. */
  optionMap: number[];
}

export function reduceProblem(p: Problem): Reduced {
  // The most parcels and kg the whole order could need: every arc at its bound, every unit in its
  // own parcel (a parcel holds at least one unit whenever a unit fits a parcel at all).
  let maxUnits = 0;
  let maxKg = 0;
  const byLine = p.lines.map(() => 0);
  for (const a of p.arcs) byLine[a.line] = Math.max(byLine[a.line]!, 1);
  p.lines.forEach((l, i) => {
    if (byLine[i]! > 0) {
      maxUnits += l.qty;
      maxKg += l.qty * l.unitWeightKg;
    }
  });
  const heaviestUnit = Math.max(0, ...p.lines.map((l) => l.unitWeightKg));
  const minParcelKg = Math.min(Infinity, ...p.options.map((o) => o.parcelMaxKg ?? Infinity));
  // If a single unit is heavier than some parcel limit, parcels could exceed units; be safe.
  const maxParcels = heaviestUnit > minParcelKg ? Infinity : maxUnits + p.sites.length;

  const couriers = p.couriers.map((c) => ({
    ...c,
    parcelCap: c.parcelCap !== null && c.parcelCap >= maxParcels ? null : c.parcelCap,
    kgCap: c.kgCap !== null && c.kgCap >= maxKg ? null : c.kgCap,
  }));
  const sites = p.sites.map((s) => ({ ...s, parcelCap: s.parcelCap !== null && s.parcelCap >= maxParcels ? null : s.parcelCap }));
  const unbounded = (courier: number) => couriers[courier]!.parcelCap === null && couriers[courier]!.kgCap === null;

  // Only options of the same site and kind can dominate each other: compare within those groups.
  const groups = new Map<number, number[]>();
  p.options.forEach((o, oi) => {
    const key = 2 * o.site + (o.transfer ? 1 : 0);
    const g = groups.get(key);
    if (g) g.push(oi);
    else groups.set(key, [oi]);
  });
  const keep: number[] = [];
  p.options.forEach((b, bi) => {
    const dominated = groups.get(2 * b.site + (b.transfer ? 1 : 0))!.some((ai) => {
      const a = p.options[ai]!;
      if (ai === bi || !unbounded(a.courier)) return false;
      const fewerParcels = b.parcelMaxKg === null ? a.parcelMaxKg === null : a.parcelMaxKg === null || a.parcelMaxKg >= b.parcelMaxKg;
      const noDearer = a.fixedCost <= b.fixedCost && a.perParcel <= b.perParcel && a.perKg <= b.perKg && fewerParcels;
      if (!noDearer) return false;
      // Identical options: keep the first of them only.
      const identical = a.fixedCost === b.fixedCost && a.perParcel === b.perParcel && a.perKg === b.perKg && a.parcelMaxKg === b.parcelMaxKg;
      return !identical || ai < bi;
    });
    if (!dominated) keep.push(bi);
  });
  return {
    problem: { ...p, couriers, sites, options: keep.map((i) => p.options[i]!) },
    optionMap: keep,
  };
}
