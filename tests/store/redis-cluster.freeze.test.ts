import calculateSlot from 'cluster-key-slot';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { slotTag } from '../../src/store/keys.js';
import type { RedisStore } from '../../src/store/redis.js';
import { FIXED_NOW, network, order, PLACES, TEST_AUTH_CONFIG, withKey } from '../support/app.js';
import { clusterClient, useRedisCluster, type RedisProcess } from '../support/redis-server.js';
import { heldUnitsCheck } from '../support/held-units.js';

/**
 * One master of a 3-master Cluster frozen mid-load (SIGSTOP: its sockets stay open, nothing
 * answers), issue 19. Requests that touch its slots answer 503 within the store timeout + 100 ms
 * (a breaker per master fails them fast once one of its commands timed out); requests on the
 * other masters' slots keep working; after the thaw and the recovery pass, reserved units equal
 * the held orders' units. The Cluster runs without full coverage (as one does while a master has
 * no replica to fail over to), so that the others serve their slots meanwhile.
 */
const TIMEOUT_MS = 1_000;
const CLAIM_TIMEOUT_MS = 1_000;
let app: FastifyInstance;
let store: RedisStore;
let frozen: RedisProcess | undefined;
let skewMs = 0;
/** "host:port" of the master serving each slot. */
let masterOf: (tag: string) => string;

const cluster = useRedisCluster({ masters: 3, extraArgs: ['--cluster-require-full-coverage', 'no'] });
beforeAll(async () => {
  const look = await clusterClient(cluster.nodes);
  await Promise.all(look.nodes('master').map((n) => n.flushall()));
  const slots = look.slots.map((s) => s[0]!);
  masterOf = (tag) => slots[calculateSlot(tag)]!;
  look.disconnect();
  const t0 = Date.now();
  const config = loadConfig({}, {
    ...TEST_AUTH_CONFIG,
    redisClusterNodes: cluster.nodes.map((n) => `${n.host}:${n.port}`).join(','),
    redisTimeoutMs: TIMEOUT_MS,
    claimTimeoutMs: CLAIM_TIMEOUT_MS,
    recoveryIntervalMs: 3_600_000,
  });
  app = withKey(await buildApp({ config, net: network(), clock: () => FIXED_NOW + (Date.now() - t0) + skewMs, logger: false }));
  await app.ready();
  store = app.dspServices.store as RedisStore;
}, 60_000);
afterAll(async () => {
  frozen?.thaw();
  await app?.close().catch(() => undefined);
});

const SKUS = [...new Set(network().network.stock.filter((r) => r.warehouseId === 'SH01' && r.onHand >= 50 && !r.sku.startsWith('RECY-')).map((r) => r.sku))];
const DESTS = [PLACES.shanghaiPeoplesSquare, PLACES.suzhouCentre, PLACES.hefeiCentre];
const mixed = (i: number) =>
  order({ destination: DESTS[i % DESTS.length], lines: [{ sku: SKUS[i % SKUS.length]!, qty: 1 + (i % 3) }, { sku: SKUS[(i + 5) % SKUS.length]!, qty: 1 }] });

async function timed(opts: InjectOptions) {
  const t = Date.now();
  const r = await app.inject(opts);
  return { r, ms: Date.now() - t, code: r.statusCode === 200 ? '200' : `${r.statusCode} ${r.json<{ error: { code: string } }>().error.code}` };
}


