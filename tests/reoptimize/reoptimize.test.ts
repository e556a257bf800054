import { describe, expect, it } from 'vitest';
import { Reoptimizer } from '../../src/allocate/reoptimize.js';
import type { Reoptimization } from '../../src/allocate/reoptimized.js';
import { loadConfig, type Config } from '../../src/config.js';
import type { OutboundAction } from '../../src/domain/actions.js';
import type { AllocateRequest } from '../../src/domain/schemas.js';
import { ReoptimizeJob } from '../../src/allocate/reoptimize-job.js';
import { openServices, type Services } from '../../src/services.js';
import { storeKeys } from '../../src/store/keys.js';
import { MemoryStore } from '../../src/store/memory.js';
import { RedisStore } from '../../src/store/redis.js';
import { FIXED_NOW, network, order } from '../support/app.js';
import { useRedis } from '../support/redis-server.js';
import { StatusMachine } from '../../src/domain/scan-states.js';
import { defaultDataDir, loadStatusMap } from '../../src/network/load.js';
import { replayPolicy, scenarioEvents } from '../../src/replay/engine.js';
import type { Scenario } from '../../src/replay/scenario.js';
import { loadExactSolver } from '../../src/solve/exact.js';
import { InThreadSolver } from '../../src/solve/pool.js';
import { expectInvariant } from '../store/store.cases.js';

/**
 * The hand-made case: order A of customer C-REOPT to People's Square is decided while the Shanghai
 * warehouse SH01 has none of its SKU, so it ships from farther away. Stock then arrives at SH01,
 * and a later order B of the same customer to the same address ships from SH01. The later order
 * puts A in a customer-address group, so the next round re-solves A, which now ships from SH01
 * for less.
 */
async function scenario(over: Partial<Config> = {}, wrap?: (svc: Services) => Pick<Services['allocator'], 'propose' | 'book' | 'closed'>) {
  const net = network();
  const clock = () => FIXED_NOW;
  const store = new MemoryStore(net.network.stock, { clock });
  const config = loadConfig({}, { solverThreads: 0, solveTimeoutMs: 10_000, solverWarmUpRounds: 0, rulesDir: 'off', reoptimizeIntervalMs: 0, ...over });
  const actions: OutboundAction[] = [];
  const svc = await openServices(config, { net, store, clock, rules: false, actions: { enqueue: async (a) => void actions.push(...a) } });
  const sku = 'BRK-0001';
  const sh01 = (await store.stock({ warehouseId: 'SH01', sku }))[0]!;
  expect((await store.setOnHand([{ warehouseId: 'SH01', sku, onHand: 0 }])).ok).toBe(true);
  const a = order({ customerId: 'C-REOPT', lines: [{ sku, qty: 4 }] }) as unknown as AllocateRequest;
  const da = await svc.allocator.allocate(a);
  expect(da.status).toBe('allocated');
  expect(da.shipments[0]!.warehouseId).not.toBe('SH01');
  // The receipt at SH01, then the later order to the same address.
  expect((await store.adjustOnHand('SH01', sku, sh01.onHand)).ok).toBe(true);
  const b = order({ customerId: 'C-REOPT', lines: [{ sku, qty: 1 }] }) as unknown as AllocateRequest;
  const db = await svc.allocator.allocate(b);
  expect(db.shipments[0]!.warehouseId).toBe('SH01');
  const moves: Reoptimization[] = [];
  const reoptimizer = new Reoptimizer(net, config, store, wrap ? wrap(svc) : svc.allocator, svc.machine, clock, { enqueue: async (x) => void actions.push(...x) });
  reoptimizer.listeners.push((_id, m) => moves.push(m));
  return { svc, store, a, b, da, db, reoptimizer, moves, actions, config };
}

