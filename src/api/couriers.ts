import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { localDay, toIsoWithOffset } from '../domain/time.js';
import type { Rerouter } from '../allocate/reroute.js';
import type { QuoteBook } from '../couriers/book.js';
import { ref } from '../domain/schemas.js';
import { DspError } from '../errors.js';
import { BODY_CODES, errorResponses } from './responses.js';
import type { Services } from './services.js';

const Province = Type.String({ pattern: '^(\\d{6}|\\*)$', description: 'Province code (GB/T 2260, e.g. 310000), or * for any.' });
const QuoteRate = Type.Object(
  {
    from: Province,
    to: Province,
    baseCny: Type.Number({ minimum: 0, maximum: 10_000, description: 'CNY per parcel.' }),
    perKgCny: Type.Number({ minimum: 0, maximum: 1_000, description: 'CNY per kg.' }),
    transitHours: Type.Number({ minimum: 0, maximum: 720, description: 'Hours from handover to delivery (the nominal product time, "24" = next day).' }),
    transitDays: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 30, description: 'Days from the pickup day to the delivery day as the lane is sold; absent: ceil(transitHours / 24).' }),
    ),
    deliverByLocal: Type.Optional(Type.String({ pattern: '^([01]\\d|2[0-3]):[0-5]\\d$', description: 'End of the delivery window on the delivery day, local HH:MM; absent: 18:00.' })),
  },
  { $id: 'QuoteRate', additionalProperties: false, description: 'The price and transit time of one lane (origin province to destination province).' },
);
const QuotesBody = Type.Object(
  { rates: Type.Array(ref(QuoteRate), { minItems: 1, maxItems: 10_000 }) },
  { $id: 'QuotesPut', additionalProperties: false, description: "The courier's complete lane quotes (replaces the previous version)." },
);
const QuotesView = Type.Object(
  {
    courierId: Type.String(),
    version: Type.Integer({ description: '1, 2, …: each PUT is a new version, used by the next decision.' }),
    updatedAt: Type.String({ description: 'ISO-8601 with offset.' }),
    rates: Type.Array(ref(QuoteRate)),
  },
  { $id: 'Quotes', description: "A courier's live quote book." },
);
const CapacityBody = Type.Object(
  {
    provinceCodes: Type.Array(Type.String({ pattern: '^\\d{6}$' }), { minItems: 1, maxItems: 64, description: 'Destination provinces the limit applies to (East China: 310000, 320000, 330000, 340000, …).' }),
    day: Type.Optional(Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'Local day, YYYY-MM-DD; default today.' })),
    parcels: Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: 10_000_000 }), Type.Null()], { description: 'Parcels a day; null = no parcel limit.' })),
    kg: Type.Optional(Type.Union([Type.Number({ minimum: 0, maximum: 1e9 }), Type.Null()], { description: 'Kilograms a day; null = no weight limit.' })),
  },
  { $id: 'CapacityPut', additionalProperties: false, description: 'A capacity limit for some destination provinces on one day; a field left out keeps its current value.' },
);
const CapacityLimit = Type.Object(
  {
    courierId: Type.String(),
    provinceCode: Type.String(),
    day: Type.String({ description: 'Local day, YYYY-MM-DD.' }),
    parcels: Type.Union([Type.Integer(), Type.Null()], { description: 'Parcels a day; null = no parcel limit.' }),
    kg: Type.Union([Type.Number(), Type.Null()], { description: 'Kilograms a day; null = no weight limit.' }),
    updatedAt: Type.String({ description: 'ISO-8601 with offset.' }),
  },
  { $id: 'CapacityLimit' },
);
const Rerouted = Type.Object(
  {
    orderId: Type.String(),
    at: Type.String({ description: 'ISO-8601 with offset.' }),
    shipment: Type.Integer({ description: "Index into the order's decision.shipments." }),
    fromCourierId: Type.String(),
    toCourierId: Type.String(),
    fromTrackingNumber: Type.String(),
    trackingNumber: Type.String({ description: 'The new waybill number.' }),
    code: Type.Literal('COURIER_CAPACITY_GAP'),
    detail: Type.String(),
    parcels: Type.Integer(),
    freight: Type.Number({ description: 'Freight with the new courier, CNY.' }),
    lateness: Type.Number({ description: 'Lateness penalty with the new courier, CNY.' }),
    eta: Type.String({ description: 'The new ETA, ISO-8601 with offset.' }),
  },
  { $id: 'Reroute', description: 'A booked shipment moved to another courier.' },
);
const CapacityResult = Type.Object(
  {
    limits: Type.Array(ref(CapacityLimit), { description: 'The limits now in force, one per province.' }),
    rerouted: Type.Array(ref(Rerouted), { description: 'Shipments not yet picked up that moved to another courier.' }),
    kept: Type.Array(
      Type.Object({ orderId: Type.String(), shipment: Type.Integer(), why: Type.String() }),
      { description: 'Shipments over the new limit that stayed with the courier, and why (already picked up, or no other courier can take them).' },
    ),
  },
  { $id: 'CapacityResult' },
);
const Params = Type.Object({ courierId: Type.String({ minLength: 1, maxLength: 16, description: 'Courier id, e.g. SF.' }) });
/** The plugin's named schemas (registered by src/api/openapi.ts). */
export const COURIER_COMPONENTS = [QuoteRate, QuotesBody, QuotesView, CapacityBody, CapacityLimit, Rerouted, CapacityResult];

