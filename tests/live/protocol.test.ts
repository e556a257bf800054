import { io, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LiveCodec, type LiveEvent } from '../../src/live/codec.js';
import type { LiveDecision } from '../../src/live/hub.js';
import { startLiveService, type LiveService } from '../../src/live/standalone.js';
import { network, order, TEST_AUTH_CONFIG, TEST_KEY, withKey } from '../support/app.js';

/**
 * The /live namespace with a real socket.io-client: a snapshot first (warehouses, stock, recent
 * decisions), then `decision` batches from the demo feed and from POST /v1/allocate, every
 * payload decoded with the same src/proto/dispatchd.proto the server encodes with.
 */
let svc: LiveService;
const codec = LiveCodec.loadSync();
const clients: Socket[] = [];

beforeAll(async () => {
  svc = await startLiveService({ net: network(), feedRate: 8, feedSeed: 7, config: TEST_AUTH_CONFIG });
  withKey(svc.app);
}, 60_000);
afterAll(async () => {
  for (const c of clients) c.close();
  await svc?.close();
});

interface Received {
  event: LiveEvent;
  value: Record<string, unknown>;
}

function connect(): { socket: Socket; got: Received[]; waitFor: (pred: (r: Received[]) => boolean, ms?: number) => Promise<void> } {
  const socket = io(`${svc.url}/live`, { transports: ['websocket'], forceNew: true, auth: { key: TEST_KEY } });
  clients.push(socket);
  const got: Received[] = [];
  for (const event of ['snapshot', 'decision', 'reroute', 'status', 'stock', 'capacity', 'kpi'] as const) {
    socket.on(event, (payload: Buffer) => got.push({ event, value: codec.decode(event, new Uint8Array(payload)) }));
  }
  const waitFor = (pred: (r: Received[]) => boolean, ms = 30_000) =>
    new Promise<void>((resolve, reject) => {
      const t0 = Date.now();
      const check = () => {
        if (pred(got)) return resolve();
        if (Date.now() - t0 > ms) return reject(new Error(`timed out; received ${got.map((g) => g.event).join(',')}`));
        setTimeout(check, 25);
      };
      check();
    });
  return { socket, got, waitFor };
}

const decisionsIn = (got: Received[]) => got.filter((g) => g.event === 'decision').flatMap((g) => g.value.items as LiveDecision[]);

