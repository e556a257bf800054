/**
 * One validated, frozen configuration object (design: "Examples to follow" #10).
 * Every value has a default, a unit and a validation; `loadConfig` reads them from the environment
 * (names in `ENV` below) and throws `ConfigError` naming every bad variable at once.
 * The table is also rendered into README.md's configuration section.
 */
import { webhookProblems } from './domain/webhooks.js';

interface Spec {
  env: string;
  unit: string;
  default: number | string;
  /** enum: one of `values` (the Config type is then their union). */
  kind: 'int' | 'number' | 'string' | 'enum';
  min?: number;
  max?: number;
  values?: readonly string[];
  describe: string;
}

export const CONFIG_SPEC = {
  host: { env: 'HOST', unit: 'address', default: '127.0.0.1', kind: 'string', describe: 'Interface the HTTP server binds to: loopback by default, so a service started by hand is not reachable from the network; the Docker image sets 0.0.0.0' },
  port: { env: 'PORT', unit: 'TCP port', default: 8080, kind: 'int', min: 0, max: 65535, describe: 'HTTP port' },
  dataDir: { env: 'DATA_DIR', unit: 'path', default: '', kind: 'string', describe: 'Network data directory; empty = the bundled data/' },
  redisUrl: { env: 'REDIS_URL', unit: 'redis:// URL', default: '', kind: 'string', describe: 'Shared state on one Redis node; empty = the embedded in-memory store' },
  redisClusterNodes: { env: 'REDIS_CLUSTER_NODES', unit: 'host:port list', default: '', kind: 'string', describe: 'Shared state on a Redis Cluster: comma-separated seed nodes (host:port,host:port); wins over REDIS_URL' },
  redisTimeoutMs: { env: 'REDIS_TIMEOUT_MS', unit: 'ms', default: 1_000, kind: 'int', min: 10, max: 60_000, describe: 'Longest wait for one Redis command before the request answers 503 DSP_STORE_UNAVAILABLE' },
  radiusLockFactor: { env: 'RADIUS_LOCK_FACTOR', unit: 'x ordered qty', default: 1.2, kind: 'number', min: 1, max: 10, describe: 'Free stock needed at an in-radius warehouse, as a multiple of every ordered quantity, for the radius lock' },
  detourFactor: { env: 'DETOUR_FACTOR', unit: 'road km / great-circle km', default: 1.3, kind: 'number', min: 1, max: 3, describe: 'Default road-km estimate factor (per-corridor overrides in data/geo/corridors.json)' },
  splitPenaltyCny: { env: 'SPLIT_PENALTY_CNY', unit: 'CNY per extra shipment', default: 6, kind: 'number', min: 0, max: 10_000, describe: 'Money penalty for each shipment beyond the first' },
  mergeMinOrders: { env: 'MERGE_MIN_ORDERS', unit: 'orders', default: 3, kind: 'int', min: 2, max: 100, describe: 'Orders of one customer to one normalised address on one waybill (the first order and those that joined its open shipment) from which they count as a merged group: a master and its child orders (docs/cost-model.md, open shipments)' },
  mergeWindowMinutes: { env: 'MERGE_WINDOW_MINUTES', unit: 'minutes', default: 15, kind: 'number', min: 0, max: 1_440, describe: "An open shipment (not picked up yet) is offered to the same customer's later orders to the same address placed within this long after its first order; 0 = never (no joining, no merging)" },
  latenessCnyPerHour: { env: 'LATENESS_CNY_PER_HOUR', unit: 'CNY per hour late', default: 1.5, kind: 'number', min: 0, max: 10_000, describe: 'Penalty per hour of ETA beyond the promised time' },
  holdingRatePerYear: { env: 'HOLDING_RATE_PER_YEAR', unit: 'fraction of unit price per year', default: 0.25, kind: 'number', min: 0, max: 5, describe: 'Storage occupation cost: price x rate / 365 per unit-day while stock waits' },
  transferHandlingCnyPerUnit: { env: 'TRANSFER_HANDLING_CNY_PER_UNIT', unit: 'CNY per unit', default: 0.5, kind: 'number', min: 0, max: 1_000, describe: 'Handling cost per unit moved between warehouses by line haul (on top of the lane per-kg rate)' },
  backorderPenaltyCny: { env: 'BACKORDER_PENALTY_CNY', unit: 'CNY per unit', default: 10_000, kind: 'number', min: 1, max: 1e7, describe: 'Internal penalty per unit not supplied; large so that supplying wins whenever possible (never reported as cost)' },
  maxTransferSources: { env: 'MAX_TRANSFER_SOURCES', unit: 'warehouses per line and site', default: 2, kind: 'int', min: 0, max: 17, describe: 'Line-haul transfer sources considered per (site, line): the cheapest N' },
  capacityHorizonDays: { env: 'CAPACITY_HORIZON_DAYS', unit: 'days', default: 3, kind: 'int', min: 1, max: 14, describe: 'Days (today included) on whose collection waves an order may ship when a warehouse or courier is full today; 1 = today only' },
  pricesRefreshMs: { env: 'PRICES_REFRESH_MS', unit: 'ms', default: 900_000, kind: 'int', min: 1_000, max: 86_400_000, describe: 'How often the shadow prices of scarce stock and capacity are recomputed (policy optimized; HiGHS LP over the expected rest of the day, off the request path; replays in simulated time). Decisions use the last prices of the day, none before the first' },
  nearExpiryCreditCny: { env: 'NEAR_EXPIRY_CREDIT_CNY', unit: 'CNY per unit (decision weight)', default: 2, kind: 'number', min: 0, max: 10_000, describe: 'Decision weight, never reported as money: per unit of a shelf-life SKU, how much cheaper the optimiser counts a near-expiry lot (last sellable day within NEAR_EXPIRY_WINDOW_DAYS) than fresher stock, so that stock that would otherwise be written off ships first across warehouses (docs/cost-model.md); 0 = off' },
  nearExpiryWindowDays: { env: 'NEAR_EXPIRY_WINDOW_DAYS', unit: 'days', default: 30, kind: 'int', min: 0, max: 3_650, describe: 'A lot is near expiry when its last sellable day (expiry minus the SKU\'s minimum remaining shelf life) is at most this many days away' },
  lotPickOrder: { env: 'LOT_PICK_ORDER', unit: 'name', default: 'fefo', kind: 'enum', values: ['fefo', 'latest-expiry-first'], describe: 'Which eligible lots a warehouse picks first: fefo (earliest expiry first) or latest-expiry-first (the freshest first, as a picker takes the newest pallet at the front; for what-if comparisons of write-offs, bench/lots-writeoff.ts)' },
  minShelfLifeOverrides: { env: 'MIN_SHELF_LIFE_OVERRIDES', unit: 'customerId=days list', default: '', kind: 'string', describe: 'Per-customer minimum remaining shelf life at delivery, days, comma-separated customerId=days entries: replaces the catalogue\'s minRemainingShelfLifeDays of every shelf-life SKU for that customer; empty = the catalogue\'s' },
  solver: { env: 'SOLVER', unit: 'name', default: 'exact', kind: 'enum', values: ['exact', 'highs', 'lp'], describe: 'Exact backend: exact (the specialised search, HiGHS for what it declines), highs (HiGHS, WebAssembly) or lp (javascript-lp-solver)' },
  solveTimeoutMs: { env: 'SOLVE_TIMEOUT_MS', unit: 'ms', default: 20, kind: 'int', min: 1, max: 60_000, describe: 'Time budget of each exact solve; past it the best plan found so far (or the greedy plan) answers as mode "fallback"' },
  replaySolveTimeoutMs: { env: 'REPLAY_SOLVE_TIMEOUT_MS', unit: 'ms', default: 2_000, kind: 'int', min: 1, max: 600_000, describe: 'Time budget of each exact solve inside a what-if replay (no ERP waits; a generous budget keeps replays reproducible across machines)' },
  replayClairvoyantMaxOrders: { env: 'REPLAY_CLAIRVOYANT_MAX_ORDERS', unit: 'orders', default: 5_000, kind: 'int', min: 0, max: 50_000, describe: 'Largest replay job over the API that may ask for the clairvoyant model (`clairvoyant: true`): one HiGHS model of the whole stream, about a minute and 1-2 GB for a 3,500-order day; beyond, 422 DSP_REPLAY_TOO_LARGE; 0 refuses it always (the CLI has no limit)' },
  replayMaxOrderDecisions: { env: 'REPLAY_MAX_ORDER_DECISIONS', unit: 'orders x policies', default: 500_000, kind: 'int', min: 1_000, max: 100_000_000, describe: 'Largest replay job accepted over the API: its orders (inline, or generated: days x the profile\'s daily orders x demand factor) times its policies (+1 for the hindsight); beyond, 422 DSP_REPLAY_TOO_LARGE (the CLI has no limit)' },
  replayMemoryMb: { env: 'REPLAY_MEMORY_MB', unit: 'MiB', default: 1_024, kind: 'int', min: 16, max: 65_536, describe: 'Heap budget of a replay job\'s worker thread; a job that needs more fails with a message instead of taking the machine' },
  replayRetentionMinutes: { env: 'REPLAY_RETENTION_MINUTES', unit: 'minutes', default: 1_440, kind: 'int', min: 1, max: 525_600, describe: 'A finished, failed or cancelled replay job (and its report) is forgotten this long after it ended' },
  replayMaxKept: { env: 'REPLAY_MAX_KEPT', unit: 'jobs', default: 50, kind: 'int', min: 1, max: 10_000, describe: 'Ended replay jobs kept at most; the oldest are forgotten first' },
  reservationTtlMinutes: { env: 'RESERVATION_TTL_MINUTES', unit: 'minutes', default: 2_880, kind: 'int', min: 1, max: 43_200, describe: 'An unshipped reservation expires by itself after this long and its stock and capacity return' },
  orderRetentionDays: { env: 'ORDER_RETENTION_DAYS', unit: 'days', default: 7, kind: 'number', min: 0.001, max: 3_650, describe: 'An order (decision, allocation idempotency record, scans, reroutes, its share of the KPIs) is dropped this long after its reservation ends at the latest (RESERVATION_TTL_MINUTES after the decision; at once for a backordered one): embedded store by pruning, Redis by TTLs; an open reservation is never dropped. An ended customer lock is dropped this long after its expiry' },
  eventRetentionDays: { env: 'EVENT_RETENTION_DAYS', unit: 'days', default: 7, kind: 'number', min: 0.001, max: 3_650, describe: 'A stock event id that was applied is remembered this long: a repeat within it answers "duplicate", later it applies again' },
  idempotencyRetentionHours: { env: 'IDEMPOTENCY_RETENTION_HOURS', unit: 'hours', default: 24, kind: 'number', min: 0.01, max: 8_760, describe: 'A lock Idempotency-Key is remembered this long (with its customer and request body); a retry within it answers the same lock' },
  claimTimeoutMs: { env: 'CLAIM_TIMEOUT_MS', unit: 'ms', default: 10_000, kind: 'int', min: 1_000, max: 600_000, describe: 'An allocation that claimed an order but stored no decision within this time is abandoned; a retry takes the order over (Redis store)' },
  recoveryIntervalMs: { env: 'RECOVERY_INTERVAL_MS', unit: 'ms', default: 30_000, kind: 'int', min: 1_000, max: 3_600_000, describe: 'How often the recovery pass runs (besides at start-up and whenever Redis answers again): it gives back what allocations left reserved without a stored decision past CLAIM_TIMEOUT_MS, and finishes interrupted cancels and shipments (Redis store); it also completes or rolls back courier reroutes left half done past REROUTE_RECOVERY_GRACE_MS' },
  rerouteRecoveryGraceMs: { env: 'REROUTE_RECOVERY_GRACE_MS', unit: 'ms', default: 120_000, kind: 'int', min: 1_000, max: 3_600_000, describe: 'A courier reroute of a waybill writes an intent before its first capacity move and deletes it after its last step (a move takes milliseconds); an intent this old was left by an instance that died or lost the store midway, and the recovery pass (every RECOVERY_INTERVAL_MS and before every capacity cut) completes it or gives its capacity back. Also how long one instance holds its claim on such an intent' },
  solverThreads: { env: 'SOLVER_THREADS', unit: 'threads', default: -1, kind: 'int', min: -1, max: 64, describe: 'Solver worker threads: -1 = auto (none on a machine of 2 cores or fewer: solves run in the request thread; else one per core), 0 = solve in the request thread, N = N threads' },
  solveQueueMax: { env: 'SOLVE_QUEUE_MAX', unit: 'solves', default: 256, kind: 'int', min: 0, max: 100_000, describe: 'Solves that may wait for a solver thread; beyond, requests answer 503 DSP_OVERLOADED at once' },
  poolMinWork: { env: 'POOL_MIN_WORK', unit: 'arcs + shipment options', default: 40, kind: 'int', min: 0, max: 1_000_000, describe: 'Problems smaller than this are solved in the request thread (a worker round trip would cost more)' },
  solverWarmUpRounds: { env: 'SOLVER_WARM_UP_ROUNDS', unit: 'rounds', default: 20, kind: 'int', min: 0, max: 10_000, describe: 'Before the service listens, the request-thread solver runs the exact search on two small warm-up orders this many times each, so that the first real orders run compiled code (0 = no warm-up)' },
  solveGraceMs: { env: 'SOLVE_GRACE_MS', unit: 'ms', default: 50, kind: 'int', min: 1, max: 60_000, describe: 'How long past its deadline a pooled solve may take before the greedy plan answers and the thread is replaced' },
  maxInflightDecisions: { env: 'MAX_INFLIGHT_DECISIONS', unit: 'decisions', default: 2_048, kind: 'int', min: 1, max: 1_000_000, describe: 'Allocations in progress at once per instance; beyond, requests answer 503 DSP_OVERLOADED' },
  wmsUrl: { env: 'WMS_URL', unit: 'http(s) URL', default: '', kind: 'string', describe: 'WMS event feed to poll (GET <url>?since=<cursor>); empty = no poller, events come by POST /v1/wms/events' },
  wmsPollMinutes: { env: 'WMS_POLL_MINUTES', unit: 'minutes', default: 3, kind: 'number', min: 0.001, max: 1_440, describe: 'How often the WMS feed is polled' },
  wmsMaxClockSkewMinutes: { env: 'WMS_MAX_CLOCK_SKEW_MINUTES', unit: 'minutes', default: 5, kind: 'number', min: 0, max: 1_440, describe: 'A scan timestamped further than this in the future is rejected' },
  staleTrackingHours: { env: 'STALE_TRACKING_HOURS', unit: 'hours', default: 6, kind: 'number', min: 0.1, max: 720, describe: 'An undelivered order with no tracking event for this long counts as stale tracking' },
  quoteMaxAgeHours: { env: 'QUOTE_MAX_AGE_HOURS', unit: 'hours', default: 24, kind: 'number', min: 0.01, max: 8_760, describe: 'A courier quote older than this is flagged QUOTE_STALE in the decisions that use it' },
  reoptimizeIntervalMs: { env: 'REOPTIMIZE_INTERVAL_MS', unit: 'ms', default: 300_000, kind: 'int', min: 0, max: 86_400_000, describe: 'How often the re-optimisation job re-solves the shipments not yet picked up and moves those whose saving passes REOPTIMIZE_MIN_SAVING_CNY (docs/reoptimize.md); 0 = off; else at least 1000 (the schedule counts whole seconds); one instance at a time runs it when several share Redis' },
  reoptimizeMinSavingCny: { env: 'REOPTIMIZE_MIN_SAVING_CNY', unit: 'CNY per moved shipment', default: 2, kind: 'number', min: 0, max: 10_000, describe: 'A re-optimised order moves only when its money saving (freight + line haul paid out, no penalties) is at least this much per shipment of its old plan, and its new plan is no later than the old one' },
  reoptimizeLeaseMs: { env: 'REOPTIMIZE_LEASE_MS', unit: 'ms', default: 60_000, kind: 'int', min: 1_000, max: 3_600_000, describe: 'How long the instance running the re-optimisation job holds its lease in the store (renewed at every round and while a round runs); if it dies, another instance takes the job over after this' },
  policy: { env: 'ALLOCATION_POLICY', unit: 'name', default: 'optimized', kind: 'enum', values: ['optimized', 'myopic', 'radius-rule', 'nearest'], describe: 'optimized (on time first: the radius lock when it meets the promise, else the cheapest plan of the least lateness, exact) | myopic (the previous optimiser: the radius lock whatever its ETA, else the cheapest plan with lateness priced per hour) | radius-rule (radius lock, else the nearest warehouse) | nearest (the old logic); the last three exist for what-if replays' },
  reserveRetries: { env: 'RESERVE_RETRIES', unit: 'attempts', default: 5, kind: 'int', min: 1, max: 20, describe: 'Re-plans from fresh stock when a reservation conflicts' },
  bodyLimitBytes: { env: 'BODY_LIMIT_BYTES', unit: 'bytes', default: 1_048_576, kind: 'int', min: 1_024, max: 104_857_600, describe: 'Largest accepted request body' },
  promiseWindowDays: { env: 'PROMISE_WINDOW_DAYS', unit: 'days', default: 30, kind: 'int', min: 1, max: 366, describe: 'promisedBy must lie within this many days after placedAt (or the decision time), and placedAt within this many days of the decision time; else 422 DSP_BAD_TIME' },
  partialCapAbove: { env: 'PARTIAL_CAP_ABOVE', unit: 'x the network\'s free units', default: 2, kind: 'number', min: 1, max: 1_000_000, describe: 'A line asking for more than this many times the free units of its SKU in the whole network (as the ordering customer sees them) is capped by PARTIAL_MAX_SHARE; an ordinary shortage ships what is free' },
  partialMaxShare: { env: 'PARTIAL_MAX_SHARE', unit: 'fraction of the network\'s free units', default: 0.5, kind: 'number', min: 0.01, max: 1, describe: 'A line capped by PARTIAL_CAP_ABOVE reserves at most this share of the free units of its SKU network-wide; the rest is backordered (PARTIAL_CAPPED), so one huge order cannot drain a SKU everywhere' },
  maxLinesPerOrder: { env: 'MAX_LINES_PER_ORDER', unit: 'lines', default: 100, kind: 'int', min: 1, max: 1_000, describe: 'Largest accepted number of order lines' },
  timezoneOffsetMinutes: { env: 'TZ_OFFSET_MINUTES', unit: 'minutes east of UTC', default: 480, kind: 'int', min: -720, max: 840, describe: 'Local time of the network (cut-offs, days); China Standard Time = 480' },
  demoFeed: { env: 'DEMO_FEED', unit: 'on | off', default: 'on', kind: 'enum', values: ['on', 'off'], describe: 'Simulated Double-11 order feed through the real pipeline, with a simulated WMS, for the live map demo; off in production (Dockerfile)' },
  demoFeedRate: { env: 'DEMO_FEED_RATE', unit: 'orders/s', default: 5, kind: 'number', min: 0.1, max: 1_000, describe: 'Orders per second of the demo feed' },
  webhooks: { env: 'WEBHOOKS', unit: 'JSON list of targets', default: '', kind: 'string', describe: 'Webhook targets of the action outbox (docs/outbox.md): a JSON array of {"name","url","codes":["CORE_RETURN_TASK",…] or ["*"],"secret"}; each action is POSTed to every target whose codes include it, the body signed with HMAC-SHA256 of the secret; empty = no targets (actions are not recorded)' },
  outboxBackoffBaseMs: { env: 'OUTBOX_BACKOFF_BASE_MS', unit: 'ms', default: 1_000, kind: 'int', min: 10, max: 3_600_000, describe: 'Wait before the first retry of a failed webhook delivery; it doubles with each further failure (with jitter: between half and all of it), up to OUTBOX_BACKOFF_MAX_MS' },
  outboxBackoffMaxMs: { env: 'OUTBOX_BACKOFF_MAX_MS', unit: 'ms', default: 600_000, kind: 'int', min: 10, max: 86_400_000, describe: 'Longest wait between two delivery attempts (at least OUTBOX_BACKOFF_BASE_MS)' },
  outboxMaxAttempts: { env: 'OUTBOX_MAX_ATTEMPTS', unit: 'attempts', default: 20, kind: 'int', min: 1, max: 1_000, describe: 'Delivery attempts per action and target (the default, with the default backoff, retries for about 1-2 hours: a receiver\'s maintenance window); after the last one fails the entry is dead-lettered (state dead, with its last error) until replayed' },
  outboxTimeoutMs: { env: 'OUTBOX_TIMEOUT_MS', unit: 'ms', default: 5_000, kind: 'int', min: 50, max: 120_000, describe: 'Longest wait for a webhook to answer one delivery; past it the attempt counts as failed' },
  outboxLeaseMs: { env: 'OUTBOX_LEASE_MS', unit: 'ms', default: 30_000, kind: 'int', min: 500, max: 3_600_000, describe: 'How long an instance holds the deliveries it claimed; if it dies meanwhile, any instance retries them after this (at least twice OUTBOX_TIMEOUT_MS)' },
  outboxPollMs: { env: 'OUTBOX_POLL_MS', unit: 'ms', default: 500, kind: 'int', min: 10, max: 60_000, describe: 'How often the delivery worker looks for due deliveries (new actions of its own instance are sent at once)' },
  outboxMinReplicas: { env: 'OUTBOX_MIN_REPLICAS', unit: 'replicas', default: 0, kind: 'int', min: 0, max: 16, describe: 'Redis: an enqueued action is acknowledged only once this many replicas of its node hold it (WAIT, at most REDIS_TIMEOUT_MS), so a failover does not lose it; 0 = the master alone' },
  outboxRetentionDays: { env: 'OUTBOX_RETENTION_DAYS', unit: 'days', default: 30, kind: 'number', min: 0, max: 3_650, describe: 'Delivered outbox entries are forgotten this long after they were enqueued (pending and dead ones are kept); 0 = kept forever' },
  outboxBatch: { env: 'OUTBOX_BATCH', unit: 'deliveries', default: 16, kind: 'int', min: 1, max: 1_000, describe: 'Deliveries one instance claims and sends at once' },
  apiKeys: {
    env: 'API_KEYS',
    unit: 'name:role+role:secret list',
    default: '',
    kind: 'string',
    describe:
      'API keys from configuration, comma-separated name:roles:secret entries (roles erp, dispatcher, planner, admin, metrics joined by +; secret 32-128 characters of A-Z a-z 0-9 _ -); a client sends X-API-Key: name.secret. More keys come from the admin API (/v1/keys)',
  },
  authCacheMs: { env: 'AUTH_CACHE_MS', unit: 'ms', default: 400, kind: 'int', min: 0, max: 500, describe: 'How long an instance trusts what it read of an API key; a revoked key is refused by every instance within this time, and open live-map sockets are checked as often (so within twice this time)' },
  rulesPollMs: { env: 'RULES_POLL_MS', unit: 'ms', default: 250, kind: 'int', min: 10, max: 1_000, describe: 'How often an instance checks the store for a newly activated business-rule version; a version activated on any instance is in force on every instance within this time (at once on the instance that activated it)' },
  rulesDir: { env: 'RULES_DIR', unit: 'path', default: '', kind: 'string', describe: 'Bundled business rulesets (*.json) created and activated when the store holds no ruleset; empty = the bundled data/rules/; "off" = none' },
  allowedOrigins: { env: 'ALLOWED_ORIGINS', unit: 'origin list', default: '', kind: 'string', describe: "Browser origins (scheme://host[:port], comma-separated) whose pages may open the live-map socket besides the service's own; empty = only the page's own origin (the Host it was served from)" },
  rateLimitWindowMs: { env: 'RATE_LIMIT_WINDOW_MS', unit: 'ms', default: 10_000, kind: 'int', min: 100, max: 3_600_000, describe: 'Rate-limit window (fixed windows, counted per API key, or per address without a key)' },
  rateLimitPerKey: { env: 'RATE_LIMIT_PER_KEY', unit: 'requests per window', default: 5_000, kind: 'int', min: 1, max: 100_000_000, describe: 'Requests one API key may make per window; beyond, 429 DSP_RATE_LIMITED with Retry-After' },
  rateLimitPerAddress: { env: 'RATE_LIMIT_PER_ADDRESS', unit: 'requests per window', default: 300, kind: 'int', min: 1, max: 100_000_000, describe: 'Requests without a valid API key (public pages, rejected keys) one client address may make per window; /healthz and /readyz are not counted' },
  shutdownGraceMs: { env: 'SHUTDOWN_GRACE_MS', unit: 'ms', default: 10_000, kind: 'int', min: 1_000, max: 600_000, describe: 'On SIGTERM/SIGINT the process exits within this time: readiness 503, listener closed, live sockets closed, in-flight requests finished; past it the process exits anyway (code 1)' },
  shutdownReadyDelayMs: { env: 'SHUTDOWN_READY_DELAY_MS', unit: 'ms', default: 1_500, kind: 'int', min: 0, max: 60_000, describe: 'On SIGTERM, how long readiness answers 503 while requests are still served, so that a load balancer stops sending before the listener closes (less than SHUTDOWN_GRACE_MS)' },
  logLevel: { env: 'LOG_LEVEL', unit: 'pino level', default: 'info', kind: 'enum', values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], describe: 'fatal | error | warn | info | debug | trace | silent' },
} as const satisfies Record<string, Spec>;

