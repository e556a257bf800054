import highsModule from 'highs';
import { exactChain, solveSteps, type Backend, type ExactSolver } from '../../solver/chain.js';

// The package's declarations read as CommonJS under NodeNext while Node loads its ESM build,
// whose default export is the loader itself: accept both shapes.
type Loader = typeof highsModule.default;
/** Loads HiGHS's WebAssembly module (tens of ms): the exact backend's and the shadow prices' (src/pricing). */
export const loadHighs: Loader = typeof highsModule === 'function' ? (highsModule as unknown as Loader) : highsModule.default;

/**
 * The exact part of the solve chain (solver/chain.ts) for the backend SOLVER names, ready to
 * call: HiGHS's WebAssembly module is loaded here, once (tens of ms), when the backend needs it:
 *   - exact (default): the specialised search (solver/exact), which proves the optimum of small and
 *     mid-size orders in microseconds to milliseconds and declines, after a bounded amount of work,
 *     what it cannot prove; HiGHS then solves those within the time left;
 *   - highs: HiGHS alone;
 *   - lp: javascript-lp-solver (kept selectable; measured unreliable, see docs/architecture.md).
 */
export async function loadExactSolver(kind: Backend): Promise<ExactSolver> {
  return exactChain(solveSteps(kind, kind === 'lp' ? undefined : await loadHighs()));
}
