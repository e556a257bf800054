/**
 * Who answers an order, written once: the ordered answerers as data, each answering or passing on
 * with its reason, and a typed outcome that says who answered and why (design §8: several solvers
 * behind one interface with an explicit fallback).
 *
 * Two chains, because one half runs in the request thread and the other wherever the solve runs
 * (the request thread or a solver thread, src/solve/pool.ts):
 *
 *   decision chain   baseline rule (what-if policies) -> radius lock (when it meets the promise,
 *                    or no warehouse can) -> optimiser, on time first (the lowest lateness level
 *                    that supplies the order, then the cheapest plan of that level)
 *   solve chain      exact search -> HiGHS -> greedy          (SOLVER=exact, the default)
 *                    HiGHS -> greedy                          (SOLVER=highs)
 *                    javascript-lp-solver -> greedy           (SOLVER=lp)
 *
 * A solve step answers with a proof of optimality, or passes on with the best plan it found and
 * why; it catches only the failures it expects (MipFailure from a MIP backend) and rethrows the
 * rest. The greedy plan always answers; the chain returns the best plan any step found, as not
 * optimal, with the first reason that a step gave. Pure: no I/O; the loaded HiGHS instance is
 * handed in.
 */
import { solveExact } from './exact/index.js';
import { solveGreedy } from './greedy.js';
import { solveHighs, type Highs } from './highs.js';
import { solveLp } from './lp.js';
import { MipFailure } from './mip.js';
import { liftPlan, restrictOptions } from './restrict.js';
import { nearestPlan, radiusLock, type RadiusFacts, type RadiusLockOutcome } from './rules.js';
import { bestSingleSitePlans } from './single.js';
import type { Plan, Problem, SolveResult, SolveStats } from './types.js';

// ---------------------------------------------------------------------------------------------
// The solve chain
// ---------------------------------------------------------------------------------------------

/** The exact backend named by SOLVER. */
export type Backend = 'exact' | 'highs' | 'lp';

/** Time a step may use: the budget it was given, and where it ends on the performance.now() clock. */
export interface Budget {
  timeoutMs: number;
  deadlineAt: number;
}

/** One exact answerer of the solve chain. */
export interface SolveStep {
  readonly name: SolveStats['solver'];
  /**
   * Whether the step runs after the previous one passed with `reason` (absent: always). HiGHS
   * runs after the exact search only when the search declined the instance as out of its reach,
   * not when it used up the deadline.
   */
  readonly after?: (reason: string) => boolean;
  /** Answers, or passes on (optimal: false, with fallbackReason); throws MipFailure when it has no plan at all. */
  run(p: Problem, budget: Budget): SolveResult;
}

const EXACT_SEARCH_DECLINED = 'exact search declined';

/** The ordered exact steps for a backend (HiGHS's WebAssembly instance loaded by the caller when the backend needs it). */
export function solveSteps(backend: Backend, highs: Highs | undefined): SolveStep[] {
  const viaHighs = (): SolveStep => {
    if (!highs) throw new Error(`SOLVER=${backend} needs a loaded HiGHS instance`);
    return { name: 'highs', after: (reason) => reason.startsWith(EXACT_SEARCH_DECLINED), run: (p, b) => solveHighs(highs, p, { timeoutMs: b.timeoutMs }) };
  };
  if (backend === 'lp') return [{ name: 'lp', run: (p, b) => solveLp(p, { timeoutMs: b.timeoutMs }) }];
  if (backend === 'highs') return [viaHighs()];
  return [{ name: 'exact', run: (p, b) => solveExact(p, { timeoutMs: b.timeoutMs, deadlineAt: b.deadlineAt }) }, viaHighs()];
}

/** The exact part of the chain as one function: what the tests and benches compare backends with. */
export type ExactSolver = (p: Problem, opts: { timeoutMs: number }) => SolveResult;

