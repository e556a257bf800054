import type { Plan, Problem } from '../../../solver/types.js';
import { DAY_MS, utcDayMs } from '../../domain/time.js';
import type { LotFree } from '../../store/types.js';
import type { ArcInfo, CandidateContext, Pools, StockArcs } from './context.js';

/**
 * Stage "lots" (FEFO) for shelf-life SKUs. Their stock is kept per lot with an expiry day
 * (src/store/keys.ts `lotCell`). A lot is offered only when the shelf life it has left when it
 * reaches the customer is at least the minimum (the catalogue's minRemainingShelfLifeDays, or the
 * customer's MIN_SHELF_LIFE_OVERRIDES entry), judged at `cutoffMs`: no shipment of the decision
 * arrives later than that (the allocator re-plans with a later cutoff when one would), so every
 * offered lot is good for every shipment. An expired lot is never offered.
 *
 * The solver stays generic: a (warehouse, SKU) pool holds the eligible lots' free units (plus any
 * stock kept without a lot, from before lots), split in two pools when some of it is near expiry
 * (see `nearExpiry`), and the fresher pool's arcs cost NEAR_EXPIRY_CREDIT_CNY more per unit: a
 * decision weight (docs/cost-model.md), never reported as money. After the solve, each warehouse's
 * units are taken lot by lot, earliest expiry first (`assignLots`).
 */

/** What one (warehouse, SKU) of a shelf-life SKU offers: its eligible lots in picking order. */
export interface LotCell {
  /**
   * The eligible lots, earliest expiry first (or freshest first on request): the records
   * Store.freeLots answered, not copies (a decision with three shelf-life lines reads some 70 lots,
   * and a copy per lot was most of what the offer allocated).
   */
  lots: LotFree[];
  /** Per lot of `lots`, whether it is near expiry. */
  nearFlags: boolean[];
  /** Free units of the eligible lots near expiry. */
  near: number;
  /** Free units of all eligible lots. */
  total: number;
}

/** The lots a decision may use, per warehouse and SKU, and the time they were judged at. */
export interface LotOffer {
  /** Every shipment arrives at or before this, epoch ms. */
  cutoffMs: number;
  /** Per warehouse, per SKU (nested maps: the stages look cells up per arc, and a joined key string cost a build and a hash each time). */
  cells: Map<string, Map<string, LotCell>>;
  /** SKUs whose stock is kept per lot (the order's shelf-life SKUs). */
  skus: ReadonlySet<string>;
}

/** Epoch ms at which a lot expires: the start of its expiry day, local time. */
export function expiryMs(expiresOn: string, timezoneOffsetMinutes: number): number {
  // The write-off figures judge every free lot of every shelf-life SKU at each reading, from rows
  // that carry the day only (stock levels); the distinct expiry days are few, so their UTC
  // midnights are kept (dropped wholesale past a bound). Decisions read LotFree.expiresOnUtcMs.
  let utc = utcMidnights.get(expiresOn);
  if (utc === undefined) {
    if (utcMidnights.size >= MAX_CACHED_DAYS) utcMidnights.clear();
    utc = utcDayMs(expiresOn);
    utcMidnights.set(expiresOn, utc);
  }
  return utc - timezoneOffsetMinutes * 60_000;
}
const utcMidnights = new Map<string, number>();
/** About 27 years of distinct days. */
const MAX_CACHED_DAYS = 10_000;

/**
 * The eligible lots of the given shelf-life SKUs. `minDays(sku)` is the minimum remaining shelf life
 * at delivery for this order's customer. A lot is near expiry when its last sellable moment (expiry
 * minus the minimum) lies within `nearWindowDays` of now.
 */
