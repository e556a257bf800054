import type { Problem } from './types.js';

/**
 * The clairvoyant (whole-stream) model: every order of a stream in one model, with the coupling
 * constraints that tie the orders together (stock over time, capacity per warehouse and per
 * courier and day). Each order keeps its own per-order problem (solver/types.ts, built by the same
 * candidate generation as the online policies), so the options and prices are the service's.
 * Pure: it builds the model as column-wise arrays (HiGHS's passModel data), prices the options left
 * out of it (column generation) and reads a solution back; src/replay/clairvoyant.ts runs HiGHS. The formulation is documented in docs/replays.md ("The clairvoyant model").
 *
 * Units: money in CNY, weight in kg, quantities in whole units, time in epoch ms.
 */

/** One order of the stream with its per-order problem. */
export interface StreamOrder {
  /** The order id, for labels and reports. */
  id: string;
  /** When the order is placed, epoch ms: it may use stock received at or before this instant. */
  atMs: number;
  /**
   * Its problem with every capacity lifted (the caps are the stream's rows here): pools carry
   * `<warehouseId>/<sku>` ids, sites carry warehouse ids, couriers carry courier ids.
   */
  problem: Problem;
  /** Local day (YYYY-MM-DD) whose capacities the order's shipments use. */
  day: string;
  /** Destination province code (courier capacity is per province and day). */
  province: string;
}

/** Stock arriving in a (warehouse, SKU) pool: the initial stock at -Infinity, receipts at their time. */
export interface StreamSupply {
  /** `<warehouseId>/<sku>`, as the problems' pool ids. */
  pool: string;
  qty: number;
  atMs: number;
}

/**
 * A capacity limit in force from `fromMs` on (the day's bookings so far count against it): the
 * day's cumulative use by orders placed before the next change must stay within it. `null` = no limit.
 */
export interface StreamLimit {
  fromMs: number;
  limit: number | null;
}

export interface StreamCapacity {
  /** Outbound parcels per warehouse and day (`<warehouseId>|<day>`). */
  warehouseParcels: (warehouseId: string, day: string) => StreamLimit[];
  /** Parcels and kg per courier, destination province and day. */
  courierParcels: (courierId: string, province: string, day: string) => StreamLimit[];
  courierKg: (courierId: string, province: string, day: string) => StreamLimit[];
}

/**
 * What the model minimises besides money:
 *   - `bound`: money + backorder weight (the LP of this is the money bound: see docs/replays.md);
 *   - `plan`: money + backorder weight + each option's lateness price (fixedCost, the cost model's
 *     per-hour price) + the split penalty + `lateDayWeight` per late day of each order (on time
 *     first when large; 0 prices lateness only as the cost model does).
 */
export interface StreamObjective {
  kind: 'bound' | 'plan';
  /** Per unit backordered, CNY (a weight, never money). */
  backorderWeight: number;
  /** Per whole day an order is late (its latest shipment's `late`), CNY (a weight); `plan` only. */
  lateDayWeight: number;
}

/** Per order: which columns stand for what (column indices; -1 where absent). */
interface OrderCols {
  /** Units of an arc carried by an option. */
  x: { col: number; arc: number; option: number }[];
  /** Per option: its y column (-1 when the option is not in the model). */
  y: number[];
  /** Per option: its parcel column, or -1 when parcels = y (no weight limit) or absent. */
  n: number[];
  /** Per line: its backorder column. */
  b: number[];
}

/** Rows shared by options that may enter later: their indices, for pricing with their duals. */
interface RowIndex {
  /** Per order: per line, the balance row. */
  bal: number[][];
  /** Per order: per site, the "one shipment per warehouse" row. */
  site: Map<number, number>[];
  /** Per order: the "one shipment" row (allowSplit false), or -1. */
  one: number[];
  /** Per order: the split row z − Σy ≤ 0 (plan objective with a split penalty), or -1. */
  zc: number[];
  /** Per pool: cumulative stock rows, each for the orders placed before `cut` (epoch ms). */
  stock: Map<string, { cut: number; row: number }[]>;
  /** Per capacity resource key: cumulative rows, each for the orders placed before `until`. */
  cap: Map<string, { until: number; row: number }[]>;
}

/** The plan of one order read from a solution (fractional in an LP). */
export interface StreamOrderPlan {
  shipments: { option: number; y: number; parcels: number; arcs: { arc: number; qty: number }[] }[];
  backordered: number[];
}

