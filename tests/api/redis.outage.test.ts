import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import type { Decision } from '../../src/domain/schemas.js';
import type { RedisStore } from '../../src/store/redis.js';
import { lotCell } from '../../src/store/keys.js';
import { FIXED_NOW, network, order, PLACES, TEST_AUTH_CONFIG, withKey } from '../support/app.js';
import { useRedis } from '../support/redis-server.js';
import { expectInvariant } from '../store/store.cases.js';
import { heldUnitsCheck } from '../support/held-units.js';

/**
 * Redis killed mid-load (SIGKILL, a crash) under a service built exactly as `npm start` builds it
 * with REDIS_URL: allocations answer 503 DSP_STORE_UNAVAILABLE instead of hanging, the process
 * stays up, it recovers by itself when Redis returns (same port, its append-only file fsynced on
 * every write, as a production node), and no half-reserved plan remains.
 */
const db = useRedis({ persist: true });
let app: FastifyInstance;
let store: RedisStore;
let inspect: Redis;

beforeAll(async () => {
  const config = loadConfig({}, { ...TEST_AUTH_CONFIG, redisUrl: db.url, redisTimeoutMs: 1_000 });
  app = withKey(await buildApp({ config, net: network(), clock: () => FIXED_NOW, logger: false }));
  await app.ready();
  store = app.dspServices.store as RedisStore;
  inspect = db.client({ lazyConnect: true });
  inspect.on('error', () => undefined);
}, 60_000);
afterAll(async () => {
  await app?.close().catch(() => undefined);
});

/** Many distinct SKUs, so that many decisions (and reservations) are in flight when Redis dies. */
const SKUS = [...new Set(network().network.stock.filter((r) => r.warehouseId === 'SH01' && r.onHand >= 50 && !r.sku.startsWith('RECY-')).map((r) => r.sku))];
const DESTS = [PLACES.shanghaiPeoplesSquare, PLACES.suzhouCentre, PLACES.hefeiCentre, { lon: 120.1551, lat: 30.2741 }];

function mixedOrder(i: number) {
  return order({
    orderId: `OUT-${i}`,
    destination: DESTS[i % DESTS.length],
    lines: [
      { sku: SKUS[i % SKUS.length]!, qty: 1 + (i % 4) },
      { sku: SKUS[(i + 7) % SKUS.length]!, qty: 2 + (i % 3) },
    ],
  });
}

/** Reservation parts in Redis whose order holds no reservation, and cells whose reserved count differs from their parts. */
async function halfPlanCheck(inspect: Redis, store: RedisStore): Promise<{ orphans: string[]; mismatches: string[]; parts: number }> {
  const tags = [...network().warehouses.map((w) => `wh:${w.id}`), 'cap'];
  const reservedByPart = new Map<string, number>();
  const orphans: string[] = [];
  let parts = 0;
  for (const tag of tags) {
    const all = await inspect.hgetall(`{${tag}}:parts`);
    for (const [orderId, raw] of Object.entries(all)) {
      parts++;
      const state = await inspect.hget(`{ord:${orderId}}`, 'state');
      if (state !== 'held') orphans.push(`${orderId} in ${tag}: order state ${state}`);
      // cjson writes an empty Lua table (a counters-only part) as {}, not [].
      const items = (JSON.parse(raw) as { i: [string, number][] | Record<string, never> }).i;
      for (const [sku, qty] of Array.isArray(items) ? items : []) {
        const k = `${tag.slice(3)}/${sku}`;
        reservedByPart.set(k, (reservedByPart.get(k) ?? 0) + qty);
      }
    }
  }
  // A part names the stock cell it holds: a lot of a shelf-life SKU is a cell of its own (SKU@LOT).
  const cellOf = (row: { warehouseId: string; sku: string; lot?: string }) => `${row.warehouseId}/${row.lot === undefined ? row.sku : lotCell(row.sku, row.lot)}`;
  const mismatches = (await store.stock())
    .filter((row) => row.reserved !== (reservedByPart.get(cellOf(row)) ?? 0))
    .map((row) => `${cellOf(row)}: reserved ${row.reserved}, parts ${reservedByPart.get(cellOf(row)) ?? 0}`);
  return { orphans, mismatches, parts };
}

/**
 * The ERP's retries of what failed, 50 at a time as a client with a connection pool sends them:
 * all at once, 400 decisions solved in this one test thread kept the event loop busy past the
 * 1 s store timeout on a loaded 2-core machine, and replies already received timed out unread.
 */
