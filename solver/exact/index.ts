/**
 * An exact optimiser specialised to the per-order model of solver/types.ts: a branch and bound
 * over which sites open a shipment and with which option. Two searches share the incumbent:
 *
 *   1. On single-line orders (EXACT_TUNING.quickFlowMaxLines), a quick flow-bounded site
 *      enumeration (below), with a small work budget (quickFlowWork): it settles most of them
 *      fastest. With more lines it hardly ever finishes within that budget and only delays the
 *      Lagrangian search, so the search starts with 2 at once (docs/solver.md).
 *      - Incumbent: the greedy plan (solver/greedy.ts, which tries every single-site plan), then
 *        the leaves suggested by the root relaxation's flow (and those leaves minus one site).
 *      - It enumerates sets of open sites (sites ordered by the units they hold), by iterative
 *        deepening on the number of sites, then assigns each open site's option; a leaf (open
 *        options fixed) is a small MIP over the quantities, solved exactly by its own LP-based
 *        branch and bound (solver/exact/leaf.ts, solver/exact/simplex.ts: each child LP
 *        re-optimises its parent's tableau by the dual simplex).
 *      - Lower bounds come from a min-cost flow relaxation in kilograms (solver/exact/flow.ts):
 *        lines -> pools -> sites -> options -> couriers -> sink, with backorder edges at
 *        backorderPenalty / unit kg; pool, courier kg, courier parcel and site parcel capacities
 *        (parcel caps as kg through the largest parcels). An open (or opening) option pays its
 *        fixed cost and first parcel outside the flow and, inside it, perKg plus perParcel /
 *        parcelMaxKg beyond the first parcel (perParcel * max(1, W / K) is convex in W). "Open no
 *        more sites" uses that bound over the open sites; "open at least one more" is the better
 *        of the same bound over open and undecided sites plus the cheapest opening cost left and a
 *        split penalty, and an amortised bound in which an undecided option's whole cost is spread
 *        over the most weight it can carry.
 *   2. Otherwise, or when that budget is spent, the Lagrangian branch and bound
 *      (solver/exact/search.ts): bounds from a Lagrangian relaxation of the line, pool and courier-cap rows (plus a cut on the total
 *      units any plan can ship), whose per-site subproblems are solved exactly in the option and
 *      parcel count (solver/exact/lagrange.ts); multipliers by subgradient steps; local search
 *      and the relaxation's own choices of open options for incumbents; reduced-cost fixing of
 *      sites and options; branching on sites, then options; leaves solved exactly as in 1. It
 *      runs first with a small budget (quickLagrangeWork), then, if needed, again from the
 *      incumbent with column generation on the Dantzig-Wolfe master at the root (better root
 *      multipliers, which cost a few milliseconds).
 *   - A work budget (nodes + LPs + flows + bound evaluations / evalsPerWork, `maxWork`) makes
 *     the search decline instances out of its reach (optimal: false, "exact search declined ...")
 *     instead of using up the deadline.
 * Every tuning value (budgets, iterations, LP limits) is in solver/exact/tuning.ts; the method,
 * that table and the measurements behind it are in docs/solver.md.
 *
 * The search runs on the reduced problem (solver/reduce.ts: caps that cannot bind dropped,
 * dominated options dropped; both exact), and the plan is mapped back and verified on the
 * original problem. Pure: no I/O, and no clock other than performance.now() for the deadline.
 */
import { makePlan } from '../cost.js';
import { solveGreedy } from '../greedy.js';
import { reduceProblem } from '../reduce.js';
import type { Plan, Problem, SolveResult, SolveStats } from '../types.js';
import { verifyPlan } from '../verify.js';
import { Carve } from './carve.js';
import { FlowDeadline, FlowFailure, FlowGraph, MinCostFlow } from './flow.js';
import { CLOSED, FREE, Lagrangian, OPEN_ANY } from './lagrange.js';
import { ExactDeadline, ExactGiveUp, solveLeaf, type SearchState } from './leaf.js';
import { searchLagrange } from './search.js';
import { EXACT_TUNING } from './tuning.js';

