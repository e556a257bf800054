import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { components, DispatchdClient } from '../../src/client/index.js';
import type { MemoryStore } from '../../src/store/memory.js';
import { network, order, PLACES, testApp } from '../support/app.js';
import { apiClient } from '../support/client.js';

// The main flows go through the typed client generated from the OpenAPI document (src/client),
// over app.inject: requests and answers are the documented ones. Malformed requests, which the
// typed client cannot express, are sent raw.

type Decision = components['schemas']['Decision'];
type AllocateRequest = components['schemas']['AllocateRequest'];

let app: FastifyInstance;
let store: MemoryStore;
let api: DispatchdClient;
beforeEach(async () => {
  ({ app, store } = await testApp());
  api = apiClient(app);
});
afterEach(async () => {
  await app.close();
});

/** The typed allocate call; `data` is the decision on a 200. */
const allocate = (body: Record<string, unknown>) => api.POST('/v1/allocate', { body: body as AllocateRequest });
/** The decision of a 200, failing the test on anything else. */
const decide = async (body: Record<string, unknown>): Promise<Decision> => {
  const r = await allocate(body);
  expect(r.response.status, JSON.stringify(r.error)).toBe(200);
  return r.data!;
};
/** Malformed requests, as an ERP might send them. */
const allocateRaw = (body: unknown) => app.inject({ method: 'POST', url: '/v1/allocate', payload: body as object });
const stockOf = async (warehouseId: string, sku: string) => (await store.stock({ warehouseId, sku }))[0];
const setStock = (items: { warehouseId: string; sku: string; onHand: number }[]) => api.PUT('/v1/stock', { body: { items } });

describe('service basics', () => {
  it('answers /healthz and /readyz', async () => {
    for (const r of [await api.GET('/healthz'), await api.GET('/readyz')]) {
      expect(r.response.status).toBe(200);
      expect(r.data).toMatchObject({ status: 'ok', store: 'memory', warehouses: 18 });
    }
  });

  it('serves the OpenAPI document from the same schemas', async () => {
    const r = await app.inject('/docs/json');
    expect(r.statusCode).toBe(200);
    const doc = r.json();
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/v1/allocate', '/v1/orders/{orderId}', '/v1/orders/{orderId}/cancel', '/v1/network', '/v1/stock', '/v1/stock/events', '/v1/locks', '/v1/locks/{lockId}', '/healthz', '/readyz']),
    );
    expect(doc.paths['/v1/allocate'].post.requestBody.content['application/json'].schema.$ref).toBe('#/components/schemas/AllocateRequest');
    expect(doc.components.schemas.AllocateRequest.required).toEqual(
      expect.arrayContaining(['orderId', 'customerId', 'promisedBy', 'destination', 'lines']),
    );
    expect((await app.inject('/docs')).statusCode).toBeLessThan(400);
  });

  it('lists the network', async () => {
    const body = (await api.GET('/v1/network')).data!;
    expect(body.warehouses).toHaveLength(18);
    expect(body.warehouses.find((w) => w.id === 'SH01')).toMatchObject({ radiusKm: 150, city: 'Shanghai' });
    expect(body.couriers.map((c) => c.id).sort()).toEqual(['SF', 'STO', 'YUNDA', 'ZTO']);
    expect(body.skus.length).toBeGreaterThanOrEqual(200);
  });
});

