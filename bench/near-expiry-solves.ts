/**
 * What the near-expiry credit costs the exact solver, on the problems the service poses: the seeded
 * Double-11 day is decided through the real pipeline on the bundled network with stock x100 (as
 * bench/allocate-cpu.ts, lots on), and every problem that reaches the exact solver and has a
 * near-expiry pool is kept. Each kept problem is then solved as posed, and again with the credit
 * taken off (every arc of a line with near-expiry stock that draws on fresher stock carries
 * NEAR_EXPIRY_CREDIT_CNY per unit, src/allocate/stages/lots.ts: it is subtracted again), the same
 * pools, arcs and options otherwise. Time to a proven optimum (no deadline), µs per solve, and the
 * search's nodes. Both variants alternate over `--reps` passes after two passes of warm-up; the
 * figures are the median pass.
 *
 *   npx tsx bench/near-expiry-solves.ts [--reps 5]
 */
import { loadConfig } from '../src/config.js';
import { generateOrders } from '../src/demo/orders.js';
import { loadNetworkContext } from '../src/network/context.js';
import { openServices } from '../src/services.js';
import { loadExactSolver } from '../src/solve/exact.js';
import { InThreadSolver } from '../src/solve/pool.js';
import { solveExact } from '../solver/exact/index.js';
import type { Problem } from '../solver/types.js';
import { scaledDataDir } from './http-load.js';
import { flag, machine } from './util.js';

/** The suffix Pools.of gives a near-expiry pool's id (src/allocate/stages/context.ts). */
const NEAR = '/near-expiry';

/** The day's exact problems with a near-expiry pool, and the credit they were built with. */
async function nearExpiryProblems(): Promise<{ problems: Problem[]; creditCny: number }> {
  const config = loadConfig({ DATA_DIR: scaledDataDir(100), LOG_LEVEL: 'warn' });
  const net = loadNetworkContext(config);
  const orders = generateOrders(net.network, net.regionsGeoJson, { seed: 1, profile: 'double11', date: '2026-11-11' });
  const exact = await loadExactSolver('exact');
  const kept: Problem[] = [];
  let now = Date.parse(orders[0]!.placedAt);
  const capture = new InThreadSolver((p, o) => {
    if (p.pools.some((pool) => pool.id.endsWith(NEAR))) kept.push(structuredClone(p));
    return exact(p, { timeoutMs: Math.max(o.timeoutMs, 2_000) });
  });
  const svc = await openServices(config, { net, solver: capture, clock: () => now });
  for (const o of orders) {
    now = Date.parse(o.placedAt);
    await svc.allocator.allocate(o);
  }
  await svc.close();
  return { problems: kept, creditCny: config.nearExpiryCreditCny };
}

/** The problem with the near-expiry credit taken off the arcs that carry it. */
function withoutCredit(p: Problem, creditCny: number): Problem {
  const q = structuredClone(p);
  const near = (pool: number) => q.pools[pool]!.id.endsWith(NEAR);
  const lines = new Set(q.arcs.filter((a) => near(a.pool)).map((a) => a.line));
  for (const a of q.arcs) if (lines.has(a.line) && !near(a.pool)) a.unitCost = Math.max(0, a.unitCost - creditCny);
  return q;
}

const reps = Number(flag('reps', '5'));
const { problems, creditCny } = await nearExpiryProblems();
const variants: [string, Problem[]][] = [
  ['as posed (credit on)', problems],
  ['credit taken off', problems.map((p) => withoutCredit(p, creditCny))],
];
/** Per variant, per pass: each problem's µs and nodes. */
const passes = new Map<string, { us: number[]; nodes: number[] }[]>(variants.map(([name]) => [name, []]));
for (let pass = 0; pass < reps + 2; pass++) {
  for (const [name, ps] of variants) {
    const us: number[] = [];
    const nodes: number[] = [];
    for (const p of ps) {
      const t0 = performance.now();
      const r = solveExact(p, { timeoutMs: 60_000 });
      us.push((performance.now() - t0) * 1_000);
      nodes.push(r.stats.nodes);
    }
    if (pass >= 2) passes.get(name)!.push({ us, nodes });
  }
}
const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const quant = (xs: readonly number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;
console.log(`# near-expiry credit (${creditCny} CNY per unit) and the exact solver: ${problems.length} problems of the Double-11 day (stock x100) with a near-expiry pool; ${machine()}`);
console.table(
  variants.map(([name]) => {
    // The pass with the median mean, so one slow pass of a noisy machine does not set the figures.
    const ps = [...passes.get(name)!].sort((a, b) => mean(a.us) - mean(b.us));
    const m = ps[ps.length >> 1]!;
    return {
      variant: name,
      'mean µs': Math.round(mean(m.us)),
      'p25 µs': Math.round(quant(m.us, 0.25)),
      'median µs': Math.round(quant(m.us, 0.5)),
      'p75 µs': Math.round(quant(m.us, 0.75)),
      'solved at the root (1 node)': m.nodes.filter((n) => n <= 1).length,
      'nodes per solve': Number(mean(m.nodes).toFixed(1)),
    };
  }),
);
