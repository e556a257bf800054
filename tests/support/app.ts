import type { FastifyInstance, InjectOptions } from 'fastify';
import { Redis } from 'ioredis';
import { buildApp } from '../../src/app.js';
import { loadNetworkContext } from '../../src/network/context.js';
import { loadConfig, type Config } from '../../src/config.js';
import type { NetworkContext } from '../../src/network/context.js';
import { MemoryStore } from '../../src/store/memory.js';
import { RedisStore } from '../../src/store/redis.js';
import type { Store } from '../../src/store/types.js';

/** Double-11, 10:00 in Shanghai: every test decides at the same instant. */
export const FIXED_NOW = Date.parse('2026-11-11T10:00:00+08:00');

/**
 * Test apps run with real API keys: this configured key holds every role, and testApp's inject
 * sends it unless a request sets its own X-API-Key (tests/api/auth.test.ts tests the refusals).
 * Rate limits are set out of reach for the same reason (tests/api/rate-limit.test.ts tests them).
 */
export const TEST_KEY_SECRET = 'test-secret-0123456789abcdefghijklmnopqrstuv';
export const TEST_KEY = `test-all.${TEST_KEY_SECRET}`;
export const TEST_AUTH_CONFIG: Partial<Config> = {
  apiKeys: `test-all:erp+dispatcher+planner+admin+metrics:${TEST_KEY_SECRET}`,
  rateLimitPerKey: 100_000_000,
  rateLimitPerAddress: 100_000_000,
};

const rawInjects = new WeakMap<FastifyInstance, FastifyInstance['inject']>();

/** Makes app.inject send `key` as X-API-Key by default (a request's own X-API-Key wins). */
export function withKey(app: FastifyInstance, key: string = TEST_KEY): FastifyInstance {
  const raw = rawInjects.get(app) ?? app.inject.bind(app);
  rawInjects.set(app, raw);
  const inject = (opts?: InjectOptions | string) => {
    if (opts === undefined) return raw();
    const o: InjectOptions = typeof opts === 'string' ? { url: opts } : opts;
    return raw({ ...o, headers: { 'x-api-key': key, ...(o.headers ?? {}) } });
  };
  app.inject = inject as FastifyInstance['inject'];
  return app;
}

/** The app's own inject, without a default key (for tests of refusals). */
export function injectRaw(app: FastifyInstance, opts: InjectOptions | string) {
  const raw = rawInjects.get(app) ?? app.inject.bind(app);
  return raw(typeof opts === 'string' ? { url: opts } : opts);
}

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
  // Solves run in the test's thread unless a test asks for the worker pool (tests/solver/pool.test.ts),
  // with a generous budget: the tests check decisions, and the 20 ms production deadline would
  // make a decision depend on how busy the CI machine is (tests/solver/pool.test.ts and
  // tests/solver/exact.test.ts test the deadline itself).
  const config = loadConfig({}, { solverThreads: 0, solveTimeoutMs: 10_000, solverWarmUpRounds: 0, ...TEST_AUTH_CONFIG, ...overrides });
  const net = network();
  const store = storeOf ? await storeOf(net) : (new MemoryStore(net.network.stock, { clock }) as unknown as S);
  const app = await buildApp({ config, net, store, clock, logger: false });
  await app.ready();
  return { app: withKey(app), store };
}

/**
 * A testApp `storeOf` for a Redis store on the given client, seeded with the network's bundled
 * stock (without lots) unless `seed` is false; on the given clock when one is passed.
 */
export function seededRedisStore(redis: ConstructorParameters<typeof RedisStore>[0], opts: { clock?: () => number; seed?: boolean } = {}) {
  return async (net: NetworkContext): Promise<RedisStore> => {
    const s = new RedisStore(redis, net.warehouses.map((w) => w.id), opts.clock ? { clock: opts.clock } : {});
    if (opts.seed !== false) await s.seed(net.network.stock);
    return s;
  };
}

/** A test app on the emptied Redis at `url`, seeded with the bundled stock, its store on the test's clock; and the client it uses. */
export async function redisTestApp(url: string, clock: () => number): Promise<{ app: FastifyInstance; store: RedisStore; redis: Redis }> {
  const redis = new Redis(url);
  await redis.flushall();
  const { app, store } = await testApp({}, seededRedisStore(redis, { clock }), clock);
  return { app, store, redis };
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
