/**
 * The composition root: the one place that builds the service's objects, in one order, and
 * closes them in the reverse order. The HTTP service (app.ts), the CLI (main.ts), what-if replays
 * (one set of services per policy, each on its own store and clock), the live map's standalone
 * mode and the benches all open their services here, so a process holds exactly the objects it
 * asked for: one allocator per service, one in-flight map, one set of listeners that metrics, the
 * live map and the demo feed all see.
 *
 * Order: network -> store -> solver (warmed up before the first order) -> status machine ->
 * allocator (with its courier book) -> tracker -> rerouter -> reoptimizer and its job -> WMS poller and action outbox (built,
 * started by the HTTP service once it listens). The live map is attached by the HTTP layer (it needs the HTTP
 * server) and uses these same objects.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster, Redis } from 'ioredis';
import { Allocator } from './allocate/allocator.js';
import { Rerouter } from './allocate/reroute.js';
import { Reoptimizer } from './allocate/reoptimize.js';
import { ReoptimizeJob } from './allocate/reoptimize-job.js';
import { CourierBook } from './couriers/book.js';
import type { Config } from './config.js';
import { loadNetworkContext, type NetworkContext } from './network/context.js';
import { defaultDataDir, loadStatusMap } from './network/load.js';
import { loadExactSolver, loadHighs } from './solve/exact.js';
import { ShadowPrices } from './pricing/job.js';
import { PriceLpThread } from './pricing/thread.js';
import { solvePriceLp } from '../solver/prices.js';
import { InThreadSolver, SolverPool, solverThreadsFor, type Solver } from './solve/pool.js';
import { stockWithLots } from './network/lots.js';
import { localDay } from './domain/time.js';
import { MemoryStore } from './store/memory.js';
import { RedisStore } from './store/redis.js';
import type { Store } from './store/types.js';
import { WmsPoller } from './tracking/poller.js';
import { StatusMachine } from './domain/scan-states.js';
import { Tracker } from './tracking/tracker.js';
import type { ActionSink } from './domain/actions.js';
import { Outbox } from './outbox/outbox.js';
import { RuleEngine } from './rules/engine.js';
import { RulesRepo } from './rules/repo.js';

export interface Services {
  readonly config: Config;
  /** Epoch-ms clock of the service (injected by tests and replays). */
  readonly clock: () => number;
  readonly net: NetworkContext;
  readonly store: Store;
  readonly solver: Solver;
  /** WMS raw codes -> business states (DATA_DIR's status map when it has one). */
  readonly machine: StatusMachine;
  readonly allocator: Allocator;
  /** WMS scans, timelines and KPIs; its listeners get every new scan. */
  readonly tracker: Tracker;
  /** Reroutes around courier capacity gaps; its listeners get every reroute. */
  readonly rerouter: Rerouter;
  /** Re-solves shipments not yet picked up and moves those that save enough (docs/reoptimize.md); its listeners get every move. */
  readonly reoptimizer: Reoptimizer;
  /** Runs the reoptimizer every REOPTIMIZE_INTERVAL_MS on one instance at a time (started by whoever serves, like the poller). */
  readonly reoptimizeJob: ReoptimizeJob;
  /** Business-rule versions in the store and the engine the allocator runs them on (docs/rules.md). */
  readonly rules: RulesRepo;
  /** The WMS feed poller when WMS_URL is set (started by whoever serves; replays never start it). */
  readonly poller: WmsPoller | undefined;
  /** The action outbox and its delivery worker (started by whoever serves, like the poller). */
  readonly outbox: Outbox;
  /** Shadow prices of scarce capacity (policy optimized; refreshed by its timer, or by a replay in stream time). */
  readonly prices: ShadowPrices | undefined;
  /** Where the rules hand the actions of a decision: the outbox (src/domain/actions.ts is the contract). */
  readonly actions: ActionSink;
  /** Closes what was opened here, in reverse order (the store even when it was handed in). */
  close(): Promise<void>;
}

