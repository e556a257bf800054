/**
 * One validated, frozen configuration object (design: "Examples to follow" #10).
 * Every value has a default, a unit and a validation; `loadConfig` reads them from the environment
 * (names in `ENV` below) and throws `ConfigError` naming every bad variable at once.
 * The table is also rendered into README.md's configuration section.
 */

interface Spec {
  env: string;
  unit: string;
  default: number | string;
  kind: 'int' | 'number' | 'string';
  min?: number;
  max?: number;
  describe: string;
}

export const CONFIG_SPEC = {
  host: { env: 'HOST', unit: 'address', default: '0.0.0.0', kind: 'string', describe: 'Interface the HTTP server binds to' },
  port: { env: 'PORT', unit: 'TCP port', default: 8080, kind: 'int', min: 0, max: 65535, describe: 'HTTP port' },
  dataDir: { env: 'DATA_DIR', unit: 'path', default: '', kind: 'string', describe: 'Network data directory; empty = the bundled data/' },
  redisUrl: { env: 'REDIS_URL', unit: 'redis:// URL', default: '', kind: 'string', describe: 'Shared state on one Redis node; empty = the embedded in-memory store' },
  redisClusterNodes: { env: 'REDIS_CLUSTER_NODES', unit: 'host:port list', default: '', kind: 'string', describe: 'Shared state on a Redis Cluster: comma-separated seed nodes (host:port,host:port); wins over REDIS_URL' },
  redisTimeoutMs: { env: 'REDIS_TIMEOUT_MS', unit: 'ms', default: 1_000, kind: 'int', min: 10, max: 60_000, describe: 'Longest wait for one Redis command before the request answers 503 DSP_STORE_UNAVAILABLE' },
  radiusLockFactor: { env: 'RADIUS_LOCK_FACTOR', unit: 'x ordered qty', default: 1.2, kind: 'number', min: 1, max: 10, describe: 'Free stock needed at an in-radius warehouse, as a multiple of every ordered quantity, for the radius lock' },
  detourFactor: { env: 'DETOUR_FACTOR', unit: 'road km / great-circle km', default: 1.3, kind: 'number', min: 1, max: 3, describe: 'Default road-km estimate factor (per-corridor overrides in data/geo/corridors.json)' },
  splitPenaltyCny: { env: 'SPLIT_PENALTY_CNY', unit: 'CNY per extra shipment', default: 6, kind: 'number', min: 0, max: 10_000, describe: 'Money penalty for each shipment beyond the first' },
  latenessCnyPerHour: { env: 'LATENESS_CNY_PER_HOUR', unit: 'CNY per hour late', default: 1.5, kind: 'number', min: 0, max: 10_000, describe: 'Penalty per hour of ETA beyond the promised time' },
  holdingRatePerYear: { env: 'HOLDING_RATE_PER_YEAR', unit: 'fraction of unit price per year', default: 0.25, kind: 'number', min: 0, max: 5, describe: 'Storage occupation cost: price x rate / 365 per unit-day while stock waits' },
  transferHandlingCnyPerUnit: { env: 'TRANSFER_HANDLING_CNY_PER_UNIT', unit: 'CNY per unit', default: 0.5, kind: 'number', min: 0, max: 1_000, describe: 'Handling cost per unit moved between warehouses by line haul (on top of the lane per-kg rate)' },
  backorderPenaltyCny: { env: 'BACKORDER_PENALTY_CNY', unit: 'CNY per unit', default: 10_000, kind: 'number', min: 1, max: 1e7, describe: 'Internal penalty per unit not supplied; large so that supplying wins whenever possible (never reported as cost)' },
  maxTransferSources: { env: 'MAX_TRANSFER_SOURCES', unit: 'warehouses per line and site', default: 2, kind: 'int', min: 0, max: 17, describe: 'Line-haul transfer sources considered per (site, line): the cheapest N' },
  solver: { env: 'SOLVER', unit: 'name', default: 'exact', kind: 'string', describe: 'Exact backend: exact (the specialised search, HiGHS for what it declines), highs (HiGHS, WebAssembly) or lp (javascript-lp-solver)' },
  solveTimeoutMs: { env: 'SOLVE_TIMEOUT_MS', unit: 'ms', default: 20, kind: 'int', min: 1, max: 60_000, describe: 'Time budget of each exact solve; past it the best plan found so far (or the greedy plan) answers as mode "fallback"' },
  replaySolveTimeoutMs: { env: 'REPLAY_SOLVE_TIMEOUT_MS', unit: 'ms', default: 2_000, kind: 'int', min: 1, max: 600_000, describe: 'Time budget of each exact solve inside a what-if replay (no ERP waits; a generous budget keeps replays reproducible across machines)' },
  reservationTtlMinutes: { env: 'RESERVATION_TTL_MINUTES', unit: 'minutes', default: 2_880, kind: 'int', min: 1, max: 43_200, describe: 'An unshipped reservation expires by itself after this long and its stock and capacity return' },
  claimTimeoutMs: { env: 'CLAIM_TIMEOUT_MS', unit: 'ms', default: 10_000, kind: 'int', min: 1_000, max: 600_000, describe: 'An allocation that claimed an order but stored no decision within this time is abandoned; a retry takes the order over (Redis store)' },
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
  policy: { env: 'ALLOCATION_POLICY', unit: 'name', default: 'optimized', kind: 'string', describe: 'optimized (radius lock, else the exact optimum) | radius-rule (radius lock, else the nearest warehouse) | nearest (the old logic); the last two exist for what-if replays' },
  reserveRetries: { env: 'RESERVE_RETRIES', unit: 'attempts', default: 5, kind: 'int', min: 1, max: 20, describe: 'Re-plans from fresh stock when a reservation conflicts' },
  bodyLimitBytes: { env: 'BODY_LIMIT_BYTES', unit: 'bytes', default: 1_048_576, kind: 'int', min: 1_024, max: 104_857_600, describe: 'Largest accepted request body' },
  maxLinesPerOrder: { env: 'MAX_LINES_PER_ORDER', unit: 'lines', default: 100, kind: 'int', min: 1, max: 1_000, describe: 'Largest accepted number of order lines' },
  timezoneOffsetMinutes: { env: 'TZ_OFFSET_MINUTES', unit: 'minutes east of UTC', default: 480, kind: 'int', min: -720, max: 840, describe: 'Local time of the network (cut-offs, days); China Standard Time = 480' },
  demoFeed: { env: 'DEMO_FEED', unit: 'on | off', default: 'on', kind: 'string', describe: 'Simulated Double-11 order feed through the real pipeline, with a simulated WMS, for the live map demo; off in production (Dockerfile)' },
  demoFeedRate: { env: 'DEMO_FEED_RATE', unit: 'orders/s', default: 5, kind: 'number', min: 0.1, max: 1_000, describe: 'Orders per second of the demo feed' },
  logLevel: { env: 'LOG_LEVEL', unit: 'pino level', default: 'info', kind: 'string', describe: 'fatal | error | warn | info | debug | trace | silent' },
} as const satisfies Record<string, Spec>;

type SpecOf = typeof CONFIG_SPEC;
export type Config = Readonly<{
  [K in keyof SpecOf]: SpecOf[K]['kind'] extends 'string' ? string : number;
}>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const LOG_LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

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
  if (!['optimized', 'radius-rule', 'nearest'].includes(String(out.policy))) problems.push(`ALLOCATION_POLICY=${String(out.policy)} is not one of optimized, radius-rule, nearest`);
  if (!['exact', 'highs', 'lp'].includes(String(out.solver))) problems.push(`SOLVER=${String(out.solver)} is not one of exact, highs, lp`);
  if (out.demoFeed !== 'on' && out.demoFeed !== 'off') problems.push(`DEMO_FEED=${String(out.demoFeed)} is not one of on, off`);
  if (!LOG_LEVELS.has(String(out.logLevel))) problems.push(`LOG_LEVEL=${String(out.logLevel)} is not one of ${[...LOG_LEVELS].join(', ')}`);
  if (problems.length > 0) throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
  return Object.freeze(out) as Config;
}
