/**
 * The clairvoyant (whole-stream) hindsight model of a day (issue 16): `npx tsx bench/hindsight.ts
 * [--profile double11] [--seed 1] [--mip-ms 40000] [--late-day-cny 0]`.
 *
 * Builds the seeded demo day (3,500 orders for double11) as one model (src/replay/clairvoyant.ts)
 * and prints the model's size, the seconds of each stage (candidates, LP bound, time-limited
 * MIP) and the figures; the target is the whole of it within 60 s on this machine. The
 * per-order Lagrangian bound (src/replay/hindsight.ts) is timed in the same run as the baseline.
 */
import { cpus, loadavg } from 'node:os';
import { loadConfig } from '../src/config.js';
import { loadNetworkContext } from '../src/network/context.js';
import { clairvoyant } from '../src/replay/clairvoyant.js';
import { scenarioEvents } from '../src/replay/engine.js';
import { hindsightBound } from '../src/replay/hindsight.js';
import type { Scenario } from '../src/replay/scenario.js';
import { loadExactSolver } from '../src/solve/exact.js';
import { InThreadSolver } from '../src/solve/pool.js';
import { flag, machine } from './util.js';

const profile = (flag('profile', 'double11') ?? 'double11') as 'double11' | 'normal';
const config = loadConfig({}, { solverThreads: 0 });
const net = loadNetworkContext(config);
const scenario: Scenario = { name: `${profile} day`, generator: { seed: Number(flag('seed', '1')), profile, startDate: '2026-11-11', days: 1 } };
const solver = new InThreadSolver(await loadExactSolver(config.solver));
const events = scenarioEvents(scenario, [], net);
console.log(machine());
console.log(`${events.filter((e) => e.type === 'order').length} orders (${profile}, seed ${flag('seed', '1')})`);

const t0 = performance.now();
const r = await clairvoyant(scenario, events, net, config, solver, { mipTimeLimitMs: Number(flag('mip-ms', '40000')), lateDayWeight: Number(flag('late-day-cny', '0')) });
const wall = (performance.now() - t0) / 1_000;
const { plans: _plans, inputs: _inputs, ...report } = r;
console.log(JSON.stringify(report, null, 2));
console.log(`clairvoyant model: ${wall.toFixed(1)} s wall (candidates ${r.seconds.candidates} s, LP bound ${r.seconds.lp} s, plan LP + MIP ${r.seconds.mip} s), ${r.seconds.cpu} s CPU; load average ${loadavg().map((x) => x.toFixed(1)).join(' ')} on ${cpus().length} cores`);

const t1 = performance.now();
const c1 = process.cpuUsage();
const perOrder = await hindsightBound(events, net, config, solver);
const c = process.cpuUsage(c1);
console.log(`baseline, per-order hindsight bound: ${((performance.now() - t1) / 1_000).toFixed(1)} s wall, ${((c.user + c.system) / 1e6).toFixed(1)} s CPU, money of its plans ${perOrder.moneyPerOrder} CNY per order`);