/** Money of one order's (possibly fractional) plan, CNY, split as the reports split it. */
export interface StreamMoney {
  freight: number;
  /** Transfers and storage: the arcs' unit costs. */
  arcs: number;
  total: number;
}

/** Arcs an option may carry: its site's arcs, transfer arcs only in a transfer option. */
export function optionArcs(p: Problem, k: number): number[] {
  const opt = p.options[k]!;
  const out: number[] = [];
  p.arcs.forEach((a, i) => {
    if (a.site === opt.site && (!a.transfer || opt.transfer)) out.push(i);
  });
  return out;
}

/** Capacity resource keys an option books: outbound parcels of its warehouse, parcels and kg of its courier to the province, on the order's day. */
function resourceKeys(o: StreamOrder, k: number): { wh: string; cp: string; ck: string } {
  const opt = o.problem.options[k]!;
  const courier = o.problem.couriers[opt.courier]!.id;
  return { wh: `w|${o.problem.sites[opt.site]!.id}|${o.day}`, cp: `cp|${courier}|${o.province}|${o.day}`, ck: `ck|${courier}|${o.province}|${o.day}` };
}

/**
 * The stream's shared data, computed once: supply by pool over time, the stock rows' cuts, the
 * capacity limits of every resource any option may book, and each order's arc bounds (no arc
 * carries more than the line needs or than the pool had received when the order was placed).
 */
export interface StreamData {
  orders: StreamOrder[];
  /** Per pool: arrivals sorted by time. */
  supply: Map<string, StreamSupply[]>;
  /** Per pool: the distinct receipt instants, then Infinity (the end). */
  cuts: Map<string, number[]>;
  /** Per capacity resource: its limits sorted by time. */
  limits: Map<string, StreamLimit[]>;
  /** Per order, per arc: the most units one shipment can carry on it. */
  arcBound: number[][];
  /** Per order, per option: the arcs it may carry (optionArcs). */
  optionArcs: number[][][];
  /** Per order, per option: whether it can carry anything (optionUsable). */
  usable: boolean[][];
}

export function streamData(orders: StreamOrder[], supply: StreamSupply[], caps: StreamCapacity): StreamData {
  const byPool = new Map<string, StreamSupply[]>();
  for (const s of supply) (byPool.get(s.pool) ?? byPool.set(s.pool, []).get(s.pool)!).push(s);
  for (const list of byPool.values()) list.sort((a, b) => a.atMs - b.atMs);
  const cuts = new Map<string, number[]>();
  const limits = new Map<string, StreamLimit[]>();
  const arcBound = orders.map((o) =>
    o.problem.arcs.map((a) => {
      const pool = o.problem.pools[a.pool]!.id;
      if (!cuts.has(pool)) cuts.set(pool, [...new Set((byPool.get(pool) ?? []).filter((s) => Number.isFinite(s.atMs)).map((s) => s.atMs)), Infinity]);
      const arrived = (byPool.get(pool) ?? []).filter((s) => s.atMs <= o.atMs).reduce((n, s) => n + s.qty, 0);
      return Math.min(o.problem.lines[a.line]!.qty, arrived);
    }),
  );
  for (const o of orders) {
    for (const k of o.problem.options.keys()) {
      const keys = resourceKeys(o, k);
      const [, w, day] = keys.wh.split('|') as [string, string, string];
      const [, c, prov] = keys.cp.split('|') as [string, string, string];
      if (!limits.has(keys.wh)) limits.set(keys.wh, caps.warehouseParcels(w, day).slice().sort((a, b) => a.fromMs - b.fromMs));
      if (!limits.has(keys.cp)) limits.set(keys.cp, caps.courierParcels(c, prov, day).slice().sort((a, b) => a.fromMs - b.fromMs));
      if (!limits.has(keys.ck)) limits.set(keys.ck, caps.courierKg(c, prov, day).slice().sort((a, b) => a.fromMs - b.fromMs));
    }
  }
  const data: StreamData = { orders, supply: byPool, cuts, limits, arcBound, optionArcs: orders.map((o) => o.problem.options.map((_, k) => optionArcs(o.problem, k))), usable: [] };
  data.usable = orders.map((o, oi) => o.problem.options.map((_, k) => usableNow(data, oi, k)));
  return data;
}

