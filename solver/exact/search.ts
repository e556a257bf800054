/**
 * The branch and bound of the exact search over which sites open and with which option, bounded
 * by the Lagrangian relaxation of solver/exact/lagrange.ts.
 *
 * A node fixes, per site, CLOSED, OPEN_ANY (opens with one of its allowed options), one option,
 * or leaves it FREE; options can also be excluded per node. At each node:
 *   1. subgradient steps on the multipliers (warm-started from the parent's best), evaluated
 *      lazily (Lagrangian.evaluate: only the options that can be their site's best are valued)
 *      except the last one and those the heuristic reads;
 *   2. the node is cut when its bound reaches the incumbent;
 *   3. the relaxation's own choice of open options is solved as a leaf (once per set), which
 *      feeds the incumbent;
 *   4. reduced-cost fixing with the node's values: an option whose forced opening bounds above the
 *      incumbent is excluded, a site whose closing (opening) does is opened (closed);
 *   5. branching: a FREE site into open / closed (the site opened in closest to half of the
 *      ascent's relaxed solutions, then the one whose less attractive side bounds highest); once no
 *      site is FREE, an OPEN_ANY site into its options. Node order: best first with dives (the
 *      child with the lower bound next, its siblings wait in a heap by bound; when a dive ends,
 *      the waiting node with the lowest bound). Depth first (the order before) spent many nodes
 *      under a poor incumbent: these trees find their final incumbent late. Best first searches
 *      fewer nodes, but hardly fewer bound evaluations (a node taken from the heap has the lowest
 *      bound, so its ascent seldom cuts it early), so it saves less time than nodes
 *      (docs/solver.md has the measurements).
 *      When every site is closed or fixed to one option, the quantities are solved exactly
 *      (solver/exact/leaf.ts): at first within leafFirstLps LPs, and a leaf not finished then
 *      is finished after the search, best bound first, against the final incumbent (most are cut
 *      by then).
 * Before any leaf is solved (in the search or as a heuristic), the relaxation at the loaded
 * multipliers with exactly the leaf's options open bounds it (Lagrangian.leafBound); a leaf that
 * cannot beat the incumbent that way needs no LP.
 * At the root, the ascent also tries the relaxation's choices every few steps, a local search
 * over sets of open options improves the incumbent (from the greedy plan's options while no leaf
 * has given one: when the root's own heuristics never beat the greedy plan, as on a problem whose
 * optimum ships from one site by transfer, which the greedy plan never uses, the local search
 * would otherwise have nothing to start from), and column generation (optional) improves the
 * multipliers.
 *
 * When a quick run spends its budget with the incumbent it had after the root, column generation
 * at the root (from the root's multipliers) decides whether a restart with it pays: only if it
 * raises the root bound by more than EXACT_TUNING.probeGain of the root's gap (incumbent -
 * bound). Otherwise the restart would replay about the same tree (same root bound, same
 * incumbent), and the quick run goes on instead.
 *
 * In the run with column generation (a restart: hard instances only), nodes down to
 * longAscentDepth get longAscentIters subgradient steps instead of nodeIters: fewer steps leave
 * their bound short of the Lagrangian dual, and the shallow nodes' subtrees are the large ones;
 * more steps at every depth save nodes but cost more evaluations in all. Not in the quick run,
 * where the longer ascents cost more evaluations than they saved.
 *
 * The Polyak step aims at a target a little above the best bound: best bound + max(targetAbs,
 * targetRel * |best bound|), at most the incumbent.
 *
 * Every tuning value named here (iterations, rounds, LP limits) is in solver/exact/tuning.ts.
 */
import TinyQueue from 'tinyqueue';
import type { Problem } from '../types.js';
import { CLOSED, FREE, Lagrangian, OPEN_ANY } from './lagrange.js';
import { ExactDeadline, ExactGiveUp, solveLeaf, type SearchState } from './leaf.js';
import { EQ, LE, solveLp, type LpRow } from './simplex.js';
import { EXACT_TUNING } from './tuning.js';

