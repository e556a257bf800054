/**
 * A year of orders replayed under one policy (issue 16): `npx tsx bench/replay-year.ts
 * [--days 365] [--policy optimized] [--orders 420000] [--profile cpu.cpuprofile]`.
 *
 * The seeded demo stream at the customer's yearly volume (420,000 orders a year: the normal
 * profile's 800 a day × 1.438), weekly replenishment to the bundled stock, no hindsight. Prints
 * wall time, orders per second and the process's resident memory every 30 days and at the end:
 * memory must stay flat (the engine streams the events and forgets each order once counted).
 */
import { Session } from 'node:inspector/promises';
import { writeFileSync } from 'node:fs';
import { loadConfig } from '../src/config.js';
import { loadNetworkContext } from '../src/network/context.js';
import { defaultDataDir, loadStatusMap } from '../src/network/load.js';
import { replayPolicy, scenarioEventStream, type Policy } from '../src/replay/engine.js';
import type { Scenario } from '../src/replay/scenario.js';
import { loadExactSolver } from '../src/solve/exact.js';
import { InThreadSolver } from '../src/solve/pool.js';
import { StatusMachine } from '../src/domain/scan-states.js';
import { flag, machine } from './util.js';

const days = Number(flag('days', '365'));
const policy = (flag('policy', 'optimized') ?? 'optimized') as Policy;
const yearly = Number(flag('orders', '420000'));
const profileOut = flag('profile');

const config = loadConfig({}, { solverThreads: 0 });
const net = loadNetworkContext(config);
const scenario: Scenario = {
  name: `a year at ${yearly} orders`,
  generator: { seed: 1, profile: 'normal', startDate: '2026-01-01', days },
  overrides: { demandFactor: yearly / (800 * 365), replenishEveryDays: 7 },
};
const solver = new InThreadSolver(await loadExactSolver(config.solver));
const machineStatus = new StatusMachine(loadStatusMap(defaultDataDir()));
const stream = scenarioEventStream(scenario, [], net);
const mb = () => Math.round(process.memoryUsage().rss / 2 ** 20);
// With --expose-gc (node --expose-gc --import tsx bench/replay-year.ts) each sample also gives the
// live heap after a full collection: what the replay really holds, apart from V8's growth policy.
const gc = (globalThis as { gc?: () => void }).gc;
const heap = () => {
  if (!gc) return '';
  gc();
  return `, live heap ${Math.round(process.memoryUsage().heapUsed / 2 ** 20)} MB`;
};
let session: Session | undefined;
if (profileOut) {
  session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
}
console.log(`${machine()}; ${days} days, about ${stream.expectedOrders} orders, policy ${policy}; RSS at start ${mb()} MB`);
const t0 = performance.now();
let nextMark = 0;
const rss: number[] = [];
const r = await replayPolicy(scenario, stream, policy, {
  net,
  config,
  solver,
  machine: machineStatus,
  onProgress: (done) => {
    if (done < nextMark) return;
    nextMark = done + Math.round((yearly / 365) * 30);
    rss.push(mb());
    console.log(`  ${String(done).padStart(7)} orders  ${((performance.now() - t0) / 1000).toFixed(1).padStart(6)} s  RSS ${mb()} MB${heap()}`);
  },
});
const s = (performance.now() - t0) / 1000;
if (session) {
  const { profile } = await session.post('Profiler.stop');
  writeFileSync(profileOut!, JSON.stringify(profile));
}
console.log(`${r.orders} orders in ${s.toFixed(1)} s (${Math.round(r.orders / s)} orders/s, warm-up pass included); RSS peak sample ${Math.max(...rss, mb())} MB, end ${mb()} MB`);
console.log(`on time ${(r.onTimeRate * 100).toFixed(1)} %, money ${r.costPerOrder} CNY/order, penalties ${r.penaltyPerOrder}, backordered units ${r.backorderedUnits}, decision µs p50 ${r.decisionMicrosP50} p99 ${r.decisionMicrosP99}`);