/** The least limit any segment of a resource sets for an order placed at `atMs` (the segments it counts in). */
function tightestLimit(limits: StreamLimit[] | undefined, atMs: number): number {
  let least = Infinity;
  (limits ?? []).forEach((l, i) => {
    const until = limits![i + 1]?.fromMs ?? Infinity;
    if (until > atMs && l.limit !== null) least = Math.min(least, l.limit);
  });
  return least;
}

/** Whether an option can carry anything at all: some arc with units and room on every resource it books. */
export function optionUsable(data: StreamData, oi: number, k: number): boolean {
  return data.usable[oi]![k]!;
}

function usableNow(data: StreamData, oi: number, k: number): boolean {
  const o = data.orders[oi]!;
  const keys = resourceKeys(o, k);
  if (tightestLimit(data.limits.get(keys.wh), o.atMs) < 1 || tightestLimit(data.limits.get(keys.cp), o.atMs) < 1 || tightestLimit(data.limits.get(keys.ck), o.atMs) <= 0) return false;
  return data.optionArcs[oi]![k]!.some((a) => data.arcBound[oi]![a]! > 0);
}

/**
 * The model over the options in `active`, as HiGHS's column-wise model data (see StreamBuilder;
 * column generation adds options between solves).
 */
export interface StreamModel {
  orders: StreamOrder[];
  objective: StreamObjective;
  integral: boolean;
  numCols: number;
  numRows: number;
  colCost: Float64Array;
  colUpper: Float64Array;
  integrality: Int32Array;
  rowLower: Float64Array;
  rowUpper: Float64Array;
  /** CSC matrix. */
  starts: Int32Array;
  indices: Int32Array;
  values: Float64Array;
  cols: OrderCols[];
  rows: RowIndex;
  /** Rows of each kind (stock over time, capacity per warehouse and courier per day). */
  coupling: { stock: number; capacity: number };
}

/** Columns in CSC form with their costs and bounds (a whole model's, or those added since a mark). */
export interface StreamColumns {
  cost: Float64Array;
  upper: Float64Array;
  integrality: Int32Array;
  starts: Int32Array;
  indices: Int32Array;
  values: Float64Array;
}

/**
 * Builds the model option by option: the shared rows (stock over time, capacities) and each
 * order's own rows and backorder columns first, then one block per option added (its y, parcels
 * and units columns and its own rows). An option's columns only touch rows that exist when it is
 * added, and no old column touches a new row, so what was added since a mark can be handed to
 * HiGHS as new empty rows then new columns (addRows, addCols), keeping its basis (warm start).
 * `integral` makes x, y, n integer (the MIP) and adds the rows only the integer plan needs.
 */
export class StreamBuilder {
  readonly orders: StreamOrder[];
  readonly cols: OrderCols[] = [];
  readonly rows: RowIndex = { bal: [], site: [], one: [], zc: [], stock: new Map(), cap: new Map() };
  readonly coupling = { stock: 0, capacity: 0 };
  private readonly colEntries: [number, number][][] = [];
  private readonly colCost: number[] = [];
  private readonly colUpper: number[] = [];
  private readonly colInt: boolean[] = [];
  private readonly rowLower: number[] = [];
  private readonly rowUpper: number[] = [];
  /** Per order: its late-days column L, or -1. */
  private readonly lateCol: number[] = [];

