import { parcelsFor, shipmentWeightKg } from './cost.js';
import type { Plan, Problem } from './types.js';

const EPS = 1e-6;

/**
 * Checks a plan against every constraint of the model. The product never returns a plan that
 * fails this check: a general MIP solver can answer "feasible" with fractional or violated
 * values (seen with javascript-lp-solver on 10-line orders), so its answers are verified here.
 * Returns the list of violations; empty means feasible.
 */
export function verifyPlan(p: Problem, plan: Plan): string[] {
  const errors: string[] = [];
  const shipped = p.lines.map(() => 0);
  const poolUse = p.pools.map(() => 0);
  const sitesUsed = new Set<number>();
  const siteParcels = p.sites.map(() => 0);
  const parcels = p.couriers.map(() => 0);
  const kg = p.couriers.map(() => 0);
  for (const s of plan.shipments) {
    const o = p.options[s.option];
    if (!o) {
      errors.push(`unknown option ${s.option}`);
      continue;
    }
    if (sitesUsed.has(o.site)) errors.push(`site ${p.sites[o.site]?.id} ships twice`);
    sitesUsed.add(o.site);
    if (s.arcs.length === 0) errors.push(`empty shipment on option ${s.option}`);
    for (const { arc, qty } of s.arcs) {
      const a = p.arcs[arc];
      if (!a) {
        errors.push(`unknown arc ${arc}`);
        continue;
      }
      if (!Number.isInteger(qty) || qty <= 0) errors.push(`arc ${arc}: quantity ${qty} is not a positive integer`);
      if (a.site !== o.site) errors.push(`arc ${arc} belongs to another site than option ${s.option}`);
      if (a.transfer && !o.transfer) errors.push(`transfer arc ${arc} used by a direct option ${s.option}`);
      shipped[a.line]! += qty;
      poolUse[a.pool]! += qty;
    }
    const w = shipmentWeightKg(p, s);
    if (s.parcels !== parcelsFor(o, w)) errors.push(`option ${s.option}: ${s.parcels} parcels for ${w} kg, expected ${parcelsFor(o, w)}`);
    siteParcels[o.site]! += s.parcels;
    parcels[o.courier]! += s.parcels;
    kg[o.courier]! += w;
  }
  p.lines.forEach((l, i) => {
    const b = plan.backordered[i] ?? NaN;
    if (!Number.isInteger(b) || b < 0) errors.push(`line ${i}: backorder ${b} is not a non-negative integer`);
    if (shipped[i]! + b !== l.qty) errors.push(`line ${i}: shipped ${shipped[i]} + backordered ${b} != ${l.qty}`);
  });
  p.pools.forEach((pool, i) => {
    if (poolUse[i]! > pool.qty) errors.push(`pool ${pool.id}: uses ${poolUse[i]} > free ${pool.qty}`);
  });
  p.sites.forEach((site, i) => {
    if (site.parcelCap !== null && siteParcels[i]! > site.parcelCap) errors.push(`site ${site.id}: ${siteParcels[i]} parcels > cap ${site.parcelCap}`);
  });
  p.couriers.forEach((c, i) => {
    if (c.parcelCap !== null && parcels[i]! > c.parcelCap) errors.push(`courier ${c.id}: ${parcels[i]} parcels > cap ${c.parcelCap}`);
    if (c.kgCap !== null && kg[i]! > c.kgCap + EPS) errors.push(`courier ${c.id}: ${kg[i]} kg > cap ${c.kgCap}`);
  });
  if (!p.allowSplit && plan.shipments.length > 1) errors.push(`split not allowed but ${plan.shipments.length} shipments`);
  return errors;
}
