import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import type { Decision } from '../../src/domain/schemas.js';
import type { MemoryStore } from '../../src/store/memory.js';
import { network, order, testApp } from '../support/app.js';

// FEFO over the API at FIXED_NOW (2026-11-11): BFL-0001 (brake fluid) has a 1095-day shelf life
// and needs 365 days left at delivery; its bundled stock without a lot is counted down to zero
// first, so only the lots received here exist.
const SKU = 'BFL-0001';

let app: FastifyInstance;
let store: MemoryStore;
afterEach(async () => {
  await app.close();
});

const events = async (list: object[]) => (await app.inject({ method: 'POST', url: '/v1/stock/events', payload: { events: list } })).json<{ results: { status: string; code?: string }[] }>().results;
const receipt = (warehouseId: string, lot: string, expiresOn: string | undefined, qty: number) => ({ type: 'receipt', warehouseId, sku: SKU, lot, ...(expiresOn === undefined ? {} : { expiresOn }), qty });
const lotOf = async (warehouseId: string, lot: string) => (await store.stock({ warehouseId, sku: SKU })).find((r) => r.lot === lot);

async function start(overrides = {}) {
  ({ app, store } = await testApp(overrides));
  const zero = network().warehouses.map((w) => ({ warehouseId: w.id, sku: SKU, onHand: 0 }));
  expect((await app.inject({ method: 'PUT', url: '/v1/stock', payload: { items: zero } })).statusCode).toBe(200);
  const r = await events([
    receipt('SH01', 'EXPIRED', '2026-11-01', 50),
    receipt('SH01', 'SHORT', '2027-06-01', 50), // 202 days left: below the 365-day minimum
    receipt('SH01', 'A', '2028-01-10', 3),
    receipt('SH01', 'C', '2029-01-01', 20),
    receipt('SH01', 'B', '2028-03-01', 2),
  ]);
  expect(r.map((x) => x.status)).toEqual(['applied', 'applied', 'applied', 'applied', 'applied']);
}

const lotsOf = (d: Decision) => d.shipments.flatMap((s) => s.lines.flatMap((l) => (l.lots ?? []).map((k) => `${k.fromWarehouseId}/${k.lot}x${k.qty}`)));

describe('lots of shelf-life SKUs (FEFO)', () => {
  it('validates lots on receipts, counts and adjustments', async () => {
    await start();
    const r = await events([
      { type: 'receipt', warehouseId: 'SH01', sku: SKU, qty: 5 },
      receipt('SH01', 'NEW', undefined, 5),
      { type: 'receipt', warehouseId: 'SH01', sku: 'BRK-0001', lot: 'X', expiresOn: '2030-01-01', qty: 5 },
      receipt('SH01', 'A', '2031-01-01', 1),
      receipt('SH01', 'A', undefined, 1),
      receipt('SH01', 'BAD', '2027-02-30', 1),
      { type: 'adjustment', warehouseId: 'SH01', sku: SKU, lot: 'C', delta: -1 },
    ]);
    expect(r.map((x) => x.code ?? x.status)).toEqual(['DSP_LOT_REQUIRED', 'DSP_LOT_REQUIRED', 'DSP_LOT_NOT_APPLICABLE', 'DSP_LOT_EXPIRY_MISMATCH', 'applied', 'DSP_VALIDATION', 'applied']);
    expect(await lotOf('SH01', 'A')).toMatchObject({ onHand: 4, expiresOn: '2028-01-10' });
    const put = await app.inject({ method: 'PUT', url: '/v1/stock', payload: { items: [{ warehouseId: 'SH01', sku: SKU, onHand: 9 }] } });
    expect(put.json()).toMatchObject({ error: { code: 'DSP_LOT_REQUIRED' } });
  });

  it('ships the earliest-expiring eligible lots, never an expired lot or one below the minimum; ship commits them, cancel returns them', async () => {
    await start();
    const a = await app.inject({ method: 'POST', url: '/v1/allocate', payload: order({ lines: [{ sku: SKU, qty: 4 }] }) });
    expect(a.statusCode, a.body).toBe(200);
    const d = a.json<Decision>();
    expect(lotsOf(d)).toEqual(['SH01/Ax3', 'SH01/Bx1']);
    expect(await lotOf('SH01', 'A')).toMatchObject({ onHand: 3, reserved: 3, free: 0 });
    expect(await lotOf('SH01', 'EXPIRED')).toMatchObject({ reserved: 0 });
    expect(await lotOf('SH01', 'SHORT')).toMatchObject({ reserved: 0 });
    expect((await events([{ type: 'shipped', orderId: d.orderId }]))[0]!.status).toBe('applied');
    expect(await lotOf('SH01', 'A')).toMatchObject({ onHand: 0, reserved: 0 });
    expect(await lotOf('SH01', 'B')).toMatchObject({ onHand: 1, reserved: 0 });

    const b = (await app.inject({ method: 'POST', url: '/v1/allocate', payload: order({ lines: [{ sku: SKU, qty: 3 }] }) })).json<Decision>();
    expect(lotsOf(b)).toEqual(['SH01/Bx1', 'SH01/Cx2']);
    expect((await app.inject({ method: 'POST', url: `/v1/orders/${b.orderId}/cancel` })).statusCode).toBe(200);
    expect(await lotOf('SH01', 'B')).toMatchObject({ onHand: 1, free: 1, reserved: 0 });
    expect(await lotOf('SH01', 'C')).toMatchObject({ onHand: 20, free: 20, reserved: 0 });

    // 21 eligible units are left at SH01 and none elsewhere: a larger order backorders rather
    // than take the 100 units that are expired or too short-lived.
    const c = (await app.inject({ method: 'POST', url: '/v1/allocate', payload: order({ lines: [{ sku: SKU, qty: 30 }] }) })).json<Decision>();
    expect(c.backordered).toEqual([{ sku: SKU, qty: 9 }]);
    expect(lotsOf(c)).toEqual(['SH01/Bx1', 'SH01/Cx20']);
  });

  it('ships a near-expiry lot first, says so, and counts its units in the KPIs', async () => {
    await start();
    // 379 days left: 14 days before it falls below the 365-day minimum (NEAR_EXPIRY_WINDOW_DAYS 30).
    expect((await events([receipt('SH01', 'NEAR', '2027-11-25', 2)]))[0]!.status).toBe('applied');
    const d = (await app.inject({ method: 'POST', url: '/v1/allocate', payload: order({ lines: [{ sku: SKU, qty: 3 }] }) })).json<Decision>();
    expect(d.shipments[0]!.lines[0]!.lots).toEqual([
      { lot: 'NEAR', expiresOn: '2027-11-25', fromWarehouseId: 'SH01', qty: 2, nearExpiry: true },
      { lot: 'A', expiresOn: '2028-01-10', fromWarehouseId: 'SH01', qty: 1 },
    ]);
    const kpi = (await app.inject({ method: 'GET', url: '/v1/kpi' })).json<{ nearExpiryUnitsShipped: number }>();
    expect(kpi.nearExpiryUnitsShipped).toBe(2);
  });

  it('applies a customer override of the minimum remaining shelf life', async () => {
    await start({ minShelfLifeOverrides: 'C-STRICT=600' });
    const d = (await app.inject({ method: 'POST', url: '/v1/allocate', payload: order({ customerId: 'C-STRICT', lines: [{ sku: SKU, qty: 4 }] }) })).json<Decision>();
    // A (2028-01-10) and B (2028-03-01) arrive with fewer than 600 days left.
    expect(lotsOf(d)).toEqual(['SH01/Cx4']);
  });
});