  constructor(
    private readonly data: StreamData,
    readonly objective: StreamObjective,
    readonly integral: boolean,
  ) {
    this.orders = data.orders;
    // Shared rows, declared for every pool and resource any option may use, so that their duals
    // price the options not yet in the model.
    for (const [pool, cuts] of data.cuts) {
      const arrivals = data.supply.get(pool) ?? [];
      this.rows.stock.set(
        pool,
        cuts.map((cut) => ({ cut, row: this.addRow(-Infinity, arrivals.filter((a) => a.atMs < cut).reduce((n, a) => n + a.qty, 0)) })),
      );
      this.coupling.stock += cuts.length;
    }
    for (const [key, limits] of data.limits) {
      const list: { until: number; row: number }[] = [];
      limits.forEach((l, i) => {
        if (l.limit === null) return;
        list.push({ until: limits[i + 1]?.fromMs ?? Infinity, row: this.addRow(-Infinity, l.limit) });
        this.coupling.capacity++;
      });
      this.rows.cap.set(key, list);
    }
    const plan = objective.kind === 'plan';
    for (const o of data.orders) {
      const p = o.problem;
      this.cols.push({ x: [], y: p.options.map(() => -1), n: p.options.map(() => -1), b: [] });
      const c = this.cols[this.cols.length - 1]!;
      const bal = p.lines.map((line) => this.addRow(line.qty, line.qty));
      this.rows.bal.push(bal);
      bal.forEach((row, l) => {
        const b = this.addCol(objective.backorderWeight, p.lines[l]!.qty, false);
        this.put(b, row, 1);
        c.b.push(b);
      });
      this.rows.site.push(new Map());
      this.rows.one.push(!p.allowSplit ? this.addRow(-Infinity, 1) : -1);
      const zc = plan && p.splitPenalty > 0 ? this.addRow(-Infinity, 0) : -1;
      this.rows.zc.push(zc);
      if (zc >= 0) this.put(this.addCol(-p.splitPenalty, 1, false), zc, 1);
      const maxLate = Math.max(0, ...p.options.map((opt) => opt.late ?? 0));
      this.lateCol.push(plan && objective.lateDayWeight > 0 && maxLate > 0 ? this.addCol(objective.lateDayWeight, maxLate, false) : -1);
    }
  }

  get numCols(): number {
    return this.colEntries.length;
  }

  get numRows(): number {
    return this.rowLower.length;
  }

  private addRow(lo: number, hi: number): number {
    this.rowUpper.push(hi);
    return this.rowLower.push(lo) - 1;
  }

  private addCol(cost: number, ub: number, integer: boolean): number {
    this.colEntries.push([]);
    this.colCost.push(cost);
    this.colUpper.push(ub);
    return this.colInt.push(integer) - 1;
  }

  private put(col: number, row: number, v: number): void {
    this.colEntries[col]!.push([row, v]);
  }

  /** Adds option k of order oi (nothing when it is in already or can carry nothing). */
  addOption(oi: number, k: number): void {
    const { data, objective, integral } = this;
    const o = data.orders[oi]!;
    const p = o.problem;
    const c = this.cols[oi]!;
    if (c.y[k]! >= 0) return;
    const opt = p.options[k]!;
    const arcs = data.optionArcs[oi]![k]!.filter((a) => data.arcBound[oi]![a]! > 0);
    if (arcs.length === 0) return;
    const plan = objective.kind === 'plan';
    const keys = resourceKeys(o, k);
    const stockOf = (pool: string) => (this.rows.stock.get(pool) ?? []).filter((r) => r.cut > o.atMs).map((r) => r.row);
    const capOf = (key: string) => (this.rows.cap.get(key) ?? []).filter((r) => r.until > o.atMs).map((r) => r.row);
    const y = this.addCol(plan ? opt.fixedCost + p.splitPenalty : 0, 1, integral);
    c.y[k] = y;
    const sites = this.rows.site[oi]!;
    let site = sites.get(opt.site);
    if (site === undefined) sites.set(opt.site, (site = this.addRow(-Infinity, 1)));
    this.put(y, site, 1);
    if (this.rows.one[oi]! >= 0) this.put(y, this.rows.one[oi]!, 1);
    if (this.rows.zc[oi]! >= 0) this.put(y, this.rows.zc[oi]!, -1);
    const L = this.lateCol[oi]!;
    if (L >= 0 && (opt.late ?? 0) > 0) {
      // The order's lateness is its latest shipment's: L ≥ late_k · y_k.
      const lt = this.addRow(-Infinity, 0);
      this.put(y, lt, opt.late!);
      this.put(L, lt, -1);
    }
    let maxKg = 0;
    const xs: { col: number; w: number }[] = [];
    for (const a of arcs) {
      const arc = p.arcs[a]!;
      const line = p.lines[arc.line]!;
      const m = data.arcBound[oi]![a]!;
      const x = this.addCol(arc.unitCost + opt.perKg * line.unitWeightKg, m, integral);
      c.x.push({ col: x, arc: a, option: k });
      xs.push({ col: x, w: line.unitWeightKg });
      maxKg += m * line.unitWeightKg;
      this.put(x, this.rows.bal[oi]![arc.line]!, 1);
      for (const r of stockOf(p.pools[arc.pool]!.id)) this.put(x, r, 1);
      if (line.unitWeightKg > 0) for (const r of capOf(keys.ck)) this.put(x, r, line.unitWeightKg);
      // Linking, disaggregated (the tight form): units only in an open shipment.
      const lk = this.addRow(-Infinity, 0);
      this.put(x, lk, 1);
      this.put(y, lk, -m);
    }
    if (integral) {
      // An open shipment carries units (only the integer plan needs it: an empty shipment never lowers the LP).
      const ne = this.addRow(-Infinity, 0);
      this.put(y, ne, 1);
      for (const x of xs) this.put(x.col, ne, -1);
    }
    let parcelCol = y;
    if (opt.parcelMaxKg !== null) {
      const nMax = Math.max(1, Math.ceil(maxKg / opt.parcelMaxKg - 1e-9));
      const n = this.addCol(opt.perParcel, nMax, integral);
      c.n[k] = n;
      parcelCol = n;
      const pk = this.addRow(-Infinity, 0);
      for (const x of xs) if (x.w > 0) this.put(x.col, pk, x.w);
      this.put(n, pk, -opt.parcelMaxKg);
      const pl = this.addRow(-Infinity, 0);
      this.put(y, pl, 1);
      this.put(n, pl, -1);
      if (integral) {
        const pu = this.addRow(-Infinity, 0);
        this.put(n, pu, 1);
        this.put(y, pu, -nMax);
      }
    } else {
      this.colCost[y]! += opt.perParcel;
    }
    for (const r of [...capOf(keys.wh), ...capOf(keys.cp)]) this.put(parcelCol, r, 1);
  }