/**
 * Runs the exact steps in order until one proves its answer. A step that passes keeps its plan
 * when it is the best so far (a later step's plan wins ties); the next step gets the time left
 * and runs only if its `after` accepts the reason. Work (nodes) adds up over the steps that ran;
 * the time reported is the whole chain's. A MipFailure of a step that follows another passes on
 * to the best plan so far; of the first step, it is the chain's (solve() then answers greedy).
 */
export function exactChain(steps: readonly SolveStep[]): ExactSolver {
  return (p, opts) => {
    const t0 = performance.now();
    const deadlineAt = t0 + opts.timeoutMs;
    let best: SolveResult | undefined;
    let nodes = 0;
    let ran = 0;
    for (const step of steps) {
      if (best !== undefined) {
        if (best.optimal || (step.after && !step.after(best.fallbackReason ?? ''))) break;
        if (deadlineAt - performance.now() <= 0) break;
      }
      let r: SolveResult;
      try {
        r = step.run(p, { timeoutMs: best === undefined ? opts.timeoutMs : deadlineAt - performance.now(), deadlineAt });
      } catch (err) {
        if (best === undefined || !(err instanceof MipFailure)) throw err;
        break;
      }
      ran++;
      nodes += r.stats.nodes;
      if (best === undefined || r.optimal || r.plan.objective <= best.plan.objective) best = r;
    }
    if (best === undefined) throw new MipFailure('no exact solve step');
    // One step: its answer as it gave it; several: the whole chain's time and work.
    return ran === 1 ? best : { ...best, stats: { ...best.stats, micros: (performance.now() - t0) * 1_000, nodes } };
  };
}

export interface SolveOptions {
  /** Time budget of the exact solve, milliseconds. */
  timeoutMs: number;
  /** The exact part of the chain. */
  exact: ExactSolver;
}

/**
 * The whole solve chain: the exact steps, then the greedy plan. A proven answer returns as it is;
 * otherwise the better of the exact steps' best plan and the greedy plan (the exact plan on a
 * tie), reported as not optimal with the reason.
 */
export function solve(p: Problem, opts: SolveOptions): SolveResult {
  const t0 = performance.now();
  let exact: SolveResult | undefined;
  let reason: string;
  try {
    exact = opts.exact(p, { timeoutMs: opts.timeoutMs });
    if (exact.optimal) return exact;
    reason = exact.fallbackReason ?? 'exact solver gave no proof of optimality';
  } catch (err) {
    if (!(err instanceof MipFailure)) throw err;
    reason = err.message;
  }
  const greedy = solveGreedy(p);
  const micros = (performance.now() - t0) * 1_000;
  if (exact && exact.plan.objective <= greedy.objective) return { ...exact, stats: { ...exact.stats, micros }, optimal: false, fallbackReason: reason };
  return { plan: greedy, stats: { solver: 'greedy', micros, nodes: 0 }, optimal: false, fallbackReason: reason };
}

/** The greedy plan as the answer when no exact step may run (a deadline passed while waiting), with why; `t0` on performance.now(), ms. */
export function greedyFallback(p: Problem, reason: string, t0: number): SolveResult {
  const plan = solveGreedy(p);
  return { plan, stats: { solver: 'greedy', micros: (performance.now() - t0) * 1_000, nodes: 0 }, optimal: false, fallbackReason: reason };
}

// ---------------------------------------------------------------------------------------------
// The decision chain
// ---------------------------------------------------------------------------------------------

/**
 * ALLOCATION_POLICY: the service's policy (`optimized`: on time first), the previous one kept for
 * comparison (`myopic`: each order's cheapest plan with lateness priced per hour, the radius lock
 * whatever its ETA), and the old logics of the what-if replays.
 */
export type Policy = 'optimized' | 'myopic' | 'radius-rule' | 'nearest';

/** How a decision was made (the `mode` of a decision). */
export type DecisionMode = 'rule' | 'radius-lock' | 'optimized' | 'fallback';

