import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { localDay, toIsoWithOffset } from '../allocate/time.js';
import type { Rerouter } from '../allocate/reroute.js';
import type { QuoteBook } from '../couriers/book.js';
import { ErrorBody } from '../domain/schemas.js';
import { DspError } from '../errors.js';
import type { Services } from './services.js';

const Province = Type.String({ pattern: '^(\\d{6}|\\*)$', description: 'Province code (GB/T 2260, e.g. 310000), or * for any.' });
const QuoteRate = Type.Object(
  {
    from: Province,
    to: Province,
    baseCny: Type.Number({ minimum: 0, maximum: 10_000, description: 'CNY per parcel.' }),
    perKgCny: Type.Number({ minimum: 0, maximum: 1_000, description: 'CNY per kg.' }),
    transitHours: Type.Number({ minimum: 0, maximum: 720, description: 'Hours from handover to delivery.' }),
  },
  { additionalProperties: false },
);
const QuotesBody = Type.Object({ rates: Type.Array(QuoteRate, { minItems: 1, maxItems: 10_000 }) }, { additionalProperties: false });
const QuotesView = Type.Object({
  courierId: Type.String(),
  version: Type.Integer({ description: '1, 2, …: each PUT is a new version, used by the next decision.' }),
  updatedAt: Type.String(),
  rates: Type.Array(QuoteRate),
});
const CapacityBody = Type.Object(
  {
    provinceCodes: Type.Array(Type.String({ pattern: '^\\d{6}$' }), { minItems: 1, maxItems: 64, description: 'Destination provinces the limit applies to (East China: 310000, 320000, 330000, 340000, …).' }),
    day: Type.Optional(Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'Local day, YYYY-MM-DD; default today.' })),
    parcels: Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: 10_000_000 }), Type.Null()], { description: 'Parcels a day; null = no parcel limit.' })),
    kg: Type.Optional(Type.Union([Type.Number({ minimum: 0, maximum: 1e9 }), Type.Null()], { description: 'Kilograms a day; null = no weight limit.' })),
  },
  { additionalProperties: false },
);
const Params = Type.Object({ courierId: Type.String({ minLength: 1, maxLength: 16 }) });

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
      { schema: { tags: ['couriers'], summary: "Replace a courier's lane quotes (a new version, used by the next decision)", params: Params, body: QuotesBody, response: { 200: QuotesView, 400: ErrorBody, 404: ErrorBody } } },
      async (req) => view(await book.putQuotes(courierOf(req.params.courierId).id, req.body.rates)),
    );
    app.get<{ Params: Static<typeof Params> }>(
      '/v1/couriers/:courierId/quotes',
      { schema: { tags: ['couriers'], summary: "The courier's current quote book", params: Params, response: { 200: QuotesView, 404: ErrorBody } } },
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
          tags: ['couriers'],
          summary: "Set a courier's capacity per destination province and day; a cut reroutes shipments not yet picked up",
          params: Params,
          body: CapacityBody,
          response: { 400: ErrorBody, 404: ErrorBody, 422: ErrorBody },
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