  /** Columns from index `from` on, in CSC form (rows as they are now). */
  columns(from = 0): StreamColumns {
    const n = this.colEntries.length - from;
    const starts = new Int32Array(n + 1);
    let nnz = 0;
    for (let j = 0; j < n; j++) {
      starts[j] = nnz;
      nnz += this.colEntries[from + j]!.length;
    }
    starts[n] = nnz;
    const indices = new Int32Array(nnz);
    const values = new Float64Array(nnz);
    let at = 0;
    for (let j = from; j < this.colEntries.length; j++) {
      const e = this.colEntries[j]!.slice().sort((a, b) => a[0] - b[0]);
      for (const [r, v] of e) {
        indices[at] = r;
        values[at++] = v;
      }
    }
    return {
      cost: Float64Array.from(this.colCost.slice(from)),
      upper: Float64Array.from(this.colUpper.slice(from)),
      integrality: Int32Array.from(this.colInt.slice(from), (b) => (b ? 1 : 0)),
      starts,
      indices,
      values,
    };
  }

  /** Row bounds from index `from` on. */
  rowBounds(from = 0): { lower: Float64Array; upper: Float64Array } {
    return { lower: Float64Array.from(this.rowLower.slice(from)), upper: Float64Array.from(this.rowUpper.slice(from)) };
  }

  /** The whole model as it stands. */
  model(): StreamModel {
    const c = this.columns(0);
    const r = this.rowBounds(0);
    return {
      orders: this.orders,
      objective: this.objective,
      integral: this.integral,
      numCols: this.numCols,
      numRows: this.numRows,
      colCost: c.cost,
      colUpper: c.upper,
      integrality: c.integrality,
      rowLower: r.lower,
      rowUpper: r.upper,
      starts: c.starts,
      indices: c.indices,
      values: c.values,
      cols: this.cols,
      rows: this.rows,
      coupling: { ...this.coupling },
    };
  }
}

/** Builds the model over the active options of each order; `integral` makes x, y, n integer (the MIP), else the LP relaxation. */
export function buildStreamModel(data: StreamData, active: readonly ReadonlySet<number>[], objective: StreamObjective, integral: boolean): StreamModel {
  const b = new StreamBuilder(data, objective, integral);
  active.forEach((set, oi) => [...set].sort((x, y) => x - y).forEach((k) => b.addOption(oi, k)));
  return b.model();
}

