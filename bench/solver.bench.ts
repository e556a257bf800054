/**
 * Solver micro benchmark (tinybench): the product's exact path (HiGHS on solver/mip.ts), the
 * javascript-lp-solver path on the same MIP, and the greedy fallback, on the same seeded
 * instances per size class (lines 1/3/10 x warehouses 5/17, 4 couriers). The "lp wrong" column
 * counts javascript-lp-solver answers that failed verification or missed HiGHS's optimum.
 *
 *   npx tsx bench/solver.bench.ts [--instances 20] [--time 1000]
 */
import { Bench } from 'tinybench';
import { solveGreedy } from '../solver/greedy.js';
import { solveLp } from '../solver/lp.js';
import { MipFailure } from '../solver/mip.js';
import type { Problem } from '../solver/types.js';
import { loadExactSolver } from '../src/solve/exact.js';
import { generateProblem } from '../tests/support/instances.js';
import { flag, machine } from './util.js';

export async function runSolverBench(opts: { instances: number; timeMs: number }) {
  const highs = await loadExactSolver('highs');
  const rows: Record<string, string | number>[] = [];
  for (const lines of [1, 3, 10]) {
    for (const sites of [5, 17]) {
      const problems: Problem[] = Array.from({ length: opts.instances }, (_, i) => generateProblem(10_000 + i * 7 + lines * 1000 + sites, { lines, sites, couriers: 4 }));
      const optimum = problems.map((p) => highs(p, { timeoutMs: 60_000 }).plan.objective);
      const counters = { highs: 0, lp: 0, greedy: 0 };
      let lpWrong = 0;
      let greedyGap = 0;
      const next = (k: keyof typeof counters) => counters[k]++ % problems.length;
      const bench = new Bench({ time: opts.timeMs, warmupIterations: 2 });
      bench
        .add('highs (exact path)', () => {
          highs(problems[next('highs')]!, { timeoutMs: 60_000 });
        })
        .add('javascript-lp-solver', () => {
          const i = next('lp');
          try {
            const r = solveLp(problems[i]!, { timeoutMs: 2_000 });
            if (Math.abs(r.plan.objective - optimum[i]!) > 1e-6 * Math.max(1, Math.abs(optimum[i]!))) lpWrong++;
          } catch (e) {
            if (!(e instanceof MipFailure)) throw e;
            lpWrong++;
          }
        })
        .add('greedy', () => {
          const i = next('greedy');
          greedyGap += solveGreedy(problems[i]!).objective / optimum[i]! - 1;
        });
      await bench.run();
      for (const t of bench.tasks) {
        const r = t.result as { latency?: { p50?: number; p99?: number; mean?: number } } | undefined;
        const n = counters[t.name.startsWith('highs') ? 'highs' : t.name.startsWith('java') ? 'lp' : 'greedy'];
        rows.push({
          lines,
          warehouses: sites,
          solver: t.name,
          runs: n,
          'p50 µs': Math.round((r?.latency?.p50 ?? NaN) * 1000),
          'p99 µs': Math.round((r?.latency?.p99 ?? NaN) * 1000),
          'mean µs': Math.round((r?.latency?.mean ?? NaN) * 1000),
          note: t.name === 'javascript-lp-solver' ? `${lpWrong} wrong or failed of ${n}` : t.name === 'greedy' ? `mean ${((greedyGap / Math.max(1, n)) * 100).toFixed(1)} % above optimum` : 'optimum',
        });
      }
    }
  }
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = await runSolverBench({ instances: Number(flag('instances', '20')), timeMs: Number(flag('time', '1000')) });
  console.log(`# solver micro benchmark, ${machine()}`);
  console.table(rows);
}
