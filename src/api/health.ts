import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { Services } from './services.js';

/** GET /healthz: liveness and what the service runs on. */
export const healthRoutes =
  (svc: Services): FastifyPluginAsync =>
  async (app) => {
    app.get(
      '/healthz',
      {
        schema: {
          tags: ['health'],
          response: { 200: Type.Object({ status: Type.Literal('ok'), store: Type.String(), warehouses: Type.Integer(), skus: Type.Integer() }) },
        },
      },
      async () => ({ status: 'ok' as const, store: svc.store.kind, warehouses: svc.net.warehouses.length, skus: svc.net.skuByCode.size }),
    );
  };
