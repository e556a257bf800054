/**
 * The promotion scenario (issue 21, acceptance item 2): a "spend 5,000, save 800" day whose
 * customers split their purchases into orders at the threshold, replayed with merging on and off.
 * The mechanism only: merging gives fewer waybills and less freight per 1,000 CNY of goods, and
 * no order joins a waybill its wave has already collected. The day's figures are in
 * docs/replays.md ("A promotion day"), measured with the bundled data/scenarios/promotion.json.
 */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { generateOrders, promotionOptions, PROMOTION_DEFAULTS, type DemoOrder } from '../../src/demo/orders.js';
import type { AllocateRequest, Decision } from '../../src/domain/schemas.js';
import { defaultDataDir, loadStatusMap } from '../../src/network/load.js';
import { replayPolicy } from '../../src/replay/engine.js';
import { scenarioProblems, type Scenario, type ScenarioEvent } from '../../src/replay/scenario.js';
import { loadExactSolver } from '../../src/solve/exact.js';
import { InThreadSolver } from '../../src/solve/pool.js';
import { StatusMachine } from '../../src/domain/scan-states.js';
import { network } from '../support/app.js';

const net = network();
const DATE = '2026-12-12';
const day = (promotion: Parameters<typeof promotionOptions>[0], count?: number) =>
  generateOrders(net.network, net.regionsGeoJson, { seed: 7, profile: 'normal', date: DATE, ...(count !== undefined ? { count } : {}), promotion });
const ms = (iso: string) => Date.parse(iso);

/** The orders at or above the threshold of each customer, in time order (a split purchase's orders). */
function splitPurchases(orders: DemoOrder[], threshold: number): DemoOrder[][] {
  const by = new Map<string, DemoOrder[]>();
  for (const o of orders) if (o.amountCny! >= threshold) (by.get(o.customerId) ?? by.set(o.customerId, []).get(o.customerId)!).push(o);
  return [...by.values()].filter((os) => os.length > 1);
}

describe('the promotion day generator', () => {
  it('splits purchases into orders at the threshold, minutes apart, to one address; off: the same purchases unsplit', () => {
    const on = day({});
    const off = day({ active: false });
    const ordinary = generateOrders(net.network, net.regionsGeoJson, { seed: 7, profile: 'normal', date: DATE });
    const { thresholdCny, discountCny, maxGapMinutes } = PROMOTION_DEFAULTS;
    // The promotion adds stock-ups (a quarter of 400 repair shops) and splits them into 3.
    expect(off.length - ordinary.length).toBeGreaterThan(70);
    expect(off.length - ordinary.length).toBeLessThan(130);
    expect(on.length - off.length).toBeGreaterThanOrEqual(2 * (off.length - ordinary.length));
    // Splitting keeps the goods: the same amount in all, and the ordinary orders are untouched.
    const sum = (os: DemoOrder[]) => Math.round(os.reduce((v, o) => v + o.amountCny!, 0) * 100);
    expect(sum(on)).toBe(sum(off));
    const strip = (o: DemoOrder) => ({ ...o, orderId: '', amountCny: undefined, discountCny: undefined });
    const offByKey = new Set(off.map((o) => JSON.stringify(strip(o))));
    expect(ordinary.every((o) => offByKey.has(JSON.stringify(strip(o))))).toBe(true);
    for (const o of on) {
      expect(o.amountCny).toBeCloseTo(o.lines.reduce((v, l) => v + l.qty * net.skuByCode.get(l.sku)!.priceCny, 0), 2);
      expect(o.discountCny).toBe(o.amountCny! >= thresholdCny ? discountCny : 0);
    }
    expect(off.every((o) => o.discountCny === 0)).toBe(true);
    const split = splitPurchases(on, thresholdCny);
    expect(split.length).toBeGreaterThan(70);
    for (const os of split) {
      expect(new Set(os.map((o) => o.destination.address)).size).toBe(1);
      expect(os[0]!.customerId).toMatch(/^WS/);
      for (let i = 1; i < os.length; i++) {
        const gap = ms(os[i]!.placedAt) - ms(os[i - 1]!.placedAt);
        // One purchase's orders follow each other by 1 to maxGapMinutes minutes.
        if (gap <= maxGapMinutes * 60_000) expect(gap).toBeGreaterThanOrEqual(60_000);
      }
    }
    // Most split purchases are the stock-ups, three orders within the merge window.
    expect(split.filter((os) => os.length === 3 && ms(os[2]!.placedAt) - ms(os[0]!.placedAt) <= 2 * maxGapMinutes * 60_000).length).toBeGreaterThan(70);
  });

  it('checks its options, with units and bounds', () => {
    expect(promotionOptions({})).toEqual(PROMOTION_DEFAULTS);
    expect(() => promotionOptions({ discountCny: 5_000 })).toThrow(/discountCny .* below thresholdCny/);
    expect(() => promotionOptions({ stockUpShare: 1.5 })).toThrow(/stockUpShare must be within 0..1/);
    expect(() => promotionOptions({ ordersPerStockUp: 2.5 })).toThrow(/whole number/);
    const s: Scenario = { name: 'x', generator: { seed: 1, profile: 'normal', startDate: DATE, days: 1, promotion: { thresholdCny: 500, discountCny: 800 } } };
    expect(scenarioProblems(s, net)).toEqual([expect.stringMatching(/^generator\.promotion: discountCny \(800\) must be below thresholdCny \(500\)/)]);
  });
});

