import { parentPort, workerData } from 'node:worker_threads';
import type { Config } from '../config.js';
import { CLAIRVOYANT_MIP_MS } from './clairvoyant.js';
import { openReplayContext } from './context.js';
import type { Policy } from './engine.js';
import { runReplay } from './run.js';
import type { Scenario } from './scenario.js';

/**
 * Runs one replay job off the service's event loop (a worker thread per job): posts
 * {type: 'progress', policy, done, total} as it goes and {type: 'done', result} or
 * {type: 'error', message} at the end.
 */
const { scenario, policies, config: serviceConfig } = workerData as { scenario: Scenario; policies: Policy[]; config: Config };

async function run(): Promise<void> {
  const config: Config = Object.freeze({ ...serviceConfig, solverThreads: 0 });
  const { net, solver, machine } = await openReplayContext(config);
  const result = await runReplay(scenario, [], policies, {
    net,
    config,
    solver,
    machine,
    hindsight: true,
    // The whole-stream model when the scenario asks for it (the API bounds its size).
    clairvoyantModel: scenario.clairvoyant ? { mipTimeLimitMs: CLAIRVOYANT_MIP_MS, lateDayWeight: 0 } : null,
    onProgress: (policy, done, total) => parentPort!.postMessage({ type: 'progress', policy, done, total }),
  });
  parentPort!.postMessage({ type: 'done', result });
}

run().catch((err: unknown) => parentPort!.postMessage({ type: 'error', message: err instanceof Error ? err.message : String(err) }));
