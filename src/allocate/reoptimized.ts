import type { Decision } from '../domain/schemas.js';
import { applyReroutes, type Reroute } from './reroute.js';

/**
 * One re-optimisation move of an order, as recorded beside its decision (storeKeys.reoptimizations):
 * the order's shipments not yet picked up were re-solved and replaced by a cheaper plan that is no
 * later (src/allocate/reoptimize.ts).
 */
export interface Reoptimization {
  /** ISO-8601 with offset. */
  at: string;
  code: 'REOPTIMIZED';
  detail: string;
  /** The shipments before the move: where from, by whom, under which tracking number, at what money (freight + transfer + storage, CNY). */
  from: { warehouseId: string; courierId: string; trackingNumber: string; eta: string; moneyCny: number }[];
  /** The order's shipments after the move (each with a new tracking number), as in a decision. */
  shipments: Decision['shipments'];
  /** The decision's total cost after the move (model cost, CNY, penalties included as in a decision). */
  totalCost: number;
  /** Money saved, CNY: freight + line haul before minus after (what is paid out; no penalties, storage not counted: see reoptimize.ts). */
  savingCny: number;
  /** Reroutes recorded before this move: those after it apply on top of its shipments. */
  reroutesBefore: number;
}

/**
 * The decision as it stands: the last re-optimisation's shipments (when there is one) with the
 * reroutes recorded after it applied, else the decided shipments with every reroute applied.
 */
export function currentDecision(d: Decision, reroutes: readonly Reroute[], reopts: readonly Reoptimization[]): Decision {
  const last = reopts[reopts.length - 1];
  if (last === undefined) return applyReroutes(d, reroutes);
  return applyReroutes({ ...d, shipments: last.shipments, totalCost: last.totalCost }, reroutes.slice(last.reroutesBefore));
}
