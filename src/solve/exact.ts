import highsModule from 'highs';
import { solveHighs } from '../../solver/highs.js';
import { solveLp } from '../../solver/lp.js';
import type { ExactSolver } from '../../solver/solve.js';

// The package's declarations read as CommonJS under NodeNext while Node loads its ESM build,
// whose default export is the loader itself: accept both shapes.
type Loader = typeof highsModule.default;
const loadHighs: Loader = typeof highsModule === 'function' ? (highsModule as unknown as Loader) : highsModule.default;

/**
 * The exact backend named by config.solver, ready to call: HiGHS needs its WebAssembly module
 * loaded once (tens of ms) at start-up; javascript-lp-solver needs nothing.
 */
export async function loadExactSolver(kind: string): Promise<ExactSolver> {
  if (kind === 'lp') return solveLp;
  const highs = await loadHighs();
  return (p, opts) => solveHighs(highs, p, opts);
}
