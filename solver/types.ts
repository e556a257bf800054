/**
 * The per-order optimisation problem and its plan: the one place where the solver's units live.
 *
 * The solver is pure: problem in, plan out. Everything business-specific (radius, locks, FEFO,
 * courier gaps, quotes, promised time) is turned into this generic shape by candidate generation
 * in `src/allocate/candidates.ts`, so that a new business rule changes the candidates, not the
 * optimiser (design §3).
 *
 * Units: money in CNY (unrounded numbers inside, rounded to 0.01 only at the API edge);
 * weight in kg; quantities in whole units (integers).
 *
 * The model (documented in full in docs/cost-model.md):
 *   - A *site* is a warehouse that may ship part of the order. A site opens at most one
 *     *option* (one shipment: a courier, and whether it waits for inbound transfers). A shipment
 *     travels as one or more parcels: parcels = max(1, ceil(weight / parcelMaxKg)), or 1 when
 *     the option has no parcel weight limit.
 *   - An *arc* brings units of one order line to a site from a stock *pool* (a (warehouse, SKU)
 *     free quantity). A direct arc takes the site's own pool; a transfer arc takes another
 *     warehouse's pool by line haul and may only be used when the site's open option has
 *     `transfer: true` (that option's ETA already includes the line-haul lead time).
 *   - Each pool is shared by every arc that draws on it (the site's own shipment and transfers
 *     out of it).
 *   - Minimise: sum over open options of (fixedCost + perParcel * parcels + perKg * shipment weight)
 *             + sum over arcs of unitCost * units
 *             + splitPenalty * max(0, open options - 1)
 *             + backorderPenalty * units backordered.
 *   - Subject to: each line's units shipped + backordered = its quantity; pool use <= pool qty;
 *     per site, parcels <= site.parcelCap; per courier, parcels <= parcelCap and total weight
 *     <= kgCap; at most one open option when allowSplit is false.
 */

export interface ProblemLine {
  /** The SKU code, for explanations only. */
  sku: string;
  /** Ordered quantity, whole units, > 0. */
  qty: number;
  /** Weight of one unit, kg, >= 0. */
  unitWeightKg: number;
}

export interface ProblemPool {
  /** Stable label, e.g. "SH01/BRK-0001"; for explanations only. */
  id: string;
  /** Free units in this (warehouse, SKU), whole units, >= 0. */
  qty: number;
}

export interface ProblemSite {
  /** Warehouse id, e.g. "SH01". */
  id: string;
  /** Outbound parcels the site can still hand over today; null = no limit. */
  parcelCap: number | null;
}

export interface ProblemArc {
  /** Index into `sites`: the warehouse that ships these units. */
  site: number;
  /** Index into `lines`. */
  line: number;
  /** Index into `pools`: where the units come from. Its SKU must be the line's SKU. */
  pool: number;
  /** Cost per unit moved on this arc, CNY/unit, >= 0 (storage occupation, line haul, credits folded in). */
  unitCost: number;
  /** True when the pool is another warehouse's stock brought to the site by line haul. */
  transfer: boolean;
}

export interface ProblemOption {
  /** Index into `sites`. */
  site: number;
  /** Index into `couriers`. */
  courier: number;
  /** Cost paid once when this shipment is opened, CNY, >= 0 (e.g. the lateness penalty of its ETA). */
  fixedCost: number;
  /** Cost per parcel of the shipment, CNY/parcel, >= 0 (the lane's base rate). */
  perParcel: number;
  /** Freight per kg of shipment weight, CNY/kg, >= 0. */
  perKg: number;
  /** Heaviest parcel the courier takes, kg (> 0); null = one parcel whatever the weight. */
  parcelMaxKg: number | null;
  /** True when this shipment waits for (and may use) transfer arcs into its site. */
  transfer: boolean;
  /**
   * Whole days this shipment would arrive after the order's promise (0 or absent: on time). Not
   * part of the objective: the decision chain (solver/chain.ts) reads it to solve on time first,
   * offering the solvers only the options of the least lateness that supplies the order.
   */
  late?: number;
}

export interface ProblemCourier {
  /** Courier id, e.g. "STO". */
  id: string;
  /** Parcels this courier can still take for this destination region today; null = no limit. */
  parcelCap: number | null;
  /** Kilograms this courier can still take for this destination region today; null = no limit. */
  kgCap: number | null;
}

export interface Problem {
  lines: ProblemLine[];
  pools: ProblemPool[];
  sites: ProblemSite[];
  arcs: ProblemArc[];
  options: ProblemOption[];
  couriers: ProblemCourier[];
  /** Penalty per shipment beyond the first, CNY, >= 0. */
  splitPenalty: number;
  /** Penalty per unit not supplied, CNY/unit; large, so that supplying always wins when possible. */
  backorderPenalty: number;
  /** False: at most one shipment. */
  allowSplit: boolean;
}

export interface PlanShipment {
  /** Index into `problem.options`. */
  option: number;
  /** Parcels this shipment travels as: max(1, ceil(weight / parcelMaxKg)), 1 without a limit. */
  parcels: number;
  /** Units carried, per arc (only arcs with qty > 0). */
  arcs: { arc: number; qty: number }[];
}

export interface Plan {
  /** Shipments actually carrying units (empty shipments are never part of a plan). */
  shipments: PlanShipment[];
  /** Units backordered per line (same order as `problem.lines`). */
  backordered: number[];
  /** The model objective of this plan, CNY (see `planCost`). */
  objective: number;
}

/** Which solver answered and how hard it worked. */
export interface SolveStats {
  solver: 'exact' | 'highs' | 'lp' | 'greedy' | 'radius-lock' | 'nearest';
  /** Wall time spent solving, microseconds. */
  micros: number;
  /** Branch-and-bound nodes or equivalent work units, where the solver reports them. */
  nodes: number;
}

export interface SolveResult {
  plan: Plan;
  stats: SolveStats;
  /** False when the solver could not prove optimality (fallback plan). */
  optimal: boolean;
  /** Why the result is not optimal, when it is not. */
  fallbackReason?: string;
}

/** The cost components of one shipment, CNY. `total` is their sum. */
export interface ShipmentCost {
  freight: number;
  transfer: number;
  storage: number;
  lateness: number;
  split: number;
  total: number;
}
