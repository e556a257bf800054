import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { Redis } from 'ioredis';
import * as turf from '@turf/turf';
import { Server } from 'socket.io';
import { createAdapter } from '@socket.io/redis-adapter';
import type { AllocateRequest } from '../domain/schemas.js';
import { closeRedis } from '../util/redis-close.js';
import { LiveCodec } from './codec.js';
import { LiveHub, type LiveHubOptions, type LiveServices } from './hub.js';
import { livePaths } from './paths.js';

export { LiveHub } from './hub.js';
export { LiveCodec, LIVE_EVENTS } from './codec.js';

export interface LiveOptions extends LiveHubOptions {
  /** redis:// URL: the socket.io Redis adapter, so every instance's events reach every map. Empty/absent: in-process only. */
  redisUrl?: string;
  /** socket.io path (default /socket.io). */
  path?: string;
  /** Serve the page at / (default true). */
  servePage?: boolean;
  /**
   * The service's rerouter, whose reroutes go on the stream; default: app.dspRerouter when
   * buildApp decorated one.
   */
  rerouter?: { listeners: ((orderId: string, r: Parameters<LiveHub['publishServiceReroute']>[1]) => void)[] };
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.geojson': 'application/geo+json; charset=utf-8',
  '.proto': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.map': 'application/json; charset=utf-8',
};

/** Sends a file from `dir` (no path escapes), with a content type and a short cache. */
async function sendFrom(reply: FastifyReply, dir: string, rel: string, maxAge = 300): Promise<FastifyReply> {
  const full = normalize(join(dir, rel));
  if (!full.startsWith(dir + sep) && full !== dir) return reply.status(404).send({ error: { code: 'DSP_NOT_FOUND', message: `no file ${rel}`, details: [] } });
  try {
    const s = await stat(full);
    if (!s.isFile()) throw new Error('not a file');
  } catch {
    return reply.status(404).send({ error: { code: 'DSP_NOT_FOUND', message: `no file ${rel}`, details: [] } });
  }
  const body = await readFile(full);
  return reply
    .header('content-type', TYPES[extname(full)] ?? 'application/octet-stream')
    .header('cache-control', `public, max-age=${maxAge}`)
    .send(body);
}

/**
 * The dispatchers' live map (issue 7) on a built service:
 *  - socket.io on app.server, namespace /live, protobuf events from src/proto/dispatchd.proto
 *    (a snapshot to each joining client, then batched deltas; docs/live.md);
 *  - the page at / (web/), MapLibre GL and protobufjs from node_modules under /vendor/, the schema
 *    at /live/dispatchd.proto and the offline region layers at /live/regions.geojson;
 *  - every decision of svc.allocator goes on the stream; the request's destination is taken from
 *    POST /v1/allocate bodies (a decision does not carry it); so does every reroute of
 *    opts.rerouter (default app.dspRerouter).
 * Call before app.listen / app.ready. Closed with the app.
 */