/** Who answered an order and why: what the explanation and the metrics are made from. */
export interface Outcome {
  plan: Plan;
  mode: DecisionMode;
  /** Who answered (stats.solver) and how hard it worked. */
  stats: SolveStats;
  /** What the radius lock found (the baseline `nearest` never asks it: not locked, no misses). */
  lock: RadiusLockOutcome;
  /** Why the answer is not a proven optimum, when mode is "fallback". */
  fallbackReason?: string;
  /** Every site's best single-shipment plan (null where none fits): the radius lock and the explanations price them. */
  singles: readonly (Plan | null)[];
  /**
   * Whole days the order arrives after its promise under the plan (the latest shipment's; 0: on
   * time). The optimiser's first objective when the policy is `optimized`.
   */
  lateDays: number;
  /** The radius lock found a warehouse but stood aside: its plan misses the promise and another meets it. */
  lockSteppedAside: boolean;
  /** The optimiser put the promise before money (policy `optimized`): a cheaper plan may have been passed over for being later. */
  onTimeFirst: boolean;
}

/** What the decision chain looks at. */
export interface DecisionInput {
  problem: Problem;
  /** Per site, what the radius lock needs (road km, radius, free units per line). */
  facts: readonly RadiusFacts[];
  policy: Policy;
  /** Free stock an in-radius site needs, x every ordered quantity. */
  radiusLockFactor: number;
}

interface DecisionState extends DecisionInput {
  singles: readonly (Plan | null)[];
  /**
   * The radius lock: the cheapest qualifying warehouse's cheapest plan. Under on time first
   * (policy `optimized`) it decides when that plan meets the promise; when it does not, the
   * optimiser looks for the cheapest plan that does (the locked warehouse's express included), and
   * the lock stands only when no plan meets the promise.
   */
  lock: RadiusLockOutcome;
  /** performance.now() at the start of the decision, ms. */
  t0: number;
}

/** One answerer of the decision chain: whether it answers this order, and its answer. */
interface DecisionStep {
  readonly name: string;
  answers(s: DecisionState): boolean;
  answer(s: DecisionState, optimise: (p: Problem) => Promise<SolveResult>): Outcome | Promise<Outcome>;
}

const NO_LOCK: RadiusLockOutcome = { locked: false, misses: [] };
const ruleStats = (solver: SolveStats['solver'], s: DecisionState): SolveStats => ({ solver, micros: (performance.now() - s.t0) * 1_000, nodes: 0 });
/** The old logic (solver/rules.ts): the nearest site that can ship everything, whatever it costs. */
const nearestOutcome = (s: DecisionState, lock: RadiusLockOutcome): Outcome => {
  const plan = nearestPlan(s.problem, s.facts.map((f) => f.roadKm), s.singles);
  return { plan, mode: 'rule', stats: ruleStats('nearest', s), lock, singles: s.singles, lateDays: lateDaysOf(s.problem, plan), lockSteppedAside: false, onTimeFirst: false };
};
const lockOutcome = (s: DecisionState): Outcome => {
  const lock = s.lock as Extract<RadiusLockOutcome, { locked: true }>;
  return { plan: lock.plan, mode: 'radius-lock', stats: ruleStats('radius-lock', s), lock, singles: s.singles, lateDays: lateDaysOf(s.problem, lock.plan), lockSteppedAside: false, onTimeFirst: false };
};
const solvedOutcome = (s: DecisionState, r: SolveResult, lateDays: number, lockSteppedAside: boolean): Outcome => ({
  plan: r.plan,
  mode: r.optimal ? 'optimized' : 'fallback',
  stats: r.stats,
  lock: s.lock,
  ...(r.fallbackReason !== undefined ? { fallbackReason: r.fallbackReason } : {}),
  singles: s.singles,
  lateDays,
  lockSteppedAside,
  onTimeFirst: s.policy === 'optimized',
});