describe('re-optimisation of shipments not yet picked up (issue 21 item 3)', () => {
  it('moves an earlier open order to the cheaper plan a later change allows: REOPTIMIZED, new tracking number, saving at least the threshold, stock invariant', async () => {
    const { svc, store, a, da, reoptimizer, moves, actions, config } = await scenario();
    const round = await reoptimizer.runOnce();
    expect(round.selected).toBe(2);
    expect(round.moved.map((m) => m.orderId)).toEqual([a.orderId]);
    expect(round.refused).toEqual([]);
    const m = moves[0]!;
    expect(m.code).toBe('REOPTIMIZED');
    expect(m.savingCny).toBeGreaterThanOrEqual(config.reoptimizeMinSavingCny);
    expect(round.savingCny).toBe(m.savingCny);
    expect(m.from[0]!.trackingNumber).toBe(da.shipments[0]!.trackingNumber);
    const view = await svc.allocator.get(a.orderId);
    const s = view.decision.shipments[0]!;
    expect(s.warehouseId).toBe('SH01');
    expect(s.trackingNumber).not.toBe(da.shipments[0]!.trackingNumber);
    expect(Date.parse(s.eta)).toBeLessThanOrEqual(Date.parse(da.shipments[0]!.eta));
    // A was alone on its open shipment: the record moved with it, so a later order of the group
    // joins the parcel that travels (SH01, the new waybill), never the old one.
    const [group] = await store.listAll<string>(storeKeys.orderGroup(a.orderId));
    expect(group).toBeDefined();
    const open = await store.openShipments(group!);
    expect(open.map((o) => o.trackingNumber)).not.toContain(da.shipments[0]!.trackingNumber);
    expect(open.find((o) => o.masterOrderId === a.orderId)).toMatchObject({
      trackingNumber: s.trackingNumber,
      warehouseId: 'SH01',
      courierId: s.courierId,
      pickupAtMs: Date.parse(s.pickupAt!),
      etaMs: Date.parse(s.eta),
      grams: Math.round(s.weightKg * 1_000),
      members: [{ orderId: a.orderId, grams: Math.round(s.weightKg * 1_000) }],
    });
    expect(await store.openShipment(group!, da.shipments[0]!.trackingNumber)).toBeNull();
    // The held units moved with the plan: SH01 holds A's 4 and B's 1; A's old warehouse none.
    expect((await store.stock({ warehouseId: 'SH01', sku: 'BRK-0001' }))[0]!.reserved).toBe(5);
    expect((await store.stock({ warehouseId: da.shipments[0]!.warehouseId, sku: 'BRK-0001' }))[0]!.reserved).toBe(0);
    await expectInvariant(store);
    // The ERP hears of it through the outbox, once per move.
    expect(actions.filter((x) => x.code === 'SHIPMENT_REOPTIMIZED')).toMatchObject([{ orderId: a.orderId, discriminator: 'move-1', params: { savingCny: m.savingCny } }]);
    // The running KPI counters count the moved shipment and the money saved.
    await svc.tracker.refreshKpi(a.orderId);
    const sums = (await store.kpiRead()).sums;
    expect(sums.reoptimizedShipments).toBe(1);
    expect(sums.reoptimizationSavingFen).toBe(Math.round(m.savingCny * 100));
    // Nothing more to gain: the next round moves nothing.
    expect((await reoptimizer.runOnce()).moved).toEqual([]);
    // Shipping it commits what the moved reservation holds.
    await svc.allocator.ship(a.orderId);
    expect((await store.stock({ warehouseId: 'SH01', sku: 'BRK-0001' }))[0]!.reserved).toBe(1);
    await expectInvariant(store);
    await svc.close();
  });

  it('moves nothing when the saving is below REOPTIMIZE_MIN_SAVING_CNY', async () => {
    const { svc, store, a, da, reoptimizer, moves } = await scenario({ reoptimizeMinSavingCny: 10_000 });
    const round = await reoptimizer.runOnce();
    expect(round.solved).toBe(2);
    expect(round.moved).toEqual([]);
    expect(moves).toEqual([]);
    expect((await svc.allocator.get(a.orderId)).decision.shipments).toEqual(da.shipments);
    expect(await store.listAll(storeKeys.reoptimizations(a.orderId))).toEqual([]);
    // The world only shrank since: the next round solves nothing; a receipt of the SKU (more
    // free stock somewhere) makes it solve both orders again.
    expect((await reoptimizer.runOnce()).solved).toBe(0);
    expect((await store.adjustOnHand('HF01', 'BRK-0001', 1)).ok).toBe(true);
    expect((await reoptimizer.runOnce()).solved).toBe(2);
    await svc.close();
  });

  it('never moves a shipment picked up between the solve and the move (checked atomically at the move)', async () => {
    const { svc, store, a, da, reoptimizer, moves } = await scenario({}, (s) => ({
      book: s.allocator.book,
      closed: s.allocator.closed,
      // The WMS reports the pickup of A while the job is solving it.
      propose: async (o, own) => {
        const p = await s.allocator.propose(o, own);
        if (o.orderId === a.orderId) await s.allocator.ship(o.orderId);
        return p;
      },
    }));
    const round = await reoptimizer.runOnce();
    expect(round.moved).toEqual([]);
    expect(round.refused).toEqual([{ orderId: a.orderId, why: 'not-held' }]);
    expect(moves).toEqual([]);
    expect((await svc.allocator.get(a.orderId)).decision.shipments).toEqual(da.shipments);
    // A's units left its old warehouse exactly once; SH01 holds only B's.
    expect((await store.stock({ warehouseId: 'SH01', sku: 'BRK-0001' }))[0]!.reserved).toBe(1);
    await expectInvariant(store);
    // Once shipped, later rounds do not even look at it again.
    expect((await reoptimizer.runOnce()).refused).toEqual([]);
    await svc.close();
  });
});