describe('POST /v1/allocate', () => {
  it('radius-locks a downtown-Shanghai order on SH01 and reserves the stock', async () => {
    const before = await stockOf('SH01', 'BRK-0001');
    expect(before!.free).toBeGreaterThanOrEqual(1.2 * 4);
    const d = await decide(order());
    expect(d).toMatchObject({ status: 'allocated', mode: 'radius-lock', backordered: [] });
    expect(d.shipments).toHaveLength(1);
    expect(d.shipments[0]).toMatchObject({ warehouseId: 'SH01', lines: [{ sku: 'BRK-0001', qty: 4 }] });
    expect(d.shipments[0]!.cost.total).toBeCloseTo(d.totalCost, 2);
    expect(d.reasons.find((x) => x.code === 'RADIUS_LOCK')?.warehouseId).toBe('SH01');
    expect(await stockOf('SH01', 'BRK-0001')).toMatchObject({ reserved: 4, free: before!.free - 4 });
  });

  it('switches to optimized when SH01 holds less than 1.2 x qty, and says why', async () => {
    expect((await setStock([{ warehouseId: 'SH01', sku: 'BRK-0001', onHand: 5 }])).response.status).toBe(200);
    const d = await decide(order({ lines: [{ sku: 'BRK-0001', qty: 5 }] }));
    expect(d.mode).toBe('optimized');
    const why = d.reasons.find((x) => x.code === 'RADIUS_LOCK_NOT_APPLIED' && x.warehouseId === 'SH01');
    expect(why?.detail).toContain('5 < 1.2 x 5 = 6');
    expect(d.status).toBe('allocated');
  });

  it('reports per decision which solver answered, its time and search nodes, and counts them in /metrics', async () => {
    const locked = await decide(order({ lines: [{ sku: 'BRK-0001', qty: 2 }] }));
    expect(locked).toMatchObject({ mode: 'radius-lock', solver: 'radius-lock', searchNodes: 0 });
    expect(locked.decideMicros).toBeGreaterThanOrEqual(locked.solveMicros);
    await setStock([{ warehouseId: 'SH01', sku: 'BRK-0001', onHand: 5 }]);
    const solved = await decide(order({ lines: [{ sku: 'BRK-0001', qty: 5 }] }));
    expect(solved.mode).toBe('optimized');
    expect(solved.solver).not.toBe('radius-lock');
    expect(solved.solveMicros).toBeGreaterThan(0);
    expect(solved.decideMicros).toBeGreaterThanOrEqual(solved.solveMicros);
    const metrics = await api.GET('/metrics', { parseAs: 'text' });
    expect(metrics.response.status).toBe(200);
    expect(metrics.response.headers.get('content-type')).toMatch(/^text\/plain/);
    const m = { body: metrics.data! };
    expect(m.body).toContain('dispatchd_decisions_total{mode="radius-lock",solver="radius-lock",status="allocated"} 1');
    expect(m.body).toContain(`dispatchd_decisions_total{mode="optimized",solver="${solved.solver}",status="allocated"} 1`);
    expect(m.body).toContain(`dispatchd_solve_seconds_count{solver="${solved.solver}"} 1`);
    expect(m.body).toMatch(/dispatchd_search_nodes_bucket\{le="\+Inf",solver="radius-lock"\} 1/);
    expect(m.body).toContain('dispatchd_process_cpu_seconds_total');
    // Seconds, not microseconds: the decision's own figure divided by 1e6.
    const decideSum = Number(/^dispatchd_decide_seconds_sum\{mode="radius-lock"\} (\S+)$/m.exec(m.body)?.[1]);
    expect(decideSum).toBeCloseTo(locked.decideMicros / 1e6, 5); // the response rounds to whole µs
    // HTTP requests by route pattern, method and status (the two allocations, two stock PUTs before this scrape).
    expect(m.body).toContain('dispatchd_http_requests_total{route="/v1/allocate",method="POST",status_code="200"} 2');
    expect(m.body).toContain('dispatchd_http_requests_total{route="/v1/stock",method="PUT",status_code="200"} 1');
    expect(m.body).toMatch(/^dispatchd_http_request_duration_seconds_bucket\{le="10",route="\/v1\/allocate",method="POST",status_code="200"\} 2$/m);
  });

  it('does not serve a Suzhou customer from the North-China warehouse while the delta has stock (the case)', async () => {
    // Make the national warehouse the biggest holder by far, as in the case.
    await setStock([
      { warehouseId: 'TJ01', sku: 'BRK-0001', onHand: 5_000 },
      { warehouseId: 'SZ01', sku: 'BRK-0001', onHand: 40 },
    ]);
    const d = await decide(order({ destination: PLACES.suzhouCentre, lines: [{ sku: 'BRK-0001', qty: 30 }] }));
    expect(d.status).toBe('allocated');
    expect(d.shipments.map((s) => s.warehouseId)).not.toContain('TJ01');
    const tj = d.reasons.find((x) => x.warehouseId === 'TJ01');
    expect(tj?.code).toBe('COST_HIGHER_BY');
    expect(tj!.costDelta).toBeGreaterThan(0);
  });

  it('is idempotent on orderId: a retry returns the same decision and reserves once', async () => {
    const body = order({ lines: [{ sku: 'BRK-0001', qty: 3 }] });
    const before = (await stockOf('SH01', 'BRK-0001'))!.reserved;
    const [a, b] = await Promise.all([decide(body), decide(body)]);
    const c = await decide(body);
    expect(a).toEqual(b);
    expect(a).toEqual(c);
    expect((await stockOf('SH01', 'BRK-0001'))!.reserved).toBe(before + 3);
    const conflict = await allocate({ ...body, lines: [{ sku: 'BRK-0001', qty: 9 }] });
    expect(conflict.response.status).toBe(409);
    expect(conflict.error?.error.code).toBe('DSP_IDEMPOTENCY_CONFLICT');
  });

  it('prices a bulk order as several parcels from the courier rate card, and its cost adds up', async () => {
    const d = await decide(order({ destination: PLACES.suzhouCentre, lines: [{ sku: 'BRK-0001', qty: 200 }] }));
    expect(d.status).toBe('allocated');
    const s = d.shipments[0]!;
    const net = network();
    const courier = net.couriers.find((c) => c.id === s.courierId)!;
    const rate = net.laneRate(courier, net.warehouseProvince.get(s.warehouseId)!, '320000')!;
    const kg = 200 * net.skuByCode.get('BRK-0001')!.unitWeightKg;
    expect(s.weightKg).toBeCloseTo(kg, 2);
    expect(s.parcels).toBe(Math.ceil(kg / courier.maxParcelKg));
    expect(s.parcels).toBeGreaterThan(1);
    expect(s.cost.freight).toBeCloseTo(rate.baseCny * s.parcels + rate.perKgCny * kg, 2);
    const c = s.cost;
    expect(c.total).toBeCloseTo(c.freight + c.transfer + c.storage + c.lateness + c.split, 2);
    expect(d.totalCost).toBeCloseTo(c.total, 2);
  });

  it('backorders what nobody can supply', async () => {
    const stock = await store.stock({ sku: 'BRK-0001' });
    await setStock(stock.map((s) => ({ warehouseId: s.warehouseId, sku: s.sku, onHand: 0 })));
    const d = await decide(order());
    expect(d).toMatchObject({ status: 'backordered', shipments: [], backordered: [{ sku: 'BRK-0001', qty: 4 }], totalCost: 0 });
    expect(d.reasons.some((x) => x.code === 'BACKORDERED')).toBe(true);
  });

  it('splits when no warehouse holds the whole quantity', async () => {
    const stock = await store.stock({ sku: 'BRK-0001' });
    await setStock(stock.map((s) => ({ warehouseId: s.warehouseId, sku: s.sku, onHand: 0 })));
    await setStock([
      { warehouseId: 'SH01', sku: 'BRK-0001', onHand: 6 },
      { warehouseId: 'SZ01', sku: 'BRK-0001', onHand: 6 },
    ]);
    const d = await decide(order({ lines: [{ sku: 'BRK-0001', qty: 10 }], allowSplit: true }));
    expect(d.status).toBe('allocated');
    const shipped = d.shipments.reduce((n, s) => n + s.lines.reduce((m, l) => m + l.qty, 0), 0);
    expect(shipped).toBe(10);
    expect(d.totalCost).toBeCloseTo(
      d.shipments.reduce((n, s) => n + s.cost.total, 0),
      1,
    );
  });
});

