import type { Highs } from './highs.js';

/**
 * Shadow prices of scarce capacity (issue 17 item 3; Acimovic & Graves, "Making better
 * fulfillment decisions on the fly in an online retail environment", M&SOM 2015): a linear
 * program over the expected remaining demand against the resources it will compete for; the
 * duals of the resource rows are what one more unit of each resource would save the rest of the
 * horizon, and each online decision adds them to the costs of what it consumes. Pure: the model
 * is data in, prices out; the loaded HiGHS instance is handed in (src/pricing builds the model
 * from the service's state and runs it off the request path).
 *
 * The LP, written generically:
 *   min  Σ_c cost_c · x_c
 *   s.t. Σ_c a_rc · x_c  = rhs_r        demand rows (expected units of a demand class) and
 *                                         balance rows (rhs 0: flows that must match)
 *        Σ_c a_rc · x_c ≤ rhs_r         capacity rows (what is left of a scarce resource)
 *        0 ≤ x_c ≤ ub_c
 * Units are the caller's: CNY for costs, the resource's own unit (units, parcels) for rows. A
 * demand row needs a column that leaves demand unserved (its cost the weight of a lost unit),
 * so the LP is always feasible.
 */

export type PriceRowKind = 'demand' | 'balance' | 'capacity';

export interface PriceRow {
  /** Stable label, e.g. "stock SH01/BRK-0001"; for reports and tests only. */
  id: string;
  kind: PriceRowKind;
  /** Right-hand side, in the row's unit (>= 0 for capacity rows). */
  rhs: number;
}

export interface PriceColumn {
  /** Cost per unit of the column, CNY (a decision weight: money and the weight of a lost unit). */
  cost: number;
  /** Upper bound; absent: unbounded. */
  ub?: number;
  /** Coefficients by row index; a row named twice has its coefficients added. */
  coefs: readonly (readonly [row: number, coef: number])[];
}

export interface PriceLp {
  rows: readonly PriceRow[];
  cols: readonly PriceColumn[];
}

export interface PriceSolution {
  /** Per row: the shadow price of a capacity row, CNY per unit of the row (>= 0: one more unit saves that much); 0 for other rows. */
  prices: Float64Array;
  /** Per row: the raw dual HiGHS reports (d objective / d rhs). */
  duals: Float64Array;
  /** Per column: its value at the optimum. */
  flows: Float64Array;
  /** The LP's optimum, CNY. */
  objective: number;
}

/** Thrown when HiGHS does not prove an optimum of the price LP (the caller keeps its last prices). */
export class PriceLpFailure extends Error {}

/**
 * Solves the price LP with HiGHS (simplex, the model passed as a column-wise matrix: no text to
 * write and parse) and reads the duals of its rows. A row named twice in a column has its
 * coefficients added (HiGHS would keep one of them). For a minimisation, HiGHS reports a binding
 * `<=` row's dual as d objective / d rhs <= 0; the price of one unit of the resource is its
 * negation, clipped at 0 (a slack row's dual is 0 up to round-off).
 */
export function solvePriceLp(highs: Highs, lp: PriceLp): PriceSolution {
  const numRows = lp.rows.length;
  const numCols = lp.cols.length;
  const prices = new Float64Array(numRows);
  const duals = new Float64Array(numRows);
  const flows = new Float64Array(numCols);
  if (numCols === 0) return { prices, duals, flows, objective: 0 };
  const inf = highs.infinity;
  const colCost = new Float64Array(numCols);
  const colUpper = new Float64Array(numCols);
  const starts = new Int32Array(numCols + 1);
  let nonzeros = 0;
  for (let j = 0; j < numCols; j++) nonzeros += lp.cols[j]!.coefs.length;
  const indices = new Int32Array(nonzeros);
  const values = new Float64Array(nonzeros);
  // One column's coefficients, merged by row and in row order. A column has a handful of them (a
  // price LP's columns have one to three), so a small array sorted by insertion does what a map
  // and a sort would, without allocating anything per column.
  const rowsOf: number[] = [];
  const coefsOf: number[] = [];
  let nnz = 0;
  for (let j = 0; j < numCols; j++) {
    const c = lp.cols[j]!;
    if (!Number.isFinite(c.cost)) throw new PriceLpFailure(`column ${j}: non-finite cost ${c.cost}`);
    colCost[j] = c.cost;
    colUpper[j] = c.ub !== undefined && Number.isFinite(c.ub) ? c.ub : inf;
    let n = 0;
    for (const [r, a] of c.coefs) {
      let k = 0;
      while (k < n && rowsOf[k] !== r) k++;
      if (k < n) {
        coefsOf[k] = coefsOf[k]! + a;
        continue;
      }
      // Insert r at its place among the rows seen so far (ascending).
      k = n++;
      while (k > 0 && rowsOf[k - 1]! > r) {
        rowsOf[k] = rowsOf[k - 1]!;
        coefsOf[k] = coefsOf[k - 1]!;
        k--;
      }
      rowsOf[k] = r;
      coefsOf[k] = a;
    }
    for (let k = 0; k < n; k++) {
      const a = coefsOf[k]!;
      if (a === 0) continue;
      if (!Number.isFinite(a)) throw new PriceLpFailure(`column ${j}: non-finite coefficient in row ${rowsOf[k]}`);
      indices[nnz] = rowsOf[k]!;
      values[nnz] = a;
      nnz++;
    }
    starts[j + 1] = nnz;
  }
  const rowLower = new Float64Array(numRows);
  const rowUpper = new Float64Array(numRows);
  lp.rows.forEach((r, i) => {
    rowLower[i] = r.kind === 'capacity' ? -inf : r.rhs;
    rowUpper[i] = r.rhs;
  });
  const m = highs.createModel({
    numCols,
    numRows,
    colCost,
    colLower: new Float64Array(numCols),
    colUpper,
    rowLower,
    rowUpper,
    matrix: { format: 'csc', numRows, numCols, starts, indices: indices.slice(0, nnz), values: values.slice(0, nnz) },
  });
  try {
    m.options.set({ output_flag: false, solver: 'simplex' });
    const run = m.run();
    if (run.modelStatus !== highs.constants.modelStatus.optimal) throw new PriceLpFailure(`HiGHS model status of the price LP: ${run.modelStatus}`);
    const sol = m.getSolution();
    for (let i = 0; i < numRows; i++) {
      const d = sol.rowDual[i] ?? 0;
      duals[i] = d;
      if (lp.rows[i]!.kind === 'capacity') prices[i] = Math.max(0, -d);
    }
    for (let j = 0; j < numCols; j++) flows[j] = sol.colValue[j] ?? 0;
    return { prices, duals, flows, objective: m.getObjectiveValue() };
  } finally {
    m.dispose();
  }
}
