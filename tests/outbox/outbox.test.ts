import type { AllocateRequest } from '../../src/domain/schemas.js';
import { createServer } from 'node:http';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/config.js';
import type { OutboundAction } from '../../src/domain/actions.js';
import { backoffMs, idempotencyKey, Outbox, outboxId } from '../../src/outbox/outbox.js';
import { openServices, type Services } from '../../src/services.js';
import { MemoryStore } from '../../src/store/memory.js';
import { StoreUnavailableError } from '../../src/store/types.js';
import { network } from '../support/app.js';
import { freePort, startRedis, useRedis } from '../support/redis-server.js';
import { startReceiver, until, verify } from '../support/webhook-receiver.js';

/**
 * The outbox against a real webhook receiver (node:http on a free port): retries until each
 * action is delivered once, idempotent enqueues, dead letters, restarts and several instances on
 * one Redis, signatures. Backoff and leases are short through the configuration; nothing here
 * asserts a duration.
 */

const SECRETS = { '/after-sales': 'after-sales-secret-0123456789abcdef', '/finance': 'finance-secret-0123456789abcdef0123', '/wms': 'wms-secret-0123456789abcdef01234567' };
const DECIDED = Date.parse('2026-11-11T10:00:00+08:00');

/** The RECY- case's three actions for one order (issue 20): what the rules engine would hand over. */
function recyActions(orderId: string, sku = 'RECY-BRK-0001'): OutboundAction[] {
  const source = { ruleset: 'core-return', version: 3, rule: 'recy-line' };
  return [
    { orderId, code: 'CORE_RETURN_TASK', discriminator: sku, params: { sku, qty: 2, team: 'after-sales' }, source, decidedAtMs: DECIDED },
    { orderId, code: 'FREEZE_RECEIVABLE', discriminator: '', params: { amountCny: 1280.5, lines: [] }, source, decidedAtMs: DECIDED },
    { orderId, code: 'WAYBILL_NOTE', discriminator: '', params: { note: '请收旧件' }, source, decidedAtMs: DECIDED },
  ];
}

function configFor(receiverUrl: (path: string) => string, over: Partial<Config> = {}): Config {
  const webhooks = [
    { name: 'after-sales', url: receiverUrl('/after-sales'), codes: ['CORE_RETURN_TASK'], secret: SECRETS['/after-sales'] },
    { name: 'finance', url: receiverUrl('/finance'), codes: ['FREEZE_RECEIVABLE'], secret: SECRETS['/finance'] },
    { name: 'wms', url: receiverUrl('/wms'), codes: ['WAYBILL_NOTE'], secret: SECRETS['/wms'] },
  ];
  return loadConfig(
    {},
    {
      webhooks: JSON.stringify(webhooks),
      outboxBackoffBaseMs: 10,
      outboxBackoffMaxMs: 40,
      outboxMaxAttempts: 5,
      outboxTimeoutMs: 250,
      outboxLeaseMs: 500,
      outboxPollMs: 20,
      solverThreads: 0,
      solverWarmUpRounds: 0,
      ...over,
    },
  );
}

const open: Services[] = [];
async function services(config: Config, store?: MemoryStore): Promise<Services> {
  const s = await openServices(config, { net: network(), ...(store ? { store } : {}) });
  open.push(s);
  return s;
}
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
});

