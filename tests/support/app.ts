import type { FastifyInstance } from 'fastify';
import { buildApp, loadNetworkContext } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import type { NetworkContext } from '../../src/network/context.js';
import { MemoryStore } from '../../src/store/memory.js';
import type { Store } from '../../src/store/types.js';

/** Double-11, 10:00 in Shanghai: every test decides at the same instant. */
export const FIXED_NOW = Date.parse('2026-11-11T10:00:00+08:00');

let shared: NetworkContext | undefined;
/** The bundled network, loaded once per test file (parsing the region map takes a moment). */
export function network(): NetworkContext {
  shared ??= loadNetworkContext(loadConfig({}));
  return shared;
}

/** A fresh service on the bundled network and a fresh in-memory store. */
export async function testApp<S extends Store = MemoryStore>(
  overrides: Partial<Config> = {},
  storeOf?: (net: NetworkContext) => Promise<S>,
  clock: () => number = () => FIXED_NOW,
): Promise<{ app: FastifyInstance; store: S }> {
  // Solves run in the test's thread unless a test asks for the worker pool (tests/pool.test.ts),
  // with a generous budget: the tests check decisions, and the 20 ms production deadline would
  // make a decision depend on how busy the CI machine is (tests/pool.test.ts and
  // tests/solver.exact.test.ts test the deadline itself).
  const config = loadConfig({}, { solverThreads: 0, solveTimeoutMs: 10_000, solverWarmUpRounds: 0, ...overrides });
  const net = network();
  const store = storeOf ? await storeOf(net) : (new MemoryStore(net.network.stock, { clock }) as unknown as S);
  const app = await buildApp({ config, net, store, clock, logger: false });
  await app.ready();
  return { app, store };
}

/** Places in the network's area (WGS84). */
export const PLACES = {
  shanghaiPeoplesSquare: { lon: 121.4737, lat: 31.2304 },
  suzhouCentre: { lon: 120.5853, lat: 31.2989 },
  hefeiCentre: { lon: 117.2272, lat: 31.8206 },
  eastChinaSea: { lon: 125.5, lat: 29.0 },
};

let seq = 0;
/** A valid allocate request; `over` replaces top-level fields. */
export function order(over: Record<string, unknown> = {}): Record<string, unknown> {
  seq += 1;
  return {
    orderId: `T-${process.pid}-${seq}`,
    customerId: 'C-TEST',
    placedAt: '2026-11-11T09:58:00+08:00',
    promisedBy: '2026-11-12T18:00:00+08:00',
    destination: { ...PLACES.shanghaiPeoplesSquare, address: 'People\'s Square, Huangpu, Shanghai' },
    lines: [{ sku: 'BRK-0001', qty: 4 }],
    ...over,
  };
}
