import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { ExpiryDay, LotId, ref, SkuCode } from '../domain/schemas.js';
import { DspError } from '../errors.js';
import { BODY_CODES, errorResponses } from './responses.js';
import { stockCell } from './lot-input.js';
import type { Services } from './services.js';

const EventId = Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'Idempotency key of the event: a repeat of an applied event within EVENT_RETENTION_DAYS is answered "duplicate" and changes nothing; a rejected event does not use up its id (correct it and send it again).' }));
const WarehouseId = Type.String({ minLength: 1, maxLength: 64 });

const Receipt = Type.Object(
  {
    type: Type.Literal('receipt'),
    eventId: EventId,
    warehouseId: WarehouseId,
    sku: SkuCode,
    qty: Type.Integer({ minimum: 1, maximum: 10_000_000, description: 'Units received.' }),
    lot: Type.Optional({ ...LotId, description: 'The lot received: required for a shelf-life SKU, refused for others.' }),
    expiresOn: Type.Optional({ ...ExpiryDay, description: "The lot's expiry day, YYYY-MM-DD (local): required for a lot the warehouse does not hold yet." }),
  },
  { additionalProperties: false },
);
const Adjustment = Type.Object(
  {
    type: Type.Literal('adjustment'),
    eventId: EventId,
    warehouseId: WarehouseId,
    sku: SkuCode,
    delta: Type.Integer({ minimum: -10_000_000, maximum: 10_000_000, not: { const: 0 }, description: 'Units found (+) or lost (-) by a count.' }),
    lot: Type.Optional({ ...LotId, description: 'The lot counted: required for a shelf-life SKU, refused for others.' }),
    expiresOn: Type.Optional({ ...ExpiryDay, description: "The lot's expiry day: required for a lot the warehouse does not hold yet." }),
  },
  { additionalProperties: false },
);
const Shipped = Type.Object(
  { type: Type.Literal('shipped'), eventId: EventId, orderId: Type.String({ minLength: 1, maxLength: 64, description: 'The order whose reserved stock left the warehouse.' }) },
  { additionalProperties: false },
);
const StockEvent = Type.Union([Receipt, Adjustment, Shipped]);
const Body = Type.Object(
  { events: Type.Array(StockEvent, { minItems: 1, maxItems: 1_000 }) },
  { $id: 'StockEventBatch', additionalProperties: false, description: 'Stock events, applied one by one in order.' },
);
type Body = Static<typeof Body>;

const Result = Type.Object({
  index: Type.Integer({ description: 'Position of the event in the batch.' }),
  status: Type.Union([Type.Literal('applied'), Type.Literal('duplicate'), Type.Literal('rejected')]),
  code: Type.Optional(Type.String({ description: 'DSP_ code when rejected.' })),
  message: Type.Optional(Type.String()),
});
const Results = Type.Object({ results: Type.Array(Result) }, { $id: 'StockEventResults', description: 'One result per event, in the order sent.' });
/** The plugin's named schemas (registered by src/api/openapi.ts). */
export const STOCK_EVENT_COMPONENTS = [Body, Results];

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
          operationId: 'applyStockEvents',
          tags: ['stock'],
          summary: 'Apply stock events (receipt, adjustment, shipped) one by one; per-event results',
          body: ref(Body),
          response: { 200: ref(Results, 'Per-event results; a rejected event changed nothing, the others applied.'), ...errorResponses(...BODY_CODES, 'DSP_STORE_UNAVAILABLE') },
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
            try {
              await apply(svc, e);
            } catch (err) {
              // A rejected event changed nothing, so its id stays free: the sender corrects the
              // event (an unknown warehouse, say) and re-sends it under the same id, and it applies.
              // A store failure keeps the id: the change may have been made before the answer was
              // lost, and applying a receipt twice is worse than asking the sender to check.
              if (err instanceof DspError && e.eventId !== undefined) await svc.store.forgetEvent(e.eventId);
              throw err;
            }
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
  const cell = await stockCell(svc, e, delta > 0);
  const r = await svc.store.adjustOnHand(e.warehouseId, cell, delta);
  if (!r.ok) {
    throw new DspError('DSP_STOCK_BELOW_RESERVED', `${e.warehouseId}/${cell}: on hand ${r.onHand} ${delta >= 0 ? '+' : ''}${delta} would fall below reserved ${r.reserved} + locked ${r.locked}`);
  }
}
