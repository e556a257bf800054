import type { FastifyInstance, FastifyRequest } from 'fastify';
import { errorResponses } from '../api/responses.js';
import { DspError } from '../errors.js';
import { presentedKey, type KeyRegistry, type Principal } from './keys.js';
import { accessOf, allows, NOT_RATE_LIMITED, type Access } from './roles.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The API key that made the request, once checked; null without a valid key. */
    dspKey: Principal | null;
    /** Why the presented key was refused (for the 401's message); null when none was presented or it passed. */
    dspKeyProblem: string | null;
  }
  interface FastifyContextConfig {
    /** Who may call the route (src/auth/roles.ts), attached when the route is registered. */
    dspAccess?: Access;
  }
}

/** The OpenAPI security scheme every protected operation names (one place; app.ts puts it in the document). */
const AUTH_RESPONSES = errorResponses('DSP_UNAUTHENTICATED', 'DSP_FORBIDDEN', 'DSP_RATE_LIMITED');

export const API_KEY_SCHEME = {
  ApiKey: {
    type: 'apiKey' as const,
    in: 'header' as const,
    name: 'X-API-Key',
    description:
      'An API key `<id>.<secret>` (from the admin API POST /v1/keys, API_KEYS, or printed at start-up in demo mode). `Authorization: Bearer <key>` is accepted too. Each operation lists the roles that may call it (docs/security.md).',
  },
};

/**
 * Authentication and authorisation for every route, from the one table in src/auth/roles.ts.
 * Must be installed on the root instance before any route and before @fastify/rate-limit, because
 * the order of the hooks is the point:
 *
 *   onRequest (root hook, here)     who is calling: checks the presented key, never refuses
 *   onRequest (route hook, rate-limit) counts the request against that key, or the address
 *   preParsing (root hook, here)    refuses: 401 without a valid key, 403 with a wrong role
 *
 * Fastify runs a route's own hooks after the instance's hooks of the same kind, so the rate
 * limiter (which attaches itself to each route) sees the key's identity, and requests with bad
 * keys are counted per address before they are refused. Refusing before the body is parsed means
 * a caller without a key learns nothing from validation errors.
 */
export function installAuth(app: FastifyInstance, registry: KeyRegistry): void {
  app.decorateRequest('dspKey', null);
  app.decorateRequest('dspKeyProblem', null);

  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const accesses = methods.map((m) => accessOf(m, route.url));
    const access = accesses[0];
    if (access === undefined || accesses.some((a) => a !== access)) {
      // Closed by default: a route nobody has decided the roles of does not start.
      throw new Error(`route ${methods.join(',')} ${route.url} has no entry in the roles table (src/auth/roles.ts)`);
    }
    const rateLimited = !methods.some((m) => NOT_RATE_LIMITED.has(`${m === 'HEAD' ? 'GET' : m} ${route.url}`));
    route.config = { ...(route.config ?? {}), dspAccess: access, ...(rateLimited ? {} : { rateLimit: false }) };
    const schema = route.schema as (Record<string, unknown> & { hide?: boolean; response?: Record<string, unknown>; description?: string }) | undefined;
    if (!schema || schema.hide) return;
    if (access === 'public') {
      schema.security = [];
    } else {
      schema.security = [{ ApiKey: [] }];
      const roles = `Roles: ${access.join(', ')}.`;
      if (!schema.description?.includes(roles)) schema.description = schema.description ? `${schema.description}\n\n${roles}` : roles;
    }
    // The refusals this plugin and the rate limiter add, documented like every other error answer.
    const response = { ...(schema.response ?? {}) };
    if (access !== 'public') {
      response[401] ??= AUTH_RESPONSES['401'];
      response[403] ??= AUTH_RESPONSES['403'];
    }
    if (rateLimited) response[429] ??= AUTH_RESPONSES['429'];
    schema.response = response;
  });

  app.addHook('onRequest', async (req) => {
    const access = req.routeOptions.config.dspAccess;
    if (access === undefined || access === 'public') return;
    const token = presentedKey(req.headers);
    if (token === undefined) return;
    const r = await registry.authenticate(token);
    if (r.ok) req.dspKey = r.principal;
    else req.dspKeyProblem = r.reason;
  });

  app.addHook('preParsing', async (req: FastifyRequest) => {
    const access = req.routeOptions.config.dspAccess;
    if (access === undefined || access === 'public') return;
    if (!req.dspKey) {
      throw new DspError('DSP_UNAUTHENTICATED', req.dspKeyProblem ?? 'this route needs an API key: send X-API-Key: <id>.<secret>', [{ roles: access }]);
    }
    if (!allows(access, req.dspKey.roles)) {
      throw new DspError('DSP_FORBIDDEN', `API key ${req.dspKey.id} (${req.dspKey.roles.join(', ')}) may not ${req.method} ${req.routeOptions.url}; needs one of: ${access.join(', ')}`, [
        { roles: access },
      ]);
    }
  });
}