/**
 * Column generation's pricing: for every option not in the model, a lower bound on the reduced
 * cost of opening it (y = 1) given the LP's row duals (HiGHS's sign: reduced cost = cost − Σ
 * coefficient × dual). The option's own rows (linking, parcels) are new, so its best use is a
 * small LP of its own; the bound relaxes it twice, each a valid lower bound:
 *   f ≥ c'_y + e + Σ_a min(0, d_a)·m_a          (at least one parcel, parcels ≥ 1)
 *   f ≥ c'_y + Σ_a min(0, d_a + e·w_a/K)·m_a    (parcels ≥ weight / K)
 * with d_a the unit's reduced cost, e the parcel's (≥ 0: capacity duals are ≤ 0), m_a the arc's
 * bound. Options whose bound is ≥ −tolerance cannot improve the LP: when none is below, the LP
 * over the active options is the LP over all of them.
 */
export function priceOptions(data: StreamData, model: Pick<StreamModel, 'objective' | 'cols' | 'rows'>, rowDual: ArrayLike<number>, tolerance = 1e-6): { order: number; option: number; reducedCost: number }[] {
  const out: { order: number; option: number; reducedCost: number }[] = [];
  const dual = (r: number) => (r >= 0 ? rowDual[r]! : 0);
  // The duals an order placed at atMs meets on a cumulative resource: every row whose period ends after it.
  const suffix = (list: { end: number; row: number }[] | undefined, atMs: number) => {
    let n = 0;
    for (const r of list ?? []) if (r.end > atMs) n += rowDual[r.row]!;
    return n;
  };
  const stockRows = new Map([...model.rows.stock].map(([k, v]) => [k, v.map((r) => ({ end: r.cut, row: r.row }))]));
  const capRows = new Map([...model.rows.cap].map(([k, v]) => [k, v.map((r) => ({ end: r.until, row: r.row }))]));
  const plan = model.objective.kind === 'plan';
  for (const [oi, o] of data.orders.entries()) {
    const p = o.problem;
    const c = model.cols[oi]!;
    const stockDual = p.pools.map((pool) => suffix(stockRows.get(pool.id), o.atMs));
    const balDual = model.rows.bal[oi]!.map((r) => rowDual[r]!);
    for (const k of p.options.keys()) {
      if (c.y[k]! >= 0 || !optionUsable(data, oi, k)) continue;
      const opt = p.options[k]!;
      const keys = resourceKeys(o, k);
      let cy = (plan ? opt.fixedCost + p.splitPenalty : 0) - dual(model.rows.site[oi]!.get(opt.site) ?? -1) - dual(model.rows.one[oi]!) + dual(model.rows.zc[oi]!);
      const e = opt.perParcel - suffix(capRows.get(keys.wh), o.atMs) - suffix(capRows.get(keys.cp), o.atMs);
      if (opt.parcelMaxKg === null) cy += e;
      const kgDual = suffix(capRows.get(keys.ck), o.atMs);
      let neg = 0;
      let negHeavy = 0;
      for (const a of data.optionArcs[oi]![k]!) {
        const m = data.arcBound[oi]![a]!;
        if (m <= 0) continue;
        const arc = p.arcs[a]!;
        const w = p.lines[arc.line]!.unitWeightKg;
        const d = arc.unitCost + opt.perKg * w - balDual[arc.line]! - stockDual[arc.pool]! - w * kgDual;
        neg += Math.min(0, d) * m;
        if (opt.parcelMaxKg !== null) negHeavy += Math.min(0, d + (e * w) / opt.parcelMaxKg) * m;
      }
      const lb = opt.parcelMaxKg === null ? cy + neg : cy + Math.max(e + neg, negHeavy);
      if (lb < -tolerance) out.push({ order: oi, option: k, reducedCost: lb });
    }
  }
  return out;
}

/**
 * Reads each order's plan from a solution (value by column). Values are rounded to integers when
 * the model is integral (a MIP's answer within its tolerance), kept as they are otherwise.
 */
export function decodeStream(model: Pick<StreamModel, 'orders' | 'cols' | 'integral'>, colValue: ArrayLike<number>): StreamOrderPlan[] {
  const r = (x: number) => (model.integral ? Math.round(x) : Math.max(0, x));
  return model.orders.map((o, oi) => {
    const c = model.cols[oi]!;
    const shipments: StreamOrderPlan['shipments'] = [];
    o.problem.options.forEach((_, k) => {
      const yc = c.y[k]!;
      if (yc < 0) return;
      const y = r(colValue[yc]!);
      const arcs = c.x.filter((x) => x.option === k).map((x) => ({ arc: x.arc, qty: r(colValue[x.col]!) })).filter((a) => a.qty > 1e-9);
      if (y <= 1e-9 && arcs.length === 0) return;
      const parcels = c.n[k]! >= 0 ? r(colValue[c.n[k]!]!) : y;
      shipments.push({ option: k, y, parcels, arcs });
    });
    return { shipments, backordered: c.b.map((b) => r(colValue[b]!)) };
  });
}