/** The decision chain, in order; the first step that answers decides. */
export const DECISION_CHAIN: readonly DecisionStep[] = [
  { name: 'nearest (baseline)', answers: (s) => s.policy === 'nearest', answer: (s) => nearestOutcome(s, NO_LOCK) },
  {
    // On time first: the lock decides when its warehouse meets the promise; the myopic policy and
    // the radius-rule baseline keep the case's rule as it was, whatever the ETA.
    name: 'radius lock',
    answers: (s) => s.lock.locked && (s.policy !== 'optimized' || lateDaysOf(s.problem, s.lock.plan) === 0),
    answer: lockOutcome,
  },
  { name: 'radius rule, else nearest (baseline)', answers: (s) => s.policy === 'radius-rule', answer: (s) => nearestOutcome(s, s.lock) },
  {
    name: 'optimiser, on time first',
    answers: (s) => s.policy === 'optimized',
    answer: async (s, optimise) => {
      // The lock's warehouse misses the promise: it steps aside only for a plan that meets it;
      // when no plan can, the case's rule stands. Only the on-time level decides that.
      if (s.lock.locked) {
        const r = await onTimeOrNull(s.problem, s.lock.plan, optimise);
        return r !== null ? solvedOutcome(s, r, 0, true) : lockOutcome(s);
      }
      const r = await onTimeFirst(s.problem, optimise);
      return solvedOutcome(s, r.result, r.lateDays, false);
    },
  },
  {
    name: 'optimiser (myopic)',
    answers: () => true,
    answer: async (s, optimise) => {
      const r = await optimise(s.problem);
      return solvedOutcome(s, r, lateDaysOf(s.problem, r.plan), false);
    },
  },
];

/** Whole days a plan's latest shipment arrives after the promise (0: on time or nothing ships). */
export function lateDaysOf(p: Problem, plan: Plan): number {
  let late = 0;
  for (const sh of plan.shipments) late = Math.max(late, p.options[sh.option]!.late ?? 0);
  return late;
}

/** Units of each line that no plan can supply: beyond every pool its arcs draw on (a pool holds one SKU, so serves one line). */
function backorderFloor(p: Problem): number {
  const poolsOf = p.lines.map(() => new Set<number>());
  for (const a of p.arcs) poolsOf[a.line]!.add(a.pool);
  return p.lines.reduce((n, l, i) => n + Math.max(0, l.qty - [...poolsOf[i]!].reduce((q, pool) => q + p.pools[pool]!.qty, 0)), 0);
}

const unitsBackordered = (plan: Plan) => plan.backordered.reduce((a, b) => a + b, 0);

/**
 * On time first, exactly (docs/cost-model.md "On time first"): the business's order is (1) ship
 * what can be shipped, (2) meet the promise, or be as little late as possible (the order's lateness
 * is its latest shipment's, in whole days), (3) then the least money. The options are grouped by
 * lateness level (0 = on time, 1 = a day late, ...); level by level, the problem restricted to the
 * options of that level or better is solved exactly; the first level whose plan backorders no more
 * than any plan must (the units beyond every pool) answers. When no level reaches that floor
 * (capacity or parcel limits hold units back whatever the lateness), the full problem's backorder
 * is the least any plan reaches, and the lowest level that reaches it answers. Each solve minimises
 * the usual model (money, the per-hour lateness weight and the split penalty), so within a level
 * the cheapest plan wins. The solver stays generic: a level is a problem with fewer options.
 * The answer is proven only when every solve it rests on was.
 */
export async function onTimeFirst(original: Problem, optimise: (p: Problem) => Promise<SolveResult>): Promise<{ result: SolveResult; lateDays: number }> {
  // Backorder first needs a backorder weight that dominates everything else a plan can cost; the
  // stages solve with one that provably does, and the answer's objective is given back in the
  // problem's own weights (the plan is the same).
  const { p, inOwnWeights } = withDominantBackorders(original);
  const r = await onTimeFirstStages(p, optimise);
  return { ...r, result: inOwnWeights(r.result) };
}

/**
 * The problem with a backorder weight that dominates everything else (dominantBackorderWeight),
 * for the stages, and the way back: a result's objective in the problem's own weight (the plan is
 * the same).
 */
