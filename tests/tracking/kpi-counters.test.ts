import type { FastifyInstance } from 'fastify';
import { describe, expect, it } from 'vitest';
import type { Reroute } from '../../src/allocate/reroute.js';
import { currentDecision, type Reoptimization } from '../../src/allocate/reoptimized.js';
import type { Decision } from '../../src/domain/schemas.js';
import { toIsoWithOffset } from '../../src/domain/time.js';
import type { StatusMachine } from '../../src/domain/scan-states.js';
import type { NetworkContext } from '../../src/network/context.js';
import { storeKeys } from '../../src/store/keys.js';
import type { Store } from '../../src/store/types.js';
import { FIXED_NOW, order, PLACES, redisTestApp, testApp } from '../support/app.js';
import { useRedis } from '../support/redis-server.js';

const HOUR = 3_600_000;
const DESTS = [PLACES.shanghaiPeoplesSquare, PLACES.suzhouCentre, PLACES.hefeiCentre, { lon: 120.1551, lat: 30.2741 }];
const SKUS = ['BRK-0001', 'FLO-0001', 'WIP-0001', 'OIL-0001', 'SPK-0001'];
const EAST_CHINA = ['310000', '320000', '330000', '340000'];
const SCARCE = 'BRK-0003';
const STEPS = 80;

/**
 * The KPIs as GET /v1/kpi computed them before the running counters: a pass over every stored
 * order (the code of src/tracking/tracker.ts before issue 19, kept here as the reference the
 * counters must agree with).
 */