/** Parts a caller brings instead of having them built (tests, replays, benches). */
export interface ServiceOverrides {
  /** A prepared network (tests and replays share one). */
  net?: NetworkContext;
  /** The state store; by default the one the configuration names. It is closed with the services. */
  store?: Store;
  clock?: () => number;
  /** A solver shared between several sets of services (replays); it is not closed with them. */
  solver?: Solver;
  /** A status machine shared between several sets of services (replays). */
  machine?: StatusMachine;
  /**
   * Keep the running KPI counters of GET /v1/kpi (default true). What-if replays count their own
   * KPIs and turn them off.
   */
  runningKpis?: boolean;
  /** False: no business rules run (what-if replays compare dispatch policies, not rules). Default true. */
  rules?: boolean;
  /** Where the rules' outbound actions go (the outbox); none: actions are only listed in the decisions. */
  actions?: ActionSink;
  /**
   * Refresh the shadow prices on a PRICES_REFRESH_MS timer (default true). A replay refreshes
   * them itself in simulated time (ShadowPrices.refreshIfDue) and turns the timer off.
   */
  pricesTimer?: boolean;
}

/** HiGHS for the shadow prices solved in this thread: loaded once per process (a replay opens services per policy). */
let pricingHighs: ReturnType<typeof loadHighs> | undefined;

/** Builds the service's objects (see the module comment for the order). */
export async function openServices(config: Config, overrides: ServiceOverrides = {}): Promise<Services> {
  const clock = overrides.clock ?? Date.now;
  const net = overrides.net ?? loadNetworkContext(config);
  const store = overrides.store ?? (await openStore(config, net, overrides.clock));
  const ownSolver = overrides.solver === undefined;
  let solver: Solver;
  try {
    solver = overrides.solver ?? (await openSolver(config));
  } catch (err) {
    await store.close();
    throw err;
  }
  const machine = overrides.machine ?? loadStatusMachine(config);
  const engine = new RuleEngine();
  const rules = new RulesRepo(store, engine, net, clock, config.timezoneOffsetMinutes);
  if (overrides.rules !== false) {
    try {
      // A fresh store starts with the bundled rules in force; every instance then follows the store.
      if (config.rulesDir !== 'off') await rules.seedBundled(config.rulesDir !== '' ? config.rulesDir : join(defaultDataDir(), 'rules'));
      await rules.reload();
    } catch (err) {
      if (ownSolver) await solver.close();
      await store.close();
      throw err;
    }
    rules.start(config.rulesPollMs);
  }
  // The rules' actions go to the outbox (delivered by its worker where the service serves), unless
  // the caller gives its own sink.
  const outbox = new Outbox(store, config, clock);
  const actions = overrides.actions ?? outbox;
  const book = new CourierBook(net, store, clock);
  const closed = new Set<string>();
  // Shadow prices only where decisions use them (policy optimized): the other policies compare without.
  // The service solves the price LP in a thread of its own (a refresh would otherwise hold the
  // event loop for up to seconds); a replay, whose clock stops while it refreshes, in this thread.
  let priceThread: PriceLpThread | undefined;
  let prices: ShadowPrices | undefined;
  if (config.policy === 'optimized') {
    if (overrides.pricesTimer !== false) priceThread = new PriceLpThread();
    const highs = priceThread === undefined ? await (pricingHighs ??= loadHighs()) : undefined;
    prices = new ShadowPrices(net, config, store, book, priceThread?.solve ?? (async (lp) => solvePriceLp(highs!, lp)), clock, closed);
  }
  const allocator = new Allocator(net, config, store, solver, clock, book, {
    ...(overrides.rules !== false ? { rules: engine } : {}),
    actions,
    ...(prices !== undefined ? { prices } : {}),
  }, closed);
  if (prices !== undefined && overrides.pricesTimer !== false) prices.start();
  const tracker = new Tracker(store, allocator, machine, config, clock);
  const rerouter = new Rerouter(net, config, store, allocator.book, machine, clock);
  const reoptimizer = new Reoptimizer(net, config, store, allocator, machine, clock, actions);
  const reoptimizeJob = new ReoptimizeJob(store, reoptimizer, config);
  if (overrides.runningKpis !== false) {
    // Every change of an order replaces its share of the running KPI counters (src/tracking/kpi.ts).
    allocator.listeners.push((_d, _stats, stored) => tracker.noteDecision(stored));
    allocator.changed.push((orderId) => tracker.noteChange(orderId));
    tracker.listeners.push((orderId) => tracker.noteChange(orderId));
    rerouter.listeners.push((orderId) => tracker.noteChange(orderId));
    reoptimizer.listeners.push((orderId) => tracker.noteChange(orderId));
  }
  const poller = config.wmsUrl !== '' ? new WmsPoller(config.wmsUrl, config.wmsPollMinutes * 60_000, tracker) : undefined;
  let done = false;
  return {
    config,
    clock,
    net,
    store,
    solver,
    machine,
    allocator,
    tracker,
    rerouter,
    reoptimizer,
    reoptimizeJob,
    poller,
    outbox,
    actions,
    rules,
    prices,
    async close() {
      if (done) return;
      done = true;
      rules.stop();
      await prices?.stop();
      await priceThread?.close();
      await poller?.stop();
      rerouter.stopRecovery();
      // A round in progress finishes its current move and the lease is given up before the store closes.
      await reoptimizeJob.stop();
      // Deliveries in progress finish and are recorded before the store closes.
      await outbox.stop();
      if (ownSolver) await solver.close();
      await store.close();
    },
  };
}