export function offerLots(
  lots: readonly LotFree[],
  skus: ReadonlySet<string>,
  opts: { nowMs: number; cutoffMs: number; timezoneOffsetMinutes: number; nearWindowDays: number; minDays: (sku: string) => number; latestFirst?: boolean },
): LotOffer {
  const cells = new Map<string, Map<string, LotCell>>();
  const nearMs = opts.nearWindowDays * DAY_MS;
  // Each lot's expiry instant from the number the store computed once (a lookup of its day string
  // per lot cost about half of the offer's CPU in the request path, bench/README.md).
  const tzMs = opts.timezoneOffsetMinutes * 60_000;
  // The stores list lots by warehouse, SKU, expiry and lot (Store.freeLots), so one cell's lots
  // arrive together: the cell and its SKU's minimum are looked up once per run of lots rather than
  // once per lot (an order with three shelf-life lines reads some 70 lots).
  let run = false;
  let cell: LotCell | undefined;
  let cellWarehouse = '';
  let cellSku = '';
  let min = 0;
  // Cells whose lots did not arrive earliest expiry first (none, from the stores).
  let unsorted: Set<LotCell> | undefined;
  for (const l of lots) {
    if (l.free <= 0) continue;
    if (!run || l.warehouseId !== cellWarehouse || l.sku !== cellSku) {
      if (!skus.has(l.sku)) continue;
      run = true;
      cellWarehouse = l.warehouseId;
      cellSku = l.sku;
      min = opts.minDays(l.sku) * DAY_MS;
      cell = cells.get(l.warehouseId)?.get(l.sku);
    }
    const ends = l.expiresOnUtcMs - tzMs;
    const lastSellable = ends - min;
    if (ends <= opts.nowMs || lastSellable < opts.cutoffMs) continue;
    // A cell exists only once it has an eligible lot.
    if (cell === undefined) {
      let bySku = cells.get(l.warehouseId);
      if (bySku === undefined) cells.set(l.warehouseId, (bySku = new Map()));
      bySku.set(l.sku, (cell = { lots: [], nearFlags: [], near: 0, total: 0 }));
    } else if (cell.lots.length > 0 && compareFefo(cell.lots[cell.lots.length - 1]!, l) > 0) {
      (unsorted ??= new Set()).add(cell);
    }
    const isNear = lastSellable - opts.nowMs <= nearMs;
    cell.lots.push(l);
    cell.nearFlags.push(isNear);
    cell.total += l.free;
    if (isNear) cell.near += l.free;
  }
  // The picking order: earliest expiry first (FEFO), or, for what-if comparisons, the freshest
  // first. A cell is sorted only when its lots did not arrive in FEFO order (Array.prototype.sort
  // allocates a work array per call, and a decision has a cell per warehouse and shelf-life SKU).
  if (unsorted !== undefined) for (const c of unsorted) sortCell(c);
  if (opts.latestFirst === true) {
    for (const bySku of cells.values()) {
      for (const c of bySku.values()) {
        c.lots.reverse();
        c.nearFlags.reverse();
      }
    }
  }
  return { cutoffMs: opts.cutoffMs, cells, skus };
}

/** A cell's lots (and their flags) put in FEFO order. */
function sortCell(c: LotCell): void {
  const order = c.lots.map((_, i) => i).sort((a, b) => compareFefo(c.lots[a]!, c.lots[b]!));
  const lots = order.map((i) => c.lots[i]!);
  const flags = order.map((i) => c.nearFlags[i]!);
  c.lots = lots;
  c.nearFlags = flags;
}

/** Earliest expiry first, then by lot id. */
function compareFefo(a: Pick<LotFree, 'expiresOn' | 'lot'>, b: Pick<LotFree, 'expiresOn' | 'lot'>): number {
  return a.expiresOn < b.expiresOn ? -1 : a.expiresOn > b.expiresOn ? 1 : a.lot < b.lot ? -1 : a.lot > b.lot ? 1 : 0;
}

/** Whether two offers hold the same lots with the same free units in every cell (their cutoffs aside). */
export function sameLots(a: LotOffer, b: LotOffer): boolean {
  if (a.cells.size !== b.cells.size) return false;
  for (const [w, sa] of a.cells) {
    const sb = b.cells.get(w);
    if (sb === undefined || sa.size !== sb.size) return false;
    for (const [sku, ca] of sa) if (!sameCell(ca, sb.get(sku))) return false;
  }
  return true;
}

function sameCell(ca: LotCell, cb: LotCell | undefined): boolean {
  if (cb === undefined || ca.total !== cb.total || ca.near !== cb.near || ca.lots.length !== cb.lots.length) return false;
  for (let i = 0; i < ca.lots.length; i++) {
    const la = ca.lots[i]!;
    const lb = cb.lots[i]!;
    if (la.lot !== lb.lot || la.free !== lb.free || ca.nearFlags[i] !== cb.nearFlags[i]) return false;
  }
  return true;
}

export function lotCellOf(offer: LotOffer, warehouseId: string, sku: string): LotCell | undefined {
  return offer.cells.get(warehouseId)?.get(sku);
}

/** One part of a shipment's line: units of a lot (or, lot null, of stock kept without a lot) from a warehouse. */
export interface LotPick {
  fromWarehouseId: string;
  sku: string;
  lot: string | null;
  expiresOn: string | null;
  qty: number;
  /** The lot was near expiry (NEAR_EXPIRY_WINDOW_DAYS) when the decision picked it. */
  near: boolean;
}

/**
 * Takes each warehouse's units of a shelf-life SKU lot by lot, earliest expiry first, then from
 * stock kept without a lot; shipments that arrive first get the earliest lots. Per plan shipment,
 * the picks (empty for shipments without shelf-life units). `units(shipment)` lists what the
 * shipment takes per source warehouse and SKU, `etaMs(shipment)` when it arrives.
 */