type SpecOf = typeof CONFIG_SPEC;
export type Config = Readonly<{
  [K in keyof SpecOf]: SpecOf[K] extends { kind: 'enum'; values: readonly (infer V)[] } ? V : SpecOf[K]['kind'] extends 'string' ? string : number;
}>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Reads, validates and freezes the configuration. `overrides` (already typed) win over env. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  const out: Record<string, number | string> = {};
  const problems: string[] = [];
  for (const [key, spec] of Object.entries(CONFIG_SPEC) as [string, Spec][]) {
    const override = (overrides as Record<string, number | string | undefined>)[key];
    const raw = override ?? env[spec.env];
    if (raw === undefined || raw === '') {
      out[key] = spec.default;
      continue;
    }
    if (spec.kind === 'string') {
      out[key] = String(raw);
      continue;
    }
    if (spec.kind === 'enum') {
      if (!spec.values!.includes(String(raw))) problems.push(`${spec.env}=${String(raw)} is not one of ${spec.values!.join(', ')}`);
      else out[key] = String(raw);
      continue;
    }
    const n = typeof raw === 'number' ? raw : Number(raw);
    if (!Number.isFinite(n) || (spec.kind === 'int' && !Number.isInteger(n))) {
      problems.push(`${spec.env}=${JSON.stringify(raw)} is not ${spec.kind === 'int' ? 'an integer' : 'a number'} (${spec.unit})`);
      continue;
    }
    if ((spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max)) {
      problems.push(`${spec.env}=${n} is outside [${spec.min}, ${spec.max}] ${spec.unit}`);
      continue;
    }
    out[key] = n;
  }
  if (out.redisUrl !== '' && !/^rediss?:\/\//.test(String(out.redisUrl))) problems.push(`REDIS_URL=${String(out.redisUrl)} is not a redis:// or rediss:// URL`);
  for (const node of String(out.redisClusterNodes).split(',').filter((n) => n.trim() !== '')) {
    const m = /^([^:\s]+):(\d{1,5})$/.exec(node.trim());
    if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) problems.push(`REDIS_CLUSTER_NODES: "${node}" is not host:port`);
  }
  if (out.wmsUrl !== '' && !/^https?:\/\//.test(String(out.wmsUrl))) problems.push(`WMS_URL=${String(out.wmsUrl)} is not an http(s) URL`);
  problems.push(...apiKeyProblems(String(out.apiKeys)));
  problems.push(...webhookProblems(String(out.webhooks)));
  try {
    parseShelfLifeOverrides(String(out.minShelfLifeOverrides));
  } catch (err) {
    problems.push(`MIN_SHELF_LIFE_OVERRIDES: ${(err as Error).message}`);
  }
  if (Number(out.outboxBackoffMaxMs) < Number(out.outboxBackoffBaseMs)) problems.push(`OUTBOX_BACKOFF_MAX_MS=${String(out.outboxBackoffMaxMs)} must be at least OUTBOX_BACKOFF_BASE_MS=${String(out.outboxBackoffBaseMs)}`);
  if (Number(out.outboxLeaseMs) < 2 * Number(out.outboxTimeoutMs)) problems.push(`OUTBOX_LEASE_MS=${String(out.outboxLeaseMs)} must be at least twice OUTBOX_TIMEOUT_MS=${String(out.outboxTimeoutMs)} (a delivery must end before its claim can pass to another instance)`);
  for (const o of String(out.allowedOrigins).split(',').map((x) => x.trim()).filter((x) => x !== '')) {
    if (!/^https?:\/\/[^/\s]+$/.test(o)) problems.push(`ALLOWED_ORIGINS: "${o}" is not an origin (scheme://host[:port], no path)`);
  }
  if (Number(out.reoptimizeIntervalMs) !== 0 && Number(out.reoptimizeIntervalMs) < 1_000) problems.push(`REOPTIMIZE_INTERVAL_MS=${String(out.reoptimizeIntervalMs)} must be 0 (off) or at least 1000`);
  if (Number(out.shutdownReadyDelayMs) >= Number(out.shutdownGraceMs)) problems.push(`SHUTDOWN_READY_DELAY_MS=${String(out.shutdownReadyDelayMs)} must be below SHUTDOWN_GRACE_MS=${String(out.shutdownGraceMs)}`);
  if (problems.length > 0) throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
  return Object.freeze(out) as Config;
}