describe('outbox delivery to a real webhook receiver (embedded store)', () => {
  it('a receiver that fails the first two tries gets each action exactly once, signed, after retries the outbox records', async () => {
    const rx = await startReceiver({ secrets: SECRETS, answer: (_key, before) => (before < 2 ? 503 : 200) });
    try {
      const svc = await services(configFor(rx.url));
      svc.outbox.start();
      const actions = recyActions('ERP-RECY-1');
      await svc.actions.enqueue(actions);
      await until(async () => (await svc.outbox.counts()).delivered === 3, 'three deliveries');

      // Each action was processed once, by its own target, with the body it was enqueued with.
      expect([...rx.processed.keys()].sort()).toEqual(actions.map(idempotencyKey).sort());
      for (const a of actions) {
        const body = JSON.parse(rx.processed.get(idempotencyKey(a))!) as Record<string, unknown>;
        expect(body).toMatchObject({ orderId: a.orderId, code: a.code, discriminator: a.discriminator, params: a.params, source: a.source, decidedAt: '2026-11-11T10:00:00+08:00' });
      }
      expect(rx.received.filter((r) => r.path === '/after-sales').map((r) => JSON.parse(r.body).code)).toEqual(['CORE_RETURN_TASK', 'CORE_RETURN_TASK', 'CORE_RETURN_TASK']);
      // Three requests per action (two refused, one answered), numbered, every one signed, one key each.
      for (const a of actions) {
        const mine = rx.received.filter((r) => r.headers['idempotency-key'] === idempotencyKey(a));
        expect(mine.map((r) => [r.status, r.headers['x-dispatchd-attempt']])).toEqual([[503, '1'], [503, '2'], [200, '3']]);
        expect(mine.every((r) => r.signed)).toBe(true);
        // The same bytes on every attempt: a receiver may hash the body to dedupe too.
        expect(new Set(mine.map((r) => r.body)).size).toBe(1);
      }
      const entries = (await svc.outbox.list({}, null, 10)).items;
      expect(entries).toHaveLength(3);
      for (const e of entries) expect(e).toMatchObject({ state: 'delivered', attempts: 3, lastError: null, deliveredAt: expect.any(Number) });
    } finally {
      await rx.close();
    }
  });

  it('end to end: a RECY- order decided by the allocator with the bundled rules sends its three actions, each once, to a receiver that fails twice; the ERP retry sends nothing more', async () => {
    const rx = await startReceiver({ secrets: SECRETS, answer: (_key, before) => (before < 2 ? 503 : 200) });
    try {
      const svc = await services(configFor(rx.url));
      svc.outbox.start();
      const now = Date.now();
      const req = {
        orderId: 'E2E-RECY-1',
        customerId: 'C-TEST',
        placedAt: new Date(now - 60_000).toISOString(),
        promisedBy: new Date(now + 3 * 86_400_000).toISOString(),
        destination: { lon: 121.4737, lat: 31.2304 },
        lines: [{ sku: 'RECY-ALT-0001', qty: 1, linkedCoreReturn: 'CR-0001' }],
      } as unknown as AllocateRequest;
      const d = await svc.allocator.allocate(req);
      const fired = (d.rules?.fired ?? []).filter((f) => f.hook === 'after' && f.applied).map((f) => f.action);
      expect(fired.sort()).toEqual(['CORE_RETURN_TASK', 'FREEZE_RECEIVABLE', 'WAYBILL_NOTE']);
      await until(async () => (await svc.outbox.counts()).delivered === 3, 'three deliveries');
      // The ERP retries the same order: the same decision, and nothing is delivered again.
      expect((await svc.allocator.allocate(req)).decidedAt).toBe(d.decidedAt);
      await new Promise((r) => setTimeout(r, 200));
      expect(await svc.outbox.counts()).toEqual({ pending: 0, delivered: 3, dead: 0 });
      expect(rx.processed.size).toBe(3);
      for (const path of ['/after-sales', '/finance', '/wms']) {
        expect(rx.received.filter((r) => r.path === path).map((r) => r.status)).toEqual([503, 503, 200]);
      }
    } finally {
      await rx.close();
    }
  });

  it('enqueuing the same actions twice (an ERP retry), before and after delivery, delivers each once', async () => {
    const rx = await startReceiver({ secrets: SECRETS });
    try {
      const svc = await services(configFor(rx.url));
      svc.outbox.start();
      const actions = recyActions('ERP-RECY-2');
      // Twice at once (two requests of one retried order racing), and the same action twice in one call.
      await Promise.all([svc.actions.enqueue(actions), svc.actions.enqueue([...actions, actions[0]!])]);
      await until(async () => (await svc.outbox.counts()).delivered === 3, 'three deliveries');
      await svc.actions.enqueue(recyActions('ERP-RECY-2'));
      // Another order's actions go through meanwhile: once they are delivered, the retry has had its chance too.
      await svc.actions.enqueue(recyActions('ERP-RECY-3'));
      await until(async () => (await svc.outbox.counts()).delivered === 6, 'the second order');
      expect(rx.received).toHaveLength(6);
      expect(new Set(rx.received.map((r) => r.headers['idempotency-key'])).size).toBe(6);
      expect(await svc.outbox.counts()).toEqual({ pending: 0, delivered: 6, dead: 0 });
    } finally {
      await rx.close();
    }
  });

  it('dead-letters after the last attempt with its error, and a replay delivers it again with the same key', async () => {
    let down = true;
    const rx = await startReceiver({ secrets: SECRETS, answer: (_k, _b, path) => (path === '/finance' && down ? 500 : 200) });
    try {
      const svc = await services(configFor(rx.url, { outboxMaxAttempts: 3 }));
      const events: string[] = [];
      svc.outbox.listeners.push((e) => events.push(`${e.target}:${e.kind}`));
      svc.outbox.start();
      const [, freeze] = recyActions('ERP-RECY-4');
      await svc.actions.enqueue([freeze!]);
      const id = outboxId('finance', freeze!);
      await until(async () => (await svc.outbox.get(id))?.state === 'dead', 'the dead letter');
      expect(await svc.outbox.get(id)).toMatchObject({ state: 'dead', attempts: 3, lastError: 'HTTP 500: refused on purpose (3)', deliveredAt: null });
      expect(events).toEqual(['finance:failed', 'finance:failed', 'finance:failed', 'finance:dead']);
      // Dead stays dead: no more attempts.
      const before = rx.received.length;
      await new Promise((r) => setTimeout(r, 100));
      expect(rx.received).toHaveLength(before);

      down = false;
      expect(await svc.outbox.replay(id)).toMatchObject({ replayed: true, entry: { state: 'pending', attempts: 0, replays: 1 } });
      await until(async () => (await svc.outbox.get(id))?.state === 'delivered', 'the replay');
      const last = rx.received.at(-1)!;
      expect(last.headers['idempotency-key']).toBe(idempotencyKey(freeze!));
      expect(last.headers['x-dispatchd-attempt']).toBe('1');
      expect(await svc.outbox.get(id)).toMatchObject({ state: 'delivered', attempts: 1, replays: 1, lastError: null });
    } finally {
      await rx.close();
    }
  });

  it('an unreachable receiver and one that does not answer in time are failed attempts, retried', async () => {
    let stall = 2;
    const rx = await startReceiver({ secrets: SECRETS });
    // A receiver that never answers its first two requests (each attempt waits out OUTBOX_TIMEOUT_MS).
    const srv = createServer((_req, res) => {
      if (stall-- > 0) return;
      res.writeHead(204).end();
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const slow = {
      url: `http://127.0.0.1:${(srv.address() as { port: number }).port}/`,
      close: () => new Promise<void>((r) => (srv.closeAllConnections(), srv.close(() => r()))),
    };
    try {
      // Nothing listens on a port just freed: connections are refused.
      const deadPort = await freePort();
      const webhooks = [
        { name: 'gone', url: `http://127.0.0.1:${deadPort}/x`, codes: ['TAG'], secret: 's'.repeat(32) },
        { name: 'slow', url: slow.url, codes: ['WAYBILL_NOTE'], secret: 's'.repeat(32) },
      ];
      const svc = await services(configFor(rx.url, { webhooks: JSON.stringify(webhooks), outboxMaxAttempts: 2 }));
      svc.outbox.start();
      const src = { ruleset: 'r', version: 1, rule: 'x' };
      await svc.actions.enqueue([
        { orderId: 'ERP-T-1', code: 'TAG', discriminator: 'vip', params: {}, source: src, decidedAtMs: DECIDED },
        { orderId: 'ERP-T-1', code: 'WAYBILL_NOTE', discriminator: '', params: { note: 'x' }, source: src, decidedAtMs: DECIDED },
      ]);
      await until(async () => (await svc.outbox.counts()).dead === 2, 'two dead letters');
      const gone = (await svc.outbox.list({ code: 'TAG' }, null, 10)).items[0]!;
      expect(gone.lastError).toMatch(/^request failed: ECONNREFUSED/);
      const late = (await svc.outbox.list({ code: 'WAYBILL_NOTE' }, null, 10)).items[0]!;
      expect(late).toMatchObject({ attempts: 2, lastError: 'no answer within 250 ms' });
    } finally {
      await slow.close();
      await rx.close();
    }
  });
});

describe('outbox on Redis: restarts and several instances', () => {
  const db = useRedis();
  const flush = async () => {
    const r = new Redis(db.url);
    await r.flushall();
    r.disconnect();
  };

  it('a restart picks up pending entries: those never tried, and those a dead instance had claimed', async () => {
    await flush();
    const rx = await startReceiver({ secrets: SECRETS });
    try {
      const config = configFor(rx.url, { redisUrl: db.url });
      // Instance A enqueues but never delivers (its worker is not started: it "dies" before).
      const a = await services(config);
      await a.actions.enqueue(recyActions('ERP-RECY-5'));
      // And it claims another order's deliveries, then dies without recording them.
      await a.actions.enqueue(recyActions('ERP-RECY-6'));
      const claimed = await a.store.outboxClaim(10, config.outboxLeaseMs);
      expect(claimed).toHaveLength(6);
      await a.close();
      open.splice(open.indexOf(a), 1);
      expect(rx.received).toHaveLength(0);

      // Instance B on the same Redis: everything is delivered once, the claimed ones after their lease.
      const b = await services(config);
      b.outbox.start();
      await until(async () => (await b.outbox.counts()).delivered === 6, 'six deliveries after the restart');
      expect(rx.received).toHaveLength(6);
      expect([...rx.processed.keys()].sort()).toEqual([...recyActions('ERP-RECY-5'), ...recyActions('ERP-RECY-6')].map(idempotencyKey).sort());
    } finally {
      await rx.close();
    }
  });

  it('two instances on one Redis share the work and deliver each action once', async () => {
    await flush();
    const rx = await startReceiver({ secrets: SECRETS, answer: (_k, before) => (before < 1 ? 503 : 200) });
    try {
      const config = configFor(rx.url, { redisUrl: db.url, outboxBatch: 4 });
      const [a, b] = [await services(config), await services(config)];
      a.outbox.start();
      b.outbox.start();
      const orders = Array.from({ length: 10 }, (_, i) => `ERP-MULTI-${i}`);
      // Each instance enqueues half, and both enqueue order 0 (an ERP retry landing on the other instance).
      await Promise.all(orders.map((o, i) => (i % 2 === 0 ? a : b).actions.enqueue(recyActions(o))));
      await b.actions.enqueue(recyActions(orders[0]!));
      await until(async () => (await a.outbox.counts()).delivered === 30, 'thirty deliveries');
      // One refused and one answered request per action: nobody delivered an action the other held.
      expect(rx.processed.size).toBe(30);
      expect(rx.received).toHaveLength(60);
      const perKey = new Map<string, number>();
      for (const r of rx.received) perKey.set(String(r.headers['idempotency-key']), (perKey.get(String(r.headers['idempotency-key'])) ?? 0) + 1);
      expect(new Set(perKey.values())).toEqual(new Set([2]));
    } finally {
      await rx.close();
    }
  });
});

describe('outbox on Redis: a failover to a replica', () => {
  it('with OUTBOX_MIN_REPLICAS=1 an acknowledged action survives the master dying; without a replica the enqueue is refused', async () => {
    // No delay before a diskless full sync (Redis waits 5 s by default for more replicas to join).
    const master = await startRedis({ extraArgs: ['--repl-diskless-sync-delay', '0'] });
    const replica = await startRedis({ extraArgs: ['--replicaof', '127.0.0.1', String(master.port)] });
    const rx = await startReceiver({ secrets: SECRETS });
    const probe = new Redis(replica.url);
    try {
      await until(async () => (await probe.info('replication')).includes('master_link_status:up'), 'the replica to sync');
      const a = await services(configFor(rx.url, { redisUrl: master.url, outboxMinReplicas: 1 }));
      await a.actions.enqueue(recyActions('ERP-FAILOVER-1'));
      // The master dies the moment the enqueue is acknowledged; the replica is promoted.
      await master.kill();
      await probe.replicaof('NO', 'ONE');
      const b = await services(configFor(rx.url, { redisUrl: replica.url }));
      b.outbox.start();
      await until(async () => (await b.outbox.counts()).delivered === 3, 'three deliveries from the promoted replica');
      expect([...rx.processed.keys()].sort()).toEqual(recyActions('ERP-FAILOVER-1').map(idempotencyKey).sort());

      // The promoted node has no replica of its own: an enqueue that asks for one is refused, not acknowledged.
      const c = await services(configFor(rx.url, { redisUrl: replica.url, outboxMinReplicas: 1, redisTimeoutMs: 100 }));
      await expect(c.actions.enqueue(recyActions('ERP-FAILOVER-2'))).rejects.toBeInstanceOf(StoreUnavailableError);
    } finally {
      probe.disconnect();
      await rx.close();
      for (const s of open.splice(0)) await s.close();
      await replica.stop();
      await master.stop();
    }
  });
});

describe('outbox parts', () => {
  it('signatures: the receiver check accepts the right secret only', async () => {
    const rx = await startReceiver({ secrets: SECRETS });
    try {
      const svc = await services(configFor(rx.url));
      svc.outbox.start();
      await svc.actions.enqueue(recyActions('ERP-SIG-1').slice(0, 1));
      await until(() => rx.received.length === 1, 'one delivery');
      const r = rx.received[0]!;
      expect(r.signed).toBe(true);
      expect(verify(SECRETS['/finance'], Buffer.from(r.body), r.headers['x-dispatchd-signature'])).toBe(false);
      expect(verify(SECRETS['/after-sales'], Buffer.from(`${r.body} `), r.headers['x-dispatchd-signature'])).toBe(false);
    } finally {
      await rx.close();
    }
  });

  it('the worker forgets delivered entries past OUTBOX_RETENTION_DAYS and keeps dead ones', async () => {
    let down = false;
    const rx = await startReceiver({ secrets: SECRETS, answer: () => (down ? 500 : 200) });
    let now = DECIDED;
    const clock = () => now;
    const store = new MemoryStore([], { clock });
    const outbox = new Outbox(store, configFor(rx.url, { outboxRetentionDays: 1, outboxMaxAttempts: 1 }), clock);
    try {
      outbox.start();
      const [task, freeze] = recyActions('ERP-RET-1');
      await outbox.enqueue([task!]);
      await until(async () => (await outbox.counts()).delivered === 1, 'the delivery');
      down = true;
      await outbox.enqueue([freeze!]);
      await until(async () => (await outbox.counts()).dead === 1, 'the dead letter');
      now += 2 * 86_400_000;
      // The next pass (a minute of the clock has passed since the last look) forgets the delivered entry only.
      await until(async () => (await outbox.counts()).delivered === 0, 'the purge');
      expect(await outbox.get(outboxId('after-sales', task!))).toBeNull();
      expect(await outbox.get(outboxId('finance', freeze!))).toMatchObject({ state: 'dead' });
    } finally {
      await outbox.stop();
      await rx.close();
    }
  });

  it('backoff doubles per failure up to the cap, jittered between half and all of it', () => {
    expect([1, 2, 3, 4, 5].map((n) => backoffMs(n, 100, 1_000, () => 1))).toEqual([100, 200, 400, 800, 1_000]);
    expect([1, 2, 3, 4, 5].map((n) => backoffMs(n, 100, 1_000, () => 0))).toEqual([50, 100, 200, 400, 500]);
    expect(backoffMs(10_000, 100, 1_000, () => 1)).toBe(1_000);
  });

  it('routes actions by code ("*" receives all), records nothing without targets, and refuses a malformed action before writing', async () => {
    const store = new MemoryStore();
    const targets = [
      { name: 'audit', url: 'http://127.0.0.1:9/a', codes: ['*'], secret: 'a'.repeat(32) },
      { name: 'finance', url: 'http://127.0.0.1:9/f', codes: ['FREEZE_RECEIVABLE'], secret: 'f'.repeat(32) },
    ];
    const outbox = new Outbox(store, configFor(() => '', { webhooks: JSON.stringify(targets) }));
    await outbox.enqueue(recyActions('ERP-R-1'));
    expect((await store.outboxList({}, null, 10)).items.map((e) => `${e.target}:${e.code}`).sort()).toEqual([
      'audit:CORE_RETURN_TASK',
      'audit:FREEZE_RECEIVABLE',
      'audit:WAYBILL_NOTE',
      'finance:FREEZE_RECEIVABLE',
    ]);
    const good = recyActions('ERP-R-2')[0]!;
    await expect(outbox.enqueue([good, { ...good, code: 'lower-case' }])).rejects.toThrow(TypeError);
    await expect(outbox.enqueue([{ ...good, orderId: '' }])).rejects.toThrow(/orderId/);
    expect((await store.outboxList({ orderId: 'ERP-R-2' }, null, 10)).items).toEqual([]);

    const none = new MemoryStore();
    await new Outbox(none, configFor(() => '', { webhooks: '' })).enqueue(recyActions('ERP-R-3'));
    expect(await none.outboxCounts()).toEqual({ pending: 0, delivered: 0, dead: 0 });
  });
});
