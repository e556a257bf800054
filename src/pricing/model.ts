import type { PriceColumn, PriceLp, PriceRow, PriceSolution } from '../../solver/prices.js';
import type { Courier, Warehouse } from '../domain/network.js';
import type { Forecast } from './demand.js';
import type { PriceSnapshot } from './snapshot.js';

/** What the price LP is built from: the network, what is left of each resource today, and the forecast. */
export interface PriceInputs {
  warehouses: readonly Warehouse[];
  couriers: readonly Courier[];
  /** Province code of each warehouse (the lanes' origin). */
  provinceOf: (warehouseId: string) => string;
  /** Lane rate of a courier from a province to a province, or null when it has no lane. */
  lane: (courier: Courier, fromProvince: string, toProvince: string) => { baseCny: number; perKgCny: number } | null;
  /** Free units per warehouse and SKU (the whole network's view, no customer's locks). */
  free: ReadonlyMap<string, ReadonlyMap<string, number>>;
  /** Outbound parcels a warehouse has left today. */
  outboundLeft: (warehouseId: string) => number;
  /** Parcels a courier has left today for a destination province (null: no limit). */
  courierLeft: (courierId: string, provinceCode: string) => number | null;
  /** Warehouses that ship nothing now. */
  closed: ReadonlySet<string>;
  /** Weight of a unit of expected demand left unserved, CNY (BACKORDER_PENALTY_CNY). */
  shortCost: number;
  forecast: Forecast;
}

/** What a row of the price LP stands for. */
export type RowMeta =
  | { kind: 'demand' }
  | { kind: 'balance' }
  | { kind: 'stock'; warehouseId: string; sku: string }
  | { kind: 'outbound'; warehouseId: string }
  | { kind: 'courier'; courierId: string; provinceCode: string };

export interface BuiltPriceLp {
  lp: PriceLp;
  meta: RowMeta[];
  /** The dearest route's cost per parcel in the LP, CNY: the bound of every per-parcel price (see toSnapshot). */
  maxParcelCost: number;
  /**
   * True when no resource can be scarce: every demand class served wholly by its cheapest option
   * (its cheapest warehouse by its cheapest courier, or left unserved when that is cheaper) leaves
   * every capacity row (stock, outbound, courier) below its limit, by a margin. That plan is then
   * optimal for the LP with its capacity rows and without them, and since one optimal plan leaves
   * every capacity row slack, complementary slackness gives every optimal dual solution a price of
   * zero on each of them: the prices are known without solving (src/pricing/job.ts).
   */
  nothingBinds: boolean;
}

/**
 * The transportation LP of the expected rest of today (solver/prices.ts), aggregated so that it
 * stays small (tens of thousands of columns at a Double-11 peak) while keeping each scarce
 * resource as its own row:
 *
 *   x[j,w]  units of demand class j = (province p, SKU s) from warehouse w: one unit of class j,
 *           one unit of stock (w, s), and `parcelsPerUnit_j` parcels into the balance row (p, w);
 *   y[p,w,c] parcels from w to p by courier c: out of the balance row (p, w), one outbound
 *           parcel of w and one parcel of c's capacity to p; cost = the lane's base + per-kg rate
 *           x the mean kg per parcel to p (the forecast's);
 *   u[j]    units of class j left unserved, at the backorder weight.
 *
 * Rows: class j (= expected units), stock (w, s) (<= free units), balance (p, w) (= 0), outbound
 * w (<= parcels left today), courier (c, p) (<= parcels left today, where limited). Storage,
 * transfers and lateness are left out: the prices are about which stock and capacity the rest of
 * the day will want, and the per-order model prices the rest itself.
 */