async function kpiByFullScan(store: Store, machine: StatusMachine, net: NetworkContext, now: number, staleTrackingHours: number) {
  const ids = await store.orderIds();
  let orders = 0;
  let shippedOrders = 0;
  let money = 0;
  let penalties = 0;
  let backorderedUnits = 0;
  let backorderedValue = 0;
  let nearExpiryUnits = 0;
  let partialOrders = 0;
  let due = 0;
  let onTime = 0;
  let stale = 0;
  const etaErrors: number[] = [];
  let reroutes = 0;
  let reoptimizedShipments = 0;
  let reoptimizationSaving = 0;
  let joinedShipments = 0;
  let mergedGroups = 0;
  let mergeSaved = 0;
  const held: Record<string, number> = {};
  const refused: Record<string, number> = {};
  for (const id of ids) {
    const history = await store.listAll<Reroute>(storeKeys.reroutes(id));
    reroutes += history.length;
    const moves = await store.listAll<Reoptimization>(storeKeys.reoptimizations(id));
    for (const m of moves) {
      reoptimizedShipments += m.from.length;
      reoptimizationSaving += m.savingCny;
    }
    const d = await store.getDecision<Decision>(id);
    if (!d || d.cancelled) continue;
    // An order a business rule held or refused is counted per reason, apart (issue 20).
    if (d.decision.status === 'held' || d.decision.status === 'refused') {
      const byReason = d.decision.status === 'held' ? held : refused;
      const reason = d.decision.rules?.intercept?.reason ?? 'UNKNOWN';
      byReason[reason] = (byReason[reason] ?? 0) + 1;
      continue;
    }
    orders++;
    const decision = currentDecision(d.decision, history, moves);
    for (const r of decision.reasons) {
      if (r.code === 'JOINED_OPEN_SHIPMENT') {
        joinedShipments++;
        mergeSaved += r.costDelta ?? 0;
      }
      if (r.code === 'MERGED_GROUP') mergedGroups++;
    }
    for (const s of decision.shipments) {
      money += s.cost.freight + s.cost.transfer + s.cost.storage;
      penalties += s.cost.lateness + s.cost.split;
      for (const l of s.lines) for (const lot of l.lots ?? []) if (lot.nearExpiry === true) nearExpiryUnits += lot.qty;
    }
    const units = decision.backordered.reduce((n, b) => n + b.qty, 0);
    backorderedUnits += units;
    backorderedValue += decision.backordered.reduce((n, b) => n + b.qty * (net.skuByCode.get(b.sku)?.priceCny ?? 0), 0);
    const shipped = decision.shipments.length > 0;
    if (shipped) shippedOrders++;
    if (shipped && units > 0) partialOrders++;
    const promised = d.promisedByMs ?? null;
    if (!shipped) {
      if (promised !== null && promised <= now) due++;
      continue;
    }
    const view = machine.view(await store.scans(id));
    const delivered = view.deliveredAt;
    if (delivered !== null || (promised !== null && promised <= now)) {
      due++;
      if (units === 0 && delivered !== null && promised !== null && delivered <= promised) onTime++;
    }
    const etas = decision.shipments.map((s) => Date.parse(s.eta));
    const eta = etas.length === 0 ? null : Math.max(...etas);
    if (delivered !== null && eta !== null) etaErrors.push((delivered - eta) / HOUR);
    const last = view.lastEventAt ?? Date.parse(d.decision.decidedAt);
    if (delivered === null && d.reservation !== 'expired' && now - last > staleTrackingHours * HOUR) stale++;
  }
  // Write-offs: free units of lots past their last sellable day under the SKU's default minimum
  // (or expired), read off the stock listing with the day arithmetic done here, at +08:00.
  let writtenOffUnits = 0;
  let writtenOffValue = 0;
  for (const l of await store.stock()) {
    if (l.lot === undefined || l.free <= 0) continue;
    const sku = net.skuByCode.get(l.sku)!;
    const expires = Date.parse(`${l.expiresOn!}T00:00:00+08:00`);
    if (expires > now && expires - (sku.minRemainingShelfLifeDays ?? 0) * 24 * HOUR >= now) continue;
    writtenOffUnits += l.free;
    writtenOffValue += l.free * sku.priceCny;
  }
  const round = (x: number, k = 4) => Math.round(x * 10 ** k) / 10 ** k;
  return {
    orders,
    ordersShipped: shippedOrders,
    due,
    deliveredOnTime: onTime,
    onTimeRate: due === 0 ? null : round(onTime / due),
    partialOrders,
    staleTracking: stale,
    reroutes,
    reoptimizedShipments,
    reoptimizationSavingCny: round(reoptimizationSaving, 2),
    costPerOrder: orders === 0 ? null : round(money / orders, 2),
    penaltyPerOrder: orders === 0 ? null : round(penalties / orders, 2),
    backorderedUnits,
    joinedShipments,
    mergedGroups,
    mergeSavedCny: round(mergeSaved, 2),
    backorderedValueCny: round(backorderedValue, 2),
    nearExpiryUnitsShipped: nearExpiryUnits,
    writtenOffUnits,
    writtenOffValueCny: round(writtenOffValue, 2),
    heldByReason: held,
    refusedByReason: refused,
    etaErrorHours: {
      n: etaErrors.length,
      mean: etaErrors.length === 0 ? null : round(etaErrors.reduce((a, b) => a + b, 0) / etaErrors.length, 2),
      meanAbs: etaErrors.length === 0 ? null : round(etaErrors.reduce((a, b) => a + Math.abs(b), 0) / etaErrors.length, 2),
    },
  };
}

