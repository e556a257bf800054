import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { SkuCode } from '../domain/schemas.js';
import { DspError } from '../errors.js';
import type { Services } from './services.js';

const EventId = Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'Idempotency key of the event: a repeat is answered "duplicate" and changes nothing.' }));
const WarehouseId = Type.String({ minLength: 1, maxLength: 64 });

const Receipt = Type.Object(
  { type: Type.Literal('receipt'), eventId: EventId, warehouseId: WarehouseId, sku: SkuCode, qty: Type.Integer({ minimum: 1, maximum: 10_000_000, description: 'Units received.' }) },
  { additionalProperties: false },
);
const Adjustment = Type.Object(
  {
    type: Type.Literal('adjustment'),
    eventId: EventId,
    warehouseId: WarehouseId,
    sku: SkuCode,
    delta: Type.Integer({ minimum: -10_000_000, maximum: 10_000_000, not: { const: 0 }, description: 'Units found (+) or lost (-) by a count.' }),
  },
  { additionalProperties: false },
);
const Shipped = Type.Object(
  { type: Type.Literal('shipped'), eventId: EventId, orderId: Type.String({ minLength: 1, maxLength: 64, description: 'The order whose reserved stock left the warehouse.' }) },
  { additionalProperties: false },
);
const StockEvent = Type.Union([Receipt, Adjustment, Shipped]);
const Body = Type.Object({ events: Type.Array(StockEvent, { minItems: 1, maxItems: 1_000 }) }, { additionalProperties: false });
type Body = Static<typeof Body>;

const Result = Type.Object({
  index: Type.Integer({ description: 'Position of the event in the batch.' }),
  status: Type.Union([Type.Literal('applied'), Type.Literal('duplicate'), Type.Literal('rejected')]),
  code: Type.Optional(Type.String({ description: 'DSP_ code when rejected.' })),
  message: Type.Optional(Type.String()),
});

/**
 * POST /v1/stock/events: receipts, count adjustments and shipments, applied one by one in order.
 * A bad event is rejected with its reason in the response and the others still apply: nothing is
 * lost and one typo does not block a batch.
 */
export const stockEventRoutes =
  (svc: Services): FastifyPluginAsync =>
  async (app) => {
    app.post<{ Body: Body }>(
      '/v1/stock/events',
      {
        schema: {
          tags: ['stock'],
          summary: 'Apply stock events (receipt, adjustment, shipped) one by one; per-event results',
          body: Body,
          response: { 200: Type.Object({ results: Type.Array(Result) }) },
        },
      },
      async (req) => {
        const results: Static<typeof Result>[] = [];
        for (const [index, e] of req.body.events.entries()) {
          try {
            if (e.eventId !== undefined && !(await svc.store.markEvent(e.eventId))) {
              results.push({ index, status: 'duplicate' });
              continue;
            }
            await apply(svc, e);
            results.push({ index, status: 'applied' });
          } catch (err) {
            if (!(err instanceof DspError)) throw err;
            results.push({ index, status: 'rejected', code: err.code, message: err.message });
          }
        }
        return { results };
      },
    );
  };

async function apply(svc: Services, e: Static<typeof StockEvent>): Promise<void> {
  if (e.type === 'shipped') {
    await svc.allocator.ship(e.orderId);
    return;
  }
  if (!svc.net.warehouseById.has(e.warehouseId)) throw new DspError('DSP_UNKNOWN_WAREHOUSE', `unknown warehouse ${e.warehouseId}`);
  if (!svc.net.skuByCode.has(e.sku)) throw new DspError('DSP_UNKNOWN_SKU', `unknown SKU ${e.sku}`);
  const delta = e.type === 'receipt' ? e.qty : e.delta;
  const r = await svc.store.adjustOnHand(e.warehouseId, e.sku, delta);
  if (!r.ok) {
    throw new DspError('DSP_STOCK_BELOW_RESERVED', `${e.warehouseId}/${e.sku}: on hand ${r.onHand} ${delta >= 0 ? '+' : ''}${delta} would fall below reserved ${r.reserved} + locked ${r.locked}`);
  }
}