export interface ExactOptions {
  /** Time budget, milliseconds (from the call). */
  timeoutMs: number;
  /** Absolute deadline on the performance.now() clock; overrides timeoutMs when given. */
  deadlineAt?: number;
  /**
   * Work budget (search nodes + leaf LPs + bound flows + Lagrangian bound evaluations /
   * EXACT_TUNING.evalsPerWork) after which the search declines the instance as out of its reach
   * (optimal: false, reason "exact search declined ..."), so that the caller can ask a general MIP
   * solver instead of spending its whole deadline here. Default: DEFAULT_MAX_WORK.
   */
  maxWork?: number;
  /**
   * 'flow': the flow-bounded site enumeration alone, with the whole budget (the search before
   * the Lagrangian one existed; kept for comparison). Default: as described above.
   */
  search?: 'lagrange' | 'flow';
}

/**
 * Default work budget (ExactOptions.maxWork), EXACT_TUNING.maxWork: large enough that the
 * problems the service poses never reach it, small enough that an instance out of the search's
 * reach goes to HiGHS instead of using up the deadline (docs/solver.md has the measurements).
 */
export const DEFAULT_MAX_WORK = EXACT_TUNING.maxWork;

/** Bits of a site's arcs from a pool with stock (see `usable` in solveExact): direct, transfer. */
const CARRIES_DIRECT = 1;
const CARRIES_TRANSFER = 2;

/** How FREE sites are priced in a bound (see Relaxation.bound). */
type Mode = 0 | 1;
const OPENED: Mode = 0;
const AMORTISED: Mode = 1;

/** The flow relaxation over the sites still allowed to open, built once per solve. */
export class Relaxation {
  private readonly flow: MinCostFlow;
  private readonly src: number;
  private readonly snk: number;
  private readonly supply: number;
  /**
   * Per option: the first of the edges into its node (their capacity switches the option on or
   * off): from its site's direct node, then (a transfer option) from its transfer node; edges are
   * numbered by twos, so a transfer option's second is optionIn + 2. -1 when not usable.
   */
  private readonly optionIn: Int32Array;
  /** Per site: whether the last bound's flow went through it (weighted lines only). */
  readonly used: Uint8Array;
  /** Per option: the first of its opened-cost edges to its courier (first parcel, beyond: optionOut + 2 when there are two), and how many. */
  private readonly optionOut: Int32Array;
  private readonly nOut: Uint8Array;
  /** Per option: its amortised-cost edge (-1 when it can carry no weight). */
  private readonly optionAmortised: Int32Array;
  /** Weightless lines: their arcs (cost, pool, site, transfer) for a separate greedy bound. */
  private readonly light: ({ qty: number; arcs: { cost: number; pool: number; site: number; transfer: boolean }[] } | null)[];