describe('live stream /live', () => {
  it('sends a snapshot first, then decodable decision batches from the demo feed', async () => {
    const c = connect();
    await c.waitFor((got) => decisionsIn(got).length >= 5);
    expect(c.got[0]?.event).toBe('snapshot');
    const snap = c.got[0]!.value as {
      warehouses: { id: string; lon: number; lat: number; radiusKm: number; cityZh: string }[];
      couriers: { id: string }[];
      stock: { warehouses: { warehouseId: string; onHand: number; free: number }[] };
      kpi: { onTimePct?: number; instanceId: string };
      frameMs: number;
    };
    expect(snap.warehouses).toHaveLength(network().warehouses.length);
    const sh = snap.warehouses.find((w) => w.id === 'SH01')!;
    expect(sh.radiusKm).toBe(150);
    expect(sh.cityZh).toBe('上海');
    expect(snap.couriers.map((x) => x.id).sort()).toEqual(network().couriers.map((x) => x.id).sort());
    expect(snap.stock.warehouses.length).toBe(network().warehouses.length);
    expect(snap.stock.warehouses.every((w) => w.onHand >= w.free && w.onHand > 0)).toBe(true);
    // On-time % is unknown until deliveries are tracked: absent, never a made-up number.
    expect(snap.kpi.onTimePct).toBeUndefined();
    expect(snap.frameMs).toBe(16);

    const ds = decisionsIn(c.got);
    const withShipment = ds.find((d) => d.shipments.length > 0)!;
    expect(withShipment).toBeDefined();
    expect(withShipment.orderId).toMatch(/^DEMO-/);
    expect(withShipment.destination?.lon).toBeGreaterThan(100);
    expect(withShipment.shipments[0]!.courierId).not.toBe('');
    expect(network().warehouseById.has(withShipment.shipments[0]!.warehouseId)).toBe(true);
    expect(withShipment.reasons.length).toBeGreaterThan(0);
    // Reasons about warehouses that do not ship stay off the stream (GET /v1/orders has them).
    const shipping = new Set(withShipment.shipments.map((s) => s.warehouseId));
    expect(withShipment.reasons.every((r) => r.warehouseId === undefined || shipping.has(r.warehouseId))).toBe(true);
    expect(ds.some((d) => d.reasonsOmitted > 0)).toBe(true);
    expect(typeof withShipment.totalCost).toBe('number');
    // Batched: several decisions may share one message, never one message per decision beyond the frame rate.
    const batches = c.got.filter((g) => g.event === 'decision');
    expect(batches.length).toBeLessThanOrEqual(ds.length);
  });

  it('puts a POST /v1/allocate decision on the stream with its destination, and sends KPIs', async () => {
    const c = connect();
    await c.waitFor((got) => got.some((g) => g.event === 'snapshot'));
    const id = `LIVE-HTTP-${process.pid}`;
    const body = order({ orderId: id, placedAt: undefined, promisedBy: new Date(Date.now() + 2 * 86_400_000).toISOString() });
    const res = await svc.app.inject({ method: 'POST', url: '/v1/allocate', payload: body });
    expect(res.statusCode).toBe(200);
    // The service's one allocator decided it, so it reaches the map by itself; the destination
    // comes from the request body, noted by attachLive's preHandler hook.
    await c.waitFor((got) => decisionsIn(got).some((d) => d.orderId === id));
    const d = decisionsIn(c.got).find((x) => x.orderId === id)!;
    expect(d.destination).toEqual({ lon: 121.4737, lat: 31.2304 });
    expect(d.customerId).toBe('C-TEST');
    expect(d.shipments[0]?.warehouseId).toBe('SH01');
    expect(d.reasons.some((r) => r.code === 'RADIUS_LOCK')).toBe(true);

    // A reroute of the service's rerouter goes on the stream with the decision's warehouse and destination.
    for (const l of svc.app.dspServices.rerouter.listeners)
      l(id, {
        at: new Date().toISOString(),
        shipment: 0,
        fromCourierId: d.shipments[0]!.courierId,
        toCourierId: 'SF',
        fromTrackingNumber: 'T-OLD',
        trackingNumber: 'T-NEW',
        code: 'COURIER_CAPACITY_GAP',
        detail: 'capacity cut',
        parcels: 1,
        freight: 12.5,
        lateness: 0,
        eta: new Date(Date.now() + 86_400_000).toISOString(),
      });
    await c.waitFor((got) => got.some((g) => g.event === 'reroute'));
    const rr = (c.got.find((g) => g.event === 'reroute')!.value.items as { orderId: string; fromWarehouseId: string; toCourierId: string; destination?: object; costDelta?: number }[])[0]!;
    expect(rr).toMatchObject({ orderId: id, fromWarehouseId: 'SH01', toCourierId: 'SF', destination: { lon: 121.4737, lat: 31.2304 } });
    expect(rr.costDelta).toBeUndefined();
    // A move of the re-optimisation job goes on the same stream: reason REOPTIMIZED, old and new
    // warehouse and tracking number, and the order's money saving as a negative costDelta.
    const s0 = d.shipments[0]!;
    for (const l of svc.app.dspServices.reoptimizer.listeners)
      l(id, {
        at: new Date().toISOString(),
        code: 'REOPTIMIZED',
        detail: 'cheaper before pickup',
        from: [{ warehouseId: 'SH01', courierId: s0.courierId, trackingNumber: 'T-NEW', eta: new Date(Date.now() + 86_400_000).toISOString(), moneyCny: 20 }],
        shipments: [{ warehouseId: 'SZ01', courierId: 'ZTO', trackingNumber: 'T-RE', lines: [], transfers: [], weightKg: 1, parcels: 1, distanceKm: 90, eta: new Date(Date.now() + 86_400_000).toISOString(), cost: { freight: 15, transfer: 0, storage: 0, lateness: 0, split: 0, total: 15 } }],
        totalCost: 15,
        savingCny: 5,
        reroutesBefore: 1,
      });
    await c.waitFor((got) => got.some((g) => g.event === 'reroute' && (g.value.items as { reasonCode: string }[]).some((x) => x.reasonCode === 'REOPTIMIZED')));
    const ro = c.got.flatMap((g) => (g.event === 'reroute' ? (g.value.items as { reasonCode: string; toWarehouseId: string; trackingNumber: string; fromTrackingNumber: string; costDelta?: number }[]) : [])).find((x) => x.reasonCode === 'REOPTIMIZED')!;
    expect(ro).toMatchObject({ fromTrackingNumber: 'T-NEW', trackingNumber: 'T-RE', toWarehouseId: 'SZ01', costDelta: -5 });
    await c.waitFor((got) => got.some((g) => g.event === 'kpi' && Number(g.value.orders) > 0));
    const kpi = c.got.filter((g) => g.event === 'kpi').at(-1)!.value as { ordersPerMin: number; costPerOrder?: number; onTimePct?: number };
    expect(kpi.ordersPerMin).toBeGreaterThan(0);
    expect(kpi.costPerOrder).toBeGreaterThan(0);
    expect(kpi.onTimePct).toBeUndefined();
  });

  it('snapshot carries recent decisions to a late joiner, and stock deltas follow reservations', async () => {
    await new Promise((r) => setTimeout(r, 1_500));
    const c = connect();
    await c.waitFor((got) => got.some((g) => g.event === 'snapshot'));
    const snap = c.got.find((g) => g.event === 'snapshot')!.value as { recent: LiveDecision[] };
    expect(snap.recent.length).toBeGreaterThan(0);
    await c.waitFor((got) => got.some((g) => g.event === 'stock'), 30_000);
    const st = c.got.find((g) => g.event === 'stock')!.value as { warehouses: { warehouseId: string; reserved: number }[] };
    expect(st.warehouses.length).toBeGreaterThan(0);
  });
});
