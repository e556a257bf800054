/**
 * Differential test of the product's exact path (the MIP of solver/mip.ts after the reductions of
 * solver/reduce.ts: `loadExactSolver('exact')`, what the service runs: the specialised search of
 * solver/exact, and HiGHS for the instances it declines) against
 * the independent reference model (tests/reference/highs-model.ts, written separately from the
 * spec in solver/types.ts, with its own bounds, rows and decoding, and itself checked against
 * brute-force enumeration in tests/solver/reference.test.ts; both now use per-(arc, option) unit
 * variables, so HiGHS is the one part they share),
 * on 500 seeded instances of realistic size (1–10 lines, 5–17 sites, 4 couriers).
 *
 * For every instance the product's plan must pass the independent checker (every rule of the
 * spec, and its stated objective must be its cost), the solver must claim optimality, and the
 * plan's cost must equal HiGHS's proven optimum within 1e-6 relative (on a max(1, |obj|) scale).
 * All mismatches are collected and printed with their seeds before the assertion, so one run
 * shows every failing instance.
 *
 * Replaying: DIFF_SEEDS=20240933,20240677 npx vitest run tests/solver/diff.test.ts runs exactly
 * those seeds (an instance depends on its seed alone); DIFF_BASE_SEED and DIFF_COUNT move or
 * shrink the default range.
 */
import { describe, expect, it } from 'vitest';
import type { Problem, SolveResult } from '../../solver/types.js';
import { loadExactSolver } from '../../src/solve/exact.js';
import { solveWithHighs } from '../reference/highs-model.js';
import { chunkTests, type Mismatch } from '../support/chunks.js';
import { checkPlan, close } from '../support/check-plan.js';
import { problemForSeed, seedsFromEnv, withOpenShipments } from '../support/instances.js';

const SEEDS: number[] = seedsFromEnv('DIFF', 20240501, 500);

/**
 * Instances that also offer open shipments to join (issue 21, item 1: withOpenShipments), so the
 * solvers meet sites with no base rate, one pool shared by two sites of one warehouse and kg caps
 * for the room left. By default 15 small ones (seeds ≡ 1 mod 4: 1–3 lines, 5–7 sites), to keep CI
 * fast; OPEN_COUNT=100 runs consecutive seeds of every shape (0 mismatches on 2026-12-06, 365 s on
 * a loaded 2-core machine), OPEN_SEEDS=... replays given ones.
 */
const OPEN_SEEDS: number[] =
  process.env.OPEN_SEEDS !== undefined || process.env.OPEN_COUNT !== undefined ? seedsFromEnv('OPEN', 20261206, 100) : Array.from({ length: 15 }, (_, i) => 20261209 + 4 * i);

/**
 * Instances per test. Chunks keep each test well inside its timeout on a 2-core machine (the
 * HiGHS reference alone takes up to ~15 s on the hardest instance) and report progress.
 */
const CHUNK = 50;

/**
 * The product solver gets a generous time budget, so that this test measures whether its answers
 * are right rather than whether it is fast: the reference needs under 5 s on all but one of the
 * default instances and ~15 s on the hardest (seed 20240663, four tight kg caps and 2.5M CNY of
 * backorders). A solver that runs out of time must say so (optimal: false), which is reported
 * as a mismatch.
 */
const PRODUCT_TIMEOUT_MS = 60_000;

/**
 * Per-chunk test timeout. Typical chunks take well under a minute; this only stops a hung
 * solver, and leaves room for a few instances that use the whole budget.
 */
const CHUNK_TIMEOUT_MS = 30 * 60_000;

/**
 * The agreed tolerance: 1e-6 relative on a max(1, |objective|) scale. Backorders at 10,000 CNY a
 * unit make that scale large (2.5 CNY on a 2.5M CNY objective), so differences above 0.0001 CNY
 * that stay within it are printed as near misses: with two-decimal data every objective lies on
 * a 0.0001 CNY grid, and an exact solver should hit the optimum to within rounding noise.
 */