describe('orders', () => {
  it('gets and cancels an order, releasing its stock once', async () => {
    const body = order({ lines: [{ sku: 'BRK-0001', qty: 2 }] });
    const orderId = body.orderId as string;
    const before = (await stockOf('SH01', 'BRK-0001'))!;
    await decide(body);
    const got = await api.GET('/v1/orders/{orderId}', { params: { path: { orderId } } });
    expect(got.data).toMatchObject({ orderId, state: 'reserved' });
    const c1 = await api.POST('/v1/orders/{orderId}/cancel', { params: { path: { orderId } } });
    expect(c1.data).toMatchObject({ state: 'cancelled' });
    const c2 = await api.POST('/v1/orders/{orderId}/cancel', { params: { path: { orderId } } });
    expect(c2.response.status).toBe(200);
    expect(await stockOf('SH01', 'BRK-0001')).toEqual(before);
    const missing = await api.GET('/v1/orders/{orderId}', { params: { path: { orderId: 'NOPE-1' } } });
    expect(missing.response.status).toBe(404);
    expect(missing.error?.error.code).toBe('DSP_ORDER_NOT_FOUND');
  });
});

describe('stock', () => {
  it('filters and validates', async () => {
    const r = await api.GET('/v1/stock', { params: { query: { warehouseId: 'SH01', sku: 'BRK-0001' } } });
    expect(r.data!.items).toHaveLength(1);
    expect((await api.GET('/v1/stock', { params: { query: { warehouseId: 'XX99' } } })).error?.error.code).toBe('DSP_UNKNOWN_WAREHOUSE');
    expect((await app.inject('/v1/stock?color=red')).json().error.code).toBe('DSP_VALIDATION');
    const bad = await setStock([{ warehouseId: 'SH01', sku: 'NOPE-1', onHand: 1 }]);
    expect(bad.response.status).toBe(422);
    expect(bad.error?.error.code).toBe('DSP_UNKNOWN_SKU');
  });

  it('refuses on-hand below reserved', async () => {
    await decide(order({ lines: [{ sku: 'BRK-0001', qty: 4 }] }));
    const r = await setStock([{ warehouseId: 'SH01', sku: 'BRK-0001', onHand: 3 }]);
    expect(r.response.status).toBe(409);
    expect(r.error?.error.code).toBe('DSP_STOCK_BELOW_RESERVED');
  });
});