/** Money of one order's plan, CNY: freight (per parcel and per kg) and the arcs' transfer and storage. */
export function orderMoney(p: Problem, plan: StreamOrderPlan): StreamMoney {
  let freight = 0;
  let arcs = 0;
  for (const s of plan.shipments) {
    const opt = p.options[s.option]!;
    freight += opt.perParcel * s.parcels;
    for (const a of s.arcs) {
      const arc = p.arcs[a.arc]!;
      freight += opt.perKg * p.lines[arc.line]!.unitWeightKg * a.qty;
      arcs += arc.unitCost * a.qty;
    }
  }
  return { freight, arcs, total: freight + arcs };
}

/** Decision weights of one order's plan, CNY: each open shipment's lateness price and the split penalty. */
export function orderPenalty(p: Problem, plan: StreamOrderPlan): number {
  const open = plan.shipments.filter((s) => s.y > 1e-9);
  return open.reduce((n, s) => n + p.options[s.option]!.fixedCost * s.y, 0) + p.splitPenalty * Math.max(0, open.reduce((n, s) => n + s.y, 0) - 1);
}

/**
 * A first active set: per order, the `k` options that would ship the whole order cheapest on
 * their own (freight for all of it, the cheapest arc per line, lines they cannot supply at the
 * backorder weight), with the plan objective's weights when asked.
 */
export function initialOptions(data: StreamData, objective: StreamObjective, k: number): Set<number>[] {
  return data.orders.map((o, oi) => {
    const p = o.problem;
    const kg = p.lines.reduce((n, l) => n + l.qty * l.unitWeightKg, 0);
    const scored = p.options
      .map((opt, j) => {
        if (!optionUsable(data, oi, j)) return { j, score: Infinity };
        const arcs = data.optionArcs[oi]![j]!.filter((a) => data.arcBound[oi]![a]! > 0);
        let score = opt.perParcel * (opt.parcelMaxKg === null ? 1 : Math.max(1, Math.ceil(kg / opt.parcelMaxKg))) + opt.perKg * kg;
        p.lines.forEach((l, li) => {
          const costs = arcs.filter((a) => p.arcs[a]!.line === li).map((a) => p.arcs[a]!.unitCost);
          score += costs.length === 0 ? objective.backorderWeight * l.qty : Math.min(...costs) * l.qty;
        });
        if (objective.kind === 'plan') score += opt.fixedCost + objective.lateDayWeight * (opt.late ?? 0);
        return { j, score };
      })
      .filter((s) => Number.isFinite(s.score))
      .sort((a, b) => a.score - b.score);
    return new Set(scored.slice(0, k).map((s) => s.j));
  });
}

/**
 * Repairs a whole-stream plan order by order, in the stream's order: each order listed that
 * ships nothing gets the cheapest single shipment (money + the plan objective's weights) that
 * carries all of it within the stock and capacity the other orders leave (stock over time and
 * capacity rows as in the model). An order no single option can carry stays backordered. Returns
 * the orders repaired. The plans are changed in place.
 */
