import type { Plan, PlanShipment, Problem } from './types.js';

/**
 * Weight of one shipment, kg: the sum over its arcs of units * unit weight of the arc's line.
 */
export function shipmentWeightKg(p: Problem, s: PlanShipment): number {
  let kg = 0;
  for (const { arc, qty } of s.arcs) {
    const a = p.arcs[arc]!;
    kg += qty * p.lines[a.line]!.unitWeightKg;
  }
  return kg;
}

/**
 * The model objective of a plan, CNY, exactly as documented in `types.ts`:
 * fixed + per-kg freight of every shipment, arc unit costs, the split penalty for every
 * shipment beyond the first, and the backorder penalty.
 */
export function planObjective(p: Problem, shipments: PlanShipment[], backordered: number[]): number {
  let total = 0;
  for (const s of shipments) {
    const o = p.options[s.option]!;
    total += o.fixedCost + o.perKg * shipmentWeightKg(p, s);
    for (const { arc, qty } of s.arcs) total += p.arcs[arc]!.unitCost * qty;
  }
  total += p.splitPenalty * Math.max(0, shipments.length - 1);
  for (const b of backordered) total += p.backorderPenalty * b;
  return total;
}

/** Builds a Plan from shipments, deriving backorders from line balances and the objective. */
export function makePlan(p: Problem, shipments: PlanShipment[]): Plan {
  const shipped = p.lines.map(() => 0);
  for (const s of shipments) for (const { arc, qty } of s.arcs) shipped[p.arcs[arc]!.line]! += qty;
  const backordered = p.lines.map((l, i) => l.qty - shipped[i]!);
  return { shipments, backordered, objective: planObjective(p, shipments, backordered) };
}
