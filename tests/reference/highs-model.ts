/**
 * The reference model: the per-order problem of `solver/types.ts` written as an exact MIP in
 * CPLEX LP format and solved by HiGHS (the `highs` package, HiGHS compiled to WebAssembly).
 *
 * It is written from the specification alone, independently of the product solver, so that the
 * two can be compared on many instances (tests/solver/diff.test.ts).
 *
 * Formulation (indices: a arc, o option, s site, l line, p pool, c courier; w(a) is the unit
 * weight of arc a's line; K(o) = parcelMaxKg(o); only pairs (a, o) with site(a) = site(o), and
 * transfer(a) ⇒ transfer(o), get a variable):
 *
 *   x[a,o] ∈ Z, 0 ≤ x[a,o] ≤ M[a,o]   units moved on arc a and carried by shipment o
 *   y[o]   ∈ {0, 1}                   option o is open (its shipment exists)
 *   n[o]   ∈ Z, 0 ≤ n[o] ≤ N[o]       parcels of shipment o (only when K(o) is not null;
 *                                     otherwise the parcel count is y[o] itself)
 *   b[l]   ∈ Z, 0 ≤ b[l] ≤ qty(l)     units of line l backordered
 *   z      ∈ [0, 1]                   "at least one shipment is open"
 *
 *   min  Σ_o (fixedCost(o)·y[o] + perParcel(o)·n[o]) + Σ_(a,o) (unitCost(a) + perKg(o)·w(a))·x[a,o]
 *        + splitPenalty·(Σ_o y[o] − z) + backorderPenalty·Σ_l b[l]
 *
 *   bal[l]:   Σ_{a: line(a)=l} Σ_o x[a,o] + b[l] = qty(l)
 *   pool[p]:  Σ_{a: pool(a)=p} Σ_o x[a,o] ≤ qty(p)
 *   site[s]:  Σ_{o at s} y[o] ≤ 1
 *   lk:       x[a,o] ≤ M[a,o]·y[o]
 *   ne[o]:    y[o] ≤ Σ_a x[a,o]                        (an open shipment carries units)
 *   pk[o]:    Σ_a w(a)·x[a,o] ≤ K(o)·n[o]              (parcels hold the weight)
 *   pn[o]:    y[o] ≤ n[o] ≤ N[o]·y[o]                  (an open shipment is ≥ 1 parcel; a closed one 0)
 *   spar[s]:  Σ_{o at s} n[o] ≤ parcelCap(s)           (when not null)
 *   par[c]:   Σ_{o of c} n[o] ≤ parcelCap(c)           (when not null)
 *   ckg[c]:   Σ_{o of c} Σ_a w(a)·x[a,o] ≤ kgCap(c)    (when not null)
 *   one:      Σ_o y[o] ≤ 1                             (when allowSplit is false)
 *   zcap:     z ≤ Σ_o y[o]
 *
 * Bounds: C(o) = min(parcelCap(site), parcelCap(courier)) caps the parcels of option o (an
 * option with C(o) = 0 can never open and gets no variables); M[a,o] = min(qty(line), qty(pool),
 * ⌊kgCap/w⌋, ⌊C(o)·K(o)/w⌋), each term only where it exists; N[o] = min(C(o), max(1, ⌈largest
 * possible weight / K(o)⌉)). All are implied by the constraints, so they only tighten the LP.
 *
 * Why it is exact:
 *   - Parcels. For fixed units, cost and every constraint are non-decreasing in n[o], so an
 *     optimum takes the least n[o] with n[o] ≥ 1 and K·n[o] ≥ weight, i.e. max(1, ⌈weight/K⌉),
 *     which is the spec's parcel count (a weight exactly equal to k·K fits in k parcels).
 *   - Split term. splitPenalty ≥ 0, so at an optimum z = min(1, Σy), and Σy − z = max(0, Σy − 1)
 *     for integral Σy.
 *   - Units per option. Each site opens at most one option, so all units on an arc travel in
 *     that one shipment and the weight of shipment o is exactly Σ_a w(a)·x[a,o].
 *   - Empty shipments. The `ne` rows make the feasible set exactly the set of valid plans (the
 *     spec forbids empty shipments); they never change the optimum, since an empty shipment
 *     costs fixedCost + perParcel ≥ 0 and can only add to the split term and the caps.
 */
import highsModule from 'highs';
import type { Plan, PlanShipment, Problem } from '../../solver/types.js';