describe('stock events', () => {
  type StockEvent = components['schemas']['StockEventBatch']['events'][number];
  const events = (list: StockEvent[]) => api.POST('/v1/stock/events', { body: { events: list } });
  const eventsRaw = (list: unknown[]) => app.inject({ method: 'POST', url: '/v1/stock/events', payload: { events: list } });

  it('applies good events one by one, rejects bad ones with reasons, and is idempotent on eventId', async () => {
    const before = (await stockOf('SH01', 'FLO-0001'))!;
    const body = order({ lines: [{ sku: 'BRK-0001', qty: 2 }] });
    const orderId = body.orderId as string;
    await decide(body);
    const bk = (await stockOf('SH01', 'BRK-0001'))!;
    const r = await events([
      { type: 'receipt', eventId: 'rcv-1', warehouseId: 'SH01', sku: 'FLO-0001', qty: 10 },
      { type: 'receipt', eventId: 'rcv-1', warehouseId: 'SH01', sku: 'FLO-0001', qty: 10 },
      { type: 'adjustment', warehouseId: 'XX99', sku: 'FLO-0001', delta: 1 },
      { type: 'adjustment', warehouseId: 'SH01', sku: 'FLO-0001', delta: -3 },
      { type: 'shipped', orderId },
      { type: 'shipped', orderId: 'NOPE-1' },
      { type: 'adjustment', warehouseId: 'SH01', sku: 'NOPE-9', delta: 1 },
    ]);
    expect(r.response.status).toBe(200);
    expect(r.data!.results.map((x) => x.code ?? x.status)).toEqual([
      'applied',
      'duplicate',
      'DSP_UNKNOWN_WAREHOUSE',
      'applied',
      'applied',
      'DSP_ORDER_NOT_FOUND',
      'DSP_UNKNOWN_SKU',
    ]);
    expect((await stockOf('SH01', 'FLO-0001'))!.onHand).toBe(before.onHand + 7);
    // Shipped: the reservation is committed, the units leave on hand, cancelling is refused.
    expect(await stockOf('SH01', 'BRK-0001')).toMatchObject({ onHand: bk.onHand - 2, reserved: bk.reserved - 2 });
    expect((await api.GET('/v1/orders/{orderId}', { params: { path: { orderId } } })).data!.state).toBe('committed');
    const cancel = await api.POST('/v1/orders/{orderId}/cancel', { params: { path: { orderId } } });
    expect(cancel.error?.error.code).toBe('DSP_ORDER_NOT_CANCELLABLE');
  });

  it('a rejected event does not use up its eventId: GRN-1 corrected and sent again applies, once', async () => {
    const before = (await stockOf('SH01', 'FLO-0001'))!;
    const wrong = await events([{ type: 'receipt', eventId: 'GRN-1', warehouseId: 'SH99', sku: 'FLO-0001', qty: 12 }]);
    expect(wrong.data!.results).toMatchObject([{ status: 'rejected', code: 'DSP_UNKNOWN_WAREHOUSE' }]);
    const corrected = await events([{ type: 'receipt', eventId: 'GRN-1', warehouseId: 'SH01', sku: 'FLO-0001', qty: 12 }]);
    expect(corrected.data!.results).toMatchObject([{ status: 'applied' }]);
    const again = await events([{ type: 'receipt', eventId: 'GRN-1', warehouseId: 'SH01', sku: 'FLO-0001', qty: 12 }]);
    expect(again.data!.results).toMatchObject([{ status: 'duplicate' }]);
    expect((await stockOf('SH01', 'FLO-0001'))!.onHand).toBe(before.onHand + 12);
    // The same for a shipped event naming an order not decided yet: it applies once the order exists.
    const body = order({ lines: [{ sku: 'BRK-0001', qty: 1 }] });
    const early = await events([{ type: 'shipped', eventId: 'SHP-1', orderId: body.orderId as string }]);
    expect(early.data!.results).toMatchObject([{ status: 'rejected', code: 'DSP_ORDER_NOT_FOUND' }]);
    await decide(body);
    expect((await events([{ type: 'shipped', eventId: 'SHP-1', orderId: body.orderId as string }])).data!.results).toMatchObject([{ status: 'applied' }]);
  });

  it('refuses an adjustment below reserved, and a schema-invalid batch as a whole', async () => {
    await decide(order({ lines: [{ sku: 'BRK-0001', qty: 4 }] }));
    const sh = (await stockOf('SH01', 'BRK-0001'))!;
    const r = await events([{ type: 'adjustment', warehouseId: 'SH01', sku: 'BRK-0001', delta: -(sh.free + 1) }]);
    expect(r.data!.results[0]!.code).toBe('DSP_STOCK_BELOW_RESERVED');
    expect(await stockOf('SH01', 'BRK-0001')).toEqual(sh);
    for (const bad of [[{ type: 'adjustment', warehouseId: 'SH01', sku: 'BRK-0001', delta: 0 }], [{ type: 'teleport' }], []]) {
      const res = await eventsRaw(bad);
      expect(res.statusCode).toBe(400);
      expect(res.json().error.code).toBe('DSP_VALIDATION');
    }
  });
});

