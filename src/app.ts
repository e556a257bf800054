import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { Allocator } from './allocate/allocator.js';
import { loadExactSolver } from './solve/exact.js';
import { InThreadSolver, SolverPool, solverThreadsFor, type Solver } from './solve/pool.js';
import { healthRoutes } from './api/health.js';
import { lockRoutes } from './api/locks.js';
import { metricsRoutes } from './api/metrics.js';
import { trackingRoutes } from './api/tracking.js';
import { courierRoutes } from './api/couriers.js';
import { scenarioRoutes } from './api/scenarios.js';
import { ReplayJobs } from './replay/jobs.js';
import { Rerouter } from './allocate/reroute.js';
import { allocateRoutes } from './api/allocate.js';
import { networkRoutes } from './api/network.js';
import { orderRoutes } from './api/orders.js';
import type { Services } from './api/services.js';
import { stockRoutes } from './api/stock.js';
import { stockEventRoutes } from './api/stock-events.js';
import type { Config } from './config.js';
import { DspError, type ErrorCode } from './errors.js';
import { NetworkContext } from './network/context.js';
import { defaultDataDir, loadNetwork, loadRegions } from './network/load.js';
import { WmsPoller } from './tracking/poller.js';
import { loadStatusMap, StatusMachine } from './tracking/status.js';
import { Tracker } from './tracking/tracker.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { MemoryStore } from './store/memory.js';
import { RedisStore } from './store/redis.js';
import { Cluster, Redis } from 'ioredis';
import type { Store } from './store/types.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The state store the service runs on (for operations and tests). */
    dspStore: Store;
    /** The WMS poller when WMS_URL is set. */
    dspWmsPoller: WmsPoller | undefined;
    /** Reroutes around courier capacity gaps; its listeners get every reroute (live map, tests). */
    dspRerouter: Rerouter;
    /** What the route plugins share (the live map and the demo feed attach to it in main.ts). */
    dspServices: Services;
    /** WMS scans, timelines and KPIs; its listeners get every new scan. */
    dspTracker: Tracker;
    /** What-if replay jobs of this instance. */
    dspReplays: ReplayJobs;
  }
}

export interface AppOptions {
  config: Config;
  /** A prepared network (tests share one); loaded from config.dataDir when absent. */
  net?: NetworkContext;
  /** The state store; the embedded in-memory store seeded with the network's stock when absent. */
  store?: Store;
  /** Epoch-ms clock; tests and replays inject one. */
  clock?: () => number;
  logger?: boolean;
}

/** Seed nodes of REDIS_CLUSTER_NODES, parsed (validated by loadConfig). */
function clusterNodes(config: Config): { host: string; port: number }[] {
  return config.redisClusterNodes
    .split(',')
    .map((n) => n.trim())
    .filter((n) => n !== '')
    .map((n) => ({ host: n.slice(0, n.lastIndexOf(':')), port: Number(n.slice(n.lastIndexOf(':') + 1)) }));
}

/**
 * The store named by the configuration: a Redis Cluster when REDIS_CLUSTER_NODES is set, one Redis
 * node when REDIS_URL is set (either seeded with the bundled stock only where Redis has none yet),
 * else the embedded in-memory store with the bundled stock.
 */
async function openStore(config: Config, net: NetworkContext, clock: (() => number) | undefined): Promise<Store> {
  const storeOpts = { claimTimeoutMs: config.claimTimeoutMs, ...(clock ? { clock } : {}) };
  if (config.redisUrl === '' && config.redisClusterNodes === '') return new MemoryStore(net.network.stock, storeOpts);
  // Fail fast instead of queueing while Redis is away: the ERP gets a 503 within the timeout.
  const nodeOpts = { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: config.redisTimeoutMs, connectTimeout: config.redisTimeoutMs };
  const where = config.redisClusterNodes !== '' ? `Redis Cluster ${config.redisClusterNodes}` : `Redis at ${config.redisUrl}`;
  const redis =
    config.redisClusterNodes !== ''
      ? new Cluster(clusterNodes(config), { enableOfflineQueue: false, enableAutoPipelining: true, redisOptions: nodeOpts })
      : new Redis(config.redisUrl, { ...nodeOpts, enableAutoPipelining: true });
  redis.on('error', () => undefined); // reported per request as DSP_STORE_UNAVAILABLE; ioredis reconnects by itself
  await new Promise<void>((resolve, reject) => {
    redis.once('ready', () => resolve());
    redis.once('end', () => reject(new Error(`cannot connect to ${where}`)));
    setTimeout(() => reject(new Error(`${where} not ready within ${config.redisTimeoutMs * 5} ms`)), config.redisTimeoutMs * 5).unref();
  });
  const store = new RedisStore(redis, net.warehouses.map((w) => w.id), storeOpts);
  await store.seed(net.network.stock);
  return store;
}

export function loadNetworkContext(config: Config): NetworkContext {
  const dir = config.dataDir === '' ? undefined : config.dataDir;
  return new NetworkContext(loadNetwork(dir), loadRegions(dir), config);
}

