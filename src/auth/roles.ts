import type { Role } from '../config.js';

export { ROLES, type Role } from '../config.js';

/**
 * THE table of who may call what (docs/security.md renders the same table; a test keeps them in
 * step). Keys are `METHOD url` with fastify's URL patterns; HEAD routes follow their GET. A value
 * is the list of roles any one of which lets a key through, or 'public' (no key needed).
 *
 * A route that is not in this table cannot be registered: src/auth/plugin.ts throws at start-up,
 * so a new route is closed until someone decides who may call it.
 *
 *   erp         the ERP and the WMS integration: allocate, orders, cancel, stock and WMS events, locks
 *   dispatcher  the dispatchers: read everything (the outbox and the rules too), the live map, courier quotes and capacity
 *   planner     the planners: what-if replays and their reports, the network, the KPIs, the business
 *               rules (drafts, tests, activation, rollback)
 *   admin       stock counts (PUT /v1/stock), API keys, replays of outbox deliveries
 *   metrics     a Prometheus scraper: GET /metrics only
 */
export const ROUTE_ROLES = {
  // Health: public, for load balancers and orchestrators (never rate-limited).
  'GET /healthz': 'public',
  'GET /readyz': 'public',
  // The API contract and its UI carry no data.
  'GET /docs': 'public',
  'GET /docs/': 'public',
  'GET /docs/json': 'public',
  'GET /docs/yaml': 'public',
  'GET /docs/static/index.html': 'public',
  'GET /docs/static/swagger-initializer.js': 'public',
  'GET /docs/static/*': 'public',
  'GET /docs/*': 'public',
  // The pages and their assets: loaded before the page can ask for a key.
  'GET /': 'public',
  'GET /web/*': 'public',
  'GET /vendor/maplibre/*': 'public',
  'GET /vendor/protobuf.min.js': 'public',
  'GET /live/dispatchd.proto': 'public',
  'GET /live/regions.geojson': 'public',
  // Demo mode only (DEMO_FEED=on): hands the demo pages their keys, to loopback clients only.
  'GET /demo/keys': 'public',

  'POST /v1/allocate': ['erp'],
  'GET /v1/orders/:orderId': ['erp', 'dispatcher'],
  'POST /v1/orders/:orderId/cancel': ['erp'],
  'GET /v1/orders/:orderId/timeline': ['erp', 'dispatcher'],
  'GET /v1/stock': ['erp', 'dispatcher'],
  'PUT /v1/stock': ['admin'],
  'POST /v1/stock/events': ['erp'],
  'POST /v1/wms/events': ['erp'],
  'POST /v1/locks': ['erp'],
  'GET /v1/locks/:lockId': ['erp', 'dispatcher'],
  'DELETE /v1/locks/:lockId': ['erp'],
  'GET /v1/network': ['dispatcher', 'planner'],
  'GET /live/rings.geojson': ['dispatcher', 'planner'],
  'GET /v1/couriers/:courierId/quotes': ['dispatcher'],
  'PUT /v1/couriers/:courierId/quotes': ['dispatcher'],
  'PUT /v1/couriers/:courierId/capacity': ['dispatcher'],
  'GET /v1/kpi': ['dispatcher', 'planner'],
  'POST /v1/scenarios': ['planner'],
  'GET /v1/scenarios': ['planner', 'dispatcher'],
  'GET /v1/scenarios/:id': ['planner', 'dispatcher'],
  'DELETE /v1/scenarios/:id': ['planner'],
  'GET /v1/scenarios/:id/report': ['planner', 'dispatcher'],
  // Business rules (docs/rules.md): planners are the business staff who edit and activate them.
  'GET /v1/rulesets': ['planner', 'dispatcher'],
  'POST /v1/rulesets': ['planner'],
  'GET /v1/rulesets/:rulesetId': ['planner', 'dispatcher'],
  'POST /v1/rulesets/:rulesetId/versions': ['planner'],
  'GET /v1/rulesets/:rulesetId/versions/:version': ['planner', 'dispatcher'],
  'PUT /v1/rulesets/:rulesetId/versions/:version': ['planner'],
  'POST /v1/rulesets/:rulesetId/versions/:version/test': ['planner'],
  'POST /v1/rulesets/:rulesetId/versions/:version/dry-run': ['planner'],
  'POST /v1/rulesets/:rulesetId/versions/:version/activate': ['planner'],
  'POST /v1/rulesets/:rulesetId/rollback': ['planner'],
  'GET /v1/rulesets/:rulesetId/audit': ['planner', 'dispatcher'],
  'GET /v1/keys': ['admin'],
  'POST /v1/keys': ['admin'],
  'DELETE /v1/keys/:keyId': ['admin'],
  'POST /v1/keys/:keyId/rotate': ['admin'],
  'GET /v1/outbox': ['admin', 'dispatcher'],
  'GET /v1/outbox/:entryId': ['admin', 'dispatcher'],
  'POST /v1/outbox/:entryId/replay': ['admin'],
  'GET /metrics': ['metrics'],
  // The simulated WMS of the demo (DEMO_FEED=on): a WMS feed, read like the ERP's WMS integration.
  'GET /demo/wms/feed': ['erp'],
} as const satisfies Record<string, 'public' | readonly Role[]>;

/** The live map's socket.io namespace (checked in its handshake, src/live/auth.ts). */
export const SOCKET_ROLES = { '/live': ['dispatcher'] } as const satisfies Record<string, readonly Role[]>;

/** Routes whose requests are not rate-limited (load-balancer probes arrive every second or so). */
export const NOT_RATE_LIMITED = new Set(['GET /healthz', 'GET /readyz']);

export type Access = 'public' | readonly Role[];

/** Who may call `method url` (url: the route pattern as registered); undefined when the table does not say. */
export function accessOf(method: string, url: string): Access | undefined {
  const m = method === 'HEAD' ? 'GET' : method;
  return (ROUTE_ROLES as Record<string, Access>)[`${m} ${url}`];
}

/** Whether a key holding `roles` may use a route open to `allowed`. */
export function allows(allowed: Access, roles: readonly Role[]): boolean {
  return allowed === 'public' || allowed.some((r) => roles.includes(r));
}