describe('bad input never yields a 500', () => {
  const allocate = allocateRaw;
  const cases: [string, () => Promise<{ statusCode: number; json: () => { error: { code: string } } }>, number, string][] = [
    ['missing field', () => allocate({ ...order(), promisedBy: undefined }), 400, 'DSP_VALIDATION'],
    ['wrong type', () => allocate(order({ lines: [{ sku: 'BRK-0001', qty: '4' }] })), 400, 'DSP_VALIDATION'],
    ['qty 0', () => allocate(order({ lines: [{ sku: 'BRK-0001', qty: 0 }] })), 400, 'DSP_VALIDATION'],
    ['qty negative', () => allocate(order({ lines: [{ sku: 'BRK-0001', qty: -3 }] })), 400, 'DSP_VALIDATION'],
    ['fractional qty', () => allocate(order({ lines: [{ sku: 'BRK-0001', qty: 1.5 }] })), 400, 'DSP_VALIDATION'],
    ['no lines', () => allocate(order({ lines: [] })), 400, 'DSP_VALIDATION'],
    ['unknown field', () => allocate(order({ priority: 'high' })), 400, 'DSP_VALIDATION'],
    ['unknown SKU', () => allocate(order({ lines: [{ sku: 'NOPE-404', qty: 1 }] })), 422, 'DSP_UNKNOWN_SKU'],
    ['longitude out of range', () => allocate(order({ destination: { lon: 200, lat: 31 } })), 400, 'DSP_VALIDATION'],
    ['latitude out of range', () => allocate(order({ destination: { lon: 121, lat: -95 } })), 400, 'DSP_VALIDATION'],
    ['destination at sea', () => allocate(order({ destination: PLACES.eastChinaSea })), 422, 'DSP_DESTINATION_UNSERVED'],
    ['time without offset', () => allocate(order({ promisedBy: '2026-11-12T18:00:00' })), 400, 'DSP_VALIDATION'],
    ['impossible date', () => allocate(order({ promisedBy: '2026-13-45T18:00:00+08:00' })), 422, 'DSP_BAD_TIME'],
    ['promise before placement', () => allocate(order({ promisedBy: '2026-11-10T18:00:00+08:00' })), 422, 'DSP_BAD_TIME'],
    [
      '2 MB body',
      () => app.inject({ method: 'POST', url: '/v1/allocate', headers: { 'content-type': 'application/json' }, payload: `{"pad":"${'x'.repeat(2 * 1024 * 1024)}"}` }),
      413,
      'DSP_BODY_TOO_LARGE',
    ],
    ['non-JSON', () => app.inject({ method: 'POST', url: '/v1/allocate', headers: { 'content-type': 'application/json' }, payload: '{"orderId": ' }), 400, 'DSP_BAD_JSON'],
    ['empty JSON body', () => app.inject({ method: 'POST', url: '/v1/allocate', headers: { 'content-type': 'application/json' }, payload: '' }), 400, 'DSP_BAD_JSON'],
    [
      'JSON nested 20,000 levels deep (schema checks would overflow the stack)',
      () => app.inject({ method: 'POST', url: '/v1/scenarios', headers: { 'content-type': 'application/json' }, payload: `{"bundled":"hefei-closed","policies":[${'['.repeat(20_000)}${']'.repeat(20_000)}]}` }),
      400,
      'DSP_VALIDATION',
    ],
    ['DELETE with a JSON content type and no body (read as no body)', () => app.inject({ method: 'DELETE', url: '/v1/locks/LCK-none', headers: { 'content-type': 'application/json' }, payload: '' }), 404, 'DSP_LOCK_NOT_FOUND'],
    ['text body', () => app.inject({ method: 'POST', url: '/v1/allocate', headers: { 'content-type': 'text/plain' }, payload: 'hello' }), 415, 'DSP_UNSUPPORTED_MEDIA_TYPE'],
    ['unknown route', () => app.inject('/v1/nothing-here'), 404, 'DSP_NOT_FOUND'],
    ['wrong method', () => app.inject({ method: 'DELETE', url: '/v1/allocate' }), 405, 'DSP_METHOD_NOT_ALLOWED'],
  ];
  for (const [name, send, status, code] of cases) {
    it(`${name} -> ${status} ${code}`, async () => {
      const r = await send();
      expect(r.statusCode).toBe(status);
      expect(r.json().error.code).toBe(code);
    });
  }
});

