import type { Config } from '../config.js';
import { loadNetworkContext, type NetworkContext } from '../network/context.js';
import { loadStatusMachine, openSolver } from '../services.js';
import type { Solver } from '../solve/pool.js';
import type { StatusMachine } from '../domain/scan-states.js';

/**
 * What every replay of a process shares, opened as the service opens it (src/services.ts): the
 * network and the WMS status map of DATA_DIR, and one solver in the replay's own thread (warmed
 * up, so the first policy's latency figures do not carry cold code). Each policy then opens its
 * own services on these, with its own store and clock (engine.ts).
 */
export interface ReplayContext {
  net: NetworkContext;
  machine: StatusMachine;
  solver: Solver;
}

export async function openReplayContext(config: Config): Promise<ReplayContext> {
  return {
    net: loadNetworkContext(config),
    machine: loadStatusMachine(config),
    solver: await openSolver({ ...config, solverThreads: 0 }),
  };
}
