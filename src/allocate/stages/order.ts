import type { Problem } from '../../../solver/types.js';
import type { NetworkContext } from '../../network/context.js';
import type { CandidateConfig, CandidateContext, OrderInput } from './context.js';

/**
 * Stage "the order's own constraints": its lines (with unit weights), whether it may split, what
 * a backorder and an extra shipment weigh, and what storage costs per unit and day for each line.
 * Courier caps and sites come from the other stages.
 */
export function orderProblem(net: NetworkContext, cfg: CandidateConfig, order: OrderInput): { problem: Problem; holdingPerUnitDay: number[] } {
  const lines = order.lines.map((l) => ({ sku: l.sku, qty: l.qty, unitWeightKg: net.skuByCode.get(l.sku)!.unitWeightKg }));
  const problem: Problem = {
    lines,
    pools: [],
    sites: [],
    arcs: [],
    options: [],
    couriers: [],
    splitPenalty: cfg.splitPenaltyCny,
    backorderPenalty: cfg.backorderPenaltyCny,
    allowSplit: order.allowSplit,
  };
  // Holding cost of one unit for a day, CNY, per line.
  const holdingPerUnitDay = lines.map((l) => (net.skuByCode.get(l.sku)!.priceCny * cfg.holdingRatePerYear) / 365);
  return { problem, holdingPerUnitDay };
}

/**
 * Stage "the order's own constraints", the partial cap: a line asking for more than
 * PARTIAL_CAP_ABOVE times the free units of its SKU in the whole network (as this customer sees
 * them) may take at most PARTIAL_MAX_SHARE of those units; the rest is backordered. An ordinary
 * shortage (asking for 100 where 60 are free) ships what is free; an order for a million units
 * cannot drain a SKU everywhere. Lowers the problem's line quantities in place and returns, per
 * line, what the network had where it capped (null where it did not).
 */
export function capPartialLines(ctx: CandidateContext): (number | null)[] {
  return ctx.lines.map((l) => {
    let networkFree = 0;
    for (const bySku of ctx.free.values()) networkFree += bySku.get(l.sku) ?? 0;
    if (ctx.lots?.skus.has(l.sku)) for (const bySku of ctx.lots.cells.values()) networkFree += bySku.get(l.sku)?.total ?? 0;
    if (l.qty <= ctx.cfg.partialCapAbove * networkFree) return null;
    const cap = Math.floor(ctx.cfg.partialMaxShare * networkFree);
    if (cap >= l.qty) return null;
    l.qty = Math.max(cap, 0);
    return networkFree;
  });
}

/**
 * Lateness of an ETA against the order's promise: hours (the per-hour weight within a lateness
 * level), CNY of that weight, and whole days (the level on-time-first decides by: a shipment an
 * hour late is a day late to the customer who was promised the day).
 */
export function lateness(cfg: CandidateConfig, order: OrderInput, etaMs: number): { hoursLate: number; latenessCny: number; lateDays: number } {
  const hoursLate = Math.max(0, (etaMs - order.promisedByMs) / 3_600_000);
  return { hoursLate, latenessCny: hoursLate * cfg.latenessCnyPerHour, lateDays: hoursLate > 0 ? Math.ceil(hoursLate / 24 - 1e-9) : 0 };
}
