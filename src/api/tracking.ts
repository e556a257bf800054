import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { ErrorBody } from '../domain/schemas.js';
import type { Tracker } from '../tracking/tracker.js';

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
const Body = Type.Object({ events: Type.Array(WmsEventSchema, { minItems: 1, maxItems: 1_000 }) }, { additionalProperties: false });
const Result = Type.Object({
  index: Type.Integer(),
  status: Type.Union([Type.Literal('applied'), Type.Literal('duplicate'), Type.Literal('rejected')]),
  state: Type.Optional(Type.Union([Type.String(), Type.Null()], { description: "The order's state after the event." })),
  warning: Type.Optional(Type.String({ description: 'Applied, but something needs a look (e.g. left the warehouse without a reservation).' })),
  code: Type.Optional(Type.String({ description: 'DSP_ code when rejected.' })),
  message: Type.Optional(Type.String()),
});
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
});
const NullableNumber = Type.Union([Type.Number(), Type.Null()]);
const Kpi = Type.Object({
  at: Type.String(),
  orders: Type.Integer({ description: 'Orders decided with at least one shipment, not cancelled.' }),
  due: Type.Integer({ description: 'Of those, delivered or past promisedBy.' }),
  deliveredOnTime: Type.Integer(),
  onTimeRate: Type.Union([Type.Number({ description: 'deliveredOnTime / due, 0..1.' }), Type.Null()]),
  staleTracking: Type.Integer({ description: 'Undelivered orders with no tracking event for staleAfterHours.' }),
  staleAfterHours: Type.Number(),
  reroutes: Type.Integer({ description: 'Shipments moved to another courier after a capacity gap.' }),
  costPerOrder: Type.Union([Type.Number({ description: 'Mean logistics cost per order, CNY.' }), Type.Null()]),
  etaErrorHours: Type.Object({ n: Type.Integer(), mean: NullableNumber, meanAbs: NullableNumber }, { description: 'Delivered minus ETA, hours, over delivered orders.' }),
});

const Params = Type.Object({ orderId: Type.String({ minLength: 1, maxLength: 64 }) });

/** POST /v1/wms/events, GET /v1/orders/{orderId}/timeline, GET /v1/kpi. */
export const trackingRoutes =
  (tracker: Tracker): FastifyPluginAsync =>
  async (app) => {
    app.post<{ Body: Static<typeof Body> }>(
      '/v1/wms/events',
      {
        schema: {
          tags: ['tracking'],
          summary: 'Apply WMS scan events one by one (any order, repeats harmless); per-event results',
          body: Body,
          response: { 200: Type.Object({ results: Type.Array(Result) }), 400: ErrorBody },
        },
      },
      async (req) => ({ results: await tracker.apply(req.body.events) }),
    );
    app.get<{ Params: { orderId: string } }>(
      '/v1/orders/:orderId/timeline',
      { schema: { tags: ['tracking'], summary: "The customer's view: state and scans by time", params: Params, response: { 200: Timeline, 404: ErrorBody } } },
      async (req) => tracker.timeline(req.params.orderId),
    );
    app.get('/v1/kpi', { schema: { tags: ['tracking'], summary: 'On-time rate, stale tracking, cost per order, ETA error', response: { 200: Kpi } } }, async () => tracker.kpi());
  };