function withDominantBackorders(original: Problem): { p: Problem; inOwnWeights: (r: SolveResult) => SolveResult } {
  const weight = dominantBackorderWeight(original);
  const extra = weight - original.backorderPenalty;
  if (extra <= 0) return { p: original, inOwnWeights: (r) => r };
  return {
    p: { ...original, backorderPenalty: weight },
    inOwnWeights: (r) => ({ ...r, plan: { ...r.plan, objective: r.plan.objective - extra * unitsBackordered(r.plan) } }),
  };
}

/**
 * A backorder weight (CNY per unit) under which one unit less backordered always wins: the
 * problem's own when it is larger than anything else a plan can cost, else one more than a bound
 * on that. For two plans backordering b1 < b2 units, weight·(b2 − b1) must exceed the difference
 * of their other costs, which lies below the bound U: every site opens at most one option (its
 * dearest fixed cost, one split penalty each), every parcel of at most the whole order's weight
 * at the dearest per-parcel and per-kg rates, and every unit on its line's dearest arc. With the
 * bundled costs U is a few thousand CNY and the configured weight already dominates; generated
 * instances with heavy lines can need more.
 */
export function dominantBackorderWeight(p: Problem): number {
  const weightKg = p.lines.reduce((n, l) => n + l.qty * l.unitWeightKg, 0);
  const sites = p.sites.length;
  let fixed = 0;
  const maxFixed = new Array<number>(sites).fill(0);
  let perParcel = 0;
  let perKg = 0;
  let parcels = 1;
  for (const o of p.options) {
    maxFixed[o.site] = Math.max(maxFixed[o.site]!, o.fixedCost);
    perParcel = Math.max(perParcel, o.perParcel);
    perKg = Math.max(perKg, o.perKg);
    if (o.parcelMaxKg !== null) parcels = Math.max(parcels, Math.ceil(weightKg / o.parcelMaxKg));
  }
  for (const f of maxFixed) fixed += f;
  const arcMax = p.lines.map(() => 0);
  for (const a of p.arcs) arcMax[a.line] = Math.max(arcMax[a.line]!, a.unitCost);
  const arcs = p.lines.reduce((n, l, i) => n + l.qty * arcMax[i]!, 0);
  const bound = fixed + sites * (p.splitPenalty + perParcel * parcels) + perKg * weightKg + arcs;
  return p.backorderPenalty > bound ? p.backorderPenalty : Math.ceil(bound) + 1;
}

async function onTimeFirstStages(p: Problem, optimise: (p: Problem) => Promise<SolveResult>): Promise<{ result: SolveResult; lateDays: number }> {
  const levels = [...new Set(p.options.map((o) => o.late ?? 0))].sort((a, b) => a - b);
  if (levels.length <= 1) {
    const result = await optimise(p);
    return { result, lateDays: lateDaysOf(p, result.plan) };
  }
  const floor = backorderFloor(p);
  const solved: { level: number; result: SolveResult }[] = [];
  // Levels from the best up, each a smaller problem than the whole: an order that can be on time
  // (most of a day's) is answered by one solve of its on-time options alone; the last level is the
  // whole problem. Work adds up over every solve; proof only over the levels that answer.
  let nodes = 0;
  let micros = 0;
  let allProven = true;
  const answer = (k: number) => {
    const { result, level } = solved[k]!;
    const proven = allProven;
    return {
      result: {
        ...result,
        stats: { ...result.stats, nodes, micros },
        optimal: proven,
        ...(proven ? {} : { fallbackReason: result.fallbackReason ?? solved.find((x) => !x.result.optimal)?.result.fallbackReason ?? 'an on-time-first stage was not proven optimal' }),
      },
      // The plan's own lateness (at most its level; less only when a stage was not proven).
      lateDays: Math.min(level, lateDaysOf(p, result.plan)),
    };
  };
  for (const level of levels) {
    const restricted = level === levels[levels.length - 1] ? null : restrictOptions(p, (o) => (p.options[o]!.late ?? 0) <= level);
    const r = restricted ? await optimise(restricted.problem) : await optimise(p);
    const result = restricted ? { ...r, plan: liftPlan(restricted, r.plan) } : r;
    solved.push({ level, result });
    nodes += r.stats.nodes;
    micros += r.stats.micros;
    allProven &&= r.optimal;
    if (unitsBackordered(result.plan) <= floor) return answer(solved.length - 1);
  }
  // No level reaches the floor: the full problem (the last level) shows what any plan must backorder.
  const least = unitsBackordered(solved[solved.length - 1]!.result.plan);
  return answer(solved.findIndex((x) => unitsBackordered(x.result.plan) <= least));
}