describe('re-optimisation job: one instance at a time on one Redis (the lease)', () => {
  const db = useRedis();

  it('of two instances ticking together only one runs a round; the other takes over once it stops', async () => {
    const stores = [0, 1].map(() => {
      const redis = db.client();
      return new RedisStore(redis, ['SH01']);
    });
    const runs = [0, 0];
    const cfg = { reoptimizeIntervalMs: 60_000, reoptimizeLeaseMs: 5_000 };
    const round = { at: '', selected: 0, solved: 0, moved: [], refused: [], movedShipments: 0, savingCny: 0 };
    const jobs = stores.map((s, i) => new ReoptimizeJob(s, { runOnce: async () => (runs[i]!++, round) }, cfg));
    for (let k = 0; k < 5; k++) await Promise.all(jobs.map((j) => j.tick()));
    expect(runs.reduce((x, y) => x + y)).toBe(5);
    expect(runs.filter((n) => n > 0)).toHaveLength(1);
    const holder = runs[0]! > 0 ? 0 : 1;
    await jobs[holder]!.stop();
    expect(await jobs[1 - holder]!.tick()).toEqual(round);
    expect(runs[1 - holder]).toBe(1);
    await jobs[1 - holder]!.stop();
  });
});

describe('re-optimisation in a replay (simulated time)', () => {
  it('moves an order once a closure that bent it ends, lowers the money, and counts no move after pick-up', async () => {
    const net = network();
    const config = loadConfig({}, { solverThreads: 0 });
    const machine = new StatusMachine(loadStatusMap(defaultDataDir()));
    const solver = new InThreadSolver(await loadExactSolver('highs'));
    const at = (hhmm: string, id: string, customerId: string) => {
      const placedAt = `2026-11-11T${hhmm}:00+08:00`;
      return { at: placedAt, type: 'order' as const, order: order({ orderId: id, customerId, placedAt, promisedBy: '2026-11-12T18:00:00+08:00', lines: [{ sku: 'BRK-0001', qty: 4 }] }) as unknown as AllocateRequest };
    };
    // SH01 is closed when A is decided; B (same customer and address) comes after it reopened,
    // and C (another customer) keeps simulated time going past a few rounds before the waves.
    const scenario: Scenario = {
      name: 'closure lifted',
      events: [at('09:00', 'RP-A', 'C-R'), at('09:40', 'RP-B', 'C-R'), at('10:30', 'RP-C', 'C-OTHER')],
      overrides: { closures: [{ warehouseId: 'SH01', from: '2026-11-11T08:00:00+08:00', to: '2026-11-11T09:30:00+08:00' }] },
    };
    const run = (reoptimizeIntervalMs: number) => replayPolicy(scenario, scenarioEvents(scenario, [], net), 'optimized', { net, config, solver, machine, warmUpOrders: 0, reoptimizeIntervalMs });
    const off = await run(0);
    const on = await run(300_000);
    expect(off.reoptimization).toBeUndefined();
    expect(on.reoptimization).toMatchObject({ movedOrders: 1, movedShipments: 1, movesAfterPickup: 0, refused: 0 });
    expect(on.reoptimization!.savingCny).toBeGreaterThanOrEqual(config.reoptimizeMinSavingCny);
    expect(on.warehouseLoad.SH01).toBe(12);
    expect(on.costPerOrder).toBeLessThan(off.costPerOrder);
  }, 60_000);
});