describe('concurrency', () => {
  it('200 concurrent allocations on a scarce SKU never drive free stock below zero', async () => {
    const sku = 'BRK-0001';
    const stock = await store.stock({ sku });
    await setStock(stock.map((s) => ({ warehouseId: s.warehouseId, sku, onHand: 0 })));
    await setStock([
      { warehouseId: 'SH01', sku, onHand: 30 },
      { warehouseId: 'SZ01', sku, onHand: 20 },
      { warehouseId: 'HZ01', sku, onHand: 10 },
    ]);
    const replies = await Promise.all(Array.from({ length: 200 }, () => allocate(order({ lines: [{ sku, qty: 1 }] }))));
    expect(replies.every((r) => r.response.status === 200)).toBe(true);
    const decisions = replies.map((r) => r.data!);
    const shipped = decisions.reduce((n, d) => n + d.shipments.reduce((m, s) => m + s.lines[0]!.qty, 0), 0);
    expect(shipped).toBe(60);
    expect(decisions.filter((d) => d.status === 'backordered')).toHaveLength(140);
    for (const row of await store.stock({ sku })) {
      expect(row.free).toBeGreaterThanOrEqual(0);
      expect(row.onHand).toBe(row.free + row.reserved);
    }
    expect((await store.stock({ sku })).reduce((n, r) => n + r.reserved, 0)).toBe(60);
  });
});
