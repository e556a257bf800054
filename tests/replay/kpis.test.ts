import { describe, expect, it } from 'vitest';
import { Allocator } from '../../src/allocate/allocator.js';
import { loadConfig } from '../../src/config.js';
import type { AllocateRequest, Decision } from '../../src/domain/schemas.js';
import { DspError } from '../../src/errors.js';
import { defaultDataDir, loadStatusMap } from '../../src/network/load.js';
import { replayPolicy, scenarioEvents } from '../../src/replay/engine.js';
import { gapCaptured } from '../../src/replay/run.js';
import type { Scenario } from '../../src/replay/scenario.js';
import { loadExactSolver } from '../../src/solve/exact.js';
import { InThreadSolver } from '../../src/solve/pool.js';
import { MemoryStore } from '../../src/store/memory.js';
import { StatusMachine } from '../../src/domain/scan-states.js';
import { network, order, PLACES } from '../support/app.js';

/** KPIs that cannot flatter (issue 16): money over all orders, penalties apart, partial orders never on time. */
describe('replay KPIs', () => {
  const at = (h: number) => `2026-11-11T${String(h).padStart(2, '0')}:00:00+08:00`;
  // Promised nine days ahead: no parcel of the world (at most two days late) misses it.
  const far = '2026-11-20T18:00:00+08:00';
  const orders = [
    order({ orderId: 'K-full', placedAt: at(9), promisedBy: far, destination: PLACES.shanghaiPeoplesSquare, lines: [{ sku: 'FLO-0001', qty: 2 }] }),
    // SHK-0011: two units in the whole network (TJ01): five ordered, so part of the order is backordered.
    order({ orderId: 'K-partial', placedAt: at(10), promisedBy: far, destination: PLACES.suzhouCentre, lines: [{ sku: 'FLO-0001', qty: 2 }, { sku: 'SHK-0011', qty: 5 }] }),
    order({ orderId: 'K-refused', placedAt: at(11), promisedBy: far, lines: [{ sku: 'NO-SUCH-SKU', qty: 1 }] }),
    // Promised for the same evening: late whatever happens, so its lateness weight is positive.
    order({ orderId: 'K-late', placedAt: at(12), promisedBy: at(20), destination: PLACES.hefeiCentre, lines: [{ sku: 'BRK-0001', qty: 2 }] }),
  ];
  const scenario: Scenario = { name: 'kpis', events: orders.map((o) => ({ at: o.placedAt as string, type: 'order' as const, order: o as AllocateRequest })) };

  it('count an order partly shipped on time as not on time, and money over all orders with penalties apart', async () => {
    const net = network();
    const config = loadConfig({}, { solverThreads: 0 });
    const solver = new InThreadSolver(await loadExactSolver('highs'));
    const r = await replayPolicy(scenario, scenarioEvents(scenario, [], net), 'optimized', { net, config, solver, machine: new StatusMachine(loadStatusMap(defaultDataDir())), warmUpOrders: 0 });

    // The same decisions, made here by the service's allocator on its own store.
    let now = 0;
    const store = new MemoryStore(net.network.stock, { clock: () => now });
    const allocator = new Allocator(net, { ...config, policy: 'optimized', solveTimeoutMs: config.replaySolveTimeoutMs }, store, solver, () => now);
    const decisions: Decision[] = [];
    for (const o of orders) {
      now = Date.parse(o.placedAt as string);
      try {
        decisions.push(await allocator.allocate(o as AllocateRequest));
      } catch (e) {
        if (!(e instanceof DspError)) throw e;
      }
    }
    const [full, partial, late] = decisions as [Decision, Decision, Decision];
    expect(partial.status).toBe('partial');
    // Every shipped part of the partial order is expected well before its promise...
    for (const s of partial.shipments) expect(Date.parse(s.eta)).toBeLessThan(Date.parse(far) - 2 * 86_400_000);
    // ...yet only the complete, punctual order counts as on time, over all four orders.
    expect(r.orders).toBe(4);
    expect(r.partialOrders).toBe(1);
    expect(r.failedDispatches).toBe(1);
    expect(r.onTimeRate).toBe(0.25);
    const units = partial.backordered.reduce((n, b) => n + b.qty, 0);
    expect(units).toBeGreaterThan(0);
    expect(r.backorderedUnits).toBe(units);
    expect(r.backorderedValueCny).toBeCloseTo(units * net.skuByCode.get('SHK-0011')!.priceCny, 2);
    // Money: freight + transfers + storage of every shipment, over all four orders (the refused one included).
    const money = [full, partial, late].flatMap((d) => d.shipments).reduce((n, s) => n + s.cost.freight + s.cost.transfer + s.cost.storage, 0);
    const penalties = [full, partial, late].flatMap((d) => d.shipments).reduce((n, s) => n + s.cost.lateness + s.cost.split, 0);
    expect(penalties).toBeGreaterThan(0);
    // The KPIs are rounded to 0.01 CNY; the decisions' cost parts too.
    expect(Math.abs(r.costPerOrder - money / 4)).toBeLessThanOrEqual(0.006);
    expect(Math.abs(r.penaltyPerOrder - penalties / 4)).toBeLessThanOrEqual(0.006);
    expect(full.status).toBe('allocated');
    expect(r.days['2026-11-11']).toMatchObject({ orders: 4, partialOrders: 1, onTimeRate: 0.25 });
  }, 60_000);

  it('gap captured is the share of the myopic -> clairvoyant money gap, null without a clairvoyant result', () => {
    const p = (costPerOrder: number) => ({ costPerOrder }) as never;
    const policies = { nearest: p(30), myopic: p(27), better: p(25) };
    expect(gapCaptured(policies, null)).toEqual({ nearest: null, myopic: null, better: null });
    expect(gapCaptured(policies, { lpBound: 22, costPerOrder: 23, onTimeRate: 0.99 })).toEqual({ nearest: -0.75, myopic: 0, better: 0.5 });
    expect(gapCaptured(policies, { lpBound: 22, costPerOrder: null, onTimeRate: null }).better).toBe(0.4);
  });
});
