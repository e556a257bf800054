/**
 * The exact search's tuning, as data: every knob of solver/exact/ (work budgets, iteration and
 * round counts, LP and pivot limits, the sizes of its heuristics), with its unit, what it controls
 * and why it has that value, one line each. The method, this table again and the measurements
 * behind the values, with their dates, are in docs/solver.md; a value changes only with a new
 * measurement recorded there. None of them changes the optimum the search proves: they change its
 * path (and so its node counts), the work it spends before it declines, and its allocations.
 *
 * Not tuning, and kept with their method: the numerical tolerances (the simplex's PIV_TOL, D_TOL
 * and FEAS_TOL, the leaf's INT_TOL, the flow's CAP_EPS, solver/cost.ts KG_EPS) and how often a
 * loop reads the clock for the deadline.
 */
const TUNING = {
  // Budgets and the order of the searches (solver/exact/index.ts).
  /** Work units (nodes + leaf LPs + bound flows + bound evaluations / evalsPerWork) before the search declines an instance to HiGHS: the service's own problems never reach it, and larger budgets declined only a few fewer generated instances for solves far past the deadline. */
  maxWork: 10_000,
  /** Lagrangian bound evaluations per work unit: a node's ascent makes nodeIters of them, so they weigh about two units per node rather than twenty. */
  evalsPerWork: 10,
  /** Lines: the flow-bounded enumeration runs first only on orders with at most this many; with more lines it almost never finished within quickFlowWork. */
  quickFlowMaxLines: 1,
  /** Work units of the flow-bounded enumeration before the Lagrangian search takes over: enough to settle most single-line orders, little lost on the others. */
  quickFlowWork: 30,
  /** Sites: the flow enumeration's first heuristic skips a relaxation that routes weight through more sites than this, whose leaf would be a large MIP for a first guess. */
  flowHeuristicMaxSites: 8,
  /** Work units of the Lagrangian search's quick run (no column generation) after which it decides, once, to restart with column generation or to go on. */
  quickLagrangeWork: 1_000,

  // Subgradient ascent on the Lagrangian multipliers (solver/exact/search.ts).
  /** Iterations of the root's ascent: it starts from a rough estimate and its bound prunes the whole tree, so it gets four times a node's. */
  rootIters: 80,
  /** Iterations of every other node's ascent: it starts from its parent's multipliers, close to its own best ones. */
  nodeIters: 20,
  /** Depth (0 = root): in the run with column generation (hard instances only), nodes down to it get longAscentIters, since their subtrees are the large ones. */
  longAscentDepth: 3,
  /** Iterations of those shallow nodes' ascents: nodeIters left their bound short of the Lagrangian dual, and more steps everywhere cost more evaluations than the nodes they saved. */
  longAscentIters: 40,
  /** Fraction: weight of the previous direction in a deflected subgradient step, which damps the zigzag of plain subgradient steps. */
  deflect: 0.5,
  /** Iterations without a better bound after which the ascent halves its step factor. */
  ascentStall: 10,
  /** Fraction: the ascent stops once its step factor has been halved below this (five halvings without progress: the bound has stalled). */
  thetaMin: 1 / 32,
  /** CNY: least distance of the Polyak step's target above the best bound, so steps stay sizeable on small objectives. */
  targetAbs: 10,
  /** Fraction of |best bound|: the Polyak step's target above the best bound (at most the incumbent, which can be far off early on). */
  targetRel: 0.05,
  /** Iterations: the root's ascent tries the relaxation's own choice of open options as a plan this often, to find incumbents while the multipliers improve. */
  rootHeuristicEvery: 10,

  // Column generation on the Dantzig-Wolfe master (solver/exact/search.ts).
  /** Rounds at the root of the restarted run: better root multipliers for a few milliseconds, paid only by the instances the quick run did not settle. */
  cgRounds: 30,
  /** Rounds of the probe at the quick run's budget: the same as the restart's root gets, so the probe sees the bound the restart would start from. */
  cgRoundsProbe: 30,
  /** Rounds without a better bound after which column generation stops. */
  cgStall: 10,
  /** Depth (0 = root): column generation runs at the nodes down to it; at the root its better multipliers are inherited by the whole tree. */
  cgDepth: 0,
  /** Pivots: limit of one master LP (a few dozen rows); a master that hits it ends column generation with the best multipliers so far. */
  cgMasterPivots: 5_000,
  /** Fraction of the root's gap (incumbent - bound): the probe must raise the root bound by more than this for the quick run to restart; 0: any gain restarts (the restart's tree was about half the size then), none goes on (a restart would replay about the same tree). */
  probeGain: 0,

  // Incumbents and branching (solver/exact/search.ts).
  /** Rounds of the root's local search over sets of open options (drop, swap, add one), first improvement each round. */
  improveRoundsRoot: 20,
  /** Rounds of the same local search at a node whose relaxation's choice improved the incumbent: a short polish, since it runs at many nodes. */
  improveRoundsNode: 3,
  /** Sites tried by the local search's "add one" move (those the relaxation finds cheapest to open). */
  addCandidates: 4,
  /** Options tried per site by the local search's "swap" move (the relaxation's cheapest other options). */
  swapCandidates: 3,
  /** LPs a leaf tried as a heuristic gets (the local search's leaves, the relaxation's choice at the root; the search's own leaves have no limit): a guess must not cost a tree. */
  heuristicLeafLps: 40,
  /** LPs the relaxation's choice gets as a leaf below the root, where it is tried at every node (kept apart from heuristicLeafLps to tune them apart). */
  nodeHeuristicLps: 40,
  /** LPs a leaf of the search gets at first; one not finished then waits until the end of the search, when most are cut by the final incumbent. */
  leafFirstLps: 100,
  /** Steps: a FREE site's ambiguity (opened in about half of the ascent's relaxed solutions) is compared in steps of 1/this, ties broken by the bound of its other side. */
  ambiguitySteps: 20,

  // The Lagrangian relaxation (solver/exact/lagrange.ts).
  /** Parcel counts the whole-unit evaluation's window may grow by around the continuous optimum; past it the neighbours' continuous value is taken, a weaker but still valid bound, so an evaluation stays cheap. */
  maxWindow: 4,
  /** Copies of the multipliers in the first chunk that warm-start copies are carved out of (a node makes two or three). */
  saveChunk: 8,
  /** Copies: chunks double up to this size, so a deep search allocates seldom and a small one little. */
  saveChunkMax: 64,

  // LPs of the leaves (solver/exact/leaf.ts, solver/exact/simplex.ts) and flows (solver/exact/flow.ts).
  /** Pivots a child's dual simplex gets before its LP is solved from scratch instead: a warm start needs a few, one that needs many is cheaper anew. */
  dualPivots: 500,
  /** Pivots: limit of an LP solved from scratch (a leaf's, and simplex.ts's default): a safety limit for LPs of a few dozen rows; a leaf LP that reaches it makes the search decline. */
  lpMaxPivots: 20_000,
  /** Degenerate pivots in a row beyond which the primal simplex switches from Dantzig's rule (fast) to Bland's (cannot cycle). */
  blandAfter: 50,
  /** Augmenting paths beyond which a min-cost flow counts as not converging (rounding) and the search declines: a safety limit, far above what a bound's small graph needs. */
  flowMaxPaths: 100_000,
};

/** The table, frozen (its values typed as numbers, not as their literals). */
export const EXACT_TUNING: Readonly<typeof TUNING> = Object.freeze(TUNING);
