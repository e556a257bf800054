import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { OrderView, ref } from '../domain/schemas.js';
import { BODY_CODES, errorResponses } from './responses.js';
import type { Services } from './services.js';

const Params = Type.Object({ orderId: Type.String({ minLength: 1, maxLength: 64, description: 'The ERP order number.' }) });

/** GET /v1/orders/{orderId} and POST /v1/orders/{orderId}/cancel. */
export const orderRoutes =
  (svc: Services): FastifyPluginAsync =>
  async (app) => {
    app.get<{ Params: { orderId: string } }>(
      '/v1/orders/:orderId',
      {
        schema: {
          operationId: 'getOrder',
          tags: ['orders'],
          summary: 'The stored decision and state of an order',
          params: Params,
          response: { 200: ref(OrderView, 'The order.'), ...errorResponses('DSP_VALIDATION', 'DSP_ORDER_NOT_FOUND', 'DSP_STORE_UNAVAILABLE') },
        },
      },
      async (req) => svc.allocator.get(req.params.orderId),
    );
    app.post<{ Params: { orderId: string } }>(
      '/v1/orders/:orderId/cancel',
      {
        schema: {
          operationId: 'cancelOrder',
          tags: ['orders'],
          summary: 'Cancel an order: its reserved stock and capacity return; cancelling twice answers the same',
          params: Params,
          response: {
            200: ref(OrderView, 'The order, cancelled.'),
            ...errorResponses(...BODY_CODES, 'DSP_ORDER_NOT_FOUND', 'DSP_ORDER_NOT_CANCELLABLE', 'DSP_STORE_UNAVAILABLE'),
          },
        },
      },
      async (req) => svc.allocator.cancel(req.params.orderId),
    );
  };
