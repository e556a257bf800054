import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { ref } from '../domain/schemas.js';
import type { Tracker } from '../tracking/tracker.js';
import { BODY_CODES, errorResponses } from './responses.js';

const WmsEventSchema = Type.Object(
  {
    orderId: Type.String({ minLength: 1, maxLength: 64 }),
    code: Type.String({ minLength: 1, maxLength: 64, description: 'Raw WMS status code (data/wms/status-map.json), e.g. SHIPPED_READY.' }),
    at: Type.String({ minLength: 1, maxLength: 40, description: 'Operation time, ISO-8601 with offset.' }),
    warehouseId: Type.Optional(Type.String({ minLength: 1, maxLength: 16 })),
    location: Type.Optional(Type.String({ maxLength: 200, description: 'Scan location, free text (hub, city).' })),
  },
  { additionalProperties: false },
);
const Body = Type.Object(
  { events: Type.Array(WmsEventSchema, { minItems: 1, maxItems: 1_000 }) },
  { $id: 'WmsEventBatch', additionalProperties: false, description: 'WMS scan events, applied one by one in order.' },
);
const Result = Type.Object({
  index: Type.Integer(),
  status: Type.Union([Type.Literal('applied'), Type.Literal('duplicate'), Type.Literal('rejected')]),
  state: Type.Optional(Type.Union([Type.String(), Type.Null()], { description: "The order's state after the batch (its events are applied together, per order)." })),
  warning: Type.Optional(Type.String({ description: 'Applied, but something needs a look (e.g. left the warehouse without a reservation).' })),
  code: Type.Optional(Type.String({ description: 'DSP_ code when rejected.' })),
  message: Type.Optional(Type.String()),
});
const Results = Type.Object({ results: Type.Array(Result) }, { $id: 'WmsEventResults', description: 'One result per event, in the order sent.' });
const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);
const Timeline = Type.Object({
  orderId: Type.String(),
  state: Nullable(Type.String({ description: 'Highest physical scan reached: printed | picked | packed | loaded | left_warehouse | in_transit | delivered.' })),
  stateLabel: Nullable(Type.String()),
  exception: Nullable(Type.String({ description: 'An exception newer than every physical scan (damaged, address_problem, …).' })),
  promisedBy: Nullable(Type.String()),
  eta: Nullable(Type.String()),
  deliveredAt: Nullable(Type.String()),
  events: Type.Array(
    Type.Object({
      at: Type.String(),
      code: Type.String(),
      kind: Type.Union([Type.Literal('state'), Type.Literal('exception')]),
      name: Type.String(),
      label: Type.String(),
      labelZh: Type.String(),
      warehouseId: Type.Optional(Type.String()),
      location: Type.Optional(Type.String()),
    }),
  ),
}, { $id: 'Timeline', description: "The customer's view of an order: state and scans by time." });
const NullableNumber = Type.Union([Type.Number(), Type.Null()]);
const Kpi = Type.Object({
  at: Type.String(),
  orders: Type.Integer({ description: 'Orders decided, not cancelled: shipped, partly shipped or wholly backordered (held or refused by a business rule: counted apart).' }),
  ordersShipped: Type.Integer({ description: 'Of those, orders with at least one shipment.' }),
  due: Type.Integer({ description: 'Orders delivered or past promisedBy (a wholly backordered order once its promise has passed).' }),
  deliveredOnTime: Type.Integer({ description: 'Due orders delivered by promisedBy with nothing backordered.' }),
  onTimeRate: Type.Union([Type.Number({ description: 'deliveredOnTime / due, 0..1.' }), Type.Null()]),
  partialOrders: Type.Integer({ description: 'Orders that shipped some units and backordered others (never on time).' }),
  staleTracking: Type.Integer({ description: 'Undelivered orders with no tracking event for staleAfterHours.' }),
  staleAfterHours: Type.Number(),
  reroutes: Type.Integer({ description: 'Shipments moved to another courier after a capacity gap.' }),
  reoptimizedShipments: Type.Integer({ description: 'Shipments not yet picked up that the re-optimisation job moved to a cheaper plan (REOPTIMIZED, docs/reoptimize.md).' }),
  reoptimizationSavingCny: Type.Number({ description: 'Money those moves saved, CNY: freight + line haul before minus after (what is paid out; no penalties).' }),
  costPerOrder: Type.Union([Type.Number({ description: 'Money per order over all orders, CNY: freight + transfers + storage (reroutes applied); no penalty.' }), Type.Null()]),
  penaltyPerOrder: Type.Union([Type.Number({ description: 'Decision weights per order over all orders, CNY: lateness + split penalties (not money).' }), Type.Null()]),
  backorderedUnits: Type.Integer({ description: 'Units backordered over all orders.' }),
  backorderedValueCny: Type.Number({ description: 'Their value at list price, CNY.' }),
  nearExpiryUnitsShipped: Type.Integer({ description: 'Units of shelf-life lots shipped while near expiry (NEAR_EXPIRY_WINDOW_DAYS) over all orders: stock used up before it would be written off.' }),
  writtenOffUnits: Type.Integer({ description: 'Units on hand now, not held by an order, in lots that can no longer be sold to any customer: expired, or with less shelf life left than the SKU\'s default minimum (minRemainingShelfLifeDays; per-customer overrides not applied). The stock\'s state at `at`, not a sum over orders.' }),
  writtenOffValueCny: Type.Number({ description: 'Their value at list price, CNY.' }),
  joinedShipments: Type.Integer({ description: 'Shipments that joined an open shipment of the same customer and address (one waybill with it), over all orders.' }),
  mergedGroups: Type.Integer({ description: 'Waybills that came to carry MERGE_MIN_ORDERS or more orders of one customer to one address: merged groups (master and children).' }),
  mergeSavedCny: Type.Number({ description: 'Freight saved by joining open shipments (merging), CNY: the base rate each joining shipment would have paid shipping alone on its lane.' }),
  heldByReason: Type.Record(Type.String(), Type.Integer(), { description: 'Orders a business rule held for review, per reason code (e.g. RECY_NO_CORE_LINK); not counted in orders.' }),
  refusedByReason: Type.Record(Type.String(), Type.Integer(), { description: 'Orders a business rule refused, per reason code; not counted in orders.' }),
  etaErrorHours: Type.Object({ n: Type.Integer(), mean: NullableNumber, meanAbs: NullableNumber }, { description: 'Delivered minus ETA, hours, over delivered orders.' }),
}, { $id: 'Kpi', description: 'Delivery KPIs over the stored orders.' });

