import highsModule from 'highs';
import { solveHighs } from '../../solver/highs.js';
import { solveLp } from '../../solver/lp.js';
import { solveExact } from '../../solver/exact/index.js';
import type { ExactSolver } from '../../solver/solve.js';

// The package's declarations read as CommonJS under NodeNext while Node loads its ESM build,
// whose default export is the loader itself: accept both shapes.
type Loader = typeof highsModule.default;
const loadHighs: Loader = typeof highsModule === 'function' ? (highsModule as unknown as Loader) : highsModule.default;

/**
 * The exact backend named by config.solver, ready to call:
 *   - exact (default): the specialised search (solver/exact), which proves the optimum of small and
 *     mid-size orders in microseconds to milliseconds and declines, after a bounded amount of work,
 *     what it cannot prove; HiGHS then solves those within the time left;
 *   - highs: HiGHS alone (its WebAssembly module loaded once, tens of ms, at start-up);
 *   - lp: javascript-lp-solver (kept selectable; measured unreliable, see docs/architecture.md).
 */
export async function loadExactSolver(kind: string): Promise<ExactSolver> {
  if (kind === 'lp') return solveLp;
  const highs = await loadHighs();
  const viaHighs: ExactSolver = (p, opts) => solveHighs(highs, p, opts);
  if (kind === 'highs') return viaHighs;
  return (p, opts) => {
    const t0 = performance.now();
    const deadlineAt = t0 + opts.timeoutMs;
    const first = solveExact(p, { timeoutMs: opts.timeoutMs, deadlineAt });
    if (first.optimal || !first.fallbackReason?.startsWith('exact search declined')) return first;
    const left = deadlineAt - performance.now();
    if (left <= 0) return first;
    const second = viaHighs(p, { timeoutMs: left });
    const micros = (performance.now() - t0) * 1_000;
    // Keep whichever plan is better when neither is proven; report the whole time spent.
    const best = second.optimal || second.plan.objective <= first.plan.objective ? second : first;
    return { ...best, stats: { ...best.stats, micros, nodes: first.stats.nodes + second.stats.nodes } };
  };
}