/** Builds the service: one fastify instance, each resource a plugin, one error registry. */
export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  const { config } = opts;
  const net = opts.net ?? loadNetworkContext(config);
  const store = opts.store ?? (await openStore(config, net, opts.clock));
  const exact = await loadExactSolver(config.solver);
  let solver: Solver;
  const threads = solverThreadsFor(config.solverThreads);
  if (threads === 0) {
    const inThread = new InThreadSolver(exact);
    // Before the first order: otherwise the first solves run cold code and miss their deadline.
    inThread.warmUp(config.solverWarmUpRounds);
    solver = inThread;
  } else {
    const pool = new SolverPool({ ...config, solverThreads: threads }, exact);
    // Before the first order: otherwise the first solves on each thread wait for its start-up.
    await pool.warmUp();
    solver = pool;
  }
  const allocator = new Allocator(net, config, store, solver, opts.clock);
  const svc: Services = { net, store, allocator, solver, config, clock: opts.clock ?? Date.now };

  const app = Fastify({
    logger: opts.logger === false ? false : { level: config.logLevel },
    bodyLimit: config.bodyLimitBytes,
    ajv: {
      // Strict input: "5" is not a number and unknown fields are errors, so ERP mistakes surface.
      customOptions: { coerceTypes: false, removeAdditional: false, allErrors: true, useDefaults: true },
    },
  });
  // WMS scans: the status mapping from DATA_DIR when it has one, else the bundled one.
  const dataDir = config.dataDir !== '' && existsSync(join(config.dataDir, 'wms/status-map.json')) ? config.dataDir : defaultDataDir();
  const machine = new StatusMachine(loadStatusMap(dataDir));
  const tracker = new Tracker(store, allocator, machine, config, opts.clock ?? Date.now);
  const rerouter = new Rerouter(net, config, store, allocator.book, machine, opts.clock ?? Date.now);
  const poller = config.wmsUrl !== '' ? new WmsPoller(config.wmsUrl, config.wmsPollMinutes * 60_000, tracker) : undefined;
  app.decorate('dspStore', store);
  app.decorate('dspWmsPoller', poller);
  app.decorate('dspRerouter', rerouter);
  app.decorate('dspServices', svc);
  app.decorate('dspTracker', tracker);
  app.addHook('onReady', async () => poller?.start());
  app.addHook('onClose', async () => {
    await poller?.stop();
    await solver.close();
    await store.close();
  });
  // The API speaks JSON only; a text body is a client mistake worth a clear 415, not a 400.
  app.removeContentTypeParser('text/plain');

  app.setErrorHandler((err: FastifyError, req, reply) => {
    const dsp = toDspError(err);
    if (dsp.status >= 500) req.log.error({ err }, 'request failed');
    void reply.status(dsp.status).send(dsp.toJSON());
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.status(404).send(new DspError('DSP_NOT_FOUND', `no route ${req.method} ${req.url}`).toJSON());
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'dispatchd',
        version: '1',
        description:
          'Real-time dispatch optimisation: which warehouse(s), which courier, what cost, what ETA, and why. Money in CNY, distance in km, weight in kg, times ISO-8601 with offset. Errors: {"error":{"code":"DSP_…","message","details"}} (docs/errors.md).',
      },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  await app.register(healthRoutes(svc));
  await app.register(allocateRoutes(svc));
  await app.register(orderRoutes(svc));
  await app.register(networkRoutes(svc));
  await app.register(stockRoutes(svc));
  await app.register(stockEventRoutes(svc));
  await app.register(lockRoutes(svc));
  await app.register(metricsRoutes(svc));
  await app.register(trackingRoutes(tracker));
  const jobs = new ReplayJobs(opts.clock ?? Date.now);
  app.addHook('onClose', async () => jobs.close());
  app.decorate('dspReplays', jobs);
  await app.register(courierRoutes(svc, rerouter));
  await app.register(scenarioRoutes(svc, jobs));
  return app;
}

/** Maps every error that reaches the handler to a registry code; only real faults become 500. */
function toDspError(err: FastifyError): DspError {
  if (err instanceof DspError) return err;
  if (isRedisUnavailable(err)) return new DspError('DSP_STORE_UNAVAILABLE', `state store unavailable: ${err.message}`);
  if (err.validation) {
    const details = err.validation.map((v) => ({ path: v.instancePath || '/', message: v.message, params: v.params }));
    return new DspError('DSP_VALIDATION', `${err.validationContext ?? 'request'} ${err.message}`, details);
  }
  const byFastifyCode: Record<string, ErrorCode> = {
    FST_ERR_CTP_BODY_TOO_LARGE: 'DSP_BODY_TOO_LARGE',
    FST_ERR_CTP_INVALID_MEDIA_TYPE: 'DSP_UNSUPPORTED_MEDIA_TYPE',
    FST_ERR_CTP_EMPTY_JSON_BODY: 'DSP_BAD_JSON',
    FST_ERR_CTP_INVALID_JSON_BODY: 'DSP_BAD_JSON',
    FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'DSP_VALIDATION',
  };
  const mapped = err.code ? byFastifyCode[err.code] : undefined;
  if (mapped) return new DspError(mapped, err.message);
  if (err instanceof SyntaxError || (err.statusCode === 400 && /JSON/i.test(err.message))) return new DspError('DSP_BAD_JSON', `body is not valid JSON: ${err.message}`);
  if (err.statusCode === 404) return new DspError('DSP_NOT_FOUND', err.message);
  if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) return new DspError('DSP_VALIDATION', err.message);
  return new DspError('DSP_INTERNAL', 'internal error');
}

/** Errors ioredis raises when Redis cannot be reached or does not answer in time. */
function isRedisUnavailable(err: Error): boolean {
  return (
    /Connection is closed|Stream isn't writeable|enableOfflineQueue|Command timed out|ECONNREFUSED|ECONNRESET|max retries per request/i.test(err.message) ||
    err.name === 'MaxRetriesPerRequestError'
  );
}