/** What one LP column stands for, so that a solution can be turned back into a plan. */
export type Column = (
  | { kind: 'x'; arc: number; option: number }
  | { kind: 'y'; option: number }
  | { kind: 'n'; option: number }
  | { kind: 'b'; line: number }
  | { kind: 'z' }
) & {
  /** The column's name in the LP text. */
  name: string;
  /** The column's objective coefficient. */
  cost: number;
};

export interface LpModel {
  lp: string;
  columns: Column[];
}

/**
 * Formats a number for LP text. Coefficients come from two-decimal data (products such as
 * perKg x unitWeightKg have four decimals), so 15 significant digits keep them exact while
 * dropping floating-point tails like 3.2314000000000003; exponent forms are avoided.
 */
function num(x: number): string {
  if (!Number.isFinite(x)) throw new Error(`non-finite coefficient ${x}`);
  const s = Number(x.toPrecision(15)).toString();
  if (/e/i.test(s)) return x.toFixed(12);
  return s;
}

/**
 * Renders a linear expression as LP text, several terms per line. The LP reader accepts an
 * expression spread over many lines; short lines keep the text readable when debugging.
 */
function expr(terms: readonly (readonly [number, string])[]): string {
  const parts: string[] = [];
  for (const [coef, name] of terms) {
    if (coef === 0) continue;
    parts.push(`${coef < 0 ? '-' : '+'} ${num(Math.abs(coef))} ${name}`);
  }
  if (parts.length === 0) return '0';
  const chunks: string[] = [];
  for (let i = 0; i < parts.length; i += 8) chunks.push(parts.slice(i, i + 8).join(' '));
  return chunks.join('\n   ');
}

/**
 * The stages of the on-time-first (lexicographic) optimum, written as constraints on the same MIP
 * (the product restricts options instead; this is the definition, stated directly):
 *   backorder  minimise the units backordered, Σ_l b[l];
 *   late       minimise L, the order's lateness in whole days, with L ≥ late(o)·y[o] for every
 *              option, subject to Σ_l b[l] ≤ B (the least backorder);
 *   cost       minimise the usual objective subject to Σ_l b[l] ≤ B and y[o] = 0 for every
 *              option later than L (the least lateness).
 */
export type LexStage = { kind: 'backorder' } | { kind: 'late'; maxBackorder: number } | { kind: 'cost'; maxBackorder: number; maxLate: number };