export interface LagrangeSearchOptions {
  /** Subgradient iterations at the root and at other nodes. */
  rootIters: number;
  nodeIters: number;
  /** Column generation rounds at the root (0: none). */
  cgRounds: number;
  /**
   * A quick run (no column generation): true once its work budget is spent (read at each node's
   * start). The search then decides once: restart (throws ExactGiveUp, the caller runs the search
   * again with column generation) or go on (calls `extend`, which lifts the budget).
   */
  overBudget?: () => boolean;
  extend?: () => void;
  /**
   * Open options (of the reduced problem) of a plan found before the search (the greedy one), for
   * the root's local search to start from while no leaf has given an incumbent (see `improve`).
   */
  seed?: number[];
}

/**
 * A node not searched yet: its state, allowed options, the multipliers it starts from (its
 * parent's) and its parent's bound for it (the relaxation at those multipliers with the branch
 * applied).
 */
interface OpenNode {
  state: Int32Array;
  allowed: Uint8Array;
  mult: Float64Array[];
  depth: number;
  bound: number;
}

export function searchLagrange(q: Problem, arcsAt: number[][], usable: boolean[], st: SearchState, tune: LagrangeSearchOptions, lag: Lagrangian = new Lagrangian(q, usable)): void {
  const nS = q.sites.length;
  const cut = (lb: number): boolean => lb >= st.best - st.eps(st.best);
  /** Leaves solved to the end, and leaves tried as heuristics (with an LP limit). */
  const solved = new Set<string>();
  const tried = new Set<string>();
  /** Solves a leaf (to the end when `exact`, else within maxLps); returns whether it is solved to the end. */
  const tryLeaf = (open: number[], exact = false, maxLps = EXACT_TUNING.heuristicLeafLps): boolean => {
    if (open.length === 0 || (!q.allowSplit && open.length > 1)) return true;
    const sorted = [...open].sort((a, b) => a - b);
    const key = sorted.join(',');
    if (solved.has(key)) return true;
    if (!exact && tried.has(key)) return false;
    tried.add(key);
    // The relaxation at the loaded multipliers, with exactly these options open, often shows at
    // once that the leaf cannot beat the incumbent (which only gets better): no LP needed.
    if (cut(lag.leafBound(sorted))) {
      solved.add(key);
      return true;
    }
    const done = solveLeaf(q, arcsAt, sorted, st, exact ? Infinity : maxLps);
    if (done) solved.add(key);
    return done;
  };
  /** Leaves of the search not finished within leafFirstLps LPs, solved at the end (best bound first) against the final incumbent. */
  const pending: { open: number[]; bound: number }[] = [];

  // Per site, in one buffer (see solver/exact/carve.ts): `freq`, `otherSide`.
  const perSite = new Float64Array(2 * nS);
  /** How often each site was open in the last ascent's relaxed solutions (a fractional-opening estimate). */
  const freq = perSite.subarray(0, nS);
  /** Scratch: the ascent's best multipliers (ascents do not nest), a node's other-side bounds (read before its children run). */
  const ascentBest = lag.save();
  const otherSide = perSite.subarray(nS);
  /** Subgradient ascent from the loaded multipliers; leaves the best ones loaded and evaluated. Returns the bound. */
  const ascend = (state: Int32Array, allowed: Uint8Array, iters: number, heuristicEvery = 0): number => {
    let bestL = -Infinity;
    const bestM = ascentBest;
    let lastIsBest = false;
    let theta = 1;
    let noImp = 0;
    freq.fill(0);
    let evals = 0;
    let lazy = false;
    for (let it = 0; it < iters; it++) {
      if ((it & 3) === 3 && performance.now() > st.deadline) throw new ExactDeadline();
      // Lazy evaluations (solver/exact/lagrange.ts), except before the heuristic, which reads optVal.
      lazy = !(heuristicEvery > 0 && it % heuristicEvery === heuristicEvery - 1);
      const L = lag.evaluate(state, allowed, lazy);
      evals++;
      for (let s = 0; s < nS; s++) if (lag.chosen[s]) freq[s]!++;
      if (L > bestL) {
        if (L > bestL + 1e-9 * Math.max(1, Math.abs(L))) noImp = 0;
        else noImp++;
        bestL = L;
        lag.saveInto(bestM);
        lastIsBest = true;
      } else {
        lastIsBest = false;
        if (++noImp >= EXACT_TUNING.ascentStall) {
          theta /= 2;
          noImp = 0;
          if (theta < EXACT_TUNING.thetaMin) break;
        }
      }
      if (cut(bestL) || it === iters - 1) break;
      if (heuristicEvery > 0 && it % heuristicEvery === heuristicEvery - 1) tryChosen();
      if (lag.subgradient() < 1e-12) break;
      const norm = lag.direction(it === 0 ? 0 : EXACT_TUNING.deflect);
      // Polyak step towards a target a little above the best bound (not the incumbent, which can be far off).
      const target = Math.min(st.best, bestL + Math.max(EXACT_TUNING.targetAbs, EXACT_TUNING.targetRel * Math.abs(bestL)));
      const gap = Math.max(target - L, 1e-6 * Math.max(1, Math.abs(st.best)));
      lag.step((theta * gap) / norm);
    }
    if (!lastIsBest) {
      lag.load(bestM);
      lag.evaluate(state, allowed);
    } else if (lazy) {
      // The same evaluation in full (not counted as work: the lazy ones cost about half).
      lag.evaluate(state, allowed);
      lag.evals--;
    }
    for (let s = 0; s < nS; s++) freq[s] = freq[s]! / evals;
    return bestL;
  };

  /**
   * Better multipliers by column generation (Dantzig-Wolfe): the master LP over the site plans
   * met so far (each site at most one plan, convexly; backorders; the relaxed rows) is solved
   * with solver/exact/simplex.ts, its duals become the multipliers, and the Lagrangian at them
   * (always a valid bound) prices new site plans. Starts from the multipliers loaded; leaves
   * the best ones loaded and evaluated; returns the best bound. The master forces open the sites
   * the node opens; its duals only guide the multipliers, the bound is always the Lagrangian's.
   */
  const columnGeneration = (state: Int32Array, allowed: Uint8Array, rounds: number, startBound: number): number => {
    const B = q.backorderPenalty;
    const sp = q.allowSplit ? q.splitPenalty : 0;
    const nL = q.lines.length;
    // Row layout.
    const poolRow = new Int32Array(q.pools.length).fill(-1);
    let nRows = nL;
    q.pools.forEach((_, pi) => {
      if (lag.poolIsLive(pi)) poolRow[pi] = nRows++;
    });
    const parRow = new Int32Array(q.couriers.length).fill(-1);
    const kgRow = new Int32Array(q.couriers.length).fill(-1);
    q.couriers.forEach((c, ci) => {
      if (c.parcelCap !== null) parRow[ci] = nRows++;
      if (c.kgCap !== null) kgRow[ci] = nRows++;
    });
    const cutRow = lag.cutIsLive ? nRows++ : -1;
    const siteRow = new Int32Array(nS).fill(-1);
    for (let s = 0; s < nS; s++) if (state[s] !== CLOSED) siteRow[s] = nRows++;
    const linkRow = nRows++; // split: z - Σθ <= 0; no split: Σθ <= 1
    const cols: ReturnType<Lagrangian['column']>[] = [];
    const keys = new Set<string>();
    const addColumns = (): number => {
      let added = 0;
      for (let s = 0; s < nS; s++) {
        if (state[s] === CLOSED) continue;
        // The site's two best options.
        let b1 = -1;
        let b2 = -1;
        for (const oi of lag.optsAt[s]!) {
          if (!allowed[oi] || !Number.isFinite(lag.optVal[oi]!)) continue;
          if (b1 < 0 || lag.optVal[oi]! < lag.optVal[b1]!) {
            b2 = b1;
            b1 = oi;
          } else if (b2 < 0 || lag.optVal[oi]! < lag.optVal[b2]!) b2 = oi;
        }
        const forced = state[s]! >= 0 || state[s] === OPEN_ANY;
        for (const oi of [b1, b2]) {
          if (oi < 0 || (lag.optVal[oi]! >= 0 && !forced)) continue;
          const c = lag.column(oi);
          let key = `${oi}|${c.n}`;
          for (const [l, v] of c.lines) key += `|${l}:${v.toFixed(6)}`;
          if (keys.has(key)) continue;
          keys.add(key);
          cols.push(c);
          added++;
        }
      }
      return added;
    };
    let best = startBound;
    let bestM = lag.save();
    let stall = 0;
    addColumns();
    for (let round = 0; round < rounds; round++) {
      if (performance.now() > st.deadline) throw new ExactDeadline();
      // Master: b_l, z, then the plans.
      const cost: number[] = [];
      const lb: number[] = [];
      const ub: number[] = [];
      const rowIdx: number[][] = Array.from({ length: nRows }, () => []);
      const rowVal: number[][] = Array.from({ length: nRows }, () => []);
      const put = (r: number, j: number, v: number): void => {
        if (r < 0 || v === 0) return;
        rowIdx[r]!.push(j);
        rowVal[r]!.push(v);
      };
      q.lines.forEach((l, li) => {
        const j = cost.length;
        cost.push(B);
        lb.push(0);
        ub.push(l.qty);
        put(li, j, 1);
      });
      if (q.allowSplit) {
        const j = cost.length;
        cost.push(-sp);
        lb.push(0);
        ub.push(1);
        put(linkRow, j, 1);
      }
      for (const c of cols) {
        const j = cost.length;
        cost.push(c.cost + sp);
        lb.push(0);
        ub.push(1);
        for (const [l, v] of c.lines) put(l, j, v);
        for (const [pl, v] of c.pools) put(poolRow[pl]!, j, v);
        put(parRow[c.courier]!, j, c.n);
        put(kgRow[c.courier]!, j, c.kg);
        put(cutRow, j, c.units);
        put(siteRow[c.site]!, j, 1);
        put(linkRow, j, q.allowSplit ? -1 : 1);
      }
      const rows: LpRow[] = [];
      for (let r = 0; r < nRows; r++) {
        let rhs: number;
        let sense: 0 | 1 | 2 = LE;
        if (r < nL) {
          rhs = q.lines[r]!.qty;
          sense = EQ;
        } else if (r === cutRow) rhs = lag.maxUnits;
        else if (r === linkRow) rhs = q.allowSplit ? 0 : 1;
        else rhs = NaN;
        rows.push({ idx: rowIdx[r]!, val: rowVal[r]!, sense, rhs });
      }
      q.pools.forEach((pool, pi) => {
        if (poolRow[pi]! >= 0) rows[poolRow[pi]!]!.rhs = pool.qty;
      });
      q.couriers.forEach((c, ci) => {
        if (parRow[ci]! >= 0) rows[parRow[ci]!]!.rhs = c.parcelCap!;
        if (kgRow[ci]! >= 0) rows[kgRow[ci]!]!.rhs = c.kgCap!;
      });
      for (let s = 0; s < nS; s++) {
        if (siteRow[s]! < 0) continue;
        rows[siteRow[s]!]!.rhs = 1;
        if (state[s]! >= 0 || state[s] === OPEN_ANY) rows[siteRow[s]!]!.sense = EQ;
      }
      st.lps++;
      const res = solveLp({ cost, lb, ub, rows }, EXACT_TUNING.cgMasterPivots, st.deadline);
      if (res.status !== 'optimal') break;
      const y = res.duals;
      const m = lag.save();
      for (let l = 0; l < nL; l++) m[0]![l] = Math.max(0, B - y[l]!);
      m[1]!.fill(0);
      q.pools.forEach((_, pi) => {
        if (poolRow[pi]! >= 0) m[1]![pi] = Math.max(0, -y[poolRow[pi]!]!);
      });
      m[2]!.fill(0);
      m[3]!.fill(0);
      q.couriers.forEach((_, ci) => {
        if (parRow[ci]! >= 0) m[2]![ci] = Math.max(0, -y[parRow[ci]!]!);
        if (kgRow[ci]! >= 0) m[3]![ci] = Math.max(0, -y[kgRow[ci]!]!);
      });
      m[4]![0] = cutRow >= 0 ? Math.max(0, -y[cutRow]!) : 0;
      lag.load(m);
      const L = lag.evaluate(state, allowed);
      if (L > best + 1e-6 * Math.max(1, Math.abs(best))) {
        best = L;
        bestM = m;
        stall = 0;
      } else if (++stall >= EXACT_TUNING.cgStall) break;
      if (cut(best) || res.objective - best <= 1e-6 * Math.max(1, Math.abs(best))) break;
      if (addColumns() === 0) break;
    }
    lag.load(bestM);
    lag.evaluate(state, allowed);
    return best;
  };

  /**
   * Makes a relaxation's choice respect the courier parcel caps (every open option takes at least
   * one parcel of its courier): moves options of an over-full courier to the site's cheapest
   * option with a courier that has room, or drops them.
   */
  const repair = (open: number[]): number[] => {
    const cur = [...open];
    const used = new Float64Array(q.couriers.length);
    for (const oi of cur) used[q.options[oi]!.courier]!++;
    const capOf = (c: number): number => q.couriers[c]!.parcelCap ?? Infinity;
    for (let c = 0; c < q.couriers.length; c++) {
      while (used[c]! > capOf(c)) {
        let bestK = -1;
        let bestAlt = -1;
        let bestDelta = Infinity;
        for (let k = 0; k < cur.length; k++) {
          const oi = cur[k]!;
          if (q.options[oi]!.courier !== c) continue;
          const base = Number.isFinite(lag.optVal[oi]!) ? lag.optVal[oi]! : 0;
          // Dropping it costs about its (negative) value; moving it the difference.
          if (-base < bestDelta) {
            bestDelta = -base;
            bestK = k;
            bestAlt = -1;
          }
          for (const alt of lag.optsAt[q.options[oi]!.site]!) {
            const ca = q.options[alt]!.courier;
            if (ca === c || used[ca]! + 1 > capOf(ca) || !Number.isFinite(lag.optVal[alt]!)) continue;
            const d = lag.optVal[alt]! - base;
            if (d < bestDelta) {
              bestDelta = d;
              bestK = k;
              bestAlt = alt;
            }
          }
        }
        if (bestK < 0) break;
        used[c]!--;
        if (bestAlt >= 0) {
          cur[bestK] = bestAlt;
          used[q.options[bestAlt]!.courier]!++;
        } else cur.splice(bestK, 1);
      }
    }
    return cur;
  };
  const tryChosen = (maxLps = EXACT_TUNING.heuristicLeafLps): void => {
    const open: number[] = [];
    for (let s = 0; s < nS; s++) if (lag.chosen[s] && lag.openOpt[s]! >= 0) open.push(lag.openOpt[s]!);
    const fixed = repair(open);
    tryLeaf(fixed, false, maxLps);
  };

  /** Open options of the incumbent (the reduced problem's option indices), or of the seed while the incumbent is the fallback. */
  const incumbentOptions = (): number[] => (st.bestPlan ? st.bestPlan.shipments.map((x) => x.option) : (tune.seed ?? []));

  /**
   * Local search around the incumbent over sets of open options: drop one, add one (sites the
   * relaxation finds cheapest to open, with their best option), or change one site's option;
   * first improvement, until none improves (or `maxRounds`).
   */
  const improve = (maxRounds: number): void => {
    for (let round = 0; round < maxRounds; round++) {
      const before = st.best;
      const cur = incumbentOptions();
      if (cur.length === 0) break;
      const sitesIn = new Set(cur.map((oi) => q.options[oi]!.site));
      for (let i = 0; i < cur.length && st.best === before && cur.length > 1; i++) tryLeaf(cur.filter((_, k) => k !== i));
      if (st.best < before) continue;
      // Swap a site's option.
      for (let i = 0; i < cur.length && st.best === before; i++) {
        const s = q.options[cur[i]!]!.site;
        const alts = lag.optsAt[s]!.filter((oi) => oi !== cur[i] && Number.isFinite(lag.optVal[oi]!)).sort((a, b) => lag.optVal[a]! - lag.optVal[b]!);
        for (const oi of alts.slice(0, EXACT_TUNING.swapCandidates)) {
          tryLeaf(cur.map((x, k) => (k === i ? oi : x)));
          if (st.best < before) break;
        }
      }
      if (st.best < before) continue;
      if (!q.allowSplit) break;
      // Add a site.
      const cand: number[] = [];
      for (let s = 0; s < nS; s++) if (!sitesIn.has(s) && lag.openOpt[s]! >= 0) cand.push(s);
      cand.sort((a, b) => lag.openVal[a]! - lag.openVal[b]!);
      for (const s of cand.slice(0, EXACT_TUNING.addCandidates)) {
        tryLeaf([...cur, lag.openOpt[s]!]);
        if (st.best < before) break;
      }
      if (st.best >= before) break;
    }
  };

  /** The root as it started, and its multipliers, bound and incumbent once its ascent and heuristics are done. */
  let root: { state: Int32Array; allowed: Uint8Array; mult: Float64Array[]; bound: number; best: number } | null = null;
  let budgetDecided = false;
  /** A quick run past its budget: restart with column generation, or go on (see the probe in the header). */
  const atBudget = (): void => {
    budgetDecided = true;
    if (root === null || st.best < root.best) throw new ExactGiveUp('quick run out of budget with a better incumbent: restart');
    lag.load(root.mult);
    lag.evaluate(root.state, root.allowed);
    const b = columnGeneration(root.state.slice(), root.allowed.slice(), EXACT_TUNING.cgRoundsProbe, root.bound);
    if (b - root.bound > EXACT_TUNING.probeGain * (st.best - root.bound)) throw new ExactGiveUp('quick run out of budget, column generation raises the root bound: restart');
    tune.extend?.();
  };

  /** Searches one node; its children (if it branches) go to `out`, lowest bound first. */
  const node = (state: Int32Array, allowed: Uint8Array, mult: Float64Array[], depth: number, out: OpenNode[]): void => {
    st.nodes++;
    if (performance.now() > st.deadline) throw new ExactDeadline();
    st.checkWork();
    if (!budgetDecided && tune.overBudget?.()) atBudget();
    const rootStart = depth === 0 ? { state: state.slice(), allowed: allowed.slice() } : null;
    lag.load(mult);
    const iters = depth === 0 ? tune.rootIters : tune.cgRounds > 0 && depth <= EXACT_TUNING.longAscentDepth ? EXACT_TUNING.longAscentIters : tune.nodeIters;
    let bound = ascend(state, allowed, iters, depth === 0 ? EXACT_TUNING.rootHeuristicEvery : 0);
    if (cut(bound)) return;
    // The relaxation's own choice as a candidate plan.
    const before = st.best;
    tryChosen(depth === 0 ? EXACT_TUNING.heuristicLeafLps : EXACT_TUNING.nodeHeuristicLps);
    if (depth === 0 || st.best < before) {
      const m = lag.save();
      const beforeImprove = st.best;
      improve(depth === 0 ? EXACT_TUNING.improveRoundsRoot : EXACT_TUNING.improveRoundsNode);
      lag.load(m);
      if (depth === 0 && st.best < beforeImprove && !cut(bound)) bound = Math.max(bound, ascend(state, allowed, tune.rootIters));
      else lag.evaluate(state, allowed);
    }
    if (depth <= EXACT_TUNING.cgDepth && tune.cgRounds > 0 && !cut(bound)) {
      bound = Math.max(bound, columnGeneration(state, allowed, tune.cgRounds, bound));
      if (!cut(bound)) bound = Math.max(bound, ascend(state, allowed, tune.nodeIters));
    }
    if (cut(bound)) return;
    const myMult = lag.save();
    if (rootStart !== null) root = { ...rootStart, mult: myMult, bound, best: st.best };
    // Reduced-cost fixing (values of the evaluation loaded by ascend).
    let changed = false;
    otherSide.fill(-Infinity);
    for (let s = 0; s < nS; s++) {
      const stt = state[s]!;
      if (stt === CLOSED || stt >= 0) continue;
      let openBest = Infinity;
      let nAllowed = 0;
      let only = -1;
      for (const oi of lag.optsAt[s]!) {
        if (!allowed[oi]) continue;
        const b = lag.boundWith(state, s, lag.optVal[oi]!);
        if (cut(b)) {
          allowed[oi] = 0;
          changed = true;
          continue;
        }
        nAllowed++;
        only = oi;
        openBest = Math.min(openBest, b);
      }
      if (nAllowed === 0) {
        if (stt === OPEN_ANY) return; // must open but cannot
        state[s] = CLOSED;
        changed = true;
        continue;
      }
      if (stt === FREE) {
        const closedB = lag.boundWith(state, s, Infinity);
        if (cut(closedB)) {
          state[s] = nAllowed === 1 ? only : OPEN_ANY;
          changed = true;
        } else otherSide[s] = Math.max(closedB, openBest);
      } else if (nAllowed === 1) {
        state[s] = only;
        changed = true;
      }
    }
    if (changed) {
      // Re-evaluate under the fixings (same multipliers): a valid and possibly better bound.
      lag.load(myMult);
      bound = lag.evaluate(state, allowed);
      if (cut(bound)) return;
    }
    // Branch.
    let pick = -1;
    let pickScore = -Infinity;
    const nodeFreq = freq; // read before the children's ascents overwrite it
    let pickAmb = -1;
    for (let s = 0; s < nS; s++) {
      if (state[s] !== FREE) continue;
      let sc = otherSide[s]!;
      if (sc === -Infinity) sc = bound; // fixed during this node's pass; still undecided
      // Most ambiguous first (opened in about half of the relaxed solutions), then the highest other side.
      const amb = Math.round(EXACT_TUNING.ambiguitySteps * Math.min(nodeFreq[s]!, 1 - nodeFreq[s]!));
      if (amb > pickAmb || (amb === pickAmb && sc > pickScore)) {
        pickAmb = amb;
        pickScore = sc;
        pick = s;
      }
    }
    if (pick >= 0) {
      const s = pick;
      const closedB = lag.boundWith(state, s, Infinity);
      let openB = Infinity;
      for (const oi of lag.optsAt[s]!) if (allowed[oi]) openB = Math.min(openB, lag.boundWith(state, s, lag.optVal[oi]!));
      const children: [number, number][] = [
        [CLOSED, closedB],
        [OPEN_ANY, openB],
      ];
      children.sort((a, b) => a[1] - b[1]);
      for (const [v, b] of children) {
        if (cut(b)) continue;
        const cs = state.slice();
        cs[s] = v;
        out.push({ state: cs, allowed: allowed.slice(), mult: myMult, depth: depth + 1, bound: b });
      }
      return;
    }
    // No FREE site: an OPEN_ANY site into its options.
    for (let s = 0; s < nS; s++) {
      if (state[s] !== OPEN_ANY) continue;
      const children: [number, number][] = [];
      for (const oi of lag.optsAt[s]!) if (allowed[oi]) children.push([oi, lag.boundWith(state, s, lag.optVal[oi]!)]);
      children.sort((a, b) => a[1] - b[1]);
      for (const [oi, b] of children) {
        if (cut(b)) continue;
        const cs = state.slice();
        cs[s] = oi;
        out.push({ state: cs, allowed: allowed.slice(), mult: myMult, depth: depth + 1, bound: b });
      }
      return;
    }
    // Leaf: every site closed or fixed to one option.
    const leafOpen: number[] = [];
    for (let s = 0; s < nS; s++) if (state[s]! >= 0) leafOpen.push(state[s]!);
    if (leafOpen.length === 0) return; // the empty plan is the fallback already considered
    st.nodes++;
    if (!tryLeaf(leafOpen, false, EXACT_TUNING.leafFirstLps)) pending.push({ open: leafOpen, bound });
  };

  const state = new Int32Array(nS);
  for (let s = 0; s < nS; s++) state[s] = lag.optsAt[s]!.length > 0 ? FREE : CLOSED;
  const allowed = new Uint8Array(usable.length);
  for (let oi = 0; oi < usable.length; oi++) allowed[oi] = usable[oi] ? 1 : 0;
  // Best first with dives (see the header): a node's child with the lower bound is searched next,
  // the others wait in a heap by their bound; when a dive ends, the waiting node with the lowest
  // bound is next, and once that bound reaches the incumbent the tree is done.
  const waiting = new TinyQueue<OpenNode>([], (a, b) => a.bound - b.bound);
  const children: OpenNode[] = [];
  let next: OpenNode | undefined = { state, allowed, mult: lag.save(), depth: 0, bound: -Infinity };
  while (next !== undefined || waiting.length > 0) {
    let n: OpenNode;
    if (next !== undefined) {
      n = next;
      next = undefined;
    } else {
      n = waiting.pop()!;
      if (cut(n.bound)) break;
    }
    if (cut(n.bound)) continue;
    children.length = 0;
    node(n.state, n.allowed, n.mult, n.depth, children);
    if (children.length === 0) continue;
    next = children[0];
    for (let k = 1; k < children.length; k++) waiting.push(children[k]!);
  }
  pending.sort((a, b) => a.bound - b.bound);
  for (const leaf of pending) {
    if (cut(leaf.bound)) break;
    tryLeaf(leaf.open, true);
  }
}
