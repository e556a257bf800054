import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { ErrorBody, StockLevelSchema, StockPut, StockQuery } from '../domain/schemas.js';
import { DspError } from '../errors.js';
import type { Services } from './services.js';

const StockList = Type.Object({ items: Type.Array(StockLevelSchema) });

/** GET /v1/stock (on hand, free, reserved) and PUT /v1/stock (set on-hand counts). */
export const stockRoutes =
  (svc: Services): FastifyPluginAsync =>
  async (app) => {
    const checkWarehouse = (id: string | undefined) => {
      if (id !== undefined && !svc.net.warehouseById.has(id)) {
        throw new DspError('DSP_UNKNOWN_WAREHOUSE', `unknown warehouse ${id}`, [{ warehouseId: id }]);
      }
    };
    const checkSku = (sku: string | undefined) => {
      if (sku !== undefined && !svc.net.skuByCode.has(sku)) throw new DspError('DSP_UNKNOWN_SKU', `unknown SKU ${sku}`, [{ sku }]);
    };

    app.get<{ Querystring: { warehouseId?: string; sku?: string } }>(
      '/v1/stock',
      { schema: { tags: ['stock'], summary: 'Stock levels per (warehouse, SKU)', querystring: StockQuery, response: { 200: StockList, 400: ErrorBody, 422: ErrorBody } } },
      async (req) => {
        checkWarehouse(req.query.warehouseId);
        checkSku(req.query.sku);
        return { items: await svc.store.stock(req.query) };
      },
    );

    app.put<{ Body: StockPut }>(
      '/v1/stock',
      {
        schema: {
          tags: ['stock'],
          summary: 'Set on-hand quantities (a stock count); all items or none',
          body: StockPut,
          response: { 200: StockList, 400: ErrorBody, 409: ErrorBody, 422: ErrorBody },
        },
      },
      async (req) => {
        const unknownWh = [...new Set(req.body.items.map((i) => i.warehouseId))].filter((id) => !svc.net.warehouseById.has(id));
        if (unknownWh.length > 0) {
          throw new DspError('DSP_UNKNOWN_WAREHOUSE', `unknown warehouse: ${unknownWh.join(', ')}`, unknownWh.map((warehouseId) => ({ warehouseId })));
        }
        const unknownSku = [...new Set(req.body.items.map((i) => i.sku))].filter((s) => !svc.net.skuByCode.has(s));
        if (unknownSku.length > 0) throw new DspError('DSP_UNKNOWN_SKU', `unknown SKU: ${unknownSku.join(', ')}`, unknownSku.map((sku) => ({ sku })));
        const res = await svc.store.setOnHand(req.body.items);
        if (!res.ok) {
          throw new DspError('DSP_STOCK_BELOW_RESERVED', 'on hand cannot go below what is reserved; nothing was changed', res.rejected);
        }
        const touched = new Set(req.body.items.map((i) => `${i.warehouseId}/${i.sku}`));
        const all = await svc.store.stock();
        return { items: all.filter((s) => touched.has(`${s.warehouseId}/${s.sku}`)) };
      },
    );
  };