/** Builds the exact MIP of the specification as CPLEX LP text (a stage of the lexicographic optimum when given). */
export function toCplexLp(p: Problem, stage?: LexStage): LpModel {
  const columns: Column[] = [];
  const xs: { name: string; arc: number; option: number; weight: number; bound: number }[] = [];

  // The most parcels option o could ever carry, from the site and courier parcel caps.
  const parcelCapOf = (o: number): number => {
    const option = p.options[o];
    if (option === undefined) return 0;
    return Math.min(p.sites[option.site]?.parcelCap ?? Infinity, p.couriers[option.courier]?.parcelCap ?? Infinity);
  };

  for (const [o, option] of p.options.entries()) {
    const cap = parcelCapOf(o);
    if (cap < 1) continue; // A shipment is at least one parcel, so this option can never open.
    const kgCap = p.couriers[option.courier]?.kgCap ?? null;
    for (const [a, arc] of p.arcs.entries()) {
      if (arc.site !== option.site) continue;
      if (arc.transfer && !option.transfer) continue;
      const line = p.lines[arc.line];
      const pool = p.pools[arc.pool];
      if (line === undefined || pool === undefined) throw new Error(`arc ${a} points outside the problem`);
      // The tightest valid bound on units of this arc in this shipment: no more than the line
      // needs, than the pool holds, than the courier's kg cap admits, or than the most parcels
      // the option may use can hold. The 1e-9 keeps 20 kg / 0.1 kg from flooring to 199.
      const w = line.unitWeightKg;
      let m = Math.min(line.qty, pool.qty);
      if (w > 0 && kgCap !== null) m = Math.min(m, Math.floor(kgCap / w + 1e-9));
      if (w > 0 && option.parcelMaxKg !== null && Number.isFinite(cap)) m = Math.min(m, Math.floor((cap * option.parcelMaxKg) / w + 1e-9));
      if (m <= 0) continue; // The variable would be fixed at zero, so it is left out.
      const name = `x${a}_${o}`;
      xs.push({ name, arc: a, option: o, weight: w, bound: m });
      columns.push({ kind: 'x', name, arc: a, option: o, cost: arc.unitCost + option.perKg * w });
    }
  }

  // Options without any usable arc could only ever be opened empty, which the spec forbids, so
  // they get no y variable at all.
  const xsByOption = new Map<number, typeof xs>();
  for (const x of xs) {
    const list = xsByOption.get(x.option) ?? [];
    list.push(x);
    xsByOption.set(x.option, list);
  }
  const openable = [...xsByOption.keys()].sort((i, j) => i - j);
  const yName = (o: number): string => `y${o}`;

  // Parcel variables: options with a parcel weight limit get an integer n[o] with its bound
  // N[o]; without a limit, a shipment is one parcel and its parcel count is y[o].
  const parcelBound = new Map<number, number>();
  for (const o of openable) {
    const option = p.options[o];
    if (option === undefined || option.parcelMaxKg === null) continue;
    let maxWeight = 0;
    for (const x of xsByOption.get(o) ?? []) maxWeight += x.weight * x.bound;
    const kgCap = p.couriers[option.courier]?.kgCap ?? null;
    if (kgCap !== null) maxWeight = Math.min(maxWeight, kgCap);
    parcelBound.set(o, Math.min(parcelCapOf(o), Math.max(1, Math.ceil(maxWeight / option.parcelMaxKg - 1e-9))));
  }
  const parcelsName = (o: number): string => (parcelBound.has(o) ? `n${o}` : yName(o));

  for (const o of openable) {
    const option = p.options[o];
    const perParcelOnY = option !== undefined && !parcelBound.has(o) ? option.perParcel : 0;
    columns.push({ kind: 'y', name: yName(o), option: o, cost: (option?.fixedCost ?? 0) + perParcelOnY + p.splitPenalty });
  }
  for (const o of parcelBound.keys()) columns.push({ kind: 'n', name: `n${o}`, option: o, cost: p.options[o]?.perParcel ?? 0 });
  for (const l of p.lines.keys()) columns.push({ kind: 'b', name: `b${l}`, line: l, cost: p.backorderPenalty });
  columns.push({ kind: 'z', name: 'z', cost: -p.splitPenalty });

  // Objective: every column's coefficient, as recorded above. Opening an option is charged
  // fixedCost + splitPenalty (and perParcel when it is always one parcel), and z gives one
  // splitPenalty back, which yields splitPenalty * max(0, open - 1) at any optimum.
  let obj: [number, string][] = columns.map((c): [number, string] => [c.cost, c.name]);

  const rows: string[] = [];
  const row = (name: string, terms: [number, string][], sense: '<=' | '>=' | '=', rhs: number): void => {
    rows.push(` ${name}: ${expr(terms)} ${sense} ${num(rhs)}`);
  };

  for (const [l, line] of p.lines.entries()) {
    const terms: [number, string][] = xs.filter((x) => p.arcs[x.arc]?.line === l).map((x) => [1, x.name]);
    terms.push([1, `b${l}`]);
    row(`bal${l}`, terms, '=', line.qty);
  }
  for (const [i, pool] of p.pools.entries()) {
    const terms: [number, string][] = xs.filter((x) => p.arcs[x.arc]?.pool === i).map((x) => [1, x.name]);
    if (terms.length > 0) row(`pool${i}`, terms, '<=', pool.qty);
  }
  for (const [s, site] of p.sites.entries()) {
    const here = openable.filter((o) => p.options[o]?.site === s);
    if (here.length > 1) row(`site${s}`, here.map((o) => [1, yName(o)]), '<=', 1);
    if (site.parcelCap !== null && here.length > 0) row(`spar${s}`, here.map((o) => [1, parcelsName(o)]), '<=', site.parcelCap);
  }
  for (const o of openable) {
    const option = p.options[o];
    const list = xsByOption.get(o) ?? [];
    if (option === undefined) continue;
    for (const x of list) row(`lk${x.name}`, [[1, x.name], [-x.bound, yName(o)]], '<=', 0);
    row(`ne${o}`, [[1, yName(o)], ...list.map((x): [number, string] => [-1, x.name])], '<=', 0);
    const bound = parcelBound.get(o);
    if (option.parcelMaxKg !== null && bound !== undefined) {
      row(`pk${o}`, [...list.map((x): [number, string] => [x.weight, x.name]), [-option.parcelMaxKg, `n${o}`]], '<=', 0);
      row(`pn${o}`, [[1, yName(o)], [-1, `n${o}`]], '<=', 0);
      row(`pu${o}`, [[1, `n${o}`], [-bound, yName(o)]], '<=', 0);
    }
  }
  for (const [c, courier] of p.couriers.entries()) {
    const mine = openable.filter((o) => p.options[o]?.courier === c);
    if (mine.length === 0) continue;
    if (courier.parcelCap !== null) row(`par${c}`, mine.map((o) => [1, parcelsName(o)]), '<=', courier.parcelCap);
    if (courier.kgCap !== null) {
      const terms: [number, string][] = mine.flatMap((o) => (xsByOption.get(o) ?? []).map((x): [number, string] => [x.weight, x.name]));
      if (terms.length > 0) row(`ckg${c}`, terms, '<=', courier.kgCap);
    }
  }
  if (!p.allowSplit && openable.length > 1) row('one', openable.map((o) => [1, yName(o)]), '<=', 1);
  row('zcap', [[1, 'z'], ...openable.map((o): [number, string] => [-1, yName(o)])], '<=', 0);

  const lateOf = (o: number) => p.options[o]?.late ?? 0;
  const backorders: [number, string][] = p.lines.map((_, l): [number, string] => [1, `b${l}`]);
  if (stage?.kind === 'backorder') obj = backorders;
  if (stage && stage.kind !== 'backorder') row('lexb', backorders, '<=', stage.maxBackorder);
  if (stage?.kind === 'late') {
    obj = [[1, 'L']];
    for (const o of openable) if (lateOf(o) > 0) row(`lexl${o}`, [[1, 'L'], [-lateOf(o), yName(o)]], '>=', 0);
  }
  if (stage?.kind === 'cost') for (const o of openable) if (lateOf(o) > stage.maxLate) row(`lexc${o}`, [[1, yName(o)]], '<=', 0);

  const bounds: string[] = [];
  for (const x of xs) bounds.push(` 0 <= ${x.name} <= ${x.bound}`);
  for (const [o, bound] of parcelBound) bounds.push(` 0 <= n${o} <= ${bound}`);
  for (const [l, line] of p.lines.entries()) bounds.push(` 0 <= b${l} <= ${line.qty}`);
  bounds.push(' 0 <= z <= 1');
  if (stage?.kind === 'late') bounds.push(' 0 <= L <= 1000');

  const generals = [...xs.map((x) => x.name), ...[...parcelBound.keys()].map((o) => `n${o}`), ...p.lines.map((_, l) => `b${l}`)];
  const binaries = openable.map(yName);
  const wrap = (names: string[]): string => {
    const out: string[] = [];
    for (let i = 0; i < names.length; i += 12) out.push(' ' + names.slice(i, i + 12).join(' '));
    return out.join('\n');
  };

  const lp = [
    'Minimize',
    ` obj: ${expr(obj)}`,
    'Subject To',
    ...rows,
    'Bounds',
    ...bounds,
    'Generals',
    wrap(generals),
    ...(binaries.length > 0 ? ['Binaries', wrap(binaries)] : []),
    'End',
    '',
  ].join('\n');
  return { lp, columns };
}

