import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { StatusMachine } from '../../src/domain/scan-states.js';
import { defaultDataDir, loadStatusMap } from '../../src/network/load.js';
import { clairvoyant } from '../../src/replay/clairvoyant.js';
import { replayPolicy, scenarioEvents } from '../../src/replay/engine.js';
import { hindsightBound } from '../../src/replay/hindsight.js';
import type { Scenario, ScenarioEvent } from '../../src/replay/scenario.js';
import { loadExactSolver } from '../../src/solve/exact.js';
import { InThreadSolver } from '../../src/solve/pool.js';
import { network } from '../support/app.js';
import { checkStreamPlan } from '../support/check-stream-plan.js';

/**
 * Issue 16: `--clairvoyant` on the normal week failed with "HiGHS model status 6" (an empty
 * model). The hindsight models build each order's options with Allocator.relaxedProblem, which
 * validated the order against the wall clock instead of the order's own instant: every order
 * placed more than PROMISE_WINDOW_DAYS (30) from the day the replay ran was refused, so the
 * whole-stream model had no orders at all (Double-11, under 30 days old when it was found, still
 * worked) and the per-order bound silently came out 0. The replayed policies judge the orders in
 * simulated time and accept them, so both hindsight models must accept them too, whatever day
 * the replay is run on: the wall clock is set here far from the stream, on both sides.
 */
describe('the clairvoyant model of a stream with no order to decide', () => {
  const config = loadConfig({}, { solverThreads: 0 });
  const net = network();
  const scenario: Scenario = { name: 'normal week, first orders', generator: { seed: 1, profile: 'normal', startDate: '2026-10-12', days: 1 } };
  const orders = scenarioEvents(scenario, [], net)
    .slice(0, 3)
    .flatMap((e) => (e.type === 'order' ? [e] : []));

  // HiGHS answers a model without columns 'empty' (status 6) without solving; with no order the
  // optimum is the empty plan, not an error. Refused orders count in the denominators only.
  it.each([
    ['no orders at all', [] as ScenarioEvent[]],
    ['every order refused (unknown SKU)', orders.map((e) => ({ ...e, order: { ...e.order, lines: [{ sku: 'NO-SUCH-SKU', qty: 1 }] } }))],
  ])('%s: a bound and a plan of 0, no error', async (_label, events) => {
    const solver = new InThreadSolver(await loadExactSolver('exact'));
    const r = await clairvoyant(scenario, events, net, config, solver, { mipTimeLimitMs: 1_000, lateDayWeight: 0 });
    expect(r.orders).toBe(events.length);
    expect(r.ordersWithoutOptions).toBe(events.length);
    expect(r.lpBound).toBe(0);
    expect(r.costPerOrder).toBe(0);
    expect(r.plan?.optimal).toBe(true);
    expect(r.plans).toEqual([]);
  }, 20_000);
});

describe('hindsight models of a stream far from the wall clock', () => {
  const config = loadConfig({}, { solverThreads: 0 });
  const net = network();
  const machine = new StatusMachine(loadStatusMap(defaultDataDir()));
  // The first orders of the bundled normal week's first day (data/scenarios/normal-week.json).
  const scenario: Scenario = { name: 'normal week, first orders', generator: { seed: 1, profile: 'normal', startDate: '2026-10-12', days: 1 } };
  const events = scenarioEvents(scenario, [], net).slice(0, 30);

  afterAll(() => {
    vi.useRealTimers();
  });

  describe.each([
    ['a year after the stream', '2027-10-12T12:00:00+08:00'],
    ['a year before the stream', '2025-10-12T12:00:00+08:00'],
  ])('replayed %s', (_label, wallClock) => {
    beforeAll(() => {
      // Only Date: HiGHS and the solver keep their timers.
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(new Date(wallClock));
    });

    it('the clairvoyant model takes every order the policies take, and its bound holds', async () => {
      const solver = new InThreadSolver(await loadExactSolver('exact'));
      const r = await clairvoyant(scenario, events, net, config, solver, { mipTimeLimitMs: 10_000, lateDayWeight: 0 });
      expect(r.orders).toBe(30);
      expect(r.ordersWithoutOptions).toBe(0);
      expect(r.inputs.refused).toBe(0);
      expect(r.lpBound!).toBeGreaterThan(0);
      expect(r.lpBound!).toBeLessThanOrEqual(r.costPerOrder! + 0.005);
      expect(checkStreamPlan(r.inputs.orders, r.plans!, r.inputs.supply, r.inputs.caps)).toEqual([]);
      const nearest = await replayPolicy(scenario, events, 'nearest', { net, config, solver, machine, warmUpOrders: 0 });
      expect(nearest.orders).toBe(r.orders);
      expect(nearest.backorderedUnits).toBeGreaterThanOrEqual(r.lpBackorderedUnits - 1e-6);
      expect(r.lpBound!).toBeLessThanOrEqual(nearest.costPerOrder + 0.005);
    }, 20_000);

    it('the per-order hindsight bound solves every order', async () => {
      const solver = new InThreadSolver(await loadExactSolver('exact'));
      const b = await hindsightBound(events, net, config, solver);
      expect(b.ordersShipped).toBe(30);
      expect(b.moneyPerOrder).toBeGreaterThan(0);
    }, 20_000);
  });
});
