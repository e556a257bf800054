import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Cluster, Redis } from 'ioredis';
import type { Config } from '../config.js';
import { DspError } from '../errors.js';
import { closeRedis } from '../util/redis-close.js';
import { RedisStore } from '../store/redis.js';

/**
 * The content security policy of every response. The pages (web/) load only their own scripts,
 * styles, MapLibre and protobufjs from this origin; nothing inline but style attributes (the live
 * map's panel sets colours in style="" attributes). MapLibre runs its worker from
 * /vendor/maplibre/ and makes blob: URLs for images; the socket.io websocket is same-origin
 * ('self' covers ws: and wss: to the same host in CSP level 3). tests/live/e2e.test.ts loads the
 * live map in Chromium under this policy and fails on any violation reported in the console.
 */
export const CSP_DIRECTIVES = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  scriptSrcAttr: ["'none'"],
  styleSrc: ["'self'", "'unsafe-inline'"],
  imgSrc: ["'self'", 'data:', 'blob:'],
  fontSrc: ["'self'", 'data:'],
  workerSrc: ["'self'", 'blob:'],
  childSrc: ["'self'", 'blob:'],
  connectSrc: ["'self'"],
  objectSrc: ["'none'"],
  baseUri: ["'self'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
};

/** A policy as a header value (kebab-case directives). */
function cspHeader(directives: Record<string, string[]>): string {
  return Object.entries(directives)
    .map(([k, v]) => `${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} ${v.join(' ')}`)
    .join('; ');
}

/**
 * The live map page's policy: CSP_DIRECTIVES plus 'unsafe-eval', and only for that document
 * (GET /). protobufjs, which decodes the stream in the page from the one .proto file, compiles its
 * decoders with new Function(); without 'unsafe-eval' no event can be decoded. The page has no
 * inline script and loads scripts from this origin only, so eval has no injected string to run;
 * docs/security.md names the way out (decoders generated ahead of time by protobufjs-cli).
 */
export const LIVE_MAP_CSP = cspHeader({ ...CSP_DIRECTIVES, scriptSrc: ["'self'", "'unsafe-eval'"] });

/** The Redis connection the rate limiter counts in when the state is shared (null: counts in memory). */
function rateLimitRedis(config: Config): Redis | Cluster | null {
  const opts = { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: config.redisTimeoutMs, connectTimeout: config.redisTimeoutMs };
  let r: Redis | Cluster | null = null;
  if (config.redisClusterNodes !== '') {
    const nodes = config.redisClusterNodes
      .split(',')
      .map((n) => n.trim())
      .filter((n) => n !== '')
      .map((n) => ({ host: n.slice(0, n.lastIndexOf(':')), port: Number(n.slice(n.lastIndexOf(':') + 1)) }));
    r = new Cluster(nodes, { enableOfflineQueue: false, redisOptions: opts });
  } else if (config.redisUrl !== '') {
    r = new Redis(config.redisUrl, opts);
  }
  r?.on('error', () => undefined); // a Redis outage lets requests through (skipOnError below); ioredis reconnects
  return r;
}

/** What a request is counted as: its API key, or its address when it has none. */
export function rateLimitKey(req: FastifyRequest): string {
  return req.dspKey ? `key:${req.dspKey.id}` : `ip:${req.ip}`;
}

/**
 * Security headers (@fastify/helmet, with CSP_DIRECTIVES) and rate limits (@fastify/rate-limit):
 * RATE_LIMIT_PER_KEY requests per RATE_LIMIT_WINDOW_MS for each API key, RATE_LIMIT_PER_ADDRESS for
 * each address without a valid key, counted in Redis when the state is (so every instance shares
 * the count), else in this process. Must be registered after installAuth and before the routes:
 * the limiter attaches an onRequest hook to every route that runs after the auth hook
 * (src/auth/plugin.ts explains the order). A Redis that fails lets the request through: the
 * limiter protects the service, it must not take it down with Redis.
 */
export async function registerHttpSecurity(app: FastifyInstance, config: Config, opts: { rateLimits: boolean } = { rateLimits: true }): Promise<void> {
  await app.register(helmet, {
    contentSecurityPolicy: { useDefaults: false, directives: CSP_DIRECTIVES },
    // Same-origin pages only: a page of another site may not frame the map or read its resources.
    crossOriginResourcePolicy: { policy: 'same-origin' },
  });
  if (!opts.rateLimits) return;
  const raw = rateLimitRedis(config);
  if (raw) app.addHook('onClose', async () => closeRedis(raw, 1_000));
  // Under the store's circuit breaker: while Redis does not answer, the count is skipped at once
  // instead of after a full timeout before the store's own (issue 19: a request waits one timeout).
  const store = app.hasDecorator('dspServices') ? (app as FastifyInstance & { dspServices: { store: unknown } }).dspServices.store : undefined;
  const redis = raw && store instanceof RedisStore ? store.guard(raw) : raw;
  await app.register(rateLimit, {
    global: true,
    hook: 'onRequest',
    timeWindow: config.rateLimitWindowMs,
    max: async (req: FastifyRequest) => (req.dspKey ? config.rateLimitPerKey : config.rateLimitPerAddress),
    keyGenerator: rateLimitKey,
    ...(redis ? { redis, nameSpace: 'dispatchd-ratelimit:', skipOnError: true } : {}),
    errorResponseBuilder: (req, ctx) =>
      new DspError('DSP_RATE_LIMITED', `rate limit: ${ctx.max} requests per ${config.rateLimitWindowMs / 1000} s for ${req.dspKey ? `API key ${req.dspKey.id}` : 'this address'}; retry in ${ctx.after}`, [
        { limit: ctx.max, windowMs: config.rateLimitWindowMs, retryAfterS: Math.ceil(ctx.ttl / 1000) },
      ]),
  });
}
