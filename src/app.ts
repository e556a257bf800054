import Fastify, { type FastifyInstance } from 'fastify';
import { healthRoutes } from './api/health.js';
import { lockRoutes } from './api/locks.js';
import { metricsRoutes } from './api/metrics.js';
import { trackingRoutes } from './api/tracking.js';
import { courierRoutes } from './api/couriers.js';
import { scenarioRoutes } from './api/scenarios.js';
import { ReplayJobs } from './replay/jobs.js';
import { allocateRoutes } from './api/allocate.js';
import { networkRoutes } from './api/network.js';
import { orderRoutes } from './api/orders.js';
import { stockRoutes } from './api/stock.js';
import { stockEventRoutes } from './api/stock-events.js';
import type { Config } from './config.js';
import type { NetworkContext } from './network/context.js';
import { openServices, type Services } from './services.js';
import { DspError } from './errors.js';
import type { Store } from './store/types.js';
import { KeyRegistry } from './auth/keys.js';
import { installAuth } from './auth/plugin.js';
import { keyRoutes } from './api/keys.js';
import { outboxRoutes } from './api/outbox.js';
import { rulesetRoutes } from './api/rulesets.js';
import { parseApiKeys } from './config.js';
import { registerHttpSecurity } from './http/security.js';
import { installLifecycle } from './ops/lifecycle.js';
import { httpServerOptions, installHttpEdge, installJsonParser } from './api/http.js';
import { registerOpenApi } from './api/openapi.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The service's objects (src/services.ts): store, allocator, tracker, rerouter, poller, ... */
    dspServices: Services;
    /** What-if replay jobs of this instance. */
    dspReplays: ReplayJobs;
    /** API keys (src/auth/keys.ts): the admin API, the live map's handshake and demo mode use it. */
    dspKeys: KeyRegistry;
  }
}

export interface AppOptions {
  config: Config;
  /** Services opened by the caller (src/services.ts); they close with the app. Built from the parts below when absent. */
  services?: Services;
  /** A prepared network (tests share one); loaded from config.dataDir when absent. */
  net?: NetworkContext;
  /** The state store; the one the configuration names when absent. */
  store?: Store;
  /** Epoch-ms clock; tests and replays inject one. */
  clock?: () => number;
  logger?: boolean;
  /**
   * false: no API keys and no rate limits, for bench/http-load.ts's "keys off" baseline only.
   * Deliberately not reachable from the configuration: a deployed service always checks keys.
   */
  keysAndRateLimits?: false;
  /** Where log lines go (tests read them); stdout when absent. */
  logStream?: NodeJS.WritableStream;
}

/** Builds the HTTP service over the composition root's services: one fastify instance, each resource a plugin, one error registry. */
export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  const { config } = opts;
  const svc =
    opts.services ??
    (await openServices(config, { ...(opts.net ? { net: opts.net } : {}), ...(opts.store ? { store: opts.store } : {}), ...(opts.clock ? { clock: opts.clock } : {}) }));

  const app = Fastify({
    logger: opts.logger === false ? false : { level: config.logLevel, ...(opts.logStream ? { stream: opts.logStream } : {}) },
    bodyLimit: config.bodyLimitBytes,
    // Requests that reach a closing instance answer 503 DSP_SHUTTING_DOWN (src/ops/lifecycle.ts), not fastify's own body.
    return503OnClosing: false,
    ...httpServerOptions(),
    ajv: {
      // Strict input: "5" is not a number and unknown fields are errors, so ERP mistakes surface.
      customOptions: { coerceTypes: false, removeAdditional: false, allErrors: true, useDefaults: true },
    },
  });
  app.decorate('dspServices', svc);
  app.addHook('onReady', async () => {
    svc.poller?.start();
    svc.outbox.start(app.log);
    svc.reoptimizeJob.start();
    svc.rerouter.startRecovery(config.recoveryIntervalMs);
  });
  app.addHook('onClose', async () => svc.close());
  // ---- security and lifecycle (issue 18): before any route, in this order (src/auth/plugin.ts).
  installLifecycle(app);
  const keys = new KeyRegistry(svc.store, { cacheMs: config.authCacheMs, clock: svc.clock });
  await keys.loadConfigured(parseApiKeys(config.apiKeys));
  app.decorate('dspKeys', keys);
  if (opts.keysAndRateLimits !== false) installAuth(app, keys);
  await registerHttpSecurity(app, config, { rateLimits: opts.keysAndRateLimits !== false });
  // ---- end security and lifecycle
  // The API speaks JSON only; a text body is a client mistake worth a clear 415, not a 400.
  app.removeContentTypeParser('text/plain');
  installJsonParser(app);
  // Bodies come uncompressed: a gzip or br body would otherwise be read as broken (or, worse,
  // plausible) JSON. 415 says what to change.
  app.addHook('onRequest', async (req) => {
    const enc = req.headers['content-encoding'];
    if (enc !== undefined && enc.trim().toLowerCase() !== 'identity') {
      throw new DspError('DSP_UNSUPPORTED_MEDIA_TYPE', `Content-Encoding ${enc} is not supported: send the body uncompressed`, [{ contentEncoding: enc }]);
    }
  });

  // Error bodies from the registry for every error, 405 for a known path, request ids.
  installHttpEdge(app);

  // The OpenAPI document and its named schemas, before the routes that $ref them.
  await registerOpenApi(app, svc);
  await app.register(healthRoutes(svc));
  await app.register(allocateRoutes(svc));
  await app.register(orderRoutes(svc));
  await app.register(networkRoutes(svc));
  await app.register(stockRoutes(svc));
  await app.register(stockEventRoutes(svc));
  await app.register(lockRoutes(svc));
  await app.register(metricsRoutes(svc));
  await app.register(trackingRoutes(svc.tracker));
  const jobs = new ReplayJobs(svc.config, svc.clock);
  app.addHook('onClose', async () => jobs.close());
  app.decorate('dspReplays', jobs);
  await app.register(courierRoutes(svc, svc.rerouter));
  await app.register(scenarioRoutes(svc, jobs));
  await app.register(rulesetRoutes(svc));
  await app.register(keyRoutes(keys, config.timezoneOffsetMinutes));
  await app.register(outboxRoutes(svc));
  return app;
}
