import type { FastifyPluginAsync } from 'fastify';
import { ref, StockList, StockPut, StockQuery } from '../domain/schemas.js';
import { DspError } from '../errors.js';
import { BODY_CODES, errorResponses } from './responses.js';
import { stockCell } from './lot-input.js';
import type { Services } from './services.js';

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
      {
        schema: {
          operationId: 'listStock',
          tags: ['stock'],
          summary: 'Stock levels per (warehouse, SKU)',
          querystring: StockQuery,
          response: {
            200: ref(StockList, 'The stock levels that match the filters.'),
            ...errorResponses('DSP_VALIDATION', 'DSP_UNKNOWN_WAREHOUSE', 'DSP_UNKNOWN_SKU', 'DSP_STORE_UNAVAILABLE'),
          },
        },
      },
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
          operationId: 'setStock',
          tags: ['stock'],
          summary: 'Set on-hand quantities (a stock count); all items or none',
          body: ref(StockPut),
          response: {
            200: ref(StockList, 'The stock levels of the items counted, after the count.'),
            ...errorResponses(...BODY_CODES, 'DSP_UNKNOWN_WAREHOUSE', 'DSP_UNKNOWN_SKU', 'DSP_LOT_REQUIRED', 'DSP_LOT_NOT_APPLICABLE', 'DSP_LOT_EXPIRY_MISMATCH', 'DSP_STOCK_BELOW_RESERVED', 'DSP_STORE_UNAVAILABLE'),
          },
        },
      },
      async (req) => {
        const unknownWh = [...new Set(req.body.items.map((i) => i.warehouseId))].filter((id) => !svc.net.warehouseById.has(id));
        if (unknownWh.length > 0) {
          throw new DspError('DSP_UNKNOWN_WAREHOUSE', `unknown warehouse: ${unknownWh.join(', ')}`, unknownWh.map((warehouseId) => ({ warehouseId })));
        }
        const unknownSku = [...new Set(req.body.items.map((i) => i.sku))].filter((s) => !svc.net.skuByCode.has(s));
        if (unknownSku.length > 0) throw new DspError('DSP_UNKNOWN_SKU', `unknown SKU: ${unknownSku.join(', ')}`, unknownSku.map((sku) => ({ sku })));
        // Shelf-life stock is counted per lot: each item names its lot's cell (a new lot's expiry is
        // recorded first; a lot with no units counted stays an empty lot).
        const cells: string[] = [];
        for (const i of req.body.items) cells.push(await stockCell(svc, i, i.onHand > 0));
        const res = await svc.store.setOnHand(req.body.items.map((i, k) => ({ warehouseId: i.warehouseId, sku: cells[k]!, onHand: i.onHand })));
        if (!res.ok) {
          throw new DspError('DSP_STOCK_BELOW_RESERVED', 'on hand cannot go below what is reserved; nothing was changed', res.rejected);
        }
        const touched = new Set(req.body.items.map((i) => `${i.warehouseId}/${i.sku}/${i.lot ?? ''}`));
        const all = await svc.store.stock();
        return { items: all.filter((s) => touched.has(`${s.warehouseId}/${s.sku}/${s.lot ?? ''}`)) };
      },
    );
  };