// The package's declarations describe a CommonJS module (`export default` inside a package of
// "type": "commonjs"), so under NodeNext TypeScript types the default import as the namespace
// object. At run time the ESM entry (build/highs.mjs) default-exports the loader function
// itself. Accept both shapes rather than trusting either.
type HighsLoader = typeof highsModule.default;
type Highs = Awaited<ReturnType<HighsLoader>>;
const loadHighs: HighsLoader =
  typeof highsModule === 'function' ? (highsModule as unknown as HighsLoader) : highsModule.default;

let highsPromise: Promise<Highs> | undefined;

/** Loads the WebAssembly module once per process; every solve creates a fresh native solver. */
export function getHighs(): Promise<Highs> {
  highsPromise ??= loadHighs();
  return highsPromise;
}

/**
 * Solver options. The HiGHS MIP defaults stop at a 1e-4 relative gap (and 1e-6 absolute),
 * which on a 20,000 CNY objective would accept an answer 2 CNY off, so both gaps are closed.
 * Presolve stays on (it is exact). Output is silenced so that test logs stay readable.
 */
export const HIGHS_OPTIONS = {
  output_flag: false,
  mip_rel_gap: 0,
  mip_abs_gap: 1e-9,
} as const;

export interface HighsResult {
  /** HiGHS model status string, e.g. "Optimal". */
  status: string;
  /**
   * The optimal spec objective: the model objective evaluated at the rounded solution (with
   * z = min(1, open options)), so that integrality noise in the column values (HiGHS accepts
   * 1e-6 off an integer, which is 0.01 CNY on a 10,000 CNY backorder) does not leak into it.
   * NaN when not optimal.
   */
  objective: number;
  /** The objective as HiGHS reported it, before rounding (NaN when not optimal). */
  highsObjective: number;
  /** The largest distance of an integer column's value from the nearest integer. */
  maxIntegralityError: number;
  /** The optimal plan, rounded to whole units (empty when not optimal). */
  plan: Plan;
  /** Wall time of the `solve` call (parsing included), milliseconds. */
  ms: number;
}

