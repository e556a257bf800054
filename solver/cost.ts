import type { Plan, PlanShipment, Problem, ProblemOption } from './types.js';

/**
 * Tolerance on a ratio of weights (kg / kg) summed in floating point: a ratio within KG_EPS of a
 * whole number counts as that number (40.000000001 kg is one 40 kg parcel; 39.999999999 kg of room
 * takes four 10 kg units). The model's parcel rule is defined with it, so every solver that counts
 * parcels or whole units in a room (solver/exact/, solver/mip.ts, solver/greedy.ts) uses this one.
 */
export const KG_EPS = 1e-9;

/**
 * Weight of one shipment, kg: the sum over its arcs of units * unit weight of the arc's line.
 */
export function shipmentWeightKg(p: Problem, s: Pick<PlanShipment, 'arcs'>): number {
  let kg = 0;
  for (const { arc, qty } of s.arcs) {
    const a = p.arcs[arc]!;
    kg += qty * p.lines[a.line]!.unitWeightKg;
  }
  return kg;
}

/** Parcels a shipment of `weightKg` travels as on an option: max(1, ceil(weight / parcelMaxKg)). */
export function parcelsFor(o: ProblemOption, weightKg: number): number {
  if (o.parcelMaxKg === null) return 1;
  return Math.max(1, Math.ceil(weightKg / o.parcelMaxKg - KG_EPS));
}

/** Cost of one shipment in the model, CNY: fixed + per parcel + per kg + its arcs' unit costs. */
export function shipmentObjective(p: Problem, s: Pick<PlanShipment, 'option' | 'arcs'>): number {
  return shipmentCost(p, p.options[s.option]!, shipmentWeightKg(p, s), s.arcs);
}

/** `shipmentObjective` of the arcs `arcs` on option `o`, their weight `kg` (shipmentWeightKg) already known. */
export function shipmentCost(p: Problem, o: ProblemOption, kg: number, arcs: PlanShipment['arcs']): number {
  let total = o.fixedCost + o.perParcel * parcelsFor(o, kg) + o.perKg * kg;
  for (const { arc, qty } of arcs) total += p.arcs[arc]!.unitCost * qty;
  return total;
}

/**
 * The model objective of a plan, CNY, exactly as documented in `types.ts`: every shipment's
 * cost, the split penalty for every shipment beyond the first, and the backorder penalty.
 */
export function planObjective(p: Problem, shipments: Pick<PlanShipment, 'option' | 'arcs'>[], backordered: number[]): number {
  let total = 0;
  for (const s of shipments) total += shipmentObjective(p, s);
  total += p.splitPenalty * Math.max(0, shipments.length - 1);
  for (const b of backordered) total += p.backorderPenalty * b;
  return total;
}

/** Builds a Plan from shipments: parcels from weights, backorders from line balances, the objective. */
export function makePlan(p: Problem, shipments: Pick<PlanShipment, 'option' | 'arcs'>[]): Plan {
  const shipped = p.lines.map(() => 0);
  for (const s of shipments) for (const { arc, qty } of s.arcs) shipped[p.arcs[arc]!.line]! += qty;
  const backordered = p.lines.map((l, i) => l.qty - shipped[i]!);
  const full = shipments.map((s) => ({ option: s.option, arcs: s.arcs, parcels: parcelsFor(p.options[s.option]!, shipmentWeightKg(p, s)) }));
  return { shipments: full, backordered, objective: planObjective(p, full, backordered) };
}
