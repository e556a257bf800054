import type { Problem, ProblemArc } from '../../../solver/types.js';
import type { Config } from '../../config.js';
import type { LaneTerms } from '../../couriers/book.js';
import type { Courier, RegionProps, Warehouse } from '../../domain/network.js';
import type { NetworkContext } from '../../network/context.js';
import type { LotOffer } from './lots.js';

/** A validated order in internal units (epoch ms, merged lines). */
export interface OrderInput {
  orderId: string;
  customerId: string;
  /** Epoch ms. */
  promisedByMs: number;
  destination: { lon: number; lat: number };
  /** One line per SKU. */
  lines: { sku: string; qty: number }[];
  allowSplit: boolean;
  /**
   * What the business rules' before hook decided (src/rules/resolve.ts): warehouses and couriers
   * left out, or the only one allowed. Absent when no rule applies.
   */
  rules?: RuleConstraints;
}

/** Candidate changes from the business rules (forbid beats force was settled before). */
export interface RuleConstraints {
  forbidWarehouses: ReadonlySet<string>;
  /** The only warehouse that may ship; null: any. */
  forceWarehouse: string | null;
  forbidCouriers: ReadonlySet<string>;
  /** The only courier that may carry; null: any. */
  forceCourier: string | null;
}

/** Parcels and kg a courier takes for a province on a day (null = no limit). */
export interface CourierLimit {
  parcels: number | null;
  kg: number | null;
}

/** Live courier terms for one decision: lane rates (quotes or rate card) and capacity limits. */
export interface CourierTerms {
  terms: (courier: Courier, fromProvince: string, toProvince: string) => LaneTerms | null;
  /** Per courier id: parcels and kg the courier takes for the destination province today (null = no limit). */
  limits: Map<string, CourierLimit>;
  /**
   * The same for the later days of the capacity horizon, by local day (YYYY-MM-DD). A day missing
   * here falls back to the bundled daily allocation.
   */
  limitsByDay?: ReadonlyMap<string, Map<string, CourierLimit>>;
  /** Warehouses closed now (they ship nothing and send no transfers). */
  closed?: ReadonlySet<string>;
}

export type CandidateConfig = Pick<
  Config,
  | 'splitPenaltyCny'
  | 'latenessCnyPerHour'
  | 'holdingRatePerYear'
  | 'transferHandlingCnyPerUnit'
  | 'backorderPenaltyCny'
  | 'maxTransferSources'
  | 'capacityHorizonDays'
  | 'timezoneOffsetMinutes'
  | 'partialMaxShare'
  | 'partialCapAbove'
  | 'nearExpiryCreditCny'
>;

/** What a site stands for, for explanations: its warehouse and road km to the destination. */
export interface SiteInfo {
  warehouse: Warehouse;
  /** Road km to the destination. */
  roadKm: number;
  /**
   * Local day (YYYY-MM-DD) whose capacity counters the site's shipments use: today, or a later day
   * of the capacity horizon when the warehouse or every courier is full until then.
   */
  shipDay: string;
  /** Days after today the site ships on (0: today). */
  dayOffset: number;
}

export interface ArcInfo {
  fromWarehouseId: string;
  sku: string;
  /** Storage occupation, CNY per unit. */
  storagePerUnit: number;
  /** Line haul + handling, CNY per unit (0 for direct arcs). */
  transferPerUnit: number;
  /** True when the arc takes near-expiry lots (src/allocate/stages/lots.ts). */
  nearExpiry?: boolean;
  /** Decision weight per unit, never money: NEAR_EXPIRY_CREDIT_CNY on arcs from fresher stock of a line that has near-expiry stock. */
  expiryWeightPerUnit?: number;
}

/**
 * One decision's snapshot, as every stage sees it: the order, the network, free stock (this
 * customer's view: free units plus its own locks), capacity used so far, the live courier terms,
 * and the time of the decision. Stages read it and add to the problem; none changes it.
 */
export interface CandidateContext {
  net: NetworkContext;
  cfg: CandidateConfig;
  order: OrderInput;
  region: RegionProps;
  /** Free units per warehouse and SKU for this customer, lots apart (read it through `freeAt`). */
  free: Map<string, Map<string, number>>;
  /** Capacity counters used so far (src/store/keys.ts counterKeys). */
  usage: Map<string, number>;
  /** Epoch ms. */
  nowMs: number;
  courierTerms: CourierTerms | undefined;
  /** Local day (YYYY-MM-DD) whose capacities the decision uses. */
  day: string;
  /** The capacity horizon's days, today first (CAPACITY_HORIZON_DAYS of them). */
  days: string[];
  /** The order's lines with their unit weight, kg (the problem's lines). */
  lines: Problem['lines'];
  /** Holding cost of one unit for a day, CNY, per line. */
  holdingPerUnitDay: number[];
  /** The eligible lots of the order's shelf-life SKUs (absent: no lots; `free` then already counts them). */
  lots?: LotOffer;
  /** Per line: whether some warehouse offers near-expiry units of it (with `lots`). */
  lineHasNear?: boolean[];
}

/** A site being built: its arcs (with their explanation facts), before it is admitted. */
export interface SiteDraft {
  warehouse: Warehouse;
  /** Index the site gets in problem.sites if it is admitted. */
  site: number;
  /** Free units at the site per line. */
  freePerLine: number[];
  /** When a courier collects the site's own stock (a collection wave, src/domain/waves.ts), epoch ms. */
  readyMs: number;
  arcs: ProblemArc[];
  arcInfo: ArcInfo[];
  /** The longest line haul of its transfer arcs, hours (0 without transfers). */
  transferLeadHours: number;
}

/** An arc's cost per unit from its facts: storage, line haul and handling, and the near-expiry weight. */
export function arcUnitCost(info: ArcInfo): number {
  return info.storagePerUnit + info.transferPerUnit + (info.expiryWeightPerUnit ?? 0);
}

/** What the stock stage adds arcs to: a site draft, or an open shipment's join site. */
export type StockArcs = Pick<SiteDraft, 'site' | 'arcs' | 'arcInfo'>;

/**
 * Stock pools shared by every arc that draws on them: one per (warehouse, SKU), created when an
 * arc first names it (so pool indices follow arc order).
 */
export class Pools {
  private readonly index = new Map<string, Map<string, number>>();
  constructor(private readonly problem: Problem) {}
  /** `part` names a share of the cell's units with a pool of its own (the near-expiry lots). */
  of(warehouseId: string, sku: string, qty: number, part?: string): number {
    let bySku = this.index.get(warehouseId);
    if (bySku === undefined) this.index.set(warehouseId, (bySku = new Map()));
    const key = part === undefined ? sku : `${sku}/${part}`;
    let i = bySku.get(key);
    if (i === undefined) {
      i = this.problem.pools.push({ id: `${warehouseId}/${key}`, qty }) - 1;
      bySku.set(key, i);
    }
    return i;
  }
}

/**
 * Free units of a SKU at a warehouse in the snapshot: for a shelf-life SKU with lots, its stock
 * kept without a lot plus its eligible lots (read here rather than from a copy of the snapshot
 * with the lots folded in, which cost a Map per warehouse on every planning pass).
 */
export function freeAt(ctx: CandidateContext, warehouseId: string, sku: string): number {
  const plain = ctx.free.get(warehouseId)?.get(sku) ?? 0;
  const lots = ctx.lots;
  if (lots === undefined || !lots.skus.has(sku)) return plain;
  return plain + (lots.cells.get(warehouseId)?.get(sku)?.total ?? 0);
}
