import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { ref } from '../domain/schemas.js';
import { errorResponses } from './responses.js';
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
  pickupWavesLocal: Type.Optional(Type.Array(Type.String(), { description: 'Courier collection waves, HH:MM local time' })),
  kind: Type.String(),
}, { $id: 'Warehouse' });
const Courier = Type.Object({
  id: Type.String(),
  name: Type.String(),
  kind: Type.String(),
  maxParcelKg: Type.Number({ description: 'kg' }),
  dailyParcelsPerRegion: Type.Union([Type.Integer(), Type.Null()], { description: 'parcels/day per destination province' }),
}, { $id: 'Courier' });
const Sku = Type.Object({
  sku: Type.String(),
  name: Type.String(),
  category: Type.String(),
  unitWeightKg: Type.Number({ description: 'kg' }),
  priceCny: Type.Number({ description: 'CNY per unit' }),
  grossMarginCny: Type.Number({ description: 'CNY per unit' }),
  shelfLifeDays: Type.Union([Type.Integer(), Type.Null()], { description: 'days' }),
  minRemainingShelfLifeDays: Type.Union([Type.Integer(), Type.Null()], { description: 'days: least shelf life left at delivery (per-customer overrides: MIN_SHELF_LIFE_OVERRIDES)' }),
}, { $id: 'Sku' });
export const NetworkView = Type.Object(
  { warehouses: Type.Array(ref(Warehouse)), couriers: Type.Array(ref(Courier)), skus: Type.Array(ref(Sku)) },
  { $id: 'Network', description: 'The warehouses, couriers and catalogue the service decides over.' },
);
/** The plugin's named schemas (registered by src/api/openapi.ts). */
export const NETWORK_COMPONENTS = [Warehouse, Courier, Sku, NetworkView];

/** GET /v1/network: the warehouses, couriers and catalogue the service decides over. */
export const networkRoutes =
  (svc: Services): FastifyPluginAsync =>
  async (app) => {
    app.get(
      '/v1/network',
      {
        schema: {
          operationId: 'getNetwork',
          tags: ['network'],
          summary: 'Warehouses, couriers and SKUs',
          response: { 200: ref(NetworkView, 'The network.'), ...errorResponses() },
        },
      },
      async () => ({ warehouses: svc.net.warehouses, couriers: svc.net.couriers, skus: svc.net.network.skus }),
    );
  };
