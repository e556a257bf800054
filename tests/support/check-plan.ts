/**
 * An independent feasibility checker and objective recomputation for a `Plan`, written straight
 * from the specification in the header of `solver/types.ts` and from nothing else.
 *
 * It is deliberately plain: one pass per rule, each rule producing its own error message, so
 * that a failing differential test says which rule the product solver broke.
 */
import type { Plan, Problem } from '../../solver/types.js';

/** Absolute tolerance on quantities, weights and caps. */
const TOL = 1e-6;

/**
 * The parcels a shipment of `weightKg` travels as: max(1, ceil(weight / parcelMaxKg)), or 1
 * without a parcel limit. The weight is a sum of floating-point products (200 x 0.1 kg is
 * 20.000000000000004), so the quotient is given a 1e-9 allowance before rounding up: a weight
 * that equals a whole number of parcel limits in decimal arithmetic fills those parcels exactly.
 */
export function parcelsFor(weightKg: number, parcelMaxKg: number | null): number {
  if (parcelMaxKg === null) return 1;
  return Math.max(1, Math.ceil(weightKg / parcelMaxKg - 1e-9));
}

export interface CheckResult {
  ok: boolean;
  errors: string[];
  /** The spec objective recomputed from the plan's quantities (NaN if the plan is malformed). */
  objective: number;
}

function isWholeNonNegative(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x) && x >= -TOL && Math.abs(x - Math.round(x)) <= TOL;
}

/** Relative-or-absolute closeness on the max(1, |a|) scale used throughout the tests. */
export function close(a: number, b: number, rel = 1e-6): boolean {
  return Math.abs(a - b) <= rel * Math.max(1, Math.abs(a), Math.abs(b));
}

