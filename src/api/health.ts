import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { ref } from '../domain/schemas.js';
import { DspError } from '../errors.js';
import { errorResponses } from './responses.js';
import type { Services } from './services.js';

export const HealthStatus = Type.Object(
  {
    status: Type.Literal('ok'),
    store: Type.String({ description: 'The state store: memory or redis (one node or a Cluster).' }),
    warehouses: Type.Integer({ description: 'Warehouses in the network.' }),
    skus: Type.Integer({ description: 'SKUs in the catalogue.' }),
  },
  { $id: 'HealthStatus' },
);

/**
 * GET /healthz: liveness (the process answers; never touches the store, so a Redis outage does
 * not get instances restarted). GET /readyz: readiness for a load balancer: the store answers,
 * else 503 DSP_STORE_UNAVAILABLE.
 */
export const healthRoutes =
  (svc: Services): FastifyPluginAsync =>
  async (app) => {
    const status = () => ({ status: 'ok' as const, store: svc.store.kind, warehouses: svc.net.warehouses.length, skus: svc.net.skuByCode.size });
    app.get(
      '/healthz',
      { schema: { operationId: 'getLiveness', tags: ['health'], summary: 'Liveness', response: { 200: ref(HealthStatus, 'The process answers.'), ...errorResponses() } } },
      async () => status(),
    );
    app.get(
      '/readyz',
      {
        schema: {
          operationId: 'getReadiness',
          tags: ['health'],
          summary: 'Readiness: the state store answers and the instance is not shutting down',
          response: { 200: ref(HealthStatus, 'Ready: the state store answers.'), ...errorResponses('DSP_STORE_UNAVAILABLE', 'DSP_SHUTTING_DOWN') },
        },
      },
      async () => {
        // Shutting down (src/ops/shutdown.ts): not ready, so the load balancer stops sending first.
        if (app.hasDecorator('dspLifecycle') && app.dspLifecycle.phase !== 'running') throw new DspError('DSP_SHUTTING_DOWN', 'this instance is shutting down');
        await svc.store.ping();
        return status();
      },
    );
  };
