/**
 * The solvers on the problems the service actually poses: the seeded Double-11 demo day is decided
 * through the real pipeline (candidates, radius lock, reservations) and every problem that reaches
 * the exact solver is kept; then each kept problem is solved, one call at a time, by the service's
 * exact path (no deadline, so that the time to a proven optimum is measured), by the specialised
 * search alone with the service's deadline, and by HiGHS alone (the reference optimum). Times are
 * µs per solve; "not optimal" counts answers that missed HiGHS's optimum or gave no proof.
 *
 *   npx tsx bench/stream-solver.ts [--count N] [--stride K]
 */
import { openServices } from '../src/services.js';
import { loadNetworkContext } from '../src/network/context.js';
import { loadConfig } from '../src/config.js';
import { generateOrders } from '../src/demo/orders.js';
import { loadExactSolver } from '../src/solve/exact.js';
import { InThreadSolver } from '../src/solve/pool.js';
import { MemoryStore } from '../src/store/memory.js';
import { solveExact } from '../solver/exact/index.js';
import type { Problem } from '../solver/types.js';
import { flag, machine, quantiles } from './util.js';

/** The problems the exact solver receives over the seeded Double-11 day, in order. */
export async function streamProblems(count?: number): Promise<Problem[]> {
  const config = loadConfig({});
  const net = loadNetworkContext(config);
  const orders = generateOrders(net.network, net.regionsGeoJson, { seed: 1, profile: 'double11', date: '2026-11-11', ...(count !== undefined ? { count } : {}) });
  const store = new MemoryStore(net.network.stock);
  const exact = await loadExactSolver('exact');
  const kept: Problem[] = [];
  let now = 0;
  const capture = new InThreadSolver((p, o) => {
    kept.push(structuredClone(p));
    return exact(p, { timeoutMs: Math.max(o.timeoutMs, 2_000) });
  });
  const { allocator } = await openServices(config, { net, store, solver: capture, clock: () => now });
  for (const o of orders) {
    now = Date.parse(o.placedAt);
    await allocator.allocate(o);
  }
  return kept;
}

const close = (a: number, b: number) => Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(b));

export async function runStreamSolverBench(opts: { count?: number; stride?: number } = {}) {
  // Every stride-th problem (npm run bench takes every second one to stay within its time).
  const problems = (await streamProblems(opts.count)).filter((_, i) => i % (opts.stride ?? 1) === 0);
  const deadlineMs = loadConfig({}).solveTimeoutMs;
  const composite = await loadExactSolver('exact');
  const highs = await loadExactSolver('highs');
  // Warm-up: JIT both paths on a slice before timing.
  for (const p of problems.slice(0, 50)) {
    composite(p, { timeoutMs: 60_000 });
    highs(p, { timeoutMs: 60_000 });
  }
  const times = { exact: [] as number[], specialised: [] as number[], highs: [] as number[] };
  let exactNotOptimal = 0;
  let specialisedUnproven = 0;
  let specialisedWrong = 0;
  for (const p of problems) {
    let t = performance.now();
    const ref = highs(p, { timeoutMs: 60_000 });
    times.highs.push((performance.now() - t) * 1_000);
    t = performance.now();
    const r = composite(p, { timeoutMs: 60_000 });
    times.exact.push((performance.now() - t) * 1_000);
    if (!r.optimal || !ref.optimal || !close(r.plan.objective, ref.plan.objective)) exactNotOptimal++;
    t = performance.now();
    const s = solveExact(p, { timeoutMs: deadlineMs });
    times.specialised.push((performance.now() - t) * 1_000);
    if (!s.optimal) specialisedUnproven++;
    else if (ref.optimal && !close(s.plan.objective, ref.plan.objective)) specialisedWrong++;
  }
  const shapes = problems.map((p) => p.lines.length);
  return {
    problems: problems.length,
    linesP50: quantiles(shapes).p50,
    linesMax: quantiles(shapes).max,
    rows: [
      { solver: 'exact (service path, no deadline)', ...quantiles(times.exact), note: `${exactNotOptimal} not optimal` },
      { solver: `specialised search alone (${deadlineMs} ms deadline)`, ...quantiles(times.specialised), note: `${specialisedUnproven} unproven, ${specialisedWrong} wrong` },
      { solver: 'HiGHS alone', ...quantiles(times.highs), note: 'reference optimum' },
    ],
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const count = flag('count');
  const r = await runStreamSolverBench({ stride: Number(flag('stride', '1')), ...(count !== undefined ? { count: Number(count) } : {}) });
  console.log(`# solvers on the Double-11 demo day's ${r.problems} exact problems (lines p50 ${r.linesP50}, max ${r.linesMax}); ${machine()}`);
  console.table(r.rows.map((x) => ({ solver: x.solver, 'p50 µs': x.p50, 'p90 µs': x.p90, 'p99 µs': x.p99, 'max µs': x.max, note: x.note })));
}
