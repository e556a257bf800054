import type { FastifyPluginAsync } from 'fastify';
import { AllocateRequest, Decision, ErrorBody } from '../domain/schemas.js';
import type { Services } from './services.js';

const errors = { 400: ErrorBody, 409: ErrorBody, 413: ErrorBody, 415: ErrorBody, 422: ErrorBody, 503: ErrorBody };

/** POST /v1/allocate: the ERP's synchronous dispatch decision, idempotent on orderId. */
export const allocateRoutes =
  (svc: Services): FastifyPluginAsync =>
  async (app) => {
    app.post<{ Body: AllocateRequest }>(
      '/v1/allocate',
      {
        schema: {
          tags: ['allocate'],
          summary: 'Decide which warehouse(s) and courier ship an order, reserve the stock, explain why',
          description:
            'Idempotent on orderId: a retry with the same body returns the stored decision and reserves nothing twice; the same orderId with a different body answers 409 DSP_IDEMPOTENCY_CONFLICT.',
          body: AllocateRequest,
          response: { 200: Decision, ...errors },
        },
      },
      async (req) => svc.allocator.allocate(req.body),
    );
  };