export function checkPlan(p: Problem, plan: Plan): CheckResult {
  const errors: string[] = [];
  let malformed = false;

  // Per-line shipped units, per-pool drawn units, per-courier parcels and kg, per-site shipments.
  const shipped = new Array<number>(p.lines.length).fill(0);
  const poolUse = new Array<number>(p.pools.length).fill(0);
  const courierParcels = new Array<number>(p.couriers.length).fill(0);
  const siteParcels = new Array<number>(p.sites.length).fill(0);
  const courierKg = new Array<number>(p.couriers.length).fill(0);
  const shipmentsAtSite = new Array<number>(p.sites.length).fill(0);
  const seenOptions = new Set<number>();

  let freightAndFixed = 0;
  let arcCost = 0;

  for (const [si, shipment] of plan.shipments.entries()) {
    const option = p.options[shipment.option];
    if (!Number.isInteger(shipment.option) || option === undefined) {
      errors.push(`shipment ${si}: option index ${shipment.option} is out of range`);
      malformed = true;
      continue;
    }
    if (seenOptions.has(shipment.option)) errors.push(`shipment ${si}: option ${shipment.option} is opened twice`);
    seenOptions.add(shipment.option);
    shipmentsAtSite[option.site] = (shipmentsAtSite[option.site] ?? 0) + 1;

    // Units and weight carried by this shipment.
    let units = 0;
    let weight = 0;
    const seenArcs = new Set<number>();
    for (const entry of shipment.arcs) {
      const arc = p.arcs[entry.arc];
      if (!Number.isInteger(entry.arc) || arc === undefined) {
        errors.push(`shipment ${si}: arc index ${entry.arc} is out of range`);
        malformed = true;
        continue;
      }
      if (seenArcs.has(entry.arc)) errors.push(`shipment ${si}: arc ${entry.arc} is listed twice`);
      seenArcs.add(entry.arc);
      if (!isWholeNonNegative(entry.qty)) {
        errors.push(`shipment ${si}: arc ${entry.arc} carries ${entry.qty}, not a whole non-negative number`);
        malformed = malformed || !Number.isFinite(entry.qty);
      } else if (Math.round(entry.qty) === 0) {
        errors.push(`shipment ${si}: arc ${entry.arc} is listed with qty 0 (only arcs with qty > 0 belong in a plan)`);
      }
      if (arc.site !== option.site) {
        errors.push(`shipment ${si}: arc ${entry.arc} belongs to site ${arc.site}, but option ${shipment.option} ships from site ${option.site}`);
      }
      if (arc.transfer && !option.transfer) {
        errors.push(`shipment ${si}: transfer arc ${entry.arc} is used by non-transfer option ${shipment.option}`);
      }
      const line = p.lines[arc.line];
      if (line === undefined || p.pools[arc.pool] === undefined) {
        errors.push(`arc ${entry.arc}: line or pool index out of range in the problem`);
        malformed = true;
        continue;
      }
      const q = entry.qty;
      units += q;
      weight += q * line.unitWeightKg;
      shipped[arc.line] = (shipped[arc.line] ?? 0) + q;
      poolUse[arc.pool] = (poolUse[arc.pool] ?? 0) + q;
      arcCost += arc.unitCost * q;
    }
    if (units <= TOL) errors.push(`shipment ${si}: option ${shipment.option} carries no units (empty shipments are not allowed)`);
    // Parcels follow from the weight; the plan must state the same number. Costs and caps use
    // the number recomputed here, so a wrong statement cannot make a plan look cheaper.
    const parcels = parcelsFor(weight, option.parcelMaxKg);
    if (shipment.parcels !== parcels) {
      errors.push(`shipment ${si}: states ${shipment.parcels} parcels, but ${weight} kg under parcelMaxKg ${option.parcelMaxKg} is ${parcels}`);
    }
    siteParcels[option.site] = (siteParcels[option.site] ?? 0) + parcels;
    courierParcels[option.courier] = (courierParcels[option.courier] ?? 0) + parcels;
    courierKg[option.courier] = (courierKg[option.courier] ?? 0) + weight;
    freightAndFixed += option.fixedCost + option.perParcel * parcels + option.perKg * weight;
  }

  for (const [s, n] of shipmentsAtSite.entries()) {
    if (n > 1) errors.push(`site ${s} opens ${n} shipments; at most one is allowed`);
  }
  for (const [s, site] of p.sites.entries()) {
    const parcels = siteParcels[s] ?? 0;
    if (site.parcelCap !== null && parcels > site.parcelCap) errors.push(`site ${s} (${site.id}): ${parcels} parcels over its parcelCap ${site.parcelCap}`);
  }

  // Line balance: shipped + backordered = ordered, with whole, non-negative backorders.
  if (plan.backordered.length !== p.lines.length) {
    errors.push(`backordered has ${plan.backordered.length} entries for ${p.lines.length} lines`);
    malformed = true;
  }
  let backorderedUnits = 0;
  for (const [l, line] of p.lines.entries()) {
    const b = plan.backordered[l];
    if (b === undefined) continue;
    if (!isWholeNonNegative(b)) {
      errors.push(`line ${l}: backordered ${b} is not a whole non-negative number`);
      malformed = malformed || !Number.isFinite(b);
    }
    backorderedUnits += b;
    const s = shipped[l] ?? 0;
    if (Math.abs(s + b - line.qty) > TOL) errors.push(`line ${l}: shipped ${s} + backordered ${b} != qty ${line.qty}`);
  }

  for (const [i, pool] of p.pools.entries()) {
    const used = poolUse[i] ?? 0;
    if (used > pool.qty + TOL) errors.push(`pool ${i} (${pool.id}): ${used} units drawn from ${pool.qty} available`);
  }

  for (const [c, courier] of p.couriers.entries()) {
    const parcels = courierParcels[c] ?? 0;
    const kg = courierKg[c] ?? 0;
    if (courier.parcelCap !== null && parcels > courier.parcelCap) {
      errors.push(`courier ${c} (${courier.id}): ${parcels} parcels over parcelCap ${courier.parcelCap}`);
    }
    if (courier.kgCap !== null && kg > courier.kgCap + TOL) {
      errors.push(`courier ${c} (${courier.id}): ${kg} kg over kgCap ${courier.kgCap}`);
    }
  }

  const opened = plan.shipments.length;
  if (!p.allowSplit && opened > 1) errors.push(`allowSplit is false but the plan has ${opened} shipments`);

  const objective = malformed
    ? Number.NaN
    : freightAndFixed + arcCost + p.splitPenalty * Math.max(0, opened - 1) + p.backorderPenalty * backorderedUnits;

  if (!malformed && !close(plan.objective, objective)) {
    errors.push(`plan.objective ${plan.objective} differs from the recomputed objective ${objective}`);
  }

  return { ok: errors.length === 0, errors, objective };
}