/**
 * The answer onTimeFirst gives when that answer is on time, else null, with fewer solves: for a
 * radius-locked order whose locked warehouse is late, where only an on-time answer matters. The
 * on-time level (the options that meet the promise) is solved alone. When its plan backorders no
 * more than the floor, onTimeFirst answers with that level. When it backorders more, onTimeFirst
 * answers on time only if no level reaches the floor and the on-time level backorders no more than
 * the full problem; `feasible` (the lock's plan, a plan of the full problem) settles that at once
 * when it reaches the floor itself (it always does: the lock requires stock for every line), and
 * only otherwise is the full problem solved. onTimeFirst would go on to the later levels, whose
 * answer the lock makes moot; without any on-time option nothing is solved.
 */
export async function onTimeOrNull(original: Problem, feasible: Plan, optimise: (p: Problem) => Promise<SolveResult>): Promise<SolveResult | null> {
  const { p, inOwnWeights } = withDominantBackorders(original);
  const floor = backorderFloor(p);
  const total = p.lines.reduce((n, l) => n + l.qty, 0);
  // The on-time level alone (the whole problem when every option is on time; none when no option is).
  let level0: SolveResult | null = null;
  let units0 = total;
  const allOnTime = p.options.every((o) => (o.late ?? 0) === 0);
  if (allOnTime) level0 = await optimise(p);
  else if (p.options.some((o) => (o.late ?? 0) === 0)) {
    const restricted = restrictOptions(p, (o) => (p.options[o]!.late ?? 0) === 0);
    const r = await optimise(restricted.problem);
    level0 = { ...r, plan: liftPlan(restricted, r.plan) };
  }
  if (level0 !== null) units0 = unitsBackordered(level0.plan);
  if (level0 !== null && (units0 <= floor || allOnTime)) return inOwnWeights(level0);
  // Every plan ships nothing: onTimeFirst's answer ships nothing, which is on time.
  if (floor >= total) return inOwnWeights(await optimise(p));
  if (unitsBackordered(feasible) <= floor) return null;
  const full = await optimise(p);
  const least = unitsBackordered(full.plan);
  if (least <= floor || units0 > least) return null;
  // No plan reaches the floor and the on-time level backorders no more than any plan: it answers
  // (without on-time options, only a plan that ships nothing can: the full problem's).
  if (level0 === null) return inOwnWeights(full);
  return inOwnWeights({ ...level0, stats: { ...level0.stats, nodes: level0.stats.nodes + full.stats.nodes, micros: level0.stats.micros + full.stats.micros }, optimal: level0.optimal && full.optimal });
}

/**
 * Decides an order: every site's single-shipment plan (the radius lock chooses among them, the
 * explanations price them), the radius lock, then the first answerer of DECISION_CHAIN.
 * `optimise` runs the solve chain (in this thread or a solver thread).
 */
export async function decide(input: DecisionInput, optimise: (p: Problem) => Promise<SolveResult>): Promise<Outcome> {
  const t0 = performance.now();
  const singles = bestSingleSitePlans(input.problem);
  const lock = radiusLock(input.problem, input.facts as RadiusFacts[], input.radiusLockFactor, singles);
  const state: DecisionState = { ...input, singles, lock, t0 };
  for (const step of DECISION_CHAIN) if (step.answers(state)) return step.answer(state, optimise);
  throw new Error('the decision chain ends with an optimiser that always answers');
}