  constructor(
    private readonly p: Problem,
    private readonly usable: boolean[],
    private readonly deadline: number,
  ) {
    const g = new FlowGraph();
    this.used = new Uint8Array(p.sites.length);
    this.src = g.addNode();
    this.snk = g.addNode();
    const B = p.backorderPenalty;
    const lineNode = p.lines.map((l) => (l.unitWeightKg > 0 ? g.addNode() : -1));
    let supply = 0;
    p.lines.forEach((l, li) => {
      if (lineNode[li]! < 0) return;
      const kg = l.qty * l.unitWeightKg;
      supply += kg;
      g.addEdge(this.src, lineNode[li]!, kg, 0);
      g.addEdge(lineNode[li]!, this.snk, Infinity, B / l.unitWeightKg);
    });
    this.supply = supply;
    // Pools: in/out nodes with the pool's capacity in kg (the heaviest line drawing on it).
    const poolW = p.pools.map(() => 0);
    for (const a of p.arcs) poolW[a.pool] = Math.max(poolW[a.pool]!, p.lines[a.line]!.unitWeightKg);
    const poolIn = p.pools.map(() => -1);
    const poolOut = p.pools.map(() => -1);
    p.pools.forEach((pool, pi) => {
      if (poolW[pi]! <= 0 || pool.qty <= 0) return;
      poolIn[pi] = g.addNode();
      poolOut[pi] = g.addNode();
      g.addEdge(poolIn[pi]!, poolOut[pi]!, pool.qty * poolW[pi]!, 0);
    });
    const siteD = p.sites.map(() => g.addNode());
    const siteT = p.sites.map(() => g.addNode());
    const nS = p.sites.length;
    const nP = p.pools.length;
    // Line -> pool edges added so far (line * nP + pool): `linePool` below.
    // (pool, site, kind) -> cheapest cost per kg over the lines with such an arc; the key is
    // (pool * nS + site) * 2 + kind, the value the group's index (first-seen order, the edges' order).
    const group = new Map<number, number>();
    const gPool: number[] = [];
    const gSite: number[] = [];
    const gTransfer: boolean[] = [];
    const gCost: number[] = [];
    const nO = p.options.length;
    // The typed arrays below, scratch included, carved out of one buffer (solver/exact/carve.ts).
    const c = new Carve(2 * nS + nO, 3 * nO, nO + p.lines.length * nP);
    const linePool = c.u8(p.lines.length * nP);
    // Per site: the most kg its arcs can bring, direct ones only and all (for the options' Wmax below).
    const wDirect = c.f64(nS);
    const wAll = c.f64(nS);
    this.light = p.lines.map((l) => (l.unitWeightKg > 0 ? null : { qty: l.qty, arcs: [] }));
    p.arcs.forEach((a) => {
      const l = p.lines[a.line]!;
      if (l.unitWeightKg <= 0) {
        this.light[a.line]?.arcs.push({ cost: a.unitCost, pool: a.pool, site: a.site, transfer: a.transfer });
        return;
      }
      if (poolIn[a.pool]! < 0) return;
      const lp = a.line * nP + a.pool;
      if (!linePool[lp]) {
        linePool[lp] = 1;
        g.addEdge(lineNode[a.line]!, poolIn[a.pool]!, Infinity, 0);
      }
      const key = (a.pool * nS + a.site) * 2 + (a.transfer ? 1 : 0);
      const c = a.unitCost / l.unitWeightKg;
      const gi = group.get(key);
      if (gi === undefined) {
        group.set(key, gPool.length);
        gPool.push(a.pool);
        gSite.push(a.site);
        gTransfer.push(a.transfer);
        gCost.push(c);
      } else gCost[gi] = Math.min(gCost[gi]!, c);
    });
    for (let gi = 0; gi < gPool.length; gi++) g.addEdge(poolOut[gPool[gi]!]!, gTransfer[gi] ? siteT[gSite[gi]!]! : siteD[gSite[gi]!]!, Infinity, gCost[gi]!);
    for (const a of p.arcs) {
      const l = p.lines[a.line]!;
      const w = Math.min(l.qty, p.pools[a.pool]!.qty) * l.unitWeightKg;
      wAll[a.site] = wAll[a.site]! + w;
      if (!a.transfer) wDirect[a.site] = wDirect[a.site]! + w;
    }
    // Couriers: kg capacity, and what their parcel cap admits when every option has a parcel limit.
    const courierNode = p.couriers.map(() => g.addNode());
    this.courierEdge = [];
    p.couriers.forEach((c, ci) => {
      let cap = c.kgCap ?? Infinity;
      if (c.parcelCap !== null) {
        let maxK = 0;
        for (let oi = 0; oi < p.options.length; oi++) {
          const o = p.options[oi]!;
          if (o.courier !== ci || !usable[oi]) continue;
          maxK = Math.max(maxK, o.parcelMaxKg ?? Infinity);
        }
        cap = Math.min(cap, c.parcelCap * maxK);
      }
      this.courierEdge.push(g.addEdge(courierNode[ci]!, this.snk, cap, 0));
    });
    this.optionIn = c.i32(nO).fill(-1);
    this.optionOut = c.i32(nO).fill(-1);
    this.nOut = c.u8(nO);
    this.optionAmortised = c.i32(nO).fill(-1);
    this.wMaxOf = c.f64(nO);
    p.options.forEach((o, oi) => {
      if (!usable[oi]) return;
      const node = g.addNode();
      this.optionIn[oi] = g.addEdge(siteD[o.site]!, node, 0, 0);
      if (o.transfer) g.addEdge(siteT[o.site]!, node, 0, 0);
      const courier = p.couriers[o.courier]!;
      const capO = Math.min(p.sites[o.site]!.parcelCap ?? Infinity, courier.parcelCap ?? Infinity);
      const cn = courierNode[o.courier]!;
      // Opened (or about to be): the first parcel is paid with the opening cost; every kg beyond
      // it costs perParcel / parcelMaxKg more (perParcel * max(1, W / K) is convex in W).
      this.nOut[oi] = 1;
      if (o.parcelMaxKg === null) this.optionOut[oi] = g.addEdge(node, cn, Infinity, o.perKg);
      else {
        this.optionOut[oi] = g.addEdge(node, cn, o.parcelMaxKg, o.perKg);
        if (capO > 1) {
          g.addEdge(node, cn, (capO - 1) * o.parcelMaxKg, o.perKg + o.perParcel / o.parcelMaxKg);
          this.nOut[oi] = 2;
        }
      }
      // Not opened yet, amortised: for 0 < W <= Wmax its whole cost (fixed + parcels + per kg) is at
      // least W * (perKg + perParcel * max(1 / Wmax, 1 / K) + fixed / Wmax), or
      // W * (perKg + (fixed + perParcel) / Wmax) without a parcel limit, where Wmax is the most
      // weight the option can carry.
      let wMax = o.transfer ? wAll[o.site]! : wDirect[o.site]!;
      if (courier.kgCap !== null) wMax = Math.min(wMax, courier.kgCap);
      if (o.parcelMaxKg !== null) wMax = Math.min(wMax, capO * o.parcelMaxKg);
      this.wMaxOf[oi] = wMax;
      if (wMax > 0) {
        const rate =
          o.parcelMaxKg === null ? o.perKg + (o.fixedCost + o.perParcel) / wMax : o.perKg + o.perParcel * Math.max(1 / wMax, 1 / o.parcelMaxKg) + o.fixedCost / wMax;
        this.optionAmortised[oi] = g.addEdge(node, cn, wMax, rate);
      }
    });
    this.flow = new MinCostFlow(g);
  }