export function assignLots(
  plan: Plan,
  offer: LotOffer,
  units: (shipment: number) => { fromWarehouseId: string; sku: string; qty: number }[],
  etaMs: (shipment: number) => number,
): LotPick[][] {
  const out: LotPick[][] = plan.shipments.map(() => []);
  /** Units taken so far per offered lot (each lot of the offer is one object). */
  const used = new Map<LotFree, number>();
  const order = plan.shipments.map((_s, i) => i).sort((a, b) => etaMs(a) - etaMs(b) || a - b);
  for (const i of order) {
    for (const u of units(i)) {
      if (!offer.skus.has(u.sku)) continue;
      const cell = lotCellOf(offer, u.fromWarehouseId, u.sku);
      let left = u.qty;
      for (let k = 0; cell !== undefined && k < cell.lots.length && left > 0; k++) {
        const l = cell.lots[k]!;
        const take = Math.min(left, l.free - (used.get(l) ?? 0));
        if (take <= 0) continue;
        used.set(l, (used.get(l) ?? 0) + take);
        out[i]!.push({ fromWarehouseId: u.fromWarehouseId, sku: u.sku, lot: l.lot, expiresOn: l.expiresOn, qty: take, near: cell.nearFlags[k]! });
        left -= take;
      }
      if (left > 0) out[i]!.push({ fromWarehouseId: u.fromWarehouseId, sku: u.sku, lot: null, expiresOn: null, qty: left, near: false });
    }
  }
  return out;
}

/** The latest ETA among the plan's shipments carrying a shelf-life SKU (null: none does). */
export function latestLotEta(problem: Problem, plan: Plan, offer: LotOffer, etaMs: (option: number) => number): number | null {
  let latest: number | null = null;
  for (const s of plan.shipments) {
    if (!s.arcs.some((a) => offer.skus.has(problem.lines[problem.arcs[a.arc]!.line]!.sku))) continue;
    latest = Math.max(latest ?? -Infinity, etaMs(s.option));
  }
  return latest;
}

/**
 * Adds the arcs that bring line `li`'s units from a warehouse's stock: one arc from its (warehouse,
 * SKU) pool, or, for a shelf-life SKU with near-expiry units in a decision where
 * NEAR_EXPIRY_CREDIT_CNY is on, one arc from the near-expiry pool and one from the rest. When any
 * warehouse offers the line near-expiry units, every arc of the line from fresher stock carries the
 * credit as an extra weight per unit (`expiryWeightPerUnit`): that is the credit for near-expiry
 * units, shifted by a constant per unit shipped so that every arc cost stays >= 0.
 */
export function pushStockArcs(
  ctx: CandidateContext,
  draft: StockArcs,
  pools: Pools,
  li: number,
  fromWarehouseId: string,
  qty: number,
  transfer: boolean,
  info: ArcInfo,
): void {
  const sku = ctx.lines[li]!.sku;
  const offer = ctx.lots;
  const credit = ctx.cfg.nearExpiryCreditCny;
  if (offer === undefined || !offer.skus.has(sku) || credit <= 0 || !ctx.lineHasNear![li]) {
    draft.arcs.push({ site: draft.site, line: li, pool: pools.of(fromWarehouseId, sku, qty), unitCost: 0, transfer });
    draft.arcInfo.push(info);
    return;
  }
  const near = lotCellOf(offer, fromWarehouseId, sku)?.near ?? 0;
  if (near > 0) {
    draft.arcs.push({ site: draft.site, line: li, pool: pools.of(fromWarehouseId, sku, near, 'near-expiry'), unitCost: 0, transfer });
    draft.arcInfo.push(withExpiry(info, true, undefined));
  }
  // When the near-expiry lots alone hold every unit of the SKU the order asks for, an optimal plan
  // never draws the fresher units (an arc from them costs the credit more than its near-expiry twin
  // and any use fits in the near-expiry pool), so their arc is left out: the same optimum from a
  // smaller problem. That is the common case (a cell's old lot holds hundreds of units).
  if (qty - near > 0 && near < skuDemand(ctx, sku)) {
    draft.arcs.push({ site: draft.site, line: li, pool: pools.of(fromWarehouseId, sku, qty - near), unitCost: 0, transfer });
    draft.arcInfo.push(withExpiry(info, undefined, credit));
  }
}

/**
 * A copy of a stock arc's facts with its expiry fields, built field by field: not a spread that adds
 * a key (~1.3 us an object on Node 20, see offerLots) nor Object.assign (~0.2 us), and one shape
 * for every such arc.
 */
function withExpiry(info: ArcInfo, nearExpiry: true | undefined, expiryWeightPerUnit: number | undefined): ArcInfo {
  const out: ArcInfo = { fromWarehouseId: info.fromWarehouseId, sku: info.sku, storagePerUnit: info.storagePerUnit, transferPerUnit: info.transferPerUnit };
  if (nearExpiry !== undefined) out.nearExpiry = nearExpiry;
  if (expiryWeightPerUnit !== undefined) out.expiryWeightPerUnit = expiryWeightPerUnit;
  return out;
}

/** Units of the SKU the order's lines ask for together. */
function skuDemand(ctx: CandidateContext, sku: string): number {
  let n = 0;
  for (const l of ctx.lines) if (l.sku === sku) n += l.qty;
  return n;
}

/** Per line: whether some warehouse offers near-expiry units of it (then the credit applies to the line). */
export function linesWithNear(lines: readonly { sku: string }[], offer: LotOffer | undefined): boolean[] {
  if (offer === undefined) return lines.map(() => false);
  const skus = new Set<string>();
  for (const bySku of offer.cells.values()) for (const [sku, c] of bySku) if (c.near > 0) skus.add(sku);
  return lines.map((l) => skus.has(l.sku));
}
