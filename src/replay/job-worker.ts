import { parentPort, workerData } from 'node:worker_threads';
import { loadNetworkContext } from '../app.js';
import { loadConfig } from '../config.js';
import { defaultDataDir } from '../network/load.js';
import { loadExactSolver } from '../solve/exact.js';
import { InThreadSolver } from '../solve/pool.js';
import { loadStatusMap, StatusMachine } from '../tracking/status.js';
import { replayPolicy, scenarioEvents, type Policy, type PolicyReport } from './engine.js';
import { hindsightBound } from './hindsight.js';
import type { Scenario } from './scenario.js';

/**
 * Runs one replay job off the service's event loop (a worker thread per job): posts
 * {type: 'progress', policy, done, total} as it goes and {type: 'done', result} or
 * {type: 'error', message} at the end.
 */
const { scenario, policies } = workerData as { scenario: Scenario; policies: Policy[] };

async function run(): Promise<void> {
  const config = loadConfig(process.env, { solverThreads: 0 });
  const net = loadNetworkContext(config);
  const events = scenarioEvents(scenario, [], net);
  const solver = new InThreadSolver(await loadExactSolver(config.solver));
  const machine = new StatusMachine(loadStatusMap(defaultDataDir()));
  const out: Record<string, PolicyReport> = {};
  for (const policy of policies) {
    out[policy] = await replayPolicy(scenario, events, policy, {
      net,
      config,
      solver,
      machine,
      onProgress: (done, total) => parentPort!.postMessage({ type: 'progress', policy, done, total }),
    });
  }
  const hindsight = await hindsightBound(events, net, config, solver, (done, total) => parentPort!.postMessage({ type: 'progress', policy: 'hindsight', done, total }));
  parentPort!.postMessage({ type: 'done', result: { scenario: scenario.name, orders: events.filter((e) => e.type === 'order').length, policies: out, hindsight } });
}

run().catch((err: unknown) => parentPort!.postMessage({ type: 'error', message: err instanceof Error ? err.message : String(err) }));
