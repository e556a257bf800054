import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Decision } from '../../src/domain/schemas.js';
import type { OrderView } from '../../src/allocate/allocator.js';
import { defaultDataDir } from '../../src/network/load.js';
import { order, PLACES, testApp } from '../support/app.js';

/**
 * Issue 21's merge acceptance on one instance: three orders of one customer to one address (the
 * address written three ways) within 15 minutes share one waybill, a master and two children; the
 * group's freight is at most that of one shipment of the combined weight on the same lane (from
 * the rate card and the catalogue, read here, not from the service); a fourth order after the
 * window ships on its own; an order that opts out never joins.
 */

const dataDir = defaultDataDir();
const couriers = JSON.parse(readFileSync(join(dataDir, 'couriers', 'couriers.json'), 'utf8')) as {
  id: string;
  maxParcelKg: number;
  rates: { from: string; to: string; baseCny: number; perKgCny: number }[];
}[];
const catalogue = readFileSync(join(dataDir, 'catalogue', 'skus.json'), 'utf8');
const unitKg = (sku: string) => (JSON.parse(catalogue) as { sku: string; unitWeightKg: number }[]).find((s) => s.sku === sku)!.unitWeightKg;

const ADDRESSES = ['上海市黄浦区人民大道２００号', '上海 黄浦区 人民大道 200 号', '黄浦区人民大道二百号'];

function mergeOrder(customerId: string, placedAt: string, address: string, over: Record<string, unknown> = {}) {
  return order({ customerId, placedAt, destination: { ...PLACES.shanghaiPeoplesSquare, address }, ...over });
}