  /**
   * Lower bound on the arc, freight and backorder costs of any plan that opens only options allowed
   * by `choice` (a chosen option per decided site, FREE sites any usable option). Opened options'
   * fixed cost and first parcel are not included (the caller adds them); FREE sites' options are
   * either priced like opened ones (OPENED: their opening cost left to the caller) or with their
   * whole cost spread over the most weight they can carry (AMORTISED, nothing left to add).
   */
  /** Per courier: its edge to the sink (kg it can take). */
  private readonly courierEdge: number[];
  /** Per option: the most kg it can carry (0 when unusable). */
  private readonly wMaxOf: Float64Array;
  /** Flows computed so far. */
  flows = 0;

  /** Kilograms the last flow sent into usable option oi's node. */
  private flowIn(oi: number): number {
    const kg = this.flow.flowOn(this.optionIn[oi]!);
    return this.p.options[oi]!.transfer ? kg + this.flow.flowOn(this.optionIn[oi]! + 2) : kg;
  }

  /** Kilograms the last bound's flow sent through each option (weighted lines only). */
  optionKg(): Float64Array {
    const kg = new Float64Array(this.p.options.length);
    for (let oi = 0; oi < kg.length; oi++) {
      if (!this.usable[oi]) continue;
      kg[oi] = this.flowIn(oi);
    }
    return kg;
  }