describe('the promotion day replayed with merging on and off', () => {
  it('merging gives fewer waybills and less freight per 1,000 CNY of goods; no order joins a waybill its wave has collected', async () => {
    // A small day: 60 ordinary purchases and about 20 stock-ups of three orders each. The
    // threshold is the case's 5,000 CNY scaled down to 1,500 (the discount alike): orders of
    // ~15 kg leave room in the first order's parcels, so whole groups form in a day this small.
    // At the case's threshold an order weighs ~50 kg and later orders mostly do not fit
    // (docs/replays.md, "A promotion day").
    const orders = day({ stockUpShare: 0.05, thresholdCny: 1_500, discountCny: 240 }, 60);
    const events: ScenarioEvent[] = orders.map((o) => ({ at: o.placedAt, type: 'order', order: o as AllocateRequest }));
    // The shadow prices are refreshed once for the day, not every 15 minutes of stream time: the
    // test is about merging, and fewer HiGHS refreshes keep it fast.
    const config = loadConfig({}, { solverThreads: 0, pricesRefreshMs: 86_400_000 });
    const opts = { net, config, solver: new InThreadSolver(await loadExactSolver('highs')), machine: new StatusMachine(loadStatusMap(defaultDataDir())), warmUpOrders: 0 };
    const decided: { d: Decision; at: number }[] = [];
    const on = await replayPolicy({ name: 'promotion', events }, events, 'optimized', { ...opts, onDecision: (d, at) => decided.push({ d, at }) });
    const off = await replayPolicy({ name: 'promotion, merging off', events, overrides: { mergeWindowMinutes: 0 } }, events, 'optimized', opts);

    expect(on.orders).toBe(orders.length);
    expect(on.goodsCny).toBe(off.goodsCny);
    expect(on.merging.windowMinutes).toBe(15);
    expect(off.merging).toMatchObject({ windowMinutes: 0, joinedShipments: 0, sharedWaybills: 0, mergedGroups: 0, freightSavedCny: 0 });
    expect(on.merging.mergedGroups).toBeGreaterThan(0);
    expect(on.merging.ordersInMergedGroups).toBeGreaterThanOrEqual(on.merging.mergedGroups * on.merging.minOrders);
    expect(on.merging.freightSavedCny).toBeGreaterThan(0);
    expect(on.merging.waybills).toBeLessThan(off.merging.waybills);
    expect(on.freightCnyPer1000CnyGoods).toBeLessThan(off.freightCnyPer1000CnyGoods);

    // No merged group spans a closed wave: the replay's own count, and every join checked here
    // against its waybill's first order: decided before that order's shipment was collected,
    // and collected with it.
    expect(on.merging.joinsAfterPickup).toBe(0);
    const own = new Map<string, { pickupAt: string; orderId: string }>();
    let joins = 0;
    for (const { d, at } of decided) {
      for (const s of d.shipments) {
        if (s.joinedOrderId === undefined) {
          own.set(s.trackingNumber, { pickupAt: s.pickupAt!, orderId: d.orderId });
          continue;
        }
        joins++;
        const master = own.get(s.trackingNumber);
        expect(master?.orderId, `${d.orderId} joins ${s.trackingNumber}`).toBe(s.joinedOrderId);
        expect(ms(master!.pickupAt)).toBeGreaterThan(at);
        expect(s.pickupAt).toBe(master!.pickupAt);
      }
    }
    expect(joins).toBe(on.merging.joinedShipments);
  }, 60_000);
});