describe('merging orders of one customer to one address', () => {
  it('three orders within 15 minutes: one waybill, a master and two children, freight at most one shipment of the combined weight', async () => {
    const { app } = await testApp();
    try {
      const post = async (body: Record<string, unknown>) => {
        const r = await app.inject({ method: 'POST', url: '/v1/allocate', payload: body });
        expect(r.statusCode, r.body).toBe(200);
        return r.json<Decision>();
      };
      const lines = [[{ sku: 'BRK-0001', qty: 4 }], [{ sku: 'BRK-0001', qty: 2 }], [{ sku: 'BRK-0001', qty: 3 }]];
      const placed = ['2026-11-11T09:58:00+08:00', '2026-11-11T10:00:00+08:00', '2026-11-11T10:05:00+08:00'];
      const ds: Decision[] = [];
      for (let i = 0; i < 3; i++) ds.push(await post(mergeOrder('C-MERGE', placed[i]!, ADDRESSES[i]!, { lines: lines[i], amountCny: 4_900 - i, discountCny: i === 0 ? 800 : 0 })));
      const [master, ...children] = ds;
      expect(master!.shipments).toHaveLength(1);
      const waybill = master!.shipments[0]!.trackingNumber;
      for (const c of children) {
        expect(c.shipments).toHaveLength(1);
        expect(c.shipments[0]).toMatchObject({ trackingNumber: waybill, joinedOrderId: master!.orderId, warehouseId: master!.shipments[0]!.warehouseId, courierId: master!.shipments[0]!.courierId, eta: master!.shipments[0]!.eta, parcels: 0 });
        expect(c.reasons.map((r) => r.code)).toContain('JOINED_OPEN_SHIPMENT');
      }
      // The group's freight against one shipment of the combined weight on the same lane (rate card).
      const courier = couriers.find((c) => c.id === master!.shipments[0]!.courierId)!;
      const lane = courier.rates.find((r) => r.from === '310000' && r.to === '310000')!;
      const kg = lines.flat().reduce((n, l) => n + l.qty * unitKg(l.sku), 0);
      const one = lane.baseCny * Math.max(1, Math.ceil(kg / courier.maxParcelKg)) + lane.perKgCny * kg;
      const group = ds.reduce((n, d) => n + d.shipments[0]!.cost.freight, 0);
      expect(group).toBeLessThanOrEqual(one + 0.01);
      // Each child's freight is its weight's per-kg freight alone: no base rate, no split penalty.
      expect(children[0]!.shipments[0]!.cost).toMatchObject({ split: 0, freight: Math.round(lane.perKgCny * 2 * unitKg('BRK-0001') * 100) / 100 });

      // Every member's view shows the group: the master, the children, the waybill, the master's discount.
      for (const d of ds) {
        const v = (await app.inject({ method: 'GET', url: `/v1/orders/${d.orderId}` })).json<OrderView>();
        expect(v.groups).toHaveLength(1);
        expect(v.groups![0]).toMatchObject({ waybill, masterOrderId: master!.orderId, childOrderIds: children.map((c) => c.orderId), merged: true, open: true });
        expect(v.groups![0]!.members[0]).toMatchObject({ role: 'master', discountCny: 800, amountCny: 4_900 });
        expect(v.groups![0]!.savedCny).toBeCloseTo(2 * lane.baseCny, 2);
      }
      // Cancelling a child takes it out of the group in the views (and gives its room back); the others stay.
      const extra = await post(mergeOrder('C-MERGE', '2026-11-11T10:06:00+08:00', ADDRESSES[2]!, { lines: [{ sku: 'BRK-0001', qty: 1 }] }));
      expect(extra.shipments[0]!.trackingNumber).toBe(waybill);
      expect((await app.inject({ method: 'POST', url: `/v1/orders/${extra.orderId}/cancel` })).statusCode).toBe(200);
      const after = (await app.inject({ method: 'GET', url: `/v1/orders/${master!.orderId}` })).json<OrderView>();
      expect(after.groups![0]!.childOrderIds).toEqual(children.map((c) => c.orderId));

      // A fourth order 22 minutes after the master: outside the window, it ships on its own waybill.
      const late = await post(mergeOrder('C-MERGE', '2026-11-11T10:20:00+08:00', ADDRESSES[0]!));
      expect(late.shipments[0]!.trackingNumber).not.toBe(waybill);
      expect(late.shipments[0]!.joinedOrderId).toBeUndefined();
      // Another customer at the same address, and an order that opts out, never join.
      const other = await post(mergeOrder('C-OTHER', '2026-11-11T10:01:00+08:00', ADDRESSES[0]!));
      expect(other.shipments[0]!.trackingNumber).not.toBe(waybill);
      const out = await post(mergeOrder('C-MERGE', '2026-11-11T10:02:00+08:00', ADDRESSES[1]!, { merge: false }));
      expect(out.shipments[0]!.joinedOrderId).toBeUndefined();
      const v = (await app.inject({ method: 'GET', url: `/v1/orders/${out.orderId}` })).json<OrderView>();
      expect(v.groups).toBeUndefined();

      // The running KPIs: two joined shipments, one merged group, the base rates they saved (money, CNY).
      let kpi: { joinedShipments: number; mergedGroups: number; mergeSavedCny: number } | undefined;
      for (let i = 0; i < 50 && kpi?.joinedShipments !== 2; i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, 20));
        kpi = (await app.inject({ method: 'GET', url: '/v1/kpi' })).json();
      }
      expect(kpi).toMatchObject({ joinedShipments: 2, mergedGroups: 1 });
      expect(kpi!.mergeSavedCny).toBeCloseTo(2 * lane.baseCny, 2);
      expect(children.map((c) => c.reasons.filter((r) => r.code === 'MERGED_GROUP').length)).toEqual([0, 1]);
    } finally {
      await app.close();
    }
  });

  it('two orders share a waybill but are not a merged group below MERGE_MIN_ORDERS; MERGE_WINDOW_MINUTES=0 turns joining off', async () => {
    const { app } = await testApp();
    const { app: off } = await testApp({ mergeWindowMinutes: 0 });
    try {
      const a = (await app.inject({ method: 'POST', url: '/v1/allocate', payload: mergeOrder('C-TWO', '2026-11-11T09:58:00+08:00', ADDRESSES[0]!) })).json<Decision>();
      const b = (await app.inject({ method: 'POST', url: '/v1/allocate', payload: mergeOrder('C-TWO', '2026-11-11T09:59:00+08:00', ADDRESSES[2]!) })).json<Decision>();
      expect(b.shipments[0]!.trackingNumber).toBe(a.shipments[0]!.trackingNumber);
      const v = (await app.inject({ method: 'GET', url: `/v1/orders/${a.orderId}` })).json<OrderView>();
      expect(v.groups![0]).toMatchObject({ merged: false, childOrderIds: [b.orderId] });
      const c = (await off.inject({ method: 'POST', url: '/v1/allocate', payload: mergeOrder('C-TWO', '2026-11-11T09:58:00+08:00', ADDRESSES[0]!) })).json<Decision>();
      const d = (await off.inject({ method: 'POST', url: '/v1/allocate', payload: mergeOrder('C-TWO', '2026-11-11T09:59:00+08:00', ADDRESSES[0]!) })).json<Decision>();
      expect(d.shipments[0]!.trackingNumber).not.toBe(c.shipments[0]!.trackingNumber);
    } finally {
      await app.close();
      await off.close();
    }
  });

  it('never joins a shipment collected before the order could be picked: after the cut-off it ships next day on its own', async () => {
    // SH01: cut-off 18:00, 2 h processing, waves 12:00 and 20:30 (tests/api/waves.test.ts reads them from the data).
    let now = Date.parse('2026-11-11T17:50:00+08:00');
    const { app } = await testApp({}, undefined, () => now);
    try {
      const body = (placedAt: string) => mergeOrder('C-CUT', placedAt, ADDRESSES[0]!, { promisedBy: '2026-11-14T18:00:00+08:00' });
      const a = (await app.inject({ method: 'POST', url: '/v1/allocate', payload: body('2026-11-11T17:50:00+08:00') })).json<Decision>();
      expect(a.shipments[0]!.pickupAt).toBe('2026-11-11T20:30:00+08:00');
      now = Date.parse('2026-11-11T18:05:00+08:00');
      const b = (await app.inject({ method: 'POST', url: '/v1/allocate', payload: body('2026-11-11T18:05:00+08:00') })).json<Decision>();
      expect(b.shipments[0]!.joinedOrderId).toBeUndefined();
      expect(b.shipments[0]!.trackingNumber).not.toBe(a.shipments[0]!.trackingNumber);
    } finally {
      await app.close();
    }
  });
});