/** A small seeded generator (mulberry32): the same stream on every run and store. */
function rng(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/**
 * A mixed stream through the API (allocations, partial and backordered ones among them, cancels,
 * shipped events, WMS scans with deliveries on time and late, a courier capacity cut that
 * reroutes, the clock moving so that promises pass, tracking goes stale and reservations expire),
 * comparing the running counters with the full recomputation after every step.
 */
async function mixedStream(app: FastifyInstance, store: Store, clock: { now: number }, seed: number): Promise<number> {
  const svc = app.dspServices;
  const random = rng(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]!;
  const iso = (ms: number) => toIsoWithOffset(ms, 480);
  const decided: string[] = [];
  let checks = 0;
  // Eight units of SCARCE in the whole network, all in Shanghai.
  const rows = await store.stock({ sku: SCARCE });
  await store.setOnHand(rows.map((r) => ({ warehouseId: r.warehouseId, sku: SCARCE, onHand: r.warehouseId === 'SH01' ? 8 : 0 })));
  // Lots of a shelf-life SKU no order of the stream asks for, whose last sellable moments (expiry
  // minus its 365 days) fall at the start, inside and after the stream's time: write-offs grow
  // as the clock moves.
  const lots = ['2027-11-01', '2027-11-12', '2027-11-13', '2027-11-14', '2028-06-01'].map((expiresOn, k) => ({ type: 'receipt', warehouseId: k % 2 === 0 ? 'SH01' : 'NJ01', sku: 'BFL-0002', lot: `WO-${k}`, expiresOn, qty: 3 + k }));
  const received = await app.inject({ method: 'POST', url: '/v1/stock/events', payload: { events: lots } });
  expect(received.json<{ results: { status: string }[] }>().results.map((x) => x.status)).toEqual(lots.map(() => 'applied'));
  const check = async (step: string) => {
    const counted = await svc.tracker.kpi();
    const full = await kpiByFullScan(store, svc.machine, svc.net, clock.now, svc.config.staleTrackingHours);
    const { at: _at, staleAfterHours: _h, ...fromCounters } = counted;
    // Money per order: the counters add exact integers, the scan added floats, so the two may
    // round a quotient that lies on a half fen to either side: equal within one fen. All else exactly.
    const where = `${step} at ${iso(clock.now)}`;
    for (const k of ['costPerOrder', 'penaltyPerOrder'] as const) {
      if (full[k] === null) expect(fromCounters[k], where).toBeNull();
      else expect(Math.abs(fromCounters[k]! - full[k]), `${where}: ${k}`).toBeLessThanOrEqual(0.010_000_1);
    }
    expect({ ...fromCounters, costPerOrder: 0, penaltyPerOrder: 0 }, where).toEqual({ ...full, costPerOrder: 0, penaltyPerOrder: 0 });
    checks++;
  };
  for (let step = 0; step < STEPS; step++) {
    const r = random();
    if (step === 10 || step === 40) {
      // A RECY- line with no linked old part: the bundled rules hold the order (issue 20), counted apart.
      const res = await app.inject({
        method: 'POST',
        url: '/v1/allocate',
        payload: order({ orderId: `KPI-${seed}-${step}-recy`, placedAt: iso(clock.now), promisedBy: iso(clock.now + 48 * HOUR), destination: pick(DESTS), lines: [{ sku: 'RECY-ALT-0001', qty: 1 }] }),
      });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json<{ status: string }>().status).toBe('held');
    }
    if (step === 30 || step === 60) {
      // Capacity cuts at fixed steps: the booked shipments not yet picked up are rerouted.
      const cut = await app.inject({ method: 'PUT', url: `/v1/couriers/${step === 30 ? 'STO' : 'ZTO'}/capacity`, payload: { provinceCodes: EAST_CHINA, parcels: 0 } });
      expect(cut.statusCode).toBe(200);
    } else if (r < 0.45 || decided.length < 5) {
      // SCARCE runs out after a few orders: then partial or backordered.
      const qty = 1 + Math.floor(random() * 3);
      const body = order({
        orderId: `KPI-${seed}-${step}`,
        placedAt: iso(clock.now),
        promisedBy: iso(clock.now + (4 + Math.floor(random() * 60)) * HOUR),
        destination: pick(DESTS),
        lines: random() < 0.2 ? [{ sku: SCARCE, qty }] : [{ sku: pick(SKUS), qty }],
      });
      const res = await app.inject({ method: 'POST', url: '/v1/allocate', payload: body });
      expect(res.statusCode, res.body).toBe(200);
      decided.push(body.orderId as string);
    } else if (r < 0.55) {
      await app.inject({ method: 'POST', url: `/v1/orders/${pick(decided)}/cancel` });
    } else if (r < 0.62) {
      await app.inject({ method: 'POST', url: '/v1/stock/events', payload: { events: [{ type: 'shipped', orderId: pick(decided) }] } });
    } else if (r < 0.85) {
      // Scans of a few orders, up to now: out of the warehouse, on the way, delivered (or not yet).
      const events = [];
      for (let k = 0; k < 3; k++) {
        const orderId = pick(decided);
        const at = clock.now - Math.floor(random() * 3 * HOUR);
        events.push({ orderId, code: 'GATE_OUT', at: iso(at - HOUR) });
        if (random() < 0.6) events.push({ orderId, code: 'HUB_ARRIVAL', at: iso(at - HOUR / 2) });
        if (random() < 0.5) events.push({ orderId, code: 'SIGNED', at: iso(at) });
      }
      await app.inject({ method: 'POST', url: '/v1/wms/events', payload: { events } });
    } else if (r < 0.88) {
      // A capacity cut: the booked shipments of that courier not yet picked up are rerouted.
      await app.inject({ method: 'PUT', url: `/v1/couriers/${pick(['STO', 'ZTO'])}/capacity`, payload: { provinceCodes: EAST_CHINA, parcels: Math.floor(random() * 3) } });
    } else {
      // Time passes: promises come due, tracking goes stale, 48 h reservations expire.
      clock.now += Math.floor(random() * 14 * HOUR);
    }
    await check(`step ${step}`);
  }
  return checks;
}