/** WMS scans: the status mapping from DATA_DIR when it has one, else the bundled one. */
export function loadStatusMachine(config: Pick<Config, 'dataDir'>): StatusMachine {
  const dir = config.dataDir !== '' && existsSync(join(config.dataDir, 'wms/status-map.json')) ? config.dataDir : defaultDataDir();
  return new StatusMachine(loadStatusMap(dir));
}

/**
 * The solver SOLVER and SOLVER_THREADS name, warmed up before the first order: otherwise the
 * first solves run cold code (in the request thread) or wait for a thread's start-up (in the
 * pool) and miss their deadline.
 */
export async function openSolver(config: Config): Promise<Solver> {
  const exact = await loadExactSolver(config.solver);
  const threads = solverThreadsFor(config.solverThreads);
  if (threads === 0) {
    const inThread = new InThreadSolver(exact);
    inThread.warmUp(config.solverWarmUpRounds);
    return inThread;
  }
  const pool = new SolverPool({ ...config, solverThreads: threads }, exact);
  await pool.warmUp();
  return pool;
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
export async function openStore(config: Config, net: NetworkContext, clock: (() => number) | undefined): Promise<Store> {
  const storeOpts = {
    claimTimeoutMs: config.claimTimeoutMs,
    outboxMinReplicas: config.outboxMinReplicas,
    replicaWaitMs: config.redisTimeoutMs,
    orderRetentionMs: config.orderRetentionDays * 86_400_000,
    eventRetentionMs: config.eventRetentionDays * 86_400_000,
    ...(clock ? { clock } : {}),
  };
  // Shelf-life SKUs' bundled stock is split into lots (src/network/lots.ts), dated from the day the
  // store is opened: the bundled counts are a snapshot "as of now", and lots dated from a fixed day
  // went stale (a demo started weeks later found a fifth of its shelf-life stock written off).
  const seed = stockWithLots(net.network, localDay((clock ?? Date.now)(), config.timezoneOffsetMinutes));
  if (config.redisUrl === '' && config.redisClusterNodes === '') return new MemoryStore(seed, storeOpts);
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
  await store.seed(seed);
  // What an earlier outage, or an instance that died, left reserved without a decision is given
  // back now rather than at its expiry; then periodically (and after every outage, by the store).
  await store.recover();
  store.startRecovery(config.recoveryIntervalMs);
  return store;
}