/**
 * PUT/GET /v1/couriers/{courierId}/quotes (the live quote book) and PUT
 * /v1/couriers/{courierId}/capacity (limits per province and day). A cut below what is booked
 * reroutes the shipments not yet picked up (src/allocate/reroute.ts); the answer lists them.
 */
export const courierRoutes =
  (svc: Services, rerouter: Rerouter): FastifyPluginAsync =>
  async (app) => {
    const book = svc.allocator.book;
    const tz = svc.config.timezoneOffsetMinutes;
    const courierOf = (id: string) => {
      const c = svc.net.couriers.find((x) => x.id === id);
      if (!c) throw new DspError('DSP_UNKNOWN_COURIER', `unknown courier ${id}`, [{ courierId: id }]);
      return c;
    };
    const view = (b: QuoteBook) => ({ ...b, updatedAt: toIsoWithOffset(b.updatedAt, tz) });

    app.put<{ Params: Static<typeof Params>; Body: Static<typeof QuotesBody> }>(
      '/v1/couriers/:courierId/quotes',
      {
        schema: {
          operationId: 'putCourierQuotes',
          tags: ['couriers'],
          summary: "Replace a courier's lane quotes (a new version, used by the next decision)",
          params: Params,
          body: ref(QuotesBody),
          response: { 200: ref(QuotesView, 'The new version of the quote book.'), ...errorResponses(...BODY_CODES, 'DSP_UNKNOWN_COURIER', 'DSP_STORE_UNAVAILABLE') },
        },
      },
      async (req) => view(await book.putQuotes(courierOf(req.params.courierId).id, req.body.rates)),
    );
    app.get<{ Params: Static<typeof Params> }>(
      '/v1/couriers/:courierId/quotes',
      {
        schema: {
          operationId: 'getCourierQuotes',
          tags: ['couriers'],
          summary: "The courier's current quote book",
          params: Params,
          response: {
            200: ref(QuotesView, 'The quote book in use.'),
            ...errorResponses('DSP_VALIDATION', 'DSP_UNKNOWN_COURIER', 'DSP_NOT_FOUND', 'DSP_STORE_UNAVAILABLE'),
          },
        },
      },
      async (req) => {
        const b = await book.getQuotes(courierOf(req.params.courierId).id);
        if (!b) throw new DspError('DSP_NOT_FOUND', `no quotes were pushed for ${req.params.courierId}; decisions use its bundled rate card`);
        return view(b);
      },
    );
    app.put<{ Params: Static<typeof Params>; Body: Static<typeof CapacityBody> }>(
      '/v1/couriers/:courierId/capacity',
      {
        schema: {
          operationId: 'setCourierCapacity',
          tags: ['couriers'],
          summary: "Set a courier's capacity per destination province and day; a cut reroutes shipments not yet picked up",
          params: Params,
          body: ref(CapacityBody),
          response: {
            200: ref(CapacityResult, 'The limits set, and what a cut did to booked shipments.'),
            ...errorResponses(...BODY_CODES, 'DSP_UNKNOWN_COURIER', 'DSP_STORE_UNAVAILABLE'),
          },
        },
      },
      async (req) => {
        const c = courierOf(req.params.courierId);
        const b = req.body;
        if (b.parcels === undefined && b.kg === undefined) throw new DspError('DSP_VALIDATION', 'give parcels and/or kg (null lifts a limit)');
        const known = new Set(svc.net.regionsGeoJson.features.map((f) => f.properties.provinceCode));
        const unknown = b.provinceCodes.filter((p) => !known.has(p));
        if (unknown.length > 0) throw new DspError('DSP_VALIDATION', `unknown province code: ${unknown.join(', ')}`, unknown.map((provinceCode) => ({ provinceCode })));
        const day = b.day ?? localDay(svc.clock(), tz);
        const limits = [];
        const rerouted = [];
        const kept = [];
        for (const provinceCode of b.provinceCodes) {
          const current = (await book.limits(provinceCode, day)).get(c.id)!;
          const l = await book.setCapacity(c.id, provinceCode, day, b.parcels === undefined ? current.parcels : b.parcels, b.kg === undefined ? current.kg : b.kg);
          limits.push({ ...l, updatedAt: toIsoWithOffset(l.updatedAt, tz) });
          const r = await rerouter.onCapacityChange(c.id, provinceCode, day);
          rerouted.push(...r.rerouted);
          kept.push(...r.kept);
        }
        return { limits, rerouted, kept };
      },
    );
  };