describe('a frozen Cluster master', () => {
  it('fails its slots within the store timeout + 100 ms, the others keep working, and recovery leaves reserved = held', async () => {
    // The master of Hefei's warehouse is frozen (every allocation reads every warehouse's stock,
    // so allocations need it; reads of an order or a warehouse elsewhere do not).
    const victim = masterOf(slotTag.warehouse('HF01'));
    frozen = cluster.servers[cluster.nodes.findIndex((n) => `${n.host}:${n.port}` === victim)]!;
    expect(frozen).toBeDefined();
    // Orders decided before the freeze, on the frozen master's slots and elsewhere.
    const before: { id: string; onFrozen: boolean }[] = [];
    for (let i = 0; before.filter((b) => b.onFrozen).length < 3 || before.filter((b) => !b.onFrozen).length < 3; i++) {
      const o = mixed(i);
      const id = o.orderId as string;
      expect((await app.inject({ method: 'POST', url: '/v1/allocate', payload: o })).statusCode).toBe(200);
      before.push({ id, onFrozen: masterOf(slotTag.order(id)) === victim });
    }

    // The load: 40 allocations at once; the master freezes right after the 10th decision stored.
    const spy = store as unknown as { order: (script: string, ...args: unknown[]) => Promise<unknown> };
    const orderScript = spy.order.bind(store);
    const decidedBeforeFreeze: string[] = [];
    let frozenAt = 0;
    spy.order = async (script, ...args) => {
      const r = await orderScript(script, ...args);
      if (script === 'dspDecide' && Array.isArray(r) && r[0] === 'ok' && frozenAt === 0) {
        decidedBeforeFreeze.push(String(args[0]));
        if (decidedBeforeFreeze.length === 10) {
          frozenAt = Date.now();
          frozen!.freeze();
        }
      }
      return r;
    };
    const load = Array.from({ length: 40 }, (_, i) => mixed(100 + i));
    const replies = await Promise.all(load.map(async (o) => ({ ...(await timed({ method: 'POST', url: '/v1/allocate', payload: o })), at: Date.now() })));
    spy.order = orderScript;
    expect(frozenAt).toBeGreaterThan(0);
    const codes = new Map<string, number>();
    for (const x of replies) codes.set(x.code, (codes.get(x.code) ?? 0) + 1);
    expect([...codes.keys()].filter((k) => !['200', '503 DSP_STORE_UNAVAILABLE', '503 DSP_DECISION_PENDING'].includes(k))).toEqual([]);
    // Each decision stored before the freeze answers 200, or DSP_DECISION_PENDING when the steps
    // after it (the order index, the read-back) met the frozen master: never "unavailable", which
    // would tell the ERP that nothing was reserved.
    expect(decidedBeforeFreeze).toHaveLength(10);
    const answerOf = new Map(load.map((o, i) => [o.orderId as string, replies[i]!.code]));
    expect(decidedBeforeFreeze.map((id) => answerOf.get(id)).filter((c) => c !== '200' && c !== '503 DSP_DECISION_PENDING')).toEqual([]);
    expect(codes.get('200') ?? 0).toBeGreaterThanOrEqual(1);
    const lastAfterFreezeMs = Math.max(...replies.map((x) => x.at - frozenAt));
    // A hang guard for the burst (its own CPU backlog included); the bound is asserted below on
    // single requests.
    expect(lastAfterFreezeMs).toBeLessThan(6 * TIMEOUT_MS);

    // Still frozen, one request at a time.
    const touching: number[] = [];
    const elsewhere: number[] = [];
    for (const b of before) {
      const x = await timed({ method: 'GET', url: `/v1/orders/${b.id}` });
      if (b.onFrozen) {
        expect(x.code).toBe('503 DSP_STORE_UNAVAILABLE');
        touching.push(x.ms);
      } else {
        expect(x.code).toBe('200');
        elsewhere.push(x.ms);
      }
    }
    for (let i = 0; i < 3; i++) {
      const x = await timed({ method: 'POST', url: '/v1/allocate', payload: mixed(200 + i) });
      expect(x.code).toBe('503 DSP_STORE_UNAVAILABLE');
      touching.push(x.ms);
    }
    const hf = await timed({ method: 'GET', url: '/v1/stock?warehouseId=HF01' });
    expect(hf.code).toBe('503 DSP_STORE_UNAVAILABLE');
    touching.push(hf.ms);
    const healthy = ['SH01', 'SZ01', 'HZ01', 'NJ01'].find((w) => masterOf(slotTag.warehouse(w)) !== victim)!;
    const other = await timed({ method: 'GET', url: `/v1/stock?warehouseId=${healthy}` });
    expect(other.code).toBe('200');
    elsewhere.push(other.ms);
    // The master's breaker is open: these fail at once instead of waiting a timeout each.
    expect(Math.max(...touching)).toBeLessThan(TIMEOUT_MS);
    expect(store.failingFast).toBe(true);
    const frozenForMs = Date.now() - frozenAt;

    // Thawed: the master's breaker closes; past the claim timeout the recovery pass gives back
    // what the freeze left and completes the indexes of decisions stored meanwhile.
    frozen.thaw();
    for (let i = 0; i < 100 && (store.failingFast || store.pendingRepairs > 0); i++) await new Promise((r) => setTimeout(r, 50));
    expect(store.failingFast).toBe(false);
    expect(store.pendingRepairs).toBe(0);
    skewMs += CLAIM_TIMEOUT_MS + 1;
    const first = await store.recover();
    const report = await store.recover();
    const ids = [...before.map((b) => b.id), ...load.map((o) => o.orderId as string)];
    const units = await heldUnitsCheck(store, ids);
    expect(units.reserved).toEqual(units.held);
    // The ERP retries what failed: every order gets a decision, nothing is reserved twice.
    const failed = load.filter((_, i) => replies[i]!.code !== '200');
    const retried = await Promise.all(failed.map((o) => app.inject({ method: 'POST', url: '/v1/allocate', payload: o })));
    expect(retried.filter((r) => r.statusCode !== 200).map((r) => r.body).slice(0, 2)).toEqual([]);
    const after = await heldUnitsCheck(store, ids);
    expect(after.reserved).toEqual(after.held);

    // A quiet freeze (no burst's CPU beside it, the breaker closed): the first request that meets
    // the frozen master waits one store timeout, and trips its breaker; the next fail at once.
    frozen.freeze();
    const quiet: number[] = [];
    for (let i = 0; i < 4; i++) {
      const x = await timed({ method: 'POST', url: '/v1/allocate', payload: mixed(300 + i) });
      expect(x.code).toBe('503 DSP_STORE_UNAVAILABLE');
      quiet.push(x.ms);
    }
    const calm = await timed({ method: 'GET', url: `/v1/stock?warehouseId=${healthy}` });
    frozen.thaw();
    expect(calm.code).toBe('200');
    // The target is the store timeout + 100 ms (printed); the assertion is a hang guard, as a
    // loaded two-core machine delays the event loop by hundreds of ms at times. The requests
    // after the trip must not wait a timeout of their own.
    expect(quiet[0]!).toBeLessThan(2 * TIMEOUT_MS);
    expect(Math.max(...quiet.slice(1))).toBeLessThan(TIMEOUT_MS);
    console.log(
      `[cluster:freeze] replies: ${JSON.stringify(Object.fromEntries(codes))}; last answer ${lastAfterFreezeMs} ms after the freeze (store timeout ${TIMEOUT_MS} ms); ` +
        `while frozen: requests on its slots ${Math.min(...touching)}-${Math.max(...touching)} ms (503), elsewhere ${Math.min(...elsewhere)}-${Math.max(...elsewhere)} ms (200); ` +
        `frozen ${frozenForMs} ms; recovery passes ${JSON.stringify(first)} ${JSON.stringify(report)}; ${failed.length} retried; ` +
        `quiet freeze: ${quiet.join(', ')} ms (503), the other master ${calm.ms} ms (200)`,
    );
  }, 60_000);
});