async function retryAll(app: FastifyInstance, failed: Record<string, unknown>[]) {
  const out: Awaited<ReturnType<FastifyInstance['inject']>>[] = [];
  for (let at = 0; at < failed.length; at += 50) {
    out.push(...(await Promise.all(failed.slice(at, at + 50).map((o) => app.inject({ method: 'POST', url: '/v1/allocate', payload: o })))));
  }
  return out;
}


describe('Redis killed mid-load', () => {
  it('answers 503 within the timeout, stays up, recovers by itself, and leaves no half-reserved plan', async () => {
    const orders = Array.from({ length: 400 }, (_, i) => mixedOrder(i));
    let killedAt = 0;
    let killed: Promise<void> | undefined;
    // Kill Redis right after the 150th reservation part is taken: that plan (and any other in
    // flight) is then half-reserved in Redis, the case the compensation has to repair.
    const spy = store as unknown as { slot: (script: string, ...args: unknown[]) => Promise<unknown> };
    const slot = spy.slot.bind(store);
    let partsTaken = 0;
    spy.slot = async (script, ...args) => {
      const r = await slot(script, ...args);
      if (script === 'dspReservePart' && Array.isArray(r) && r.length === 0 && ++partsTaken === 150) {
        killedAt = Date.now();
        killed = db.server.kill();
      }
      return r;
    };
    // One request first, so that the burst finds the API key read (src/auth/keys.ts) rather than
    // all 400 waiting on one key read while the burst itself keeps the event loop busy.
    expect((await app.inject('/v1/kpi')).statusCode).toBe(200);
    const sent = orders.map(async (o) => {
      const r = await app.inject({ method: 'POST', url: '/v1/allocate', payload: o });
      return { r, at: Date.now() };
    });
    const replies = await Promise.all(sent);
    await killed;
    const codes = new Map<string, number>();
    for (const { r } of replies) {
      const key = r.statusCode === 200 ? '200' : `${r.statusCode} ${r.json<{ error: { code: string } }>().error.code}`;
      codes.set(key, (codes.get(key) ?? 0) + 1);
    }
    // Every answer is a decision or a retryable 503 saying the store is away (or, for an order
    // whose decision may have been stored, that a retry gets it); never a 500.
    expect([...codes.keys()].filter((k) => k !== '200' && k !== '503 DSP_STORE_UNAVAILABLE' && k !== '503 DSP_DECISION_PENDING')).toEqual([]);
    expect(codes.get('503 DSP_STORE_UNAVAILABLE') ?? 0).toBeGreaterThan(0);
    const lateMs = Math.max(...replies.map((x) => x.at - killedAt));
    const interrupted = store.pendingRepairs;
    expect(interrupted).toBeGreaterThan(0);
    spy.slot = slot;

    // While Redis is away: new allocations fail fast with 503, the process answers its liveness check.
    const during: number[] = [];
    for (let i = 0; i < 10; i++) {
      const t0 = Date.now();
      const r = await app.inject({ method: 'POST', url: '/v1/allocate', payload: order({ lines: [{ sku: 'BRK-0001', qty: 1 }] }) });
      during.push(Date.now() - t0);
      expect(r.statusCode).toBe(503);
      expect(r.json()).toMatchObject({ error: { code: 'DSP_STORE_UNAVAILABLE' } });
    }
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    const notReady = await app.inject({ method: 'GET', url: '/readyz' });
    expect(notReady.statusCode).toBe(503);
    expect(notReady.json()).toMatchObject({ error: { code: 'DSP_STORE_UNAVAILABLE' } });
    // A hang guard, not a speed assertion: the measured figures are printed for the issue note.
    expect(Math.max(...during)).toBeLessThan(5_000);

    // Redis returns on the same port with its data; the service reconnects by itself.
    await db.server.restart();
    const t0 = Date.now();
    let recoveredMs = -1;
    const probeIds: string[] = [];
    for (let i = 0; i < 200; i++) {
      const probe = order({ lines: [{ sku: 'BRK-0001', qty: 1 }] });
      probeIds.push(probe.orderId as string);
      const r = await app.inject({ method: 'POST', url: '/v1/allocate', payload: probe });
      if (r.statusCode === 200) {
        recoveredMs = Date.now() - t0;
        break;
      }
      await new Promise((res) => setTimeout(res, 100));
    }
    expect(recoveredMs).toBeGreaterThanOrEqual(0);
    expect((await app.inject({ method: 'GET', url: '/readyz' })).json()).toMatchObject({ status: 'ok', store: 'redis' });
    // Plans that Redis interrupted are given back by their own process.
    for (let i = 0; i < 100 && store.pendingRepairs > 0; i++) await new Promise((res) => setTimeout(res, 100));
    expect(store.pendingRepairs).toBe(0);

    // No half-reserved plan, before any retry: every reservation part in Redis belongs to an order
    // whose decision is stored and holds it, and the reserved counts are exactly those parts.
    await inspect.connect();
    const before = await halfPlanCheck(inspect, store);
    expect(before.orphans).toEqual([]);
    expect(before.mismatches).toEqual([]);
    const units = await heldUnitsCheck(store, [...orders.map((o) => o.orderId as string), ...probeIds]);
    expect(units.reserved).toEqual(units.held);

    // The ERP retries what failed: every order gets its decision now.
    const failed = orders.filter((_, i) => replies[i]!.r.statusCode !== 200);
    const retried = await retryAll(app, failed);
    expect(retried.filter((r) => r.statusCode !== 200).map((r) => r.body)).toEqual([]);

    const after = await halfPlanCheck(inspect, store);
    expect(after.orphans).toEqual([]);
    expect(after.mismatches).toEqual([]);
    const parts = after.parts;
    // Every order of the load now has its stored decision.
    for (const o of orders) {
      const d = await store.getDecision<Decision>(o.orderId as string);
      expect(d, o.orderId as string).not.toBeNull();
    }
    await expectInvariant(store);
    console.log(
      `[outage] replies at kill: ${JSON.stringify(Object.fromEntries(codes))}; last answer ${lateMs} ms after the kill; ` +
        `503 during outage in ${Math.min(...during)}-${Math.max(...during)} ms; recovered ${recoveredMs} ms after restart; ${interrupted} interrupted plans given back; ${parts} parts checked`,
    );
  }, 120_000);
});

