import type { Allocator } from '../allocate/allocator.js';
import type { Config } from '../config.js';
import type { Solver } from '../solve/pool.js';
import type { NetworkContext } from '../network/context.js';
import type { Store } from '../store/types.js';

/** What the route plugins need, handed to each explicitly (no global state). */
export interface Services {
  net: NetworkContext;
  store: Store;
  allocator: Allocator;
  solver: Solver;
  config: Config;
  /** Epoch-ms clock of the service (injected by tests and replays). */
  clock: () => number;
}
