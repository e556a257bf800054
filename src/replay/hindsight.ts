import type { Config } from '../config.js';
import type { AllocateRequest } from '../domain/schemas.js';
import { DspError } from '../errors.js';
import type { NetworkContext } from '../network/context.js';
import type { Solver } from '../solve/pool.js';
import { MemoryStore } from '../store/memory.js';
import { openServices } from '../services.js';
import type { ScenarioEvent } from './scenario.js';

/**
 * The hindsight bound of a replay: a cost no online policy can beat. It is the Lagrangian
 * relaxation of the whole stream as one problem with the coupling constraints (shared stock,
 * courier and warehouse capacities) priced at zero: every order is solved exactly on its own, at
 * its own time, with all the stock the day will ever hold (initial stock plus every receipt) and
 * no capacity limits. Any policy's plan for an order is feasible in that order's relaxed problem,
 * so its cost is at least the relaxed optimum, order by order, and in total.
 *
 * One approximation: a transfer shipment's ETA (so its lateness) depends on which line-haul
 * sources candidate generation offers, and with all the stock it may offer other sources than a
 * policy saw; in those rare cases the bound is an estimate rather than a strict bound.
 *
 * `costPerOrder` is the objective (money and the lateness and split weights, the backorder
 * penalty taken out) per order that ships: the bound on that objective. `moneyPerOrder` is the
 * money (freight, transfers, storage) of the same per-order plans over all orders, comparable with
 * the policies' costPerOrder, but not a bound on money: each plan minimised money plus weights.
 * Orders whose exact solve could not be proven optimal in the time given are counted in
 * `unproven` (their incumbent overstates the bound, so the report says so).
 */
export interface HindsightBound {
  costPerOrder: number;
  moneyPerOrder: number;
  totalCost: number;
  ordersShipped: number;
  unproven: number;
  method: 'per-order optimum with all the stock and no capacity limits (Lagrangian relaxation, multipliers 0)';
}

export async function hindsightBound(events: ScenarioEvent[], net: NetworkContext, cfg: Config, solver: Solver, onProgress?: (done: number, total: number) => void): Promise<HindsightBound> {
  const all = new Map<string, Map<string, number>>();
  const add = (w: string, sku: string, q: number) => {
    const m = all.get(w) ?? all.set(w, new Map()).get(w)!;
    m.set(sku, (m.get(sku) ?? 0) + q);
  };
  for (const r of net.network.stock) add(r.warehouseId, r.sku, r.onHand);
  for (const e of events) if (e.type === 'receipt') add(e.warehouseId, e.sku, e.qty);
  const { allocator } = await openServices(cfg, { net, store: new MemoryStore([]), solver, runningKpis: false, rules: false });
  const orders = events.filter((e): e is Extract<ScenarioEvent, { type: 'order' }> => e.type === 'order');
  let total = 0;
  let money = 0;
  let shipped = 0;
  let unproven = 0;
  for (const [i, e] of orders.entries()) {
    let cands;
    try {
      cands = await allocator.relaxedProblem(e.order as AllocateRequest, Date.parse(e.at), all);
    } catch (err) {
      if (err instanceof DspError) continue; // an order the service refuses costs nothing to anyone
      throw err;
    }
    const p = cands.problem;
    if (p.options.length === 0) continue;
    const r = await solver.solve(p, 10_000);
    if (!r.optimal) unproven++;
    const backordered = r.plan.backordered.reduce((a, b) => a + b, 0);
    if (r.plan.shipments.length === 0) continue;
    total += r.plan.objective - p.backorderPenalty * backordered;
    const weights = r.plan.shipments.reduce((n, sh) => n + p.options[sh.option]!.fixedCost, 0) + p.splitPenalty * Math.max(0, r.plan.shipments.length - 1);
    money += r.plan.objective - p.backorderPenalty * backordered - weights;
    shipped++;
    if (onProgress && (i % 250 === 0 || i === orders.length - 1)) onProgress(i + 1, orders.length);
  }
  return {
    costPerOrder: shipped === 0 ? 0 : Math.round((total / shipped) * 100) / 100,
    moneyPerOrder: orders.length === 0 ? 0 : Math.round((money / orders.length) * 100) / 100,
    totalCost: Math.round(total * 100) / 100,
    ordersShipped: shipped,
    unproven,
    method: 'per-order optimum with all the stock and no capacity limits (Lagrangian relaxation, multipliers 0)',
  };
}
