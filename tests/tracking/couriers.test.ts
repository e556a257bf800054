import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Decision } from '../../src/domain/schemas.js';
import type { MemoryStore } from '../../src/store/memory.js';
import { FIXED_NOW, order, PLACES, testApp } from '../support/app.js';

const EAST_CHINA = ['310000', '320000', '330000', '340000'];
const DESTS = [PLACES.shanghaiPeoplesSquare, PLACES.suzhouCentre, PLACES.hefeiCentre, { lon: 120.1551, lat: 30.2741 }];
const SKUS = ['BRK-0001', 'FLO-0001', 'WIP-0001', 'OIL-0001', 'SPK-0001'];

interface OrderView {
  state: string;
  decision: Decision;
  reroutes: { shipment: number; fromCourierId: string; toCourierId: string; fromTrackingNumber: string; trackingNumber: string; code: string }[];
}

describe('courier capacity gaps and reroutes', () => {
  let app: FastifyInstance;
  let store: MemoryStore;
  let now = FIXED_NOW;
  beforeEach(async () => {
    now = FIXED_NOW;
    ({ app, store } = await testApp({}, undefined, () => now));
  });
  afterEach(async () => {
    await app.close();
  });
  // One shipment per order (merge: false): these orders share a customer and four addresses, and
  // the reroutes are about each order's own shipment, not about orders joining one (issue 21).
  const allocate = async (i: number) =>
    (await app.inject({ method: 'POST', url: '/v1/allocate', payload: order({ orderId: `G-${i}`, destination: DESTS[i % 4], lines: [{ sku: SKUS[i % 5]!, qty: 1 + (i % 3) }], merge: false }) })).json<Decision>();
  const view = async (id: string) => (await app.inject(`/v1/orders/${id}`)).json<OrderView>();

  it("STO's East-China capacity cut to 0 mid-stream: later decisions avoid STO there, every STO shipment not yet picked up is rerouted with a new tracking number and an event", async () => {
    const before: Decision[] = [];
    for (let i = 0; i < 60; i++) before.push(await allocate(i));
    const onSto = before.filter((d) => d.shipments.some((s) => s.courierId === 'STO'));
    expect(onSto.length).toBeGreaterThan(5);
    // Two STO orders have already left the warehouse (picked up): they stay with STO.
    const pickedUp = onSto.slice(0, 2).map((d) => d.orderId);
    now += 3 * 3_600_000;
    const scans = await app.inject({
      method: 'POST',
      url: '/v1/wms/events',
      payload: { events: pickedUp.map((orderId) => ({ orderId, code: 'GATE_OUT', at: new Date(now - 60_000).toISOString() })) },
    });
    expect(scans.json().results.map((r: { status: string }) => r.status)).toEqual(['applied', 'applied']);
    // The ERP cancels one STO order: it is not rerouted (nothing to move).
    const cancelled = onSto[2]!.orderId;
    await app.inject({ method: 'POST', url: `/v1/orders/${cancelled}/cancel` });

    // The reroute events (what the live map subscribes to).
    const events: { orderId: string; trackingNumber: string }[] = [];
    app.dspServices.rerouter.listeners.push((orderId, r) => events.push({ orderId, trackingNumber: r.trackingNumber }));
    const cut = await app.inject({ method: 'PUT', url: '/v1/couriers/STO/capacity', payload: { provinceCodes: EAST_CHINA, parcels: 0 } });
    expect(cut.statusCode).toBe(200);
    const body = cut.json<{ rerouted: { orderId: string; trackingNumber: string }[]; kept: { orderId: string; why: string }[] }>();
    expect(events).toEqual(body.rerouted.map((r) => ({ orderId: r.orderId, trackingNumber: r.trackingNumber })));

    const expected = onSto.map((d) => d.orderId).filter((id) => !pickedUp.includes(id) && id !== cancelled);
    expect(new Set(body.rerouted.map((r) => r.orderId))).toEqual(new Set(expected));
    expect(body.kept.map((k) => k.orderId).sort()).toEqual([...pickedUp].sort());
    for (const id of expected) {
      const v = await view(id);
      const original = onSto.find((d) => d.orderId === id)!;
      for (const [i, s] of v.decision.shipments.entries()) {
        expect(s.courierId, id).not.toBe('STO');
        if (original.shipments[i]!.courierId === 'STO') {
          expect(s.trackingNumber).not.toBe(original.shipments[i]!.trackingNumber);
          expect(v.reroutes).toContainEqual(expect.objectContaining({ shipment: i, fromCourierId: 'STO', toCourierId: s.courierId, code: 'COURIER_CAPACITY_GAP', trackingNumber: s.trackingNumber }));
        }
      }
      // The order's total follows its shipments.
      expect(v.decision.totalCost).toBeCloseTo(v.decision.shipments.reduce((n, s) => n + s.cost.total, 0), 2);
    }
    for (const id of pickedUp) expect((await view(id)).decision.shipments.some((s) => s.courierId === 'STO')).toBe(true);

    // Capacity use moved with the shipments: STO holds only the picked-up parcels.
    const day = '2026-11-11';
    const stoUse = await store.counters(EAST_CHINA.map((p) => `cap:courier:STO:${p}:${day}:parcels`));
    const pickedParcels = onSto.filter((d) => pickedUp.includes(d.orderId)).flatMap((d) => d.shipments.filter((s) => s.courierId === 'STO')).reduce((n, s) => n + s.parcels, 0);
    expect([...stoUse.values()].reduce((a, b) => a + b, 0)).toBe(pickedParcels);

    // Later decisions in East China never use STO.
    for (let i = 60; i < 100; i++) {
      const d = await allocate(i);
      expect(d.shipments.map((s) => s.courierId)).not.toContain('STO');
    }
    expect((await app.inject('/v1/kpi')).json().reroutes).toBe(body.rerouted.length);
  }, 60_000);

  it('rejects bad capacity and quote requests with clear errors', async () => {
    const bad: [string, string, object, number, string][] = [
      ['PUT', '/v1/couriers/NOPE/capacity', { provinceCodes: ['310000'], parcels: 0 }, 404, 'DSP_UNKNOWN_COURIER'],
      ['PUT', '/v1/couriers/STO/capacity', { provinceCodes: ['999999'], parcels: 0 }, 400, 'DSP_VALIDATION'],
      ['PUT', '/v1/couriers/STO/capacity', { provinceCodes: ['310000'] }, 400, 'DSP_VALIDATION'],
      ['PUT', '/v1/couriers/STO/capacity', { provinceCodes: ['310000'], parcels: -1 }, 400, 'DSP_VALIDATION'],
      ['PUT', '/v1/couriers/STO/quotes', { rates: [] }, 400, 'DSP_VALIDATION'],
      ['PUT', '/v1/couriers/STO/quotes', { rates: [{ from: 'SH', to: '*', baseCny: 1, perKgCny: 1, transitHours: 1 }] }, 400, 'DSP_VALIDATION'],
    ];
    for (const [method, url, payload, status, code] of bad) {
      const r = await app.inject({ method: method as 'PUT', url, payload });
      expect(r.statusCode, `${url} ${JSON.stringify(payload)}`).toBe(status);
      expect(r.json().error.code).toBe(code);
    }
    expect((await app.inject('/v1/couriers/ZTO/quotes')).statusCode).toBe(404);
  });

  it('a pushed quote is used by the next decision, versioned, and flagged once older than QUOTE_MAX_AGE_HOURS', async () => {
    // ZTO quotes Shanghai -> Shanghai at 1 CNY a parcel: the next Shanghai order ships ZTO at that price.
    const q = await app.inject({ method: 'PUT', url: '/v1/couriers/ZTO/quotes', payload: { rates: [{ from: '310000', to: '310000', baseCny: 1, perKgCny: 0.1, transitHours: 20 }] } });
    expect(q.json()).toMatchObject({ courierId: 'ZTO', version: 1 });
    const d = (await app.inject({ method: 'POST', url: '/v1/allocate', payload: order({ lines: [{ sku: 'BRK-0001', qty: 1 }] }) })).json<Decision>();
    expect(d.shipments[0]).toMatchObject({ warehouseId: 'SH01', courierId: 'ZTO' });
    expect(d.shipments[0]!.cost.freight).toBeCloseTo(1 * d.shipments[0]!.parcels + 0.1 * d.shipments[0]!.weightKg, 2);
    expect(d.reasons.map((r) => r.code)).not.toContain('QUOTE_STALE');
    const q2 = await app.inject({ method: 'PUT', url: '/v1/couriers/ZTO/quotes', payload: { rates: [{ from: '310000', to: '310000', baseCny: 1.5, perKgCny: 0.1, transitHours: 20 }] } });
    expect(q2.json().version).toBe(2);
    now += 25 * 3_600_000;
    const late = (await app.inject({ method: 'POST', url: '/v1/allocate', payload: order({ placedAt: undefined, promisedBy: new Date(now + 48 * 3_600_000).toISOString(), lines: [{ sku: 'BRK-0001', qty: 1 }] }) })).json<Decision>();
    expect(late.shipments[0]!.courierId).toBe('ZTO');
    expect(late.reasons).toContainEqual(expect.objectContaining({ code: 'QUOTE_STALE', warehouseId: 'SH01' }));
  });

  it('a quote may sell its lane in days with a delivery window (optional fields), and the ETA follows it', async () => {
    const bad = await app.inject({ method: 'PUT', url: '/v1/couriers/ZTO/quotes', payload: { rates: [{ from: '310000', to: '310000', baseCny: 1, perKgCny: 0.1, transitHours: 20, deliverByLocal: '25:00' }] } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe('DSP_VALIDATION');
    const q = await app.inject({ method: 'PUT', url: '/v1/couriers/ZTO/quotes', payload: { rates: [{ from: '310000', to: '310000', baseCny: 1, perKgCny: 0.1, transitHours: 20, transitDays: 2, deliverByLocal: '12:00' }] } });
    expect(q.statusCode).toBe(200);
    expect(q.json().rates[0]).toMatchObject({ transitDays: 2, deliverByLocal: '12:00' });
    const d = (await app.inject({ method: 'POST', url: '/v1/allocate', payload: order({ promisedBy: '2026-11-14T18:00:00+08:00', lines: [{ sku: 'BRK-0001', qty: 1 }] }) })).json<Decision>();
    expect(d.shipments[0]).toMatchObject({ courierId: 'ZTO', warehouseId: 'SH01' });
    // Collected on the 11th (10:00 is before SH01's cut-off): delivered two days later by 12:00.
    expect(d.shipments[0]!.pickupAt!.slice(0, 10)).toBe('2026-11-11');
    expect(d.shipments[0]!.eta).toBe('2026-11-13T12:00:00+08:00');
  });
});
