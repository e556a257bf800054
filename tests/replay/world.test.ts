import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import type { AllocateRequest } from '../../src/domain/schemas.js';
import { loadNetworkContext } from '../../src/network/context.js';
import { defaultDataDir, loadStatusMap } from '../../src/network/load.js';
import { replayPolicy, scenarioEvents } from '../../src/replay/engine.js';
import type { Scenario } from '../../src/replay/scenario.js';
import { loadExactSolver } from '../../src/solve/exact.js';
import { InThreadSolver } from '../../src/solve/pool.js';
import { StatusMachine } from '../../src/domain/scan-states.js';
import { order, PLACES } from '../support/app.js';

/**
 * The replay's world (docs/replays.md "The world"): capacity counted by the day parcels leave,
 * overflow waiting for the next wave, and each courier's days late. This file loads its own
 * network and changes it, so no other test sees the changes.
 */
describe('the replay world', () => {
  const config = loadConfig({}, { solverThreads: 0 });
  const machine = new StatusMachine(loadStatusMap(defaultDataDir()));
  const run = async (net: ReturnType<typeof loadNetworkContext>, scenario: Scenario) =>
    replayPolicy(scenario, scenarioEvents(scenario, [], net), 'nearest', { net, config, solver: new InThreadSolver(await loadExactSolver('highs')), machine, warmUpOrders: 0 });
  const shanghai = (id: string, placedAt: string, promisedBy: string) =>
    ({ at: placedAt, type: 'order' as const, order: order({ orderId: id, placedAt, promisedBy, destination: PLACES.shanghaiPeoplesSquare, lines: [{ sku: 'FLO-0001', qty: 1 }] }) as AllocateRequest });

  it('parcels decided after the cut-off count on the day they leave: a full day sends the rest to a later wave, and they arrive later', async () => {
    const net = loadNetworkContext(config);
    const sh = net.network.warehouses.find((w) => w.id === 'SH01')!;
    sh.dailyOutboundParcels = 3;
    for (const c of net.couriers) delete c.daysLateShares;
    // Three orders after SH01's 18:00 cut-off on the 11th (counted on the 11th, leaving on the 12th),
    // three on the morning of the 12th (counted and leaving on the 12th): six parcels for a day of three.
    const events = [
      ...['19', '20', '21'].map((h, i) => shanghai(`W-E${i}`, `2026-11-11T${h}:00:00+08:00`, '2026-11-13T18:00:00+08:00')),
      ...['08', '09', '10'].map((h, i) => shanghai(`W-M${i}`, `2026-11-12T${h}:00:00+08:00`, '2026-11-13T18:00:00+08:00')),
    ];
    const r = await run(net, { name: 'overflow', events });
    expect(r.warehouseLoad.SH01).toBe(6);
    expect(r.overflowParcels).toBeGreaterThanOrEqual(3);
    // The three that waited leave on the 13th and arrive on the 14th, after their promise.
    expect(r.onTimeRate).toBe(0.5);
    // With room for six, every parcel leaves on the 12th and arrives by the promise.
    sh.dailyOutboundParcels = 6;
    const roomy = await run(net, { name: 'room', events });
    expect(roomy.overflowParcels).toBe(0);
    expect(roomy.onTimeRate).toBe(1);
  }, 60_000);

  it('a merged waybill rerouted before pickup stays one waybill: an order that joins it later joins it under its new number', async () => {
    const net = loadNetworkContext(config);
    // Three orders of one customer to one address within 15 minutes, early enough for SH01's 12:00
    // wave (one waybill, STO), STO's Shanghai capacity cut to nothing before the wave, then a
    // fourth order of the group, still in time for the wave.
    const addresses = ['上海市黄浦区人民大道２００号', '上海 黄浦区 人民大道 200 号', '黄浦区人民大道二百号', '上海市黄浦区人民大道200号'];
    const merged = (i: number, placedAt: string) =>
      ({ at: placedAt, type: 'order' as const, order: order({ orderId: `RR-${i}`, customerId: 'C-RR', placedAt, promisedBy: '2026-11-12T18:00:00+08:00', destination: { ...PLACES.shanghaiPeoplesSquare, address: addresses[i] }, lines: [{ sku: 'BRK-0001', qty: 1 + i }] }) as AllocateRequest });
    const events = [
      merged(0, '2026-11-11T09:50:00+08:00'),
      merged(1, '2026-11-11T09:55:00+08:00'),
      merged(2, '2026-11-11T09:58:00+08:00'),
      { at: '2026-11-11T09:59:00+08:00', type: 'capacity' as const, courierId: 'STO', provinceCodes: ['310000'], parcels: 0 },
      merged(3, '2026-11-11T10:00:00+08:00'),
    ];
    const scenario = { name: 'merged reroute', events };
    // Policy optimized, as the promotion replays run merging (with policy nearest, no order of this scenario joined).
    const r = await replayPolicy(scenario, scenarioEvents(scenario, [], net), 'optimized', { net, config, solver: new InThreadSolver(await loadExactSolver('highs')), machine, warmUpOrders: 0 });
    // The master and its two children were rerouted together, and the fourth order joined the moved waybill.
    expect(r.reroutes).toBe(3);
    expect(r.merging).toMatchObject({ waybills: 1, joinedShipments: 3, sharedWaybills: 1, mergedGroups: 1, ordersInMergedGroups: 4, joinsAfterPickup: 0 });
  }, 60_000);

  it("a courier's days late move the delivery by whole days, seeded", async () => {
    const net = loadNetworkContext(config);
    // Every parcel one day late: an order promised exactly for its lane's day is never on time.
    for (const c of net.couriers) c.daysLateShares = [0, 1];
    const events = ['09', '10', '11'].map((h, i) => shanghai(`L-${i}`, `2026-11-11T${h}:00:00+08:00`, '2026-11-12T18:00:00+08:00'));
    expect((await run(net, { name: 'late', events })).onTimeRate).toBe(0);
    for (const c of net.couriers) c.daysLateShares = [1];
    expect((await run(net, { name: 'punctual', events })).onTimeRate).toBe(1);
  }, 60_000);
});