const Params = Type.Object({ orderId: Type.String({ minLength: 1, maxLength: 64, description: 'The ERP order number.' }) });
/** The plugin's named schemas (registered by src/api/openapi.ts). */
export const TRACKING_COMPONENTS = [Body, Results, Timeline, Kpi];

/** POST /v1/wms/events, GET /v1/orders/{orderId}/timeline, GET /v1/kpi. */
export const trackingRoutes =
  (tracker: Tracker): FastifyPluginAsync =>
  async (app) => {
    app.post<{ Body: Static<typeof Body> }>(
      '/v1/wms/events',
      {
        schema: {
          operationId: 'applyWmsEvents',
          tags: ['tracking'],
          summary: 'Apply WMS scan events (any order, repeats harmless; applied per order, in time linear in the batch); per-event results',
          body: ref(Body),
          response: { 200: ref(Results, 'Per-event results; a rejected event changed nothing, the others applied.'), ...errorResponses(...BODY_CODES, 'DSP_STORE_UNAVAILABLE') },
        },
      },
      async (req) => ({ results: await tracker.apply(req.body.events) }),
    );
    app.get<{ Params: { orderId: string } }>(
      '/v1/orders/:orderId/timeline',
      {
        schema: {
          operationId: 'getOrderTimeline',
          tags: ['tracking'],
          summary: "The customer's view: state and scans by time",
          params: Params,
          response: { 200: ref(Timeline, 'The timeline.'), ...errorResponses('DSP_VALIDATION', 'DSP_ORDER_NOT_FOUND', 'DSP_STORE_UNAVAILABLE') },
        },
      },
      async (req) => tracker.timeline(req.params.orderId),
    );
    app.get(
      '/v1/kpi',
      {
        schema: {
          operationId: 'getKpi',
          tags: ['tracking'],
          summary: 'On-time rate, stale tracking, cost per order, ETA error',
          response: { 200: ref(Kpi, 'The KPIs now.'), ...errorResponses('DSP_STORE_UNAVAILABLE') },
        },
      },
      async () => tracker.kpi(),
    );
  };
