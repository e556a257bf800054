import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { Services } from './services.js';

const Warehouse = Type.Object({
  id: Type.String(),
  name: Type.String(),
  city: Type.String(),
  cityZh: Type.String(),
  province: Type.String(),
  regionCode: Type.String(),
  lon: Type.Number({ description: 'WGS84 degrees' }),
  lat: Type.Number({ description: 'WGS84 degrees' }),
  radiusKm: Type.Number({ description: 'Service radius, road km' }),
  processingHours: Type.Number({ description: 'hours' }),
  cutoffLocal: Type.String({ description: 'HH:MM local time' }),
  dailyOutboundParcels: Type.Integer({ description: 'parcels/day' }),
  kind: Type.String(),
});
const Courier = Type.Object({
  id: Type.String(),
  name: Type.String(),
  kind: Type.String(),
  maxParcelKg: Type.Number({ description: 'kg' }),
  dailyParcelsPerRegion: Type.Union([Type.Integer(), Type.Null()], { description: 'parcels/day per destination province' }),
});
const Sku = Type.Object({
  sku: Type.String(),
  name: Type.String(),
  category: Type.String(),
  unitWeightKg: Type.Number({ description: 'kg' }),
  priceCny: Type.Number({ description: 'CNY per unit' }),
  grossMarginCny: Type.Number({ description: 'CNY per unit' }),
  shelfLifeDays: Type.Union([Type.Integer(), Type.Null()], { description: 'days' }),
});

/** GET /v1/network: the warehouses, couriers and catalogue the service decides over. */
export const networkRoutes =
  (svc: Services): FastifyPluginAsync =>
  async (app) => {
    app.get(
      '/v1/network',
      {
        schema: {
          tags: ['network'],
          summary: 'Warehouses, couriers and SKUs',
          response: { 200: Type.Object({ warehouses: Type.Array(Warehouse), couriers: Type.Array(Courier), skus: Type.Array(Sku) }) },
        },
      },
      async () => ({ warehouses: svc.net.warehouses, couriers: svc.net.couriers, skus: svc.net.network.skus }),
    );
  };
