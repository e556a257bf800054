import type { FastifyInstance } from 'fastify';
import { describe, expect, it } from 'vitest';
import type { Decision } from '../../src/domain/schemas.js';
import { FIXED_NOW, network, order, redisTestApp, testApp } from '../support/app.js';
import { useRedis } from '../support/redis-server.js';

/**
 * GET /v1/kpi writtenOffUnits / writtenOffValueCny (issue 21, item 5): the free units of lots
 * that can no longer be sold to any customer under the SKU's default minimum remaining shelf life
 * (or have expired), at the KPI's time, valued at list price. The same story on the embedded
 * store and on Redis, with the clock moved across a lot's last sellable moment.
 *
 * BFL-0001 (47 CNY): 1095-day shelf life, 365 days at least at delivery. CLT-0001 (48 CNY): 609.
 * FIXED_NOW is 2026-11-11 10:00 +08:00.
 */
const BFL = 'BFL-0001';
const CLT = 'CLT-0001';

async function story(app: FastifyInstance, clock: { now: number }) {
  const kpi = async () => (await app.inject({ method: 'GET', url: '/v1/kpi' })).json<{ writtenOffUnits: number; writtenOffValueCny: number }>();
  const events = async (list: object[]) => {
    const r = (await app.inject({ method: 'POST', url: '/v1/stock/events', payload: { events: list } })).json<{ results: { status: string }[] }>();
    expect(r.results.map((x) => x.status)).toEqual(list.map(() => 'applied'));
  };
  // Only the lots received here exist: the bundled stock of the two SKUs (kept without a lot) is counted to zero.
  const zero = network().warehouses.flatMap((w) => [BFL, CLT].map((sku) => ({ warehouseId: w.id, sku, onHand: 0 })));
  expect((await app.inject({ method: 'PUT', url: '/v1/stock', payload: { items: zero } })).statusCode).toBe(200);
  expect(await kpi()).toMatchObject({ writtenOffUnits: 0, writtenOffValueCny: 0 });

  const receipt = (warehouseId: string, sku: string, lot: string, expiresOn: string, qty: number) => ({ type: 'receipt', warehouseId, sku, lot, expiresOn, qty });
  await events([
    receipt('SH01', BFL, 'EXPIRED', '2026-11-01', 5), // expired ten days ago
    receipt('SZ01', BFL, 'SHORT', '2027-06-01', 7), // 202 days left: below the 365-day minimum
    receipt('SH01', BFL, 'EDGE', '2027-11-13', 10), // last sellable moment 2026-11-13 00:00 +08:00
    receipt('SH01', BFL, 'FRESH', '2029-01-01', 20),
    receipt('HZ01', CLT, 'OLD', '2027-12-01', 3), // 385 days left: below CLT's 609
    receipt('HZ01', CLT, 'GOOD', '2030-01-01', 4),
  ]);
  // EXPIRED, SHORT and OLD can no longer be sold; EDGE and FRESH can, and so can GOOD.
  expect(await kpi()).toEqual(expect.objectContaining({ writtenOffUnits: 5 + 7 + 3, writtenOffValueCny: (5 + 7) * 47 + 3 * 48 }));

  // An order takes 4 units of EDGE (earliest eligible expiry first) and holds them, unshipped.
  const res = await app.inject({ method: 'POST', url: '/v1/allocate', payload: order({ lines: [{ sku: BFL, qty: 4 }], promisedBy: '2026-11-12T18:00:00+08:00' }) });
  expect(res.statusCode, res.body).toBe(200);
  const d = res.json<Decision>();
  expect(d.shipments.flatMap((s) => s.lines.flatMap((l) => (l.lots ?? []).map((x) => `${x.lot}x${x.qty}`)))).toEqual(['EDGEx4']);

  // At EDGE's last sellable moment it is still sellable (a delivery right then keeps 365 days) ...
  clock.now = Date.parse('2026-11-13T00:00:00+08:00');
  expect((await kpi()).writtenOffUnits).toBe(15);
  // ... a moment later it is not: its 6 free units are written off, the 4 the order holds are sold.
  clock.now += 1;
  expect(await kpi()).toEqual(expect.objectContaining({ writtenOffUnits: 15 + 6, writtenOffValueCny: (5 + 7 + 6) * 47 + 3 * 48 }));
  // The order ships: its units leave EDGE and the figure stays.
  await events([{ type: 'shipped', orderId: d.orderId }]);
  expect((await kpi()).writtenOffUnits).toBe(21);
  // Counting the expired lot down to zero (the write-off done in the warehouse) takes it out.
  await events([{ type: 'adjustment', warehouseId: 'SH01', sku: BFL, lot: 'EXPIRED', delta: -5 }]);
  expect(await kpi()).toEqual(expect.objectContaining({ writtenOffUnits: 16, writtenOffValueCny: (7 + 6) * 47 + 3 * 48 }));
}

describe('write-offs in GET /v1/kpi', () => {
  it('on the embedded store', async () => {
    const clock = { now: FIXED_NOW };
    const { app } = await testApp({}, undefined, () => clock.now);
    try {
      await story(app, clock);
    } finally {
      await app.close();
    }
  });

  describe('on Redis', () => {
    const db = useRedis();

    it('on one Redis node, with the store on the same clock', async () => {
      const clock = { now: FIXED_NOW };
      const { app } = await redisTestApp(db.url, () => clock.now);
      try {
        await story(app, clock);
      } finally {
        await app.close();
      }
    });
  });
});
