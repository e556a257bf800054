import { afterEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { order, testApp } from '../support/app.js';

/** Replay jobs are bounded: checked whole before they start, limited in size and memory, cancellable, forgotten after a while. */
let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

const at = (h: number) => `2026-11-11T${String(h).padStart(2, '0')}:00:00+08:00`;
const small = (name: string) => ({
  name,
  policies: ['nearest'],
  events: [{ at: at(9), type: 'order', order: order({ placedAt: at(9), promisedBy: '2026-11-13T18:00:00+08:00', lines: [{ sku: 'FLO-0001', qty: 1 }] }) }],
});
const post = (payload: object) => app!.inject({ method: 'POST', url: '/v1/scenarios', payload });
const waitFor = async (id: string, done: (status: string) => boolean) => {
  for (let t0 = Date.now(); Date.now() - t0 < 60_000; await new Promise((r) => setTimeout(r, 50))) {
    const j = (await app!.inject(`/v1/scenarios/${id}`)).json() as { status: string; error: string | null };
    if (done(j.status)) return j;
  }
  throw new Error(`replay ${id} never got there`);
};

describe('replay jobs: limits, validation, cancellation, eviction', () => {
  it('refuses a job larger than REPLAY_MAX_ORDER_DECISIONS with 422, and repeated policies with 400', async () => {
    ({ app } = await testApp());
    const huge = await post({ name: 'month x20', generator: { seed: 1, profile: 'normal', startDate: '2026-11-01', days: 31 }, overrides: { demandFactor: 20 }, policies: ['nearest', 'radius-rule', 'optimized'] });
    expect(huge.statusCode).toBe(422);
    expect(huge.json().error.code).toBe('DSP_REPLAY_TOO_LARGE');
    expect(huge.json().error.details[0]).toMatchObject({ orders: 31 * 800 * 20, policies: 3, work: 31 * 800 * 20 * 4 });
    const twice = await post({ bundled: 'double11', policies: ['nearest', 'nearest'] });
    expect([twice.statusCode, twice.json().error.code]).toEqual([400, 'DSP_VALIDATION']);
    const manyCopies = await post({ ...small('x'), policies: Array(50).fill('optimized') });
    expect([manyCopies.statusCode, manyCopies.json().error.code]).toEqual([400, 'DSP_VALIDATION']);
  });

  it('checks the scenario before accepting it: a start date that is no day, unknown warehouses, SKUs, couriers and provinces, closures that end before they start', async () => {
    ({ app } = await testApp());
    const cases: object[] = [
      { name: 'x', generator: { seed: 1, profile: 'normal', startDate: '0000-13-45', days: 1 } },
      { name: 'x', generator: { seed: 1, profile: 'normal', startDate: '2026-02-30', days: 1 } },
      { ...small('x'), events: [...small('x').events, { at: at(8), type: 'receipt', warehouseId: 'XX99', sku: 'FLO-0001', qty: 5 }] },
      { ...small('x'), events: [...small('x').events, { at: at(8), type: 'receipt', warehouseId: 'SH01', sku: 'NOPE-1', qty: 5 }] },
      { ...small('x'), events: [...small('x').events, { at: at(8), type: 'capacity', courierId: 'DHL', provinceCodes: ['320000'], parcels: 1 }] },
      { ...small('x'), events: [...small('x').events, { at: at(8), type: 'capacity', courierId: 'STO', provinceCodes: ['990000'], parcels: 1 }] },
      { ...small('x'), events: [...small('x').events, { at: at(10), type: 'closure', warehouseId: 'SH01', until: at(8) }] },
      { ...small('x'), overrides: { closures: [{ warehouseId: 'SH01', from: at(10), to: at(9) }] } },
    ];
    for (const c of cases) {
      const r = await post(c);
      expect([r.statusCode, r.json().error?.code], JSON.stringify(c).slice(0, 200)).toEqual([400, 'DSP_VALIDATION']);
    }
    expect((await app.inject('/v1/scenarios')).json().items).toEqual([]);
  });

  it('cancels a running job (its worker stops) and a queued one; an ended job cannot be cancelled', async () => {
    ({ app } = await testApp());
    const running = (await post({ bundled: 'double11', policies: ['optimized'] })).json().id as string;
    const queued = (await post(small('queued'))).json().id as string;
    await waitFor(running, (s) => s === 'running');
    const cancelled = await app.inject({ method: 'DELETE', url: `/v1/scenarios/${running}` });
    expect(cancelled.statusCode).toBe(200);
    expect(cancelled.json()).toMatchObject({ id: running, status: 'cancelled', error: 'cancelled by request' });
    // The queue moves on to the next job.
    expect((await waitFor(queued, (s) => s === 'done')).status).toBe('done');
    const again = await app.inject({ method: 'DELETE', url: `/v1/scenarios/${running}` });
    expect([again.statusCode, again.json().error.code]).toEqual([409, 'DSP_REPLAY_ENDED']);
    expect((await app.inject({ method: 'DELETE', url: '/v1/scenarios/RPL-nope' })).statusCode).toBe(404);
    // A queued job is cancelled before it starts.
    const first = (await post({ bundled: 'double11', policies: ['nearest'] })).json().id as string;
    const second = (await post(small('second'))).json().id as string;
    expect((await app.inject({ method: 'DELETE', url: `/v1/scenarios/${second}` })).json()).toMatchObject({ status: 'cancelled' });
    await app.inject({ method: 'DELETE', url: `/v1/scenarios/${first}` });
    expect((await app.inject(`/v1/scenarios/${second}`)).json()).toMatchObject({ status: 'cancelled', startedAt: null });
  }, 120_000);

  it('solves the clairvoyant model when a job asks for it, within REPLAY_CLAIRVOYANT_MAX_ORDERS', async () => {
    ({ app } = await testApp({ replayClairvoyantMaxOrders: 100 }));
    // Beyond the limit (the bundled Double-11 day has about 3,500 orders): 422 before anything runs.
    const big = await post({ bundled: 'double11', policies: ['nearest'], clairvoyant: true });
    expect([big.statusCode, big.json().error.code]).toEqual([422, 'DSP_REPLAY_TOO_LARGE']);
    expect(big.json().error.details[0]).toMatchObject({ limit: 100 });
    // A small stream: the job's result carries the clairvoyant LP bound and plan, and the progress reaches the end.
    const events = [9, 10, 11].map((h, i) => ({
      at: at(h),
      type: 'order',
      order: order({ orderId: `CV-${i}`, placedAt: at(h), promisedBy: '2026-11-13T18:00:00+08:00', lines: [{ sku: 'FLO-0001', qty: 1 + i }] }),
    }));
    const id = (await post({ name: 'clairvoyant', policies: ['nearest', 'optimized'], clairvoyant: true, events })).json().id as string;
    const j = await waitFor(id, (s) => s === 'done' || s === 'failed');
    expect(j.status, j.error ?? '').toBe('done');
    const done = (await app.inject(`/v1/scenarios/${id}`)).json() as { progress: number; result: { hindsight: { lpBound: number | null; costPerOrder: number | null; clairvoyant?: { plan: { optimal: boolean } } } } };
    expect(done.progress).toBe(1);
    const h = done.result.hindsight;
    expect(h.lpBound).toEqual(expect.any(Number));
    expect(h.clairvoyant?.plan.optimal).toBe(true);
    // The bound is a bound: no plan, the clairvoyant one included, costs less money per order.
    expect(h.lpBound!).toBeLessThanOrEqual(h.costPerOrder! + 1e-6);
  }, 120_000);

  it('forgets the oldest ended jobs beyond REPLAY_MAX_KEPT', async () => {
    ({ app } = await testApp({ replayMaxKept: 1 }));
    const a = (await post(small('a'))).json().id as string;
    await waitFor(a, (s) => s === 'done');
    const b = (await post(small('b'))).json().id as string;
    await waitFor(b, (s) => s === 'done');
    expect((await app.inject(`/v1/scenarios/${a}`)).statusCode).toBe(404);
    expect((await app.inject('/v1/scenarios')).json().items.map((j: { id: string }) => j.id)).toEqual([b]);
  }, 120_000);

  it('fails a job that needs more than its memory budget, with that reason', async () => {
    ({ app } = await testApp({ replayMemoryMb: 16 }));
    const id = (await post({ bundled: 'double11', policies: ['optimized'] })).json().id as string;
    const j = await waitFor(id, (s) => s === 'failed' || s === 'done');
    expect(j).toMatchObject({ status: 'failed', error: expect.stringContaining('memory budget') });
  }, 120_000);
});