export function repairPlans(data: StreamData, plans: StreamOrderPlan[], objective: StreamObjective, orders: readonly number[]): number[] {
  // What the plans use of each stock row and capacity row (the model's cumulative rows).
  const stockUsed = new Map<string, number[]>();
  const capUsed = new Map<string, number[]>();
  const cutsOf = (pool: string) => data.cuts.get(pool) ?? [Infinity];
  const limitsOf = (key: string) => data.limits.get(key) ?? [];
  const addStock = (pool: string, atMs: number, qty: number) => {
    const used = stockUsed.get(pool) ?? stockUsed.set(pool, cutsOf(pool).map(() => 0)).get(pool)!;
    cutsOf(pool).forEach((cut, i) => {
      if (cut > atMs) used[i]! += qty;
    });
  };
  const addCap = (key: string, atMs: number, qty: number) => {
    const limits = limitsOf(key);
    const used = capUsed.get(key) ?? capUsed.set(key, limits.map(() => 0)).get(key)!;
    limits.forEach((_, i) => {
      if ((limits[i + 1]?.fromMs ?? Infinity) > atMs) used[i]! += qty;
    });
  };
  const stockLeft = (pool: string, atMs: number) => {
    const arrivals = data.supply.get(pool) ?? [];
    const used = stockUsed.get(pool);
    let least = Infinity;
    cutsOf(pool).forEach((cut, i) => {
      if (cut <= atMs) return;
      const had = arrivals.filter((a) => a.atMs < cut).reduce((n, a) => n + a.qty, 0);
      least = Math.min(least, had - (used?.[i] ?? 0));
    });
    return least;
  };
  const capLeft = (key: string, atMs: number) => {
    const limits = limitsOf(key);
    const used = capUsed.get(key);
    let least = Infinity;
    limits.forEach((l, i) => {
      if (l.limit === null || (limits[i + 1]?.fromMs ?? Infinity) <= atMs) return;
      least = Math.min(least, l.limit - (used?.[i] ?? 0));
    });
    return least;
  };
  const book = (oi: number, s: StreamOrderPlan['shipments'][number]) => {
    const o = data.orders[oi]!;
    const p = o.problem;
    const keys = resourceKeys(o, s.option);
    let kg = 0;
    for (const a of s.arcs) {
      const arc = p.arcs[a.arc]!;
      addStock(p.pools[arc.pool]!.id, o.atMs, a.qty);
      kg += a.qty * p.lines[arc.line]!.unitWeightKg;
    }
    addCap(keys.wh, o.atMs, s.parcels);
    addCap(keys.cp, o.atMs, s.parcels);
    addCap(keys.ck, o.atMs, kg);
  };
  plans.forEach((plan, oi) => plan.shipments.forEach((s) => book(oi, s)));

  const repaired: number[] = [];
  for (const oi of [...orders].sort((a, b) => data.orders[a]!.atMs - data.orders[b]!.atMs || a - b)) {
    const plan = plans[oi]!;
    if (plan.shipments.length > 0) continue;
    const o = data.orders[oi]!;
    const p = o.problem;
    let best: { cost: number; shipment: StreamOrderPlan['shipments'][number] } | null = null;
    for (const k of p.options.keys()) {
      if (!data.usable[oi]![k]) continue;
      const opt = p.options[k]!;
      // Each line from the option's arcs, cheapest first, within the stock left (units taken from
      // one pool by two lines of the same order count once: an order's lines are distinct SKUs).
      const arcs: { arc: number; qty: number }[] = [];
      let money = 0;
      let kg = 0;
      let covered = true;
      p.lines.forEach((line, li) => {
        let need = line.qty;
        const cands = data.optionArcs[oi]![k]!.filter((a) => p.arcs[a]!.line === li).sort((a, b) => p.arcs[a]!.unitCost - p.arcs[b]!.unitCost);
        for (const a of cands) {
          if (need === 0) break;
          const take = Math.min(need, Math.max(0, Math.floor(stockLeft(p.pools[p.arcs[a]!.pool]!.id, o.atMs) + 1e-9)));
          if (take <= 0) continue;
          arcs.push({ arc: a, qty: take });
          money += (p.arcs[a]!.unitCost + opt.perKg * line.unitWeightKg) * take;
          kg += take * line.unitWeightKg;
          need -= take;
        }
        if (need > 0) covered = false;
      });
      if (!covered) continue;
      const parcels = opt.parcelMaxKg === null ? 1 : Math.max(1, Math.ceil(kg / opt.parcelMaxKg - 1e-9));
      const keys = resourceKeys(o, k);
      if (capLeft(keys.wh, o.atMs) < parcels || capLeft(keys.cp, o.atMs) < parcels || capLeft(keys.ck, o.atMs) < kg - 1e-9) continue;
      const cost = money + opt.perParcel * parcels + (objective.kind === 'plan' ? opt.fixedCost + objective.lateDayWeight * (opt.late ?? 0) : 0);
      if (!best || cost < best.cost) best = { cost, shipment: { option: k, y: 1, parcels, arcs } };
    }
    if (!best) continue;
    plan.shipments.push(best.shipment);
    plan.backordered = p.lines.map(() => 0);
    book(oi, best.shipment);
    repaired.push(oi);
  }
  return repaired;
}
