import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import type { Decision } from '../../src/domain/schemas.js';
import type { RedisStore } from '../../src/store/redis.js';
import { FIXED_NOW, network, order, TEST_AUTH_CONFIG, withKey } from '../support/app.js';
import { useRedis } from '../support/redis-server.js';
import { expectInvariant } from '../store/store.cases.js';
import { heldUnitsCheck } from '../support/held-units.js';

/**
 * Redis failing once an order's decision may be stored (issue 19): frozen or killed right after
 * the DECIDE script stored it (before the order's indexes), or frozen just before DECIDE is sent
 * (Redis runs it when thawed, and its reply is lost). The client must not be told that nothing
 * was reserved: it gets 503 DSP_DECISION_PENDING; a retry with the same orderId returns the same
 * decision; the recovery pass completes the order's indexes (order index, shipment index); and
 * reserved units equal the held orders' units.
 */
const TIMEOUT_MS = 500;
const CLAIM_TIMEOUT_MS = 10_000;
const db = useRedis({ persist: true });
let app: FastifyInstance;
let store: RedisStore;
let look: Redis;
/** Added to the service's clock, to move claims and markers past their deadline without waiting. */
let skewMs = 0;
const orderIds: string[] = [];

beforeAll(async () => {
  const t0 = Date.now();
  const config = loadConfig({}, { ...TEST_AUTH_CONFIG, redisUrl: db.url, redisTimeoutMs: TIMEOUT_MS, claimTimeoutMs: CLAIM_TIMEOUT_MS, recoveryIntervalMs: 3_600_000 });
  app = withKey(await buildApp({ config, net: network(), clock: () => FIXED_NOW + (Date.now() - t0) + skewMs, logger: false }));
  await app.ready();
  store = app.dspServices.store as RedisStore;
  look = db.client({ lazyConnect: true, maxRetriesPerRequest: null });
  look.on('error', () => undefined);
}, 60_000);
afterAll(async () => {
  // Thawed first: a test that failed while Redis was frozen leaves it frozen, and the app's close waits for Redis to answer.
  db.server.thaw();
  await app?.close().catch(() => undefined);
});

type Outage = 'freeze after DECIDE' | 'kill after DECIDE' | 'freeze before DECIDE';

/** Runs one allocation whose DECIDE meets the outage; answers the reply and how long it took. */
async function allocateInto(outage: Outage, payload: Record<string, unknown>) {
  const spy = store as unknown as { order: (script: string, ...args: unknown[]) => Promise<unknown> };
  const orderScript = spy.order.bind(store);
  let outageDone: Promise<void> | undefined;
  spy.order = async (script, ...args) => {
    if (script !== 'dspDecide' || args[0] !== payload.orderId) return orderScript(script, ...args);
    if (outage === 'freeze before DECIDE') {
      db.server.freeze();
      return orderScript(script, ...args);
    }
    const r = await orderScript(script, ...args);
    if (outage === 'freeze after DECIDE') db.server.freeze();
    else outageDone = db.server.kill();
    return r;
  };
  const t = Date.now();
  const reply = await app.inject({ method: 'POST', url: '/v1/allocate', payload });
  const ms = Date.now() - t;
  spy.order = orderScript;
  await outageDone;
  return { reply, ms };
}

/** Redis back: thawed or restarted, the breaker closed and the process's own repairs done. */
async function bringBack(outage: Outage): Promise<void> {
  if (outage === 'kill after DECIDE') {
    await db.server.restart();
  } else {
    // The breaker opens just after the timed-out command's failure (once pending replies are
    // read): thawing before that would let it open on the test's own next command.
    for (let i = 0; i < 40 && !store.failingFast; i++) await new Promise((r) => setTimeout(r, 50));
    expect(store.failingFast).toBe(true);
    db.server.thaw();
  }
  for (let i = 0; i < 100 && (store.failingFast || store.pendingRepairs > 0); i++) await new Promise((r) => setTimeout(r, 50));
  expect(store.failingFast).toBe(false);
  expect(store.pendingRepairs).toBe(0);
}


/** Shipment index entries (every courier, province and day) that name the order. */
async function shipmentIndexEntries(orderId: string): Promise<number> {
  if (look.status === 'wait' || look.status === 'end') await look.connect().catch(() => undefined);
  let n = 0;
  for (const key of await look.keys('{idx}:ship:*')) {
    for (const raw of await look.lrange(key, 0, -1)) if ((JSON.parse(raw) as { orderId: string }).orderId === orderId) n++;
  }
  return n;
}

describe('Redis fails once the decision may be stored', () => {
  const outages: Outage[] = ['freeze after DECIDE', 'kill after DECIDE', 'freeze before DECIDE'];
  it.each(outages)('%s: 503 DSP_DECISION_PENDING, the retry returns the stored decision, recovery completes its indexes', async (outage) => {
    const payload = order({ lines: [{ sku: 'BRK-0001', qty: 3 }, { sku: 'BRK-0002', qty: 2 }] });
    const orderId = payload.orderId as string;
    orderIds.push(orderId);
    const { reply, ms } = await allocateInto(outage, payload);
    expect(reply.statusCode).toBe(503);
    expect(reply.json()).toMatchObject({ error: { code: 'DSP_DECISION_PENDING', details: [{ orderId }] } });
    expect(reply.json<{ error: { message: string } }>().error.message).toMatch(/may have been stored.*retry with the same orderId/);
    await bringBack(outage);

    // The decision is stored and holds its stock, though its indexes are not all written yet.
    const stored = await store.getDecision<Decision>(orderId);
    expect(stored?.reservation).toBe('held');
    expect(await look.hget(`{ord:${orderId}}`, 'todo')).not.toBeNull();

    // Past the claim's deadline the recovery pass completes them (twice changes nothing more).
    skewMs += CLAIM_TIMEOUT_MS + 1;
    let report = await store.recover();
    if (report.indexed === 0) report = await store.recover(); // a pass started at the reconnect ran with the old clock
    expect(report.indexed).toBe(1);
    expect(await look.hget(`{ord:${orderId}}`, 'todo')).toBeNull();
    expect(await store.orderIds()).toContain(orderId);
    const indexed = await shipmentIndexEntries(orderId);
    expect(indexed).toBe(stored!.decision.shipments.length);
    expect((await store.recover()).indexed).toBe(0);
    expect(await shipmentIndexEntries(orderId)).toBe(indexed);

    // The ERP's retry gets the very decision that was stored, and nothing is reserved twice.
    const retry = await app.inject({ method: 'POST', url: '/v1/allocate', payload });
    expect(retry.statusCode).toBe(200);
    expect(retry.json<Decision>()).toEqual(stored!.decision);
    const units = await heldUnitsCheck(store, orderIds);
    expect(units.reserved).toEqual(units.held);
    expect(units.held['BRK-0001']).toBeGreaterThan(0);
    await expectInvariant(store);
    console.log(`[decision-pending] ${outage}: 503 DSP_DECISION_PENDING after ${ms} ms (store timeout ${TIMEOUT_MS} ms); recovery ${JSON.stringify(report)}`);
  }, 30_000);
});