describe('KPIs from running counters equal the full recomputation', () => {
  it('after a mixed stream on the embedded store', async () => {
    const clock = { now: FIXED_NOW };
    const { app, store } = await testApp({}, undefined, () => clock.now);
    try {
      expect(await mixedStream(app, store, clock, 19)).toBe(STEPS);
      // The stream reached every kind of figure, so the comparison compared something.
      const k = await app.dspServices.tracker.kpi();
      expect(k.orders).toBeGreaterThan(20);
      expect(k.due).toBeGreaterThan(0);
      expect(k.deliveredOnTime).toBeGreaterThan(0);
      expect(k.partialOrders + k.backorderedUnits).toBeGreaterThan(0);
      expect(k.etaErrorHours.n).toBeGreaterThan(0);
      expect(k.reroutes).toBeGreaterThan(0);
      expect(k.heldByReason).toEqual({ RECY_NO_CORE_LINK: 2 });
      // Some of the stream's lots were written off by its end, not all.
      expect(k.writtenOffUnits).toBeGreaterThan(3);
      expect(k.writtenOffUnits).toBeLessThan(3 + 4 + 5 + 6 + 7);
    } finally {
      await app.close();
    }
  });

  describe('on Redis', () => {
    const db = useRedis();

    it('after a mixed stream on one Redis node, with the store on the same moving clock', async () => {
      const clock = { now: FIXED_NOW };
      const { app, store, redis } = await redisTestApp(db.url, () => clock.now);
      try {
        expect(await mixedStream(app, store, clock, 7)).toBe(STEPS);
        const k = await app.dspServices.tracker.kpi();
        expect(k.orders).toBeGreaterThan(20);
        expect(k.deliveredOnTime).toBeGreaterThan(0);
        // A rebuild from the orders gives the same counters (a Redis kept from before them).
        const before = await app.dspServices.tracker.kpi();
        await redis.del(storeKeys.kpiSums, storeKeys.kpiShares, storeKeys.kpiDrop, storeKeys.kpiMark('promise'), storeKeys.kpiMark('staleFrom'), storeKeys.kpiMark('staleUntil'));
        expect((await app.dspServices.tracker.kpi()).orders).toBe(0);
        await app.dspServices.tracker.rebuildKpi();
        expect(await app.dspServices.tracker.kpi()).toEqual(before);
      } finally {
        await app.close();
      }
    });
  });
});