const NEAR_MISS_CNY = 1e-4;

const product = loadExactSolver('exact');
const allMismatches: Mismatch[] = [];
const nearMisses: string[] = [];
const timings = { highsMs: [] as number[], productMs: [] as number[] };

async function compare(seed: number, make: (seed: number) => Problem = problemForSeed): Promise<Mismatch[]> {
  const problem: Problem = make(seed);
  const out: Mismatch[] = [];
  const ref = await solveWithHighs(problem);
  timings.highsMs.push(ref.ms);
  if (ref.status !== 'Optimal') return [{ seed, reason: `reference HiGHS status ${ref.status} (reference problem, not product)` }];

  // The product receives a copy, so that a solver that mutates its input is caught rather than
  // silently changing the instance that the reference and the checker see.
  const input = structuredClone(problem);
  let result: SolveResult;
  const t0 = performance.now();
  try {
    result = (await product)(input, { timeoutMs: PRODUCT_TIMEOUT_MS });
  } catch (error) {
    return [{ seed, reason: `product solver threw: ${error instanceof Error ? error.message : String(error)}` }];
  }
  timings.productMs.push(performance.now() - t0);

  if (JSON.stringify(input) !== JSON.stringify(problem)) out.push({ seed, reason: 'product solver mutated its input problem' });
  if (!result.optimal) out.push({ seed, reason: `product solver did not claim optimality (${result.fallbackReason ?? 'no reason given'})` });
  const checked = checkPlan(problem, result.plan);
  if (!checked.ok) out.push({ seed, reason: `infeasible or inconsistent plan: ${checked.errors.join('; ')}` });
  if (!close(checked.objective, ref.objective)) {
    const direction = checked.objective < ref.objective ? 'BELOW the reference optimum (suspect the reference or the checker)' : 'above the optimum';
    out.push({ seed, reason: `objective ${checked.objective} vs HiGHS ${ref.objective}: ${direction}` });
  } else if (Math.abs(checked.objective - ref.objective) > NEAR_MISS_CNY) {
    nearMisses.push(`seed ${seed}: objective ${checked.objective} vs HiGHS ${ref.objective} (within tolerance)`);
  }
  return out;
}

describe(`the exact path against the reference model on ${SEEDS.length} seeded instances`, () => {
  chunkTests(SEEDS, CHUNK, CHUNK_TIMEOUT_MS, compare, allMismatches);

  it('has no mismatch overall (seeds listed for replay)', () => {
    const q = (xs: number[], f: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(f * xs.length))] ?? Number.NaN;
    console.log(
      `HiGHS ms median ${q(timings.highsMs, 0.5).toFixed(1)} max ${Math.max(...timings.highsMs).toFixed(1)}; ` +
        `product ms median ${q(timings.productMs, 0.5).toFixed(1)} max ${Math.max(...timings.productMs).toFixed(1)}`,
    );
    if (nearMisses.length > 0) console.log(`near misses (${nearMisses.length}):\n${nearMisses.join('\n')}`);
    const seeds = [...new Set(allMismatches.map((m) => m.seed))];
    if (seeds.length > 0) console.log(`mismatching seeds (${seeds.length}): DIFF_SEEDS=${seeds.join(',')}`);
    expect(seeds).toEqual([]);
  });
});

describe(`the exact path against the reference model on ${OPEN_SEEDS.length} instances with open shipments to join`, () => {
  const mismatches: Mismatch[] = [];
  chunkTests(OPEN_SEEDS, CHUNK, CHUNK_TIMEOUT_MS, (seed) => compare(seed, (s) => withOpenShipments(problemForSeed(s), s)), mismatches);

  it('has no mismatch overall (seeds listed for replay)', () => {
    const seeds = [...new Set(mismatches.map((m) => m.seed))];
    if (seeds.length > 0) console.log(`mismatching open-shipment seeds (${seeds.length}): OPEN_SEEDS=${seeds.join(',')}`);
    expect(seeds).toEqual([]);
  });
});
