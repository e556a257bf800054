/**
 * Solver micro benchmark (tinybench): the product's MIP path (javascript-lp-solver, verified),
 * HiGHS on the independently written reference model, and the greedy fallback, on the same
 * seeded instances per size class (lines 1/3/10 x warehouses 5/17, 4 couriers).
 *
 *   npx tsx bench/solver.bench.ts [--instances 20] [--time 1500]
 */
import { Bench } from 'tinybench';
import { solveGreedy } from '../solver/greedy.js';
import { LpFailure, solveLp } from '../solver/lp.js';
import { solveWithHighs } from '../tests/reference/highs-model.js';
import { generateProblem } from '../tests/support/instances.js';
import { flag, machine } from './util.js';

export async function runSolverBench(opts: { instances: number; timeMs: number }) {
  const rows: Record<string, string | number>[] = [];
  for (const lines of [1, 3, 10]) {
    for (const sites of [5, 17]) {
      const problems = Array.from({ length: opts.instances }, (_, i) => generateProblem(10_000 + i * 7 + lines * 1000 + sites, { lines, sites, couriers: 4 }));
      let i = 0;
      let j = 0;
      let k = 0;
      let lpFailures = 0;
      const bench = new Bench({ time: opts.timeMs, warmupIterations: 3 });
      bench
        .add('lp (javascript-lp-solver)', () => {
          try {
            solveLp(problems[i++ % problems.length]!, { timeoutMs: 5_000 });
          } catch (e) {
            if (!(e instanceof LpFailure)) throw e;
            lpFailures++;
          }
        })
        .add('highs (reference)', async () => {
          await solveWithHighs(problems[j++ % problems.length]!);
        })
        .add('greedy', () => {
          solveGreedy(problems[k++ % problems.length]!);
        });
      await bench.run();
      for (const t of bench.tasks) {
        const r = t.result as { latency?: { p50?: number; p99?: number; mean?: number }; throughput?: { mean?: number } } | undefined;
        rows.push({
          lines,
          warehouses: sites,
          solver: t.name,
          'p50 µs': Math.round((r?.latency?.p50 ?? NaN) * 1000),
          'p99 µs': Math.round((r?.latency?.p99 ?? NaN) * 1000),
          'mean µs': Math.round((r?.latency?.mean ?? NaN) * 1000),
          ...(t.name.startsWith('lp') ? { 'lp failures': lpFailures } : {}),
        });
      }
    }
  }
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = await runSolverBench({ instances: Number(flag('instances', '20')), timeMs: Number(flag('time', '1500')) });
  console.log(`# solver micro benchmark, ${machine()}`);
  console.table(rows);
}