export async function attachLive(app: FastifyInstance, svc: LiveServices, opts: LiveOptions = {}): Promise<LiveHub> {
  const paths = livePaths();
  const codec = await LiveCodec.load(paths.proto);
  const io = new Server(app.server, {
    path: opts.path ?? '/socket.io',
    serveClient: true,
    // The page is served by this same origin; nothing else needs CORS.
    cors: { origin: false },
    // Binary protobuf frames only; compressing tiny frames costs more CPU than it saves.
    perMessageDeflate: false,
    httpCompression: false,
  });
  let pub: Redis | undefined;
  let sub: Redis | undefined;
  if (opts.redisUrl) {
    pub = new Redis(opts.redisUrl, { lazyConnect: false, maxRetriesPerRequest: null });
    sub = pub.duplicate();
    pub.on('error', () => undefined);
    sub.on('error', () => undefined);
    io.adapter(createAdapter(pub, sub, { key: 'dispatchd-live' }));
  }
  const nsp = io.of('/live');
  const hub = new LiveHub(nsp, codec, svc, { ...opts, clustered: opts.clustered ?? pub !== undefined });

  const onDecision = (d: Parameters<LiveHub['publishDecision']>[0]) => {
    try {
      hub.publishDecision(d);
    } catch (err) {
      app.log.warn({ err }, 'live: decision not published');
    }
  };
  svc.allocator?.listeners.push(onDecision);
  const rerouter = opts.rerouter ?? (app.hasDecorator('dspRerouter') ? app.dspRerouter : undefined);
  const onReroute = (orderId: string, r: Parameters<LiveHub['publishServiceReroute']>[1]) => {
    try {
      hub.publishServiceReroute(orderId, r);
    } catch (err) {
      app.log.warn({ err }, 'live: reroute not published');
    }
  };
  rerouter?.listeners.push(onReroute);

  // The destination of each order, from the allocate request (the decision does not carry it).
  app.addHook('preHandler', async (req) => {
    if (req.method === 'POST' && req.routeOptions.url === '/v1/allocate' && req.body && typeof req.body === 'object') {
      const b = req.body as Partial<AllocateRequest>;
      if (typeof b.orderId === 'string') {
        hub.noteOrder(b.orderId, {
          ...(b.customerId !== undefined ? { customerId: b.customerId } : {}),
          ...(b.destination !== undefined ? { destination: b.destination } : {}),
          ...(b.promisedBy !== undefined ? { promisedBy: b.promisedBy } : {}),
          ...(b.placedAt !== undefined ? { placedAt: b.placedAt } : {}),
        });
      }
    }
  });

  const regionsJson = JSON.stringify(svc.net.regionsGeoJson);
  // Service-radius rings: the radius is road km, the ring great-circle km (road km / detour factor).
  const ringsJson = JSON.stringify(
    turf.featureCollection(
      svc.net.warehouses.map((w) =>
        turf.circle([w.lon, w.lat], w.radiusKm / svc.config.detourFactor, {
          steps: 96,
          units: 'kilometers',
          properties: { id: w.id, radiusKm: w.radiusKm, kind: w.kind },
        }),
      ),
    ),
  );
  await app.register(async (scope) => {
    const hide = { schema: { hide: true } };
    if (opts.servePage !== false) {
      scope.get('/', hide, (_req, reply) => sendFrom(reply, paths.web, 'index.html', 0));
      scope.get('/web/*', hide, (req, reply) => sendFrom(reply, paths.web, (req.params as { '*': string })['*'], 0));
    }
    scope.get('/vendor/maplibre/*', hide, (req, reply) => sendFrom(reply, paths.maplibre, (req.params as { '*': string })['*'], 86_400));
    scope.get('/vendor/protobuf.min.js', hide, (_req, reply) => sendFrom(reply, paths.protobufjs, 'protobuf.min.js', 86_400));
    scope.get('/live/dispatchd.proto', hide, (_req, reply) => sendFrom(reply, join(paths.root, 'src', 'proto'), 'dispatchd.proto', 60));
    scope.get('/live/rings.geojson', hide, (_req, reply) =>
      reply.header('content-type', TYPES['.geojson']!).header('cache-control', 'public, max-age=3600').send(ringsJson),
    );
    scope.get('/live/regions.geojson', hide, (_req, reply) =>
      reply.header('content-type', TYPES['.geojson']!).header('cache-control', 'public, max-age=3600').send(regionsJson),
    );
  });

  app.addHook('onClose', async () => {
    const i = svc.allocator?.listeners.indexOf(onDecision) ?? -1;
    if (i >= 0) svc.allocator?.listeners.splice(i, 1);
    const j = rerouter?.listeners.indexOf(onReroute) ?? -1;
    if (j >= 0) rerouter?.listeners.splice(j, 1);
    await hub.close();
    io.disconnectSockets(true);
    // io.close() would also close app.server, which fastify closes itself.
    io.engine.close();
    // The adapter's close sends (P)UNSUBSCRIBE without waiting for the replies (nor catching
    // them), and a broadcast's PUBLISH may still be in flight. QUIT queues behind them, so they
    // get their replies before the connection closes; disconnect() at once failed them with
    // "Connection is closed", unhandled rejections inside the adapter (seen in CI under load).
    void io.of('/live').adapter.close?.();
    await Promise.all([pub, sub].map((c) => (c ? closeRedis(c, REDIS_QUIT_WAIT_MS) : undefined)));
  });
  return hub;
}

/** How long a closing live map waits for Redis to answer QUIT before it drops the connection, ms. */
const REDIS_QUIT_WAIT_MS = 1_000;