  bound(choice: Int32Array, mode: Mode): number {
    const p = this.p;
    this.flows++;
    this.flow.reset();
    for (let oi = 0; oi < p.options.length; oi++) {
      if (!this.usable[oi]) continue;
      const c = choice[p.options[oi]!.site]!;
      if (c !== FREE && c !== OPEN_ANY && c !== oi) continue;
      this.flow.setCap(this.optionIn[oi]!, Infinity);
      if (p.options[oi]!.transfer) this.flow.setCap(this.optionIn[oi]! + 2, Infinity);
      if (c === FREE && mode !== OPENED) {
        for (let k = 0; k < this.nOut[oi]!; k++) this.flow.setCap(this.optionOut[oi]! + 2 * k, 0);
      } else {
        const e = this.optionAmortised[oi]!;
        if (e >= 0) this.flow.setCap(e, 0);
      }
    }
    // A courier with a parcel cap P carries at most P parcels: the P largest of its open-able
    // options' parcel limits (each may repeat) and, without a limit, whole shipments (at most
    // the most that option can carry, once each).
    p.couriers.forEach((c, ci) => {
      if (c.parcelCap === null) return;
      const sizes: number[] = [];
      for (let oi = 0; oi < p.options.length; oi++) {
        const o = p.options[oi]!;
        if (o.courier !== ci || !this.usable[oi]) continue;
        const ch = choice[o.site]!;
        if (ch !== FREE && ch !== OPEN_ANY && ch !== oi) continue;
        if (o.parcelMaxKg === null) sizes.push(this.wMaxOf[oi]!);
        else for (let k = 0; k < c.parcelCap; k++) sizes.push(Math.min(o.parcelMaxKg, this.wMaxOf[oi]!));
      }
      sizes.sort((x, y) => y - x);
      let cap = 0;
      for (let k = 0; k < Math.min(c.parcelCap, sizes.length); k++) cap += sizes[k]!;
      this.flow.setCap(this.courierEdge[ci]!, Math.min(cap, c.kgCap ?? Infinity));
    });
    let total = this.supply > 0 ? this.flow.run(this.src, this.snk, this.supply, this.deadline) : 0;
    this.used.fill(0);
    if (this.supply > 0) {
      for (let oi = 0; oi < p.options.length; oi++) {
        if (!this.usable[oi]) continue;
        if (this.flow.flowOn(this.optionIn[oi]!) > 1e-9 || (p.options[oi]!.transfer && this.flow.flowOn(this.optionIn[oi]! + 2) > 1e-9)) this.used[p.options[oi]!.site] = 1;
      }
    }
    // Weightless lines: each on its own, cheapest allowed arcs first, pools not shared.
    for (const l of this.light) {
      if (l === null) continue;
      if (l.arcs.length === 0) {
        total += l.qty * p.backorderPenalty;
        continue;
      }
      const allowed = l.arcs
        .filter((a) => {
          const c = choice[a.site]!;
          if (c === CLOSED) return false;
          if (!a.transfer) return true;
          if (c === FREE || c === OPEN_ANY) return p.options.some((o, oi) => this.usable[oi] && o.site === a.site && o.transfer);
          return p.options[c]!.transfer;
        })
        .sort((a, b) => a.cost - b.cost);
      let left = l.qty;
      for (const a of allowed) {
        if (left <= 0) break;
        const q = Math.min(left, p.pools[a.pool]!.qty);
        if (q > 0) this.used[a.site] = 1;
        total += q * a.cost;
        left -= q;
      }
      total += left * p.backorderPenalty;
    }
    return total;
  }
}

function result(plan: Plan, optimal: boolean, t0: number, nodes: number, reason?: string): SolveResult {
  // 'exact' is not yet part of SolveStats['solver'] (solver/types.ts must gain it).
  const stats: SolveStats = { solver: 'exact', micros: (performance.now() - t0) * 1_000, nodes };
  return reason === undefined ? { plan, stats, optimal } : { plan, stats, optimal, fallbackReason: reason };
}

