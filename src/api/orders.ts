import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { ErrorBody, OrderView } from '../domain/schemas.js';
import type { Services } from './services.js';

const Params = Type.Object({ orderId: Type.String({ minLength: 1, maxLength: 64 }) });

/** GET /v1/orders/{orderId} and POST /v1/orders/{orderId}/cancel. */
export const orderRoutes =
  (svc: Services): FastifyPluginAsync =>
  async (app) => {
    app.get<{ Params: { orderId: string } }>(
      '/v1/orders/:orderId',
      { schema: { tags: ['orders'], summary: 'The stored decision and state of an order', params: Params, response: { 200: OrderView, 404: ErrorBody } } },
      async (req) => svc.allocator.get(req.params.orderId),
    );
    app.post<{ Params: { orderId: string } }>(
      '/v1/orders/:orderId/cancel',
      {
        schema: {
          tags: ['orders'],
          summary: 'Cancel an order: its reserved stock and capacity return; cancelling twice answers the same',
          params: Params,
          response: { 200: OrderView, 404: ErrorBody, 409: ErrorBody },
        },
      },
      async (req) => svc.allocator.cancel(req.params.orderId),
    );
  };