/**
 * Redis frozen mid-load (SIGSTOP: the sockets stay open and nothing answers, as a stalled host),
 * then thawed (SIGCONT: it then runs every command its sockets received meanwhile). Requests
 * settle within the store timeout, with 200 or 503, none hangs; after recovery the reserved units
 * are exactly the held orders' units. The clock moves (from FIXED_NOW) so that claims left by the
 * freeze pass their timeout and the recovery pass takes them.
 */
describe('Redis frozen mid-load', () => {
  const TIMEOUT_MS = 1_000;
  const frozenDb = useRedis();
  let frozenApp: FastifyInstance;
  let frozenStore: RedisStore;
  let look: Redis;
  beforeAll(async () => {
    const t0 = Date.now();
    const config = loadConfig({}, { ...TEST_AUTH_CONFIG, redisUrl: frozenDb.url, redisTimeoutMs: TIMEOUT_MS, claimTimeoutMs: 1_000, recoveryIntervalMs: 1_000 });
    frozenApp = withKey(await buildApp({ config, net: network(), clock: () => FIXED_NOW + (Date.now() - t0), logger: false }));
    await frozenApp.ready();
    frozenStore = frozenApp.dspServices.store as RedisStore;
    look = frozenDb.client();
  }, 60_000);
  afterAll(async () => {
    // Thawed first: a test that failed while Redis was frozen leaves it frozen, and the app's close waits for Redis to answer.
    frozenDb.server.thaw();
    await frozenApp?.close().catch(() => undefined);
  });

  it('answers within the store timeout while frozen, and after the thaw and the recovery pass reserved units equal the held orders\' units', async () => {
    const orders = Array.from({ length: 400 }, (_, i) => mixedOrder(10_000 + i));
    // Freeze right after the 100th decision is stored: decisions, claims and parts of the
    // others are then in flight (some of them Redis runs when thawed, after their 503).
    const spy = frozenStore as unknown as { order: (script: string, ...args: unknown[]) => Promise<unknown> };
    const orderScript = spy.order.bind(frozenStore);
    let decided = 0;
    let frozenAt = 0;
    spy.order = async (script, ...args) => {
      const r = await orderScript(script, ...args);
      if (script === 'dspDecide' && Array.isArray(r) && r[0] === 'ok' && ++decided === 100) {
        frozenAt = Date.now();
        frozenDb.server.freeze();
      }
      return r;
    };
    expect((await frozenApp.inject('/v1/kpi')).statusCode).toBe(200);
    const replies = await Promise.all(
      orders.map(async (o) => {
        const r = await frozenApp.inject({ method: 'POST', url: '/v1/allocate', payload: o });
        return { r, at: Date.now() };
      }),
    );
    spy.order = orderScript;
    expect(frozenAt).toBeGreaterThan(0);
    const codes = new Map<string, number>();
    for (const { r } of replies) {
      const key = r.statusCode === 200 ? '200' : `${r.statusCode} ${r.json<{ error: { code: string } }>().error.code}`;
      codes.set(key, (codes.get(key) ?? 0) + 1);
    }
    expect([...codes.keys()].filter((k) => k !== '200' && k !== '503 DSP_STORE_UNAVAILABLE' && k !== '503 DSP_DECISION_PENDING')).toEqual([]);
    expect(codes.get('503 DSP_STORE_UNAVAILABLE') ?? 0).toBeGreaterThan(0);
    // The order whose decision froze Redis is told that its decision may be stored.
    expect(codes.get('503 DSP_DECISION_PENDING') ?? 0).toBeGreaterThan(0);
    expect(decided).toBeGreaterThanOrEqual(100);
    // How long the last answer came after the freeze (the burst's own CPU backlog included).
    const waitedMs = Math.max(...replies.map((x) => x.at - frozenAt));

    // Still frozen: new requests, one at a time (each its own full path: auth, rate limit, store).
    const during: number[] = [];
    for (let i = 0; i < 10; i++) {
      const t = Date.now();
      const r = await frozenApp.inject({ method: 'POST', url: '/v1/allocate', payload: order({ lines: [{ sku: 'BRK-0001', qty: 1 }] }) });
      during.push(Date.now() - t);
      expect(r.statusCode).toBe(503);
    }
    // Hang guards, not timing assertions (the figures are printed): the burst's last answer
    // includes 400 requests' CPU backlog on a shared two-core machine (a CI run measured 3.0 s),
    // so its bound is wide; a hung store call would never answer at all.
    expect(waitedMs).toBeLessThan(10 * TIMEOUT_MS);
    expect(Math.max(...during)).toBeLessThan(3 * TIMEOUT_MS);
    const frozenForMs = Date.now() - frozenAt;
    frozenDb.server.thaw();

    // Redis answers again: the breaker closes, the process's own repairs run, the claims the
    // freeze left pass their timeout, and the recovery pass gives back what nobody decided.
    for (let i = 0; i < 100 && (frozenStore.failingFast || frozenStore.pendingRepairs > 0); i++) await new Promise((r) => setTimeout(r, 100));
    expect(frozenStore.failingFast).toBe(false);
    await new Promise((r) => setTimeout(r, 1_100));
    const report = await frozenStore.recover();
    const units = await heldUnitsCheck(frozenStore, orders.map((o) => o.orderId as string));
    expect(units.reserved).toEqual(units.held);
    expect(units.heldOrders).toBeGreaterThanOrEqual(100);
    const parts = await halfPlanCheck(look, frozenStore);
    expect(parts.orphans).toEqual([]);
    expect(parts.mismatches).toEqual([]);
    await expectInvariant(frozenStore);
    // Orders answered 503 whose decision Redis stored after all (it ran the command when thawed)
    // hold their stock as any decided order; an ERP retry gets that decision.
    const late = orders.filter((_, i) => replies[i]!.r.statusCode !== 200);
    const retried = await retryAll(frozenApp, late);
    expect(retried.filter((r) => r.statusCode !== 200).map((r) => r.body).slice(0, 3)).toEqual([]);
    const afterRetry = await heldUnitsCheck(frozenStore, orders.map((o) => o.orderId as string));
    expect(afterRetry.reserved).toEqual(afterRetry.held);

    // A freeze with no burst beside it: each request's own time, from its start to its answer,
    // is the wait the store timeout bounds (the figure for the issue note).
    frozenDb.server.freeze();
    const quiet = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        await new Promise((r) => setTimeout(r, i * 10));
        const t = Date.now();
        const r = await frozenApp.inject({ method: 'POST', url: '/v1/allocate', payload: order({ lines: [{ sku: 'BRK-0001', qty: 1 }] }) });
        return { ms: Date.now() - t, status: r.statusCode };
      }),
    );
    frozenDb.server.thaw();
    expect(quiet.filter((q) => q.status !== 503)).toEqual([]);
    expect(Math.max(...quiet.map((q) => q.ms))).toBeLessThan(3 * TIMEOUT_MS);
    console.log(
      `[outage:freeze] replies: ${JSON.stringify(Object.fromEntries(codes))}; last answer ${waitedMs} ms after the freeze (store timeout ${TIMEOUT_MS} ms); ` +
        `new requests while frozen ${Math.min(...during)}-${Math.max(...during)} ms; frozen ${frozenForMs} ms; recovery pass ${JSON.stringify(report)}; ` +
        `held orders after recovery ${units.heldOrders}, reserved units ${Object.values(units.reserved).reduce((a, b) => a + b, 0)}; ` +
        `quiet freeze: 20 requests answered 503 in ${Math.min(...quiet.map((q) => q.ms))}-${Math.max(...quiet.map((q) => q.ms))} ms`,
    );
  }, 120_000);
});