export function buildPriceLp(inp: PriceInputs): BuiltPriceLp {
  const rows: PriceRow[] = [];
  const meta: RowMeta[] = [];
  const cols: PriceColumn[] = [];
  const addRow = (r: PriceRow, m: RowMeta) => {
    rows.push(r);
    meta.push(m);
    return rows.length - 1;
  };
  const open = inp.warehouses.filter((w) => !inp.closed.has(w.id));
  // Rows are found by position (open warehouse, courier) rather than by string keys: the LP is
  // rebuilt at every refresh, and its thousands of columns would otherwise each build and hash a
  // key or two. Rows and columns come out in the same order as they are added below.
  const outboundRow = new Int32Array(open.length).fill(-1);
  const freeOf = open.map((w) => inp.free.get(w.id));
  const stockRowOf = open.map(() => new Map<string, number>());
  /** Per destination province, the balance row of each open warehouse (-1: no courier has a lane from it to there). */
  const balanceRowsOf = new Map<string, Int32Array>();
  const cheapestOf = new Map<string, { cost: Float64Array; courierRow: Int32Array }>();
  // What the plan of nothingBinds takes from capacity rows (row, amount), and whether every number it read was finite.
  const planRows: number[] = [];
  const planAmounts: number[] = [];
  let finite = Number.isFinite(inp.shortCost);
  let maxParcelCost = 0;
  const provinces = [...new Set(inp.forecast.classes.map((c) => c.provinceCode))].sort();
  // Routes (p, w, c) with a lane: the parcel columns, and which warehouses can serve p at all.
  for (const p of provinces) {
    const kgPerParcel = inp.forecast.kgPerParcel.get(p) ?? 0;
    const balanceRow = new Int32Array(open.length).fill(-1);
    balanceRowsOf.set(p, balanceRow);
    // Courier rows of this province, by courier (-1: not made yet; -2: the courier has no limit here).
    const courierRow = new Int32Array(inp.couriers.length).fill(-1);
    // Each warehouse's cheapest route to p (cost per parcel, and its courier row or -2), for nothingBinds.
    const cheapest = new Float64Array(open.length).fill(Infinity);
    const cheapestCourierRow = new Int32Array(open.length).fill(-2);
    cheapestOf.set(p, { cost: cheapest, courierRow: cheapestCourierRow });
    open.forEach((w, wi) => {
      const from = inp.provinceOf(w.id);
      inp.couriers.forEach((c, ci) => {
        const lane = inp.lane(c, from, p);
        if (lane === null) return;
        let b = balanceRow[wi]!;
        if (b < 0) b = balanceRow[wi] = addRow({ id: `balance ${p}/${w.id}`, kind: 'balance', rhs: 0 }, { kind: 'balance' });
        let o = outboundRow[wi]!;
        if (o < 0) o = outboundRow[wi] = addRow({ id: `outbound ${w.id}`, kind: 'capacity', rhs: Math.max(0, inp.outboundLeft(w.id)) }, { kind: 'outbound', warehouseId: w.id });
        const coefs: [number, number][] = [[b, -1], [o, 1]];
        let cr = courierRow[ci]!;
        if (cr === -1) {
          const left = inp.courierLeft(c.id, p);
          cr = courierRow[ci] = left === null ? -2 : addRow({ id: `courier ${c.id}/${p}`, kind: 'capacity', rhs: Math.max(0, left) }, { kind: 'courier', courierId: c.id, provinceCode: p });
        }
        if (cr >= 0) coefs.push([cr, 1]);
        const cost = lane.baseCny + lane.perKgCny * kgPerParcel;
        maxParcelCost = Math.max(maxParcelCost, cost);
        cols.push({ cost, coefs });
        finite &&= Number.isFinite(cost);
        if (cost < cheapest[wi]!) {
          cheapest[wi] = cost;
          cheapestCourierRow[wi] = cr;
        }
      });
    });
  }
  for (const j of inp.forecast.classes) {
    if (!(j.units > 0)) continue;
    const d = addRow({ id: `demand ${j.provinceCode}/${j.sku}`, kind: 'demand', rhs: j.units }, { kind: 'demand' });
    cols.push({ cost: inp.shortCost, coefs: [[d, 1]] });
    const balanceRow = balanceRowsOf.get(j.provinceCode);
    const cheapest = cheapestOf.get(j.provinceCode);
    // The class's cheapest option per unit: unserved, or a warehouse's stock by its cheapest route.
    let best = inp.shortCost;
    let bestWi = -1;
    let bestStock = -1;
    for (let wi = 0; wi < open.length; wi++) {
      const qty = freeOf[wi]?.get(j.sku) ?? 0;
      if (qty <= 0 || balanceRow === undefined || balanceRow[wi]! < 0) continue;
      const stockRow = stockRowOf[wi]!;
      let s = stockRow.get(j.sku);
      if (s === undefined) stockRow.set(j.sku, (s = addRow({ id: `stock ${open[wi]!.id}/${j.sku}`, kind: 'capacity', rhs: qty }, { kind: 'stock', warehouseId: open[wi]!.id, sku: j.sku })));
      cols.push({ cost: 0, coefs: [[d, 1], [s, 1], [balanceRow[wi]!, j.parcelsPerUnit]] });
      const perUnit = j.parcelsPerUnit * cheapest!.cost[wi]!;
      if (perUnit < best) {
        best = perUnit;
        bestWi = wi;
        bestStock = s;
      }
    }
    finite &&= Number.isFinite(j.units) && Number.isFinite(j.parcelsPerUnit) && Number.isFinite(best);
    if (bestWi >= 0) {
      const parcels = j.parcelsPerUnit * j.units;
      planRows.push(bestStock, outboundRow[bestWi]!);
      planAmounts.push(j.units, parcels);
      const cr = cheapest!.courierRow[bestWi]!;
      if (cr >= 0) {
        planRows.push(cr);
        planAmounts.push(parcels);
      }
    }
  }
  const used = new Float64Array(rows.length);
  for (let k = 0; k < planRows.length; k++) used[planRows[k]!] = used[planRows[k]!]! + planAmounts[k]!;
  // Below every limit by a margin: a row at its limit (a limit of 0 above all) may carry a price in
  // some optimal dual solution even when the plan does not need it, and HiGHS counts a row within
  // its feasibility tolerance (1e-7) of the limit as at it; such refreshes are solved.
  let nothingBinds = finite;
  for (let i = 0; i < rows.length && nothingBinds; i++) {
    const r = rows[i]!;
    if (r.kind === 'capacity' && !(used[i]! < r.rhs - 1e-6 * Math.max(1, r.rhs))) nothingBinds = false;
  }
  return { lp: { rows, cols }, meta, maxParcelCost, nothingBinds };
}