/** The roles an API key can hold (what each may do: src/auth/roles.ts, docs/security.md). */
export const ROLES = ['erp', 'dispatcher', 'planner', 'admin', 'metrics'] as const;
export type Role = (typeof ROLES)[number];

/** A key of API_KEYS: the client sends `name.secret`. */
export interface ConfiguredKey {
  name: string;
  roles: Role[];
  secret: string;
}

/** Key names (also the key id): short, URL-safe, no dot (the dot separates id and secret). */
export const KEY_NAME = /^[a-z0-9][a-z0-9-]{0,39}$/;
/** Secrets of configured keys: long enough to be high-entropy (32+ base64url characters, 192+ bits when random). */
export const KEY_SECRET = /^[A-Za-z0-9_-]{32,128}$/;

/** Parses API_KEYS (validated by loadConfig, so a bad entry stops start-up). */
export function parseApiKeys(raw: string): ConfiguredKey[] {
  return raw
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '')
    .map((e) => {
      const [name = '', roles = '', secret = ''] = e.split(':');
      return { name, roles: roles.split('+') as Role[], secret };
    });
}

function apiKeyProblems(raw: string): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const entry of raw.split(',').map((e) => e.trim()).filter((e) => e !== '')) {
    const parts = entry.split(':');
    // Never echo the secret into a log: name the entry by its name only.
    const name = parts[0] ?? '';
    if (parts.length !== 3) {
      problems.push(`API_KEYS: entry "${name}" is not name:roles:secret`);
      continue;
    }
    const [, roles = '', secret = ''] = parts;
    if (!KEY_NAME.test(name)) problems.push(`API_KEYS: name "${name}" must match ${KEY_NAME.source}`);
    if (seen.has(name)) problems.push(`API_KEYS: name "${name}" appears twice`);
    seen.add(name);
    const bad = roles.split('+').filter((r) => !(ROLES as readonly string[]).includes(r));
    if (roles === '' || bad.length > 0) problems.push(`API_KEYS: key "${name}" has unknown roles ${JSON.stringify(bad)} (known: ${ROLES.join(', ')})`);
    if (!KEY_SECRET.test(secret)) problems.push(`API_KEYS: the secret of key "${name}" must be 32-128 characters of A-Z a-z 0-9 _ - (e.g. openssl rand -base64 32 | tr '+/' '-_' | tr -d =)`);
  }
  return problems;
}

/** Parses MIN_SHELF_LIFE_OVERRIDES ("customerId=days,..."): customer id -> minimum remaining shelf life, days. Throws on a bad entry. */
export function parseShelfLifeOverrides(raw: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const entry of raw.split(',').map((e) => e.trim()).filter((e) => e !== '')) {
    const m = /^([^=\s]+)=(\d{1,5})$/.exec(entry);
    if (m === null) throw new Error(`"${entry}" is not customerId=days (whole days)`);
    if (out.has(m[1]!)) throw new Error(`customer "${m[1]}" appears twice`);
    out.set(m[1]!, Number(m[2]));
  }
  return out;
}
