import type { FastifyPluginAsync } from 'fastify';
import { AllocateRequestComponent, Decision, ref, type AllocateRequest } from '../domain/schemas.js';
import { BODY_CODES, errorResponses } from './responses.js';
import type { Services } from './services.js';

/** POST /v1/allocate: the ERP's synchronous dispatch decision, idempotent on orderId. */
export const allocateRoutes =
  (svc: Services): FastifyPluginAsync =>
  async (app) => {
    app.post<{ Body: AllocateRequest }>(
      '/v1/allocate',
      {
        schema: {
          operationId: 'allocateOrder',
          tags: ['allocate'],
          summary: 'Decide which warehouse(s) and courier ship an order, reserve the stock, explain why',
          description:
            'Idempotent on orderId: a retry with the same body returns the stored decision and reserves nothing twice; the same orderId with a different body answers 409 DSP_IDEMPOTENCY_CONFLICT.',
          body: ref(AllocateRequestComponent),
          response: {
            200: ref(Decision, 'The decision (or the stored one, for a retry); its stock is reserved until it ships, is cancelled or expires.'),
            ...errorResponses(
              ...BODY_CODES,
              'DSP_IDEMPOTENCY_CONFLICT',
              'DSP_UNKNOWN_SKU',
              'DSP_DESTINATION_UNSERVED',
              'DSP_BAD_TIME',
              'DSP_OVERLOADED',
              'DSP_RESERVATION_CONFLICT',
              'DSP_DECISION_PENDING',
              'DSP_STORE_UNAVAILABLE',
            ),
          },
        },
      },
      async (req, reply) => {
        // Every later log line of this request (completion, failure) names the order.
        req.log = reply.log = req.log.child({ orderId: req.body.orderId });
        return svc.allocator.allocate(req.body);
      },
    );
  };
