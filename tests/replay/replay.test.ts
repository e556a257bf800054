import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { defaultDataDir, loadStatusMap } from '../../src/network/load.js';
import { replayPolicy, scenarioEvents } from '../../src/replay/engine.js';
import { renderReport } from '../../src/replay/report.js';
import { hindsightBound } from '../../src/replay/hindsight.js';
import { loadScenario, ScenarioError } from '../../src/replay/scenario.js';
import { loadExactSolver } from '../../src/solve/exact.js';
import { InThreadSolver } from '../../src/solve/pool.js';
import { StatusMachine } from '../../src/domain/scan-states.js';
import { network, order, PLACES } from '../support/app.js';

const dir = mkdtempSync(join(tmpdir(), 'dsp-replay-'));
const write = (name: string, v: unknown) => {
  const p = join(dir, name);
  writeFileSync(p, typeof v === 'string' ? v : JSON.stringify(v));
  return p;
};

describe('replay engine (issue 6, first part)', () => {
  it('replays an ERP order log under each policy, honouring closures, with the same pipeline as the service', async () => {
    const at = (h: number) => `2026-11-11T${String(h).padStart(2, '0')}:00:00+08:00`;
    const orders = Array.from({ length: 12 }, (_, i) => ({
      at: at(9 + i),
      type: 'order',
      order: order({ orderId: `R-${i}`, placedAt: at(9 + i), promisedBy: '2026-11-13T18:00:00+08:00', destination: i % 2 ? PLACES.hefeiCentre : PLACES.shanghaiPeoplesSquare, lines: [{ sku: 'BRK-0001', qty: 2 }] }),
    }));
    const path = write('s.json', { name: 'small', eventsFile: 'events.ndjson', overrides: { closures: [{ warehouseId: 'HF01', from: at(12), to: at(16) }] } });
    write('events.ndjson', orders.map((o) => JSON.stringify(o)).join('\n'));
    const { scenario, fileEvents } = loadScenario(path);
    const net = network();
    const events = scenarioEvents(scenario, fileEvents, net);
    expect(events.map((e) => e.type)).toContain('closure');
    const opts = { net, config: loadConfig({}, { solverThreads: 0 }), solver: new InThreadSolver(await loadExactSolver('highs')), machine: new StatusMachine(loadStatusMap(defaultDataDir())) };
    const optimized = await replayPolicy(scenario, events, 'optimized', opts);
    const again = await replayPolicy(scenario, events, 'optimized', opts);
    const nearest = await replayPolicy(scenario, events, 'nearest', opts);
    expect(optimized.orders).toBe(12);
    // Deterministic apart from decision timings.
    const strip = (r: typeof optimized) => ({ ...r, decisionMicrosP50: 0, decisionMicrosP99: 0, days: {} });
    expect(strip(again)).toEqual(strip(optimized));
    // Hefei orders during the closure (12:00-16:00 -> R-3, R-5) did not ship from HF01: its load is only the others'.
    expect(optimized.warehouseLoad.HF01).toBe(2 * 4);
    expect(nearest.costPerOrder).toBeGreaterThanOrEqual(optimized.costPerOrder);
    // The hindsight bound: no policy beats it (it also ignores the closure, a constraint).
    const bound = await hindsightBound(events, net, opts.config, opts.solver);
    expect(bound.ordersShipped).toBe(12);
    expect(bound.unproven).toBe(0);
    // The bound is on the objective (money + lateness and split weights) per order that ships.
    for (const r of [optimized, nearest]) expect(r.costPerOrder + r.penaltyPerOrder).toBeGreaterThanOrEqual(bound.costPerOrder - 0.01);
    const html = renderReport({ scenario: 'small', orders: 12, policies: { nearest, optimized }, hindsight: { costPerOrder: bound.moneyPerOrder, onTimeRate: null, lpBound: null, perOrder: bound }, events: [] });
    expect(html).toContain('gap to the clairvoyant LP bound');
    expect(html).toContain('per-order hindsight');
    expect(html).toContain('<th>nearest</th>');
    expect(html).not.toMatch(/<script|https?:\/\//);
    for (const r of [optimized, nearest]) {
      expect(r.onTimeRate).toBeGreaterThanOrEqual(0);
      expect(r.onTimeRate).toBeLessThanOrEqual(1);
      expect(r.hours.reduce((n, h) => n + h.orders, 0)).toBe(12);
    }
  }, 60_000);

  it('refuses a bad scenario, naming the problem', () => {
    expect(() => loadScenario(join(dir, 'missing.json'))).toThrow(ScenarioError);
    expect(() => loadScenario(write('bad.json', '{"name": 1}'))).toThrow(/name/);
    expect(() => loadScenario(write('empty.json', { name: 'x' }))).toThrow(/events, eventsFile or generator/);
    // A generated stream is at most a year of days (MAX_GENERATED_DAYS), streamed day by day.
    const year = (days: number) => ({ name: 'y', generator: { seed: 1, profile: 'normal', startDate: '2026-01-01', days } });
    expect(() => loadScenario(write('year.json', year(366)))).not.toThrow();
    expect(() => loadScenario(write('too-long.json', year(367)))).toThrow(/days/);
    write('bad-events.ndjson', '{"at":"x","type":"teleport"}\n');
    expect(() => loadScenario(write('bad-file.json', { name: 'x', eventsFile: 'bad-events.ndjson' }))).toThrow(/bad-events.ndjson:1/);
    write('late.ndjson', JSON.stringify({ at: '2026-11-11 09:00', type: 'closure', warehouseId: 'HF01', until: '2026-11-11T10:00:00+08:00' }));
    expect(() => loadScenario(write('late.json', { name: 'x', eventsFile: 'late.ndjson' }))).toThrow(/not ISO-8601/);
  });

  it('every bundled scenario is valid', () => {
    for (const f of ['normal-week', 'double11', 'sto-gap', 'hefei-closed', 'demand-x3', 'promotion']) {
      expect(() => loadScenario(join(defaultDataDir(), 'scenarios', `${f}.json`)), f).not.toThrow();
    }
  });
});

describe('replays as jobs over HTTP', () => {
  it('runs a scenario in a worker thread with progress, then serves its KPIs and HTML report', async () => {
    const { testApp } = await import('../support/app.js');
    const { app } = await testApp();
    try {
      const at = (h: number) => `2026-11-11T${String(h).padStart(2, '0')}:00:00+08:00`;
      const events = Array.from({ length: 8 }, (_, i) => ({
        at: at(9 + i),
        type: 'order',
        order: order({ orderId: `J-${i}`, placedAt: at(9 + i), promisedBy: '2026-11-13T18:00:00+08:00', lines: [{ sku: 'FLO-0001', qty: 1 + i }] }),
      }));
      const started = await app.inject({ method: 'POST', url: '/v1/scenarios', payload: { name: 'api small', events, policies: ['nearest', 'optimized'] } });
      expect(started.statusCode).toBe(202);
      const id = started.json().id as string;
      expect(started.headers.location).toBe(`/v1/scenarios/${id}`);
      expect((await app.inject(`/v1/scenarios/${id}/report`)).statusCode).toBe(409);
      await app.dspReplays.idle();
      const done = (await app.inject(`/v1/scenarios/${id}`)).json();
      expect(done).toMatchObject({ status: 'done', progress: 1, result: { scenario: 'api small', orders: 8 } });
      expect(Object.keys(done.result.policies)).toEqual(['nearest', 'optimized']);
      const report = await app.inject(`/v1/scenarios/${id}/report`);
      expect(report.headers['content-type']).toMatch(/text\/html/);
      expect(report.body).toContain('api small');
      expect((await app.inject('/v1/scenarios')).json().items[0]).toMatchObject({ id, status: 'done' });
      expect((await app.inject('/v1/scenarios/RPL-nope')).statusCode).toBe(404);
      const bad = await app.inject({ method: 'POST', url: '/v1/scenarios', payload: { bundled: 'atlantis' } });
      expect(bad.statusCode).toBe(400);
      const badTime = await app.inject({ method: 'POST', url: '/v1/scenarios', payload: { name: 'x', events: [{ ...events[0], at: 'yesterday' }] } });
      expect(badTime.statusCode).toBe(422);
      expect(badTime.json().error.code).toBe('DSP_BAD_TIME');
      const notScenario = await app.inject({ method: 'POST', url: '/v1/scenarios', payload: { name: 'x', events: [{ at: at(9), type: 'teleport' }] } });
      expect(notScenario.json().error.code).toBe('DSP_VALIDATION');
    } finally {
      await app.close();
    }
  }, 120_000);
});

describe('scenario JSON Schema', () => {
  it('data/scenarios/scenario.schema.json is the schema the loader validates with (npm run replay -- --schema)', async () => {
    const { readFileSync } = await import('node:fs');
    const { ScenarioSchema } = await import('../../src/replay/scenario.js');
    const onDisk = JSON.parse(readFileSync(join(defaultDataDir(), 'scenarios', 'scenario.schema.json'), 'utf8'));
    expect(onDisk).toEqual(JSON.parse(JSON.stringify(ScenarioSchema)));
  });
});
