import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { ErrorBody } from '../domain/schemas.js';
import type { Services } from './services.js';

/**
 * GET /healthz: liveness (the process answers; never touches the store, so a Redis outage does
 * not get instances restarted). GET /readyz: readiness for a load balancer: the store answers,
 * else 503 DSP_STORE_UNAVAILABLE.
 */
export const healthRoutes =
  (svc: Services): FastifyPluginAsync =>
  async (app) => {
    const Status = Type.Object({ status: Type.Literal('ok'), store: Type.String(), warehouses: Type.Integer(), skus: Type.Integer() });
    const status = () => ({ status: 'ok' as const, store: svc.store.kind, warehouses: svc.net.warehouses.length, skus: svc.net.skuByCode.size });
    app.get('/healthz', { schema: { tags: ['health'], summary: 'Liveness', response: { 200: Status } } }, async () => status());
    app.get('/readyz', { schema: { tags: ['health'], summary: 'Readiness: the state store answers', response: { 200: Status, 503: ErrorBody } } }, async () => {
      await svc.store.ping();
      return status();
    });
  };