/**
 * Solves the problem exactly with HiGHS and turns the column values back into a `Plan`.
 *
 * HiGHS returns integer columns within its integrality tolerance (values such as 0.9999999 or
 * 2e-8 are possible), so unit counts are rounded to the nearest integer; a value that is not
 * within 1e-3 of an integer means something is badly wrong and throws.
 */
export async function solveWithHighs(p: Problem, stage?: LexStage): Promise<HighsResult> {
  const highs = await getHighs();
  const model = toCplexLp(p, stage);
  const t0 = performance.now();
  const result = highs.solve(model.lp, HIGHS_OPTIONS);
  const ms = performance.now() - t0;
  const status: string = result.Status;
  if (status !== 'Optimal') {
    const plan: Plan = { shipments: [], backordered: p.lines.map((l) => l.qty), objective: Number.NaN };
    return { status, objective: Number.NaN, highsObjective: Number.NaN, maxIntegralityError: Number.NaN, plan, ms };
  }

  let maxIntegralityError = 0;
  const value = (name: string): number => {
    const col = result.Columns[name];
    if (col === undefined || !('Primal' in col) || typeof col.Primal !== 'number') throw new Error(`HiGHS returned no value for column ${name}`);
    return col.Primal;
  };
  const whole = (name: string): number => {
    const v = value(name);
    const r = Math.round(v);
    maxIntegralityError = Math.max(maxIntegralityError, Math.abs(v - r));
    if (Math.abs(v - r) > 1e-3) throw new Error(`column ${name} = ${v} is not integral`);
    return r;
  };

  const byOption = new Map<number, PlanShipment>();
  const backordered = p.lines.map(() => 0);
  let objective = 0;
  let opened = 0;
  for (const col of model.columns) {
    if (col.kind === 'z') continue;
    const v = whole(col.name);
    objective += col.cost * v;
    if (col.kind === 'x' && v > 0) {
      const shipment = byOption.get(col.option) ?? { option: col.option, parcels: 0, arcs: [] };
      shipment.arcs.push({ arc: col.arc, qty: v });
      byOption.set(col.option, shipment);
    } else if (col.kind === 'y') {
      opened += v;
    } else if (col.kind === 'b') {
      backordered[col.line] = v;
    }
  }
  objective -= p.splitPenalty * Math.min(1, opened);
  const shipments = [...byOption.values()].sort((s, t) => s.option - t.option);
  // The plan states the spec's parcel count, max(1, ceil(weight / parcelMaxKg)), computed from
  // the units. n[o] equals it whenever perParcel > 0; with perParcel = 0 a larger n[o] costs
  // nothing, so HiGHS may return one, and it is not what the plan should say.
  for (const shipment of shipments) {
    const limit = p.options[shipment.option]?.parcelMaxKg ?? null;
    let weight = 0;
    for (const e of shipment.arcs) weight += e.qty * (p.lines[p.arcs[e.arc]?.line ?? -1]?.unitWeightKg ?? 0);
    shipment.parcels = limit === null ? 1 : Math.max(1, Math.ceil(weight / limit - 1e-9));
  }
  return { status, objective, highsObjective: result.ObjectiveValue, maxIntegralityError, plan: { shipments, backordered, objective }, ms };
}

/**
 * The on-time-first optimum (LexStage): the least backorder, then the least lateness in whole days,
 * then the least objective, each stage a MIP solved exactly by HiGHS. `plan` and `objective` are
 * the last stage's (the usual objective, as solveWithHighs gives it).
 */
export async function solveLexicographicWithHighs(p: Problem): Promise<HighsResult & { backorder: number; lateDays: number }> {
  const highs = await getHighs();
  const stageValue = (stage: LexStage): number | null => {
    const r = highs.solve(toCplexLp(p, stage).lp, HIGHS_OPTIONS);
    return r.Status === 'Optimal' ? Math.round(r.ObjectiveValue) : null;
  };
  const backorder = stageValue({ kind: 'backorder' });
  if (backorder === null) throw new Error('reference: backorder stage not optimal');
  const lateDays = stageValue({ kind: 'late', maxBackorder: backorder });
  if (lateDays === null) throw new Error('reference: lateness stage not optimal');
  const last = await solveWithHighs(p, { kind: 'cost', maxBackorder: backorder, maxLate: lateDays });
  return { ...last, backorder, lateDays };
}