export function solveExact(p: Problem, opts: ExactOptions): SolveResult {
  const t0 = performance.now();
  const deadline = opts.deadlineAt ?? t0 + opts.timeoutMs;
  const stopped = (nodes: number) => `exact search stopped at the ${+opts.timeoutMs.toFixed(3)} ms deadline after ${nodes} nodes`;
  // The fallback and first incumbent: the greedy plan (solver/greedy.ts), or nothing shipped.
  const greedy = solveGreedy(p);
  const empty = makePlan(p, []);
  const fallback = verifyPlan(p, greedy).length === 0 && greedy.objective < empty.objective ? greedy : empty;
  if (performance.now() > deadline) return result(fallback, false, t0, 0, stopped(0));
  const { problem: q, optionMap } = reduceProblem(p);
  const toOriginal = (plan: Plan): Plan => makePlan(p, plan.shipments.map((s) => ({ option: optionMap[s.option]!, arcs: s.arcs })));

  const arcsAt = q.sites.map(() => [] as number[]);
  q.arcs.forEach((a, ai) => arcsAt[a.site]!.push(ai));
  // Options that can open: at least one parcel of room at the site and with the courier, and an
  // arc to carry (per site: any arc from a pool with stock, and any direct one).
  const carries = new Uint8Array(q.sites.length);
  for (const a of q.arcs) if (q.pools[a.pool]!.qty > 0) carries[a.site] = carries[a.site]! | (a.transfer ? CARRIES_TRANSFER : CARRIES_DIRECT);
  const usable = q.options.map((o) => {
    const capO = Math.min(q.sites[o.site]!.parcelCap ?? Infinity, q.couriers[o.courier]!.parcelCap ?? Infinity);
    return capO >= 1 && (carries[o.site]! & (o.transfer ? CARRIES_TRANSFER | CARRIES_DIRECT : CARRIES_DIRECT)) !== 0;
  });

  const useFlow = opts.search === 'flow';
  // The flow-bounded enumeration settles single-line orders fastest; with more lines it hardly
  // ever finishes within its quick budget, and the Lagrangian search starts at once.
  const quickFlow = useFlow || q.lines.length <= EXACT_TUNING.quickFlowMaxLines;
  const relax = quickFlow ? new Relaxation(q, usable, deadline) : null;
  let lag: Lagrangian | null = null;
  const flows = (): number => relax?.flows ?? 0;
  const workUsed = (): number => st.nodes + st.lps + flows() + (lag ? Math.floor(lag.evals / EXACT_TUNING.evalsPerWork) : 0);
  const maxWork = opts.maxWork ?? DEFAULT_MAX_WORK;
  // The flow-bounded enumeration runs first, with a small budget unless it is the only search:
  // it settles the easy instances fastest; the Lagrangian search takes over the rest.
  let workLimit = useFlow ? maxWork : Math.min(maxWork, EXACT_TUNING.quickFlowWork);
  const st: SearchState = {
    best: fallback.objective,
    bestPlan: null,
    nodes: 0,
    lps: 0,
    deadline,
    eps: (best) => 1e-6 + 1e-10 * Math.abs(best),
    checkWork: () => {
      if (workUsed() > workLimit) {
        const detail = `${flows()} flows` + (lag ? `, ${lag.evals} bound evaluations / ${EXACT_TUNING.evalsPerWork}` : '');
        throw new ExactGiveUp(`more than ${workLimit} units of work (${st.nodes} nodes, ${st.lps} LPs, ${detail})`);
      }
    },
    accept: (plan) => {
      if (verifyPlan(q, plan).length > 0) return false;
      st.best = plan.objective;
      st.bestPlan = plan;
      return true;
    },
  };

  /**
   * The flow-bounded site enumeration (1. in the header), with its structures: built only for
   * the problems that run it (single-line orders; most of the service's problems have more lines
   * and go straight to the Lagrangian search, which needs none of them).
   */
  const flowSearch = (relax: Relaxation): void => {
    const openCost = q.options.map((o) => o.fixedCost + o.perParcel);
    const optsAt = q.sites.map(() => [] as number[]);
    q.options.forEach((_, oi) => {
      if (usable[oi]) optsAt[q.options[oi]!.site]!.push(oi);
    });
    for (const list of optsAt) list.sort((a, b) => openCost[a]! - openCost[b]!);

    // Sites that may open, most units available directly first.
    const supplyOf = q.sites.map((_, s) => {
      let units = 0;
      for (const ai of arcsAt[s]!) {
        const a = q.arcs[ai]!;
        if (!a.transfer) units += Math.min(q.pools[a.pool]!.qty, q.lines[a.line]!.qty);
      }
      return units;
    });
    const order = q.sites.map((_, s) => s).filter((s) => optsAt[s]!.length > 0);
    order.sort((a, b) => supplyOf[b]! - supplyOf[a]! || openCost[optsAt[a]![0]!]! - openCost[optsAt[b]![0]!]!);
    const minOpenSuffix = new Array<number>(order.length + 1).fill(Infinity);
    for (let j = order.length - 1; j >= 0; j--) minOpenSuffix[j] = Math.min(minOpenSuffix[j + 1]!, openCost[optsAt[order[j]!]![0]!]!);

    const choice = new Int32Array(q.sites.length).fill(CLOSED);
    for (const s of order) choice[s] = FREE;
    /** Sites opened on the current path of the site enumeration, and their options once assigned. */
    const openSites: number[] = [];
    const openOptions: number[] = [];
    const minOpenCost = q.sites.map((_, site) => (optsAt[site]!.length > 0 ? openCost[optsAt[site]![0]!]! : Infinity));

    // Bounds are memoised by the state of `choice` (iterative deepening revisits states).
    const memo = new Map<string, { value: number; used: Uint8Array }>();
    const bound = (mode: Mode): { value: number; used: Uint8Array } => {
      const key = mode + choice.join(',');
      let m = memo.get(key);
      if (!m) {
        const value = relax.bound(choice, mode);
        m = { value, used: relax.used.slice() };
        memo.set(key, m);
      }
      return m;
    };
    const cut = (lb: number): boolean => lb >= st.best - st.eps(st.best);
    const tick = (): void => {
      st.nodes++;
      if (performance.now() > deadline) throw new ExactDeadline();
      st.checkWork();
    };

    // Lower bound of every plan that opens the sites opened so far and at least one more among
    // order[j..] (those in between closed): the better of the amortised bound and the opened-style
    // bound plus the cheapest opening left. `prev` carries the previous step's flows: closing a site
    // that flow did not use leaves it optimal.
    interface Prev {
      a?: { value: number; used: Uint8Array };
      b?: { value: number; used: Uint8Array };
    }
    const moreBound = (fixedSum: number, k: number, j: number, prev: Prev): number => {
      const base = fixedSum + q.splitPenalty * k;
      const closed = j > 0 ? order[j - 1]! : -1;
      if (!prev.a || closed < 0 || prev.a.used[closed]) prev.a = bound(AMORTISED);
      const amortised = base + prev.a.value;
      if (cut(amortised)) return amortised;
      if (!prev.b || closed < 0 || prev.b.used[closed]) prev.b = bound(OPENED);
      return Math.max(amortised, base + minOpenSuffix[j]! + prev.b.value);
    };

    // Phase 2: with the set of open sites fixed, choose each one's option (depth first, bounded).
    const assign = (i: number, fixedSum: number, minRest: number): void => {
      tick();
      const k = openSites.length;
      if (i === k) {
        solveLeaf(q, arcsAt, openOptions, st);
        return;
      }
      const site = openSites[i]!;
      const rest = minRest - minOpenCost[site]!;
      for (const oi of optsAt[site]!) {
        choice[site] = oi;
        const f = fixedSum + openCost[oi]!;
        // The bound with every other open site still free to use any option; exact leaf bound at the end.
        if (!cut(f + rest + q.splitPenalty * (k - 1) + bound(OPENED).value)) {
          openOptions.push(oi);
          assign(i + 1, f, rest);
          openOptions.pop();
        }
      }
      choice[site] = OPEN_ANY;
    };

    // A better incumbent before the search: open, at every site the root relaxation routes weight
    // through, the option carrying most of it, solve that leaf, then try dropping each site in turn.
    const heuristic = (): void => {
      const tried = new Set<string>();
      const tryOptions = (opts: number[]): void => {
        const sorted = [...opts].sort((x, y) => x - y);
        const key = sorted.join(',');
        if (sorted.length === 0 || tried.has(key) || (!q.allowSplit && sorted.length > 1)) return;
        tried.add(key);
        solveLeaf(q, arcsAt, sorted, st);
      };
      for (const mode of [OPENED, AMORTISED]) {
        relax.bound(choice, mode);
        const kg = relax.optionKg();
        const pickAt = new Map<number, number>();
        kg.forEach((w, oi) => {
          if (w <= 1e-9) return;
          const site = q.options[oi]!.site;
          const cur = pickAt.get(site);
          if (cur === undefined || w > kg[cur]!) pickAt.set(site, oi);
        });
        const opts = [...pickAt.values()];
        if (opts.length > EXACT_TUNING.flowHeuristicMaxSites) continue;
        tryOptions(opts);
        for (let i = 0; i < opts.length && opts.length > 1; i++) tryOptions(opts.filter((_, k) => k !== i));
      }
    };

    const done = new Set<string>();
    let hitLimit = false;
    let maxOpen = 1;

    // Phase 1: which sites open (each one with some option), sites in `order`, iterative deepening
    // on how many.
    const enumerate = (j0: number, fixedSum: number): void => {
      tick();
      const k = openSites.length;
      if (k > 0) {
        const key = openSites.join(',');
        if (!done.has(key)) {
          done.add(key);
          for (let j = j0; j < order.length; j++) choice[order[j]!] = CLOSED;
          if (!cut(fixedSum + q.splitPenalty * (k - 1) + bound(OPENED).value)) assign(0, 0, fixedSum);
          for (let j = j0; j < order.length; j++) choice[order[j]!] = FREE;
        }
      }
      if (!q.allowSplit && k >= 1) return;
      if (j0 >= order.length) return;
      const prev: Prev = {};
      if (k >= maxOpen) {
        if (!cut(moreBound(fixedSum, k, j0, prev))) hitLimit = true;
        return;
      }
      for (let j = j0; j < order.length; j++) {
        if (cut(moreBound(fixedSum, k, j, prev))) {
          for (let i = j; i < order.length; i++) choice[order[i]!] = CLOSED;
          break;
        }
        const site = order[j]!;
        choice[site] = OPEN_ANY;
        openSites.push(site);
        enumerate(j + 1, fixedSum + minOpenCost[site]!);
        openSites.pop();
        choice[site] = CLOSED;
      }
      for (let j = j0; j < order.length; j++) choice[order[j]!] = FREE;
    };

    if (q.allowSplit) heuristic();
    // Iterative deepening on the number of opened sites: good small plans first.
    for (;;) {
      hitLimit = false;
      enumerate(0, 0);
      if (!hitLimit) break;
      maxOpen++;
    }
  };

  let reason: string | undefined;
  const failure = (err: unknown): string => {
    if (err instanceof ExactDeadline || err instanceof FlowDeadline) return stopped(st.nodes);
    if (err instanceof ExactGiveUp || err instanceof FlowFailure) return `exact search declined after ${st.nodes} nodes: ${err.message}`;
    throw err;
  };
  // The Lagrangian branch and bound, from the incumbent found so far: first without column
  // generation at the root (cheaper), with a small budget; then with it.
  const lagrangeSearch = (): void => {
    lag = new Lagrangian(q, usable);
    // The fallback plan's open options in the reduced problem (those the reduction kept), for the
    // root's local search to start from until a leaf gives an incumbent.
    const seed: number[] = [];
    for (const sh of fallback.shipments) {
      const oi = optionMap.indexOf(sh.option);
      if (oi >= 0 && usable[oi]) seed.push(oi);
    }
    // The quick run's budget is soft: the search reads it at each node and decides (see
    // solver/exact/search.ts, probeGain) whether to restart or to go on; maxWork stays the hard limit.
    const quickLimit = workUsed() + EXACT_TUNING.quickLagrangeWork;
    let quick = quickLimit < maxWork;
    workLimit = maxWork;
    const overBudget = (): boolean => quick && workUsed() > quickLimit;
    try {
      searchLagrange(q, arcsAt, usable, st, { rootIters: EXACT_TUNING.rootIters, nodeIters: EXACT_TUNING.nodeIters, cgRounds: 0, overBudget, extend: () => (quick = false), seed }, lag);
    } catch (err) {
      if (!(err instanceof ExactGiveUp) || !quick || workUsed() > maxWork) throw err;
      quick = false;
      searchLagrange(q, arcsAt, usable, st, { rootIters: EXACT_TUNING.rootIters, nodeIters: EXACT_TUNING.nodeIters, cgRounds: EXACT_TUNING.cgRounds, seed }, lag);
    }
  };
  try {
    if (performance.now() > deadline) throw new ExactDeadline();
    if (!quickFlow) lagrangeSearch();
    else {
      try {
        flowSearch(relax!);
      } catch (err) {
        // Out of the quick budget: the Lagrangian search takes over.
        if (useFlow || !(err instanceof ExactGiveUp || err instanceof FlowFailure)) throw err;
        lagrangeSearch();
      }
    }
  } catch (err) {
    reason = failure(err);
  }
  const nodes = st.nodes + st.lps;
  const best = st.bestPlan ? toOriginal(st.bestPlan) : fallback;
  if (verifyPlan(p, best).length > 0) {
    // Cannot happen if the reductions are exact; never return an unverified plan.
    return result(fallback, false, t0, nodes, 'exact search produced a plan that fails verification on the original problem');
  }
  return reason === undefined ? result(best, true, t0, nodes) : result(best, false, t0, nodes, reason);
}
