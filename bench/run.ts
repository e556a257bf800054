/**
 * `npm run bench`: every benchmark in one run, printed as tables for bench/README.md and the
 * issue note. Micro (tinybench) first, then the demo-stream decision latency, then the HTTP load
 * (autocannon against the built service and a bare fastify; `npm run bench` builds first). The
 * solvers run both on generated instances per size class and on the problems the demo day poses.
 */
import { runAllocateStream } from './allocate-stream.js';
import { runHttpLoad } from './http-load.js';
import { runSolverBench } from './solver.bench.js';
import { runStreamSolverBench } from './stream-solver.js';
import { machine } from './util.js';

console.log(`# dispatchd benchmarks, ${machine()}`);
console.log('\n## solver per size class (same seeded instances for every solver)');
console.table(await runSolverBench({ instances: 20, timeMs: 1_000 }));
const stream = await runStreamSolverBench({ stride: 2 });
console.log(`\n## solvers on ${stream.problems} of the problems the Double-11 demo day poses to the exact solver (every second one) (lines p50 ${stream.linesP50}, max ${stream.linesMax}), µs`);
console.table(stream.rows);
for (const profile of ['normal', 'double11'] as const) {
  const r = await runAllocateStream({ profile, seed: 1 });
  console.log(`\n## decision latency, demo stream ${profile}: ${r.orders} orders in ${r.wallS.toFixed(1)} s, errors ${r.errors}, ${JSON.stringify(r.statuses)}`);
  console.table(r.rows);
}

const http = await runHttpLoad({ seconds: 10, connections: 50, rate: 1_000 });
console.log(
  `\n## HTTP load: at saturation (50 connections) dispatchd reaches ${(http.ratio * 100).toFixed(1)} % of bare fastify; at 1,000 req/s offered its p99 is ${http.p99GapMs} ms above bare (responses of ${http.responseBytes} bytes)`,
);
console.table(http.rows);
console.table(http.modes);
