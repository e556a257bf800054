import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { Redis } from 'ioredis';
import * as turf from '@turf/turf';
import { Server } from 'socket.io';
import { createAdapter } from '@socket.io/redis-adapter';
import type { AllocateRequest } from '../domain/schemas.js';
import { DspError } from '../errors.js';
import { closeRedis } from '../util/redis-close.js';
import { LiveCodec } from './codec.js';
import type { Services } from '../services.js';
import { LiveHub, type LiveHubOptions } from './hub.js';
import type { KeyRegistry } from '../auth/keys.js';
import { allowedOrigins, guardLive, originAllowed } from './auth.js';
import { LIVE_MAP_CSP } from '../http/security.js';
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
  /** The API keys a handshake is checked against; default: app.dspKeys (buildApp decorates it). */
  keys?: KeyRegistry;
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
  const missing = new DspError('DSP_NOT_FOUND', `no file ${rel}`);
  if (!full.startsWith(dir + sep) && full !== dir) return reply.status(missing.status).send(missing.toJSON());
  try {
    const s = await stat(full);
    if (!s.isFile()) throw new Error('not a file');
  } catch {
    return reply.status(missing.status).send(missing.toJSON());
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
 *  - every decision of the service's allocator goes on the stream, and every reroute of its
 *    rerouter and every scan of its tracker (as shipment status); the request's destination is
 *    taken from POST /v1/allocate bodies (a decision does not carry it);
 *  - the on-time rate comes from the tracker's KPIs unless opts.onTime says otherwise.
 * Call before app.listen / app.ready. Closed with the app.
 */
export async function attachLive(app: FastifyInstance, svc: Services, opts: LiveOptions = {}): Promise<LiveHub> {
  const paths = livePaths();
  const codec = await LiveCodec.load(paths.proto);
  const keys = opts.keys ?? (app.hasDecorator('dspKeys') ? app.dspKeys : undefined);
  if (!keys) throw new Error('attachLive needs the API key registry (opts.keys, or an app built by buildApp)');
  const origins = allowedOrigins(svc.config.allowedOrigins);
  const io = new Server(app.server, {
    // Every transport request of every namespace: a browser page of another origin is refused
    // before any namespace sees it (src/live/auth.ts; the namespaces check keys and roles).
    allowRequest: (req, cb) => cb(null, originAllowed(req.headers, origins)),
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
  const hub = new LiveHub(nsp, codec, svc, {
    onTime: async () => (await svc.tracker.kpi()).onTimeRate,
    ...opts,
    clustered: opts.clustered ?? pub !== undefined,
  });
  // Keys and roles in the handshake of /live, `/` closed, open sockets dropped when their key is revoked.
  const stopGuard = guardLive(io, nsp, keys, {
    allowedOrigins: origins,
    recheckMs: Math.max(50, svc.config.authCacheMs),
    goodbye: (code, detail, which) => hub.goodbye(code, detail, which),
    onError: (err) => app.log.warn({ err }, 'live: API key not checked'),
  });
  // Before the listener closes: a connected map keeps its (upgraded) connection open, which kept
  // server.close() waiting until the map went away. Each map is told why, then disconnected.
  app.addHook('preClose', async () => {
    stopGuard();
    const n = hub.goodbye('DSP_SHUTTING_DOWN', 'this instance is shutting down; reconnect to reach another one');
    if (n > 0) app.log.info({ sockets: n }, 'live: sockets closed for shutdown');
  });

  const onDecision = (d: Parameters<LiveHub['publishDecision']>[0]) => {
    try {
      hub.publishDecision(d);
    } catch (err) {
      app.log.warn({ err }, 'live: decision not published');
    }
  };
  svc.allocator.listeners.push(onDecision);
  const onReroute = (orderId: string, r: Parameters<LiveHub['publishServiceReroute']>[1]) => {
    try {
      hub.publishServiceReroute(orderId, r);
    } catch (err) {
      app.log.warn({ err }, 'live: reroute not published');
    }
  };
  svc.rerouter.listeners.push(onReroute);
  const onReoptimize = (orderId: string, m: Parameters<LiveHub['publishReoptimization']>[1]) => {
    try {
      hub.publishReoptimization(orderId, m);
    } catch (err) {
      app.log.warn({ err }, 'live: re-optimisation not published');
    }
  };
  svc.reoptimizer.listeners.push(onReoptimize);
  // Each new scan is a shipment status on the map (the shipment of the scanning warehouse).
  const onScan: Services['tracker']['listeners'][number] = (orderId, scan, view, d) => {
    const s = d.decision.shipments.find((x) => x.warehouseId === scan.warehouseId) ?? d.decision.shipments[0];
    hub.publishStatus({
      orderId,
      warehouseId: s?.warehouseId ?? '',
      courierId: s?.courierId ?? '',
      code: view.exception ? 'EXCEPTION' : (view.state ?? 'UNKNOWN').toUpperCase(),
      atMs: scan.at,
      ...(view.deliveredAt !== null && d.promisedByMs !== undefined ? { onTime: view.deliveredAt <= d.promisedByMs } : {}),
    });
  };
  svc.tracker.listeners.push(onScan);

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
      // The one document whose policy allows eval (protobufjs's decoders; src/http/security.ts).
      scope.get('/', hide, (_req, reply) => sendFrom(reply.header('content-security-policy', LIVE_MAP_CSP), paths.web, 'index.html', 0));
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
    for (const [list, l] of [
      [svc.allocator.listeners, onDecision],
      [svc.rerouter.listeners, onReroute],
      [svc.reoptimizer.listeners, onReoptimize],
      [svc.tracker.listeners, onScan],
    ] as const) {
      const i = (list as unknown[]).indexOf(l);
      if (i >= 0) list.splice(i, 1);
    }
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
