/**
 * Solver micro benchmark (tinybench): the service's exact path (the specialised search of
 * solver/exact, HiGHS when it declines), the specialised search alone at a 20 ms deadline, HiGHS
 * alone (solver/mip.ts), javascript-lp-solver on the same MIP, and the greedy fallback, on the same seeded
 * instances per size class (lines 1/3/10 x warehouses 5/17, 4 couriers). The "lp wrong" column
 * counts javascript-lp-solver answers that failed verification or missed HiGHS's optimum.
 *
 *   npx tsx bench/solver.bench.ts [--instances 20] [--time 1000]
 */
import { Bench } from 'tinybench';
import { solveGreedy } from '../solver/greedy.js';
import { solveLp } from '../solver/lp.js';
import { MipFailure } from '../solver/mip.js';
import { solveExact } from '../solver/exact/index.js';
import type { Problem } from '../solver/types.js';
import { loadExactSolver } from '../src/solve/exact.js';
import { generateProblem } from '../tests/support/instances.js';
import { flag, machine } from './util.js';

export async function runSolverBench(opts: { instances: number; timeMs: number }) {
  const highs = await loadExactSolver('highs');
  const composite = await loadExactSolver('exact');
  const rows: Record<string, string | number>[] = [];
  for (const lines of [1, 3, 10]) {
    for (const sites of [5, 17]) {
      const problems: Problem[] = Array.from({ length: opts.instances }, (_, i) => generateProblem(10_000 + i * 7 + lines * 1000 + sites, { lines, sites, couriers: 4 }));
      const optimum = problems.map((p) => highs(p, { timeoutMs: 60_000 }).plan.objective);
      const counters = { exact: 0, specialised: 0, highs: 0, lp: 0, greedy: 0 };
      let lpWrong = 0;
      let declined = 0;
      let exactWrong = 0;
      let greedyGap = 0;
      const next = (k: keyof typeof counters) => counters[k]++ % problems.length;
      // At least one pass over the instances per solver (tinybench's default minimum is 64 runs,
      // which costs minutes on the slow references), then as many as fit in timeMs.
      const bench = new Bench({ time: opts.timeMs, warmupIterations: 2, iterations: opts.instances });
      bench
        .add('exact (the service: specialised search, HiGHS when it declines)', () => {
          const i = next('exact');
          const r = composite(problems[i]!, { timeoutMs: 60_000 });
          if (!r.optimal || Math.abs(r.plan.objective - optimum[i]!) > 1e-6 * Math.max(1, Math.abs(optimum[i]!))) exactWrong++;
        })
        .add('specialised search alone (20 ms deadline)', () => {
          const i = next('specialised');
          if (!solveExact(problems[i]!, { timeoutMs: 20 }).optimal) declined++;
        })
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
        const key = t.name.startsWith('exact') ? 'exact' : t.name.startsWith('specialised') ? 'specialised' : t.name.startsWith('highs') ? 'highs' : t.name.startsWith('java') ? 'lp' : 'greedy';
        const n = counters[key];
        rows.push({
          lines,
          warehouses: sites,
          solver: t.name,
          runs: n,
          'p50 µs': Math.round((r?.latency?.p50 ?? NaN) * 1000),
          'p99 µs': Math.round((r?.latency?.p99 ?? NaN) * 1000),
          'mean µs': Math.round((r?.latency?.mean ?? NaN) * 1000),
          note:
            key === 'lp'
              ? `${lpWrong} wrong or failed of ${n}`
              : key === 'greedy'
                ? `mean ${((greedyGap / Math.max(1, n)) * 100).toFixed(1)} % above optimum`
                : key === 'specialised'
                  ? `${declined} of ${n} not proven (declined or deadline)`
                  : key === 'exact'
                    ? `${exactWrong} not optimal of ${n}`
                    : 'optimum',
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
