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
  const hasArc = new Uint8Array(p.lines.length);
  for (const a of p.arcs) hasArc[a.line] = 1;
  let heaviestUnit = 0;
  for (let i = 0; i < p.lines.length; i++) {
    const l = p.lines[i]!;
    if (hasArc[i]) {
      maxUnits += l.qty;
      maxKg += l.qty * l.unitWeightKg;
    }
    heaviestUnit = Math.max(heaviestUnit, l.unitWeightKg);
  }
  let minParcelKg = Infinity;
  for (const o of p.options) minParcelKg = Math.min(minParcelKg, o.parcelMaxKg ?? Infinity);
  // If a single unit is heavier than some parcel limit, parcels could exceed units; be safe.
  const maxParcels = heaviestUnit > minParcelKg ? Infinity : maxUnits + p.sites.length;

  const couriers = p.couriers.map((c) => ({
    ...c,
    parcelCap: c.parcelCap !== null && c.parcelCap >= maxParcels ? null : c.parcelCap,
    kgCap: c.kgCap !== null && c.kgCap >= maxKg ? null : c.kgCap,
  }));
  const sites = p.sites.map((s) => ({ ...s, parcelCap: s.parcelCap !== null && s.parcelCap >= maxParcels ? null : s.parcelCap }));
  const unbounded = couriers.map((c) => c.parcelCap === null && c.kgCap === null);

  // Only options of the same site and kind can dominate each other: compare within those groups
  // (group 2 * site + kind; the options of each in problem order). Plain loops and arrays: this
  // runs before every exact solve, and closures and a Map per call cost more than the comparisons
  // on the demo day's problems (about 100 options in 20 groups).
  const groups: number[][] = [];
  for (let k = 0; k < 2 * p.sites.length; k++) groups.push([]);
  for (let oi = 0; oi < p.options.length; oi++) {
    const o = p.options[oi]!;
    groups[2 * o.site + (o.transfer ? 1 : 0)]!.push(oi);
  }
  const keep: number[] = [];
  for (let bi = 0; bi < p.options.length; bi++) {
    const b = p.options[bi]!;
    let dominated = false;
    for (const ai of groups[2 * b.site + (b.transfer ? 1 : 0)]!) {
      const a = p.options[ai]!;
      if (ai === bi || !unbounded[a.courier]) continue;
      const fewerParcels = b.parcelMaxKg === null ? a.parcelMaxKg === null : a.parcelMaxKg === null || a.parcelMaxKg >= b.parcelMaxKg;
      const noDearer = a.fixedCost <= b.fixedCost && a.perParcel <= b.perParcel && a.perKg <= b.perKg && fewerParcels;
      if (!noDearer) continue;
      // Identical options: keep the first of them only.
      const identical = a.fixedCost === b.fixedCost && a.perParcel === b.perParcel && a.perKg === b.perKg && a.parcelMaxKg === b.parcelMaxKg;
      if (!identical || ai < bi) {
        dominated = true;
        break;
      }
    }
    if (!dominated) keep.push(bi);
  }
  return {
    problem: { ...p, couriers, sites, options: keep.map((i) => p.options[i]!) },
    optionMap: keep,
  };
}