/**
 * The LP's duals as the prices decisions use:
 * - stock: relative to the SKU's cheapest warehouse (π_{w,s} − min over w' of π_{w',s}). A price
 *   common to every warehouse's units of a SKU cannot change which warehouse ships them, only
 *   whether the order ships at all; when the expected demand exceeds the network's stock of a SKU,
 *   that common part is about the backorder weight, and a decision must never backorder units it
 *   can ship (the backorder weight of the per-order model dominates), so only the difference is kept;
 * - parcels (outbound, courier): as they are, bounded by the dearest route's cost per parcel. A
 *   price above that cannot choose between routes (every alternative costs less), only between
 *   shipping and backordering, which it must not;
 * stock prices are bounded the same way.
 */
export function toSnapshot(built: BuiltPriceLp, sol: PriceSolution, day: string, computedAtMs: number): PriceSnapshot {
  const cap = built.maxParcelCost;
  const stockRaw = new Map<string, Map<string, number>>();
  const minBySku = new Map<string, number>();
  const outbound = new Map<string, number>();
  const courier = new Map<string, number>();
  built.meta.forEach((m, i) => {
    const price = sol.prices[i]!;
    if (m.kind === 'stock') {
      (stockRaw.get(m.warehouseId) ?? stockRaw.set(m.warehouseId, new Map()).get(m.warehouseId)!).set(m.sku, price);
      minBySku.set(m.sku, Math.min(minBySku.get(m.sku) ?? Infinity, price));
    } else if (m.kind === 'outbound') {
      if (price > 1e-9) outbound.set(m.warehouseId, Math.min(cap, price));
    } else if (m.kind === 'courier') {
      if (price > 1e-9) courier.set(`${m.courierId}|${m.provinceCode}`, Math.min(cap, price));
    }
  });
  const stock = new Map<string, Map<string, number>>();
  for (const [w, bySku] of stockRaw) {
    for (const [sku, price] of bySku) {
      const rel = Math.min(cap, price - minBySku.get(sku)!);
      if (rel > 1e-9) (stock.get(w) ?? stock.set(w, new Map()).get(w)!).set(sku, rel);
    }
  }
  return { day, computedAtMs, stock, outbound, courier };
}
