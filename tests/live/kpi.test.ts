/**
 * The live map's rolling KPI window (src/live/hub.ts KpiWindow) keeps running sums instead of
 * summing the window on every KPI: after any sequence of decisions and expiries its sums must be
 * what summing the decisions still in the window gives.
 */
import { describe, expect, it } from 'vitest';
import { KpiWindow, MoveWindow, type KpiSample } from '../../src/live/hub.js';
import { mulberry32 } from '../../src/util/prng.js';

const COURIERS = ['SF', 'ZTO', 'YTO', 'JD'];

function expected(kept: KpiSample[]) {
  const byCourier = new Map<string, number>();
  for (const s of kept) for (const c of s.couriers) byCourier.set(c, (byCourier.get(c) ?? 0) + 1);
  return {
    size: kept.length,
    cost: kept.reduce((n, s) => n + s.cost, 0),
    penalty: kept.reduce((n, s) => n + (s.penalty ?? 0), 0),
    backorderedUnits: kept.reduce((n, s) => n + (s.backorderedUnits ?? 0), 0),
    shipments: kept.reduce((n, s) => n + s.shipments, 0),
    split: kept.filter((s) => s.split).length,
    backordered: kept.filter((s) => s.backordered).length,
    byCourier,
  };
}

describe('KPI window', () => {
  it('keeps the sums of the decisions still in the window through adds, expiries and compaction', () => {
    const rnd = mulberry32(7);
    const w = new KpiWindow();
    const all: KpiSample[] = [];
    let now = 0;
    let checks = 0;
    for (let step = 0; step < 20_000; step++) {
      now += Math.floor(rnd() * 20);
      const n = Math.floor(rnd() * 3);
      const couriers = Array.from({ length: n }, () => COURIERS[Math.floor(rnd() * COURIERS.length)]!);
      const backordered = rnd() < 0.1;
      const s = { at: now, cost: Math.round(rnd() * 10_000) / 100, penalty: Math.round(rnd() * 1_000) / 100, backorderedUnits: backordered ? 1 + Math.floor(rnd() * 5) : 0, shipments: n, split: n > 1, backordered, couriers };
      w.add(s);
      all.push(s);
      if (step % 97 === 0) {
        // Windows from a few ms (often empty) to several seconds (thousands of samples, compaction).
        const from = now - Math.floor(rnd() * (step % 3 === 0 ? 50 : 60_000));
        w.expire(from);
        const e = expected(all.filter((x) => x.at >= from));
        expect({ size: w.size, shipments: w.shipments, split: w.split, backordered: w.backordered, byCourier: w.byCourier }).toEqual({
          size: e.size,
          shipments: e.shipments,
          split: e.split,
          backordered: e.backordered,
          byCourier: e.byCourier,
        });
        expect(w.cost).toBeCloseTo(e.cost, 6);
        // Money and penalties are kept apart.
        expect(w.penalty).toBeCloseTo(e.penalty, 6);
        expect(w.backorderedUnits).toBe(e.backorderedUnits);
        // Expiry only moves forward: what left the window stays out.
        all.splice(0, all.length, ...all.filter((x) => x.at >= from));
        checks++;
      }
    }
    expect(checks).toBeGreaterThan(200);
  });

  it('is empty, with zero sums, once every decision has left', () => {
    const w = new KpiWindow();
    w.add({ at: 1, cost: 0.1, shipments: 1, split: false, backordered: false, couriers: ['SF'] });
    w.add({ at: 2, cost: 0.2, shipments: 2, split: true, backordered: true, couriers: ['SF', 'JD'] });
    w.expire(2);
    expect([w.size, w.shipments, w.split, w.backordered, [...w.byCourier]]).toEqual([1, 2, 1, 1, [['SF', 1], ['JD', 1]]]);
    w.expire(3);
    expect([w.size, w.cost, w.shipments, w.split, w.backordered, w.byCourier.size]).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it('counts merged groups, merge savings and near-expiry units of the decisions in the window, and re-optimisation moves apart', () => {
    const w = new KpiWindow();
    w.add({ at: 1, cost: 1, shipments: 1, split: false, backordered: false, couriers: ['SF'], mergedGroups: 0, mergeSaved: 8.4, nearExpiryUnits: 3 });
    w.add({ at: 2, cost: 1, shipments: 1, split: false, backordered: false, couriers: ['SF'], mergedGroups: 1, mergeSaved: 8.4, nearExpiryUnits: 0 });
    expect([w.mergedGroups, w.nearExpiryUnits]).toEqual([1, 3]);
    expect(w.mergeSaved).toBeCloseTo(16.8, 9);
    w.expire(2);
    expect([w.mergedGroups, w.nearExpiryUnits]).toEqual([1, 0]);
    expect(w.mergeSaved).toBeCloseTo(8.4, 9);
    w.expire(3);
    expect([w.mergedGroups, w.nearExpiryUnits, w.mergeSaved]).toEqual([0, 0, 0]);

    const m = new MoveWindow();
    m.add({ at: 5, shipments: 2, saving: 3.1 });
    m.add({ at: 9, shipments: 1, saving: 0.7 });
    expect([m.size, m.shipments]).toEqual([2, 3]);
    m.expire(6);
    expect([m.size, m.shipments]).toEqual([1, 1]);
    // Running float sums (the KPI message rounds them to the fen).
    expect(m.saving).toBeCloseTo(0.7, 9);
    m.expire(10);
    expect([m.size, m.shipments, m.saving]).toEqual([0, 0, 0]);
  });
});
