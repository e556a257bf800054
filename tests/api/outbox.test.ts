import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DispatchdClient } from '../../src/client/index.js';
import type { OutboundAction } from '../../src/domain/actions.js';
import { idempotencyKey, outboxId } from '../../src/outbox/outbox.js';
import { testApp } from '../support/app.js';
import { apiClient } from '../support/client.js';
import { startReceiver, until } from '../support/webhook-receiver.js';

// The outbox API through the typed client, over a service whose outbox delivers to a real local
// receiver (node:http). Malformed requests, which the typed client cannot express, are sent raw.

const SECRET = 'api-test-secret-0123456789abcdefghij';
const source = { ruleset: 'core-return', version: 3, rule: 'recy-line' };
const DECIDED = Date.parse('2026-11-11T10:00:00+08:00');
const actions = (orderId: string): OutboundAction[] => [
  { orderId, code: 'CORE_RETURN_TASK', discriminator: 'RECY-BRK-0001', params: { sku: 'RECY-BRK-0001', qty: 2 }, source, decidedAtMs: DECIDED },
  { orderId, code: 'FREEZE_RECEIVABLE', discriminator: '', params: { amountCny: 1280.5 }, source, decidedAtMs: DECIDED },
];

let rx: Awaited<ReturnType<typeof startReceiver>>;
let app: FastifyInstance;
let api: DispatchdClient;
beforeEach(async () => {
  // Every action's first attempt is refused: entries show a failed attempt, then the delivery.
  rx = await startReceiver({ secrets: { '/hook': SECRET }, answer: (_k, before) => (before === 0 ? 502 : 200) });
  const webhooks = JSON.stringify([{ name: 'after-sales', url: rx.url('/hook'), codes: ['*'], secret: SECRET }]);
  ({ app } = await testApp({ webhooks, outboxBackoffBaseMs: 10, outboxBackoffMaxMs: 20, outboxPollMs: 20, outboxTimeoutMs: 250, outboxLeaseMs: 500 }, undefined, Date.now));
  api = apiClient(app);
});
afterEach(async () => {
  await app.close();
  await rx.close();
});

describe('the outbox API', () => {
  it('lists, filters and pages entries, shows one, and replays a delivered one', async () => {
    const svc = app.dspServices;
    // The composition root hands the outbox to whoever produces actions, and the app started its worker.
    await svc.actions.enqueue([...actions('ERP-API-1'), ...actions('ERP-API-2')]);
    await until(async () => (await svc.outbox.counts()).delivered === 4, 'four deliveries');

    const all = await api.GET('/v1/outbox');
    expect(all.response.status).toBe(200);
    expect(all.data!.next).toBeNull();
    expect(all.data!.items).toHaveLength(4);
    const first = all.data!.items.find((e) => e.orderId === 'ERP-API-1' && e.code === 'CORE_RETURN_TASK')!;
    expect(first).toMatchObject({
      id: outboxId('after-sales', actions('ERP-API-1')[0]!),
      target: 'after-sales',
      idempotencyKey: 'ERP-API-1:CORE_RETURN_TASK:RECY-BRK-0001',
      discriminator: 'RECY-BRK-0001',
      params: { sku: 'RECY-BRK-0001', qty: 2 },
      source,
      decidedAt: '2026-11-11T10:00:00+08:00',
      state: 'delivered',
      attempts: 2,
      replays: 0,
      nextAttemptAt: null,
      lastError: null,
    });
    expect(first.deliveredAt).toEqual(expect.any(String));

    const filtered = await api.GET('/v1/outbox', { params: { query: { orderId: 'ERP-API-2', code: 'FREEZE_RECEIVABLE', state: 'delivered' } } });
    expect(filtered.data!.items.map((e) => e.idempotencyKey)).toEqual(['ERP-API-2:FREEZE_RECEIVABLE:']);
    expect((await api.GET('/v1/outbox', { params: { query: { state: 'dead' } } })).data!.items).toEqual([]);

    const page1 = await api.GET('/v1/outbox', { params: { query: { limit: '3' } } });
    expect(page1.data!.items).toHaveLength(3);
    const page2 = await api.GET('/v1/outbox', { params: { query: { limit: '3', cursor: page1.data!.next! } } });
    expect(page2.data!.next).toBeNull();
    expect([...page1.data!.items, ...page2.data!.items].map((e) => e.id).sort()).toEqual(all.data!.items.map((e) => e.id).sort());

    const one = await api.GET('/v1/outbox/{entryId}', { params: { path: { entryId: first.id } } });
    expect(one.data).toEqual(first);

    // Replay: pending again at once, then delivered again with the same key, as a fresh first
    // attempt (the receiver refuses only a key's very first request, so it takes this one).
    const before = rx.received.length;
    const replayed = await api.POST('/v1/outbox/{entryId}/replay', { params: { path: { entryId: first.id } } });
    expect(replayed.response.status).toBe(200);
    expect(replayed.data).toMatchObject({ id: first.id, state: 'pending', attempts: 0, replays: 1, deliveredAt: null });
    await until(async () => (await svc.outbox.get(first.id))?.state === 'delivered', 'the replayed delivery');
    const again = rx.received.slice(before).filter((r) => r.headers['idempotency-key'] === idempotencyKey(actions('ERP-API-1')[0]!));
    expect(again.map((r) => r.headers['x-dispatchd-attempt'])).toEqual(['1']);

    // Metrics: this instance's attempts per target (4 first refusals, 4 deliveries and the replay),
    // and the store's entries per state.
    const metrics = (await app.inject({ url: '/metrics' })).body;
    expect(metrics).toMatch(/^dispatchd_outbox_delivered_total\{target="after-sales"\} 5$/m);
    expect(metrics).toMatch(/^dispatchd_outbox_failed_attempts_total\{target="after-sales"\} 4$/m);
    expect(metrics).toMatch(/^dispatchd_outbox_entries\{state="delivered"\} 4$/m);
    expect(metrics).toMatch(/^dispatchd_outbox_entries\{state="pending"\} 0$/m);
  });

  it('answers 404 for an unknown entry, 409 for replaying a pending one, 400 for bad filters', async () => {
    const unknown = await api.GET('/v1/outbox/{entryId}', { params: { path: { entryId: 'OBX-00000000000000000000000000000000' } } });
    expect(unknown.response.status).toBe(404);
    expect(unknown.error).toMatchObject({ error: { code: 'DSP_OUTBOX_NOT_FOUND' } });
    const unknownReplay = await api.POST('/v1/outbox/{entryId}/replay', { params: { path: { entryId: 'OBX-nope' } } });
    expect(unknownReplay.error).toMatchObject({ error: { code: 'DSP_OUTBOX_NOT_FOUND' } });

    // An entry whose next attempt is far off stays pending: there is nothing to replay.
    const now = Date.now();
    const action = actions('ERP-API-3')[1]!;
    const id = outboxId('after-sales', action);
    await app.dspServices.store.outboxAdd([
      { id, target: 'after-sales', orderId: action.orderId, code: action.code, discriminator: '', action: JSON.stringify(action), state: 'pending', attempts: 0, replays: 0, createdAt: now, nextAttemptAt: now + 3_600_000, lease: null, leaseUntil: null, lastAttemptAt: null, lastError: null, deliveredAt: null },
    ]);
    const pending = await api.POST('/v1/outbox/{entryId}/replay', { params: { path: { entryId: id } } });
    expect(pending.response.status).toBe(409);
    expect(pending.error).toMatchObject({ error: { code: 'DSP_OUTBOX_NOT_REPLAYABLE' } });
    expect((await api.GET('/v1/outbox/{entryId}', { params: { path: { entryId: id } } })).data).toMatchObject({ state: 'pending', nextAttemptAt: expect.any(String) });

    for (const url of ['/v1/outbox?limit=201', '/v1/outbox?limit=0', '/v1/outbox?state=lost', '/v1/outbox?code=lower', '/v1/outbox?cursor=x', '/v1/outbox?color=red']) {
      const r = await app.inject({ url });
      expect(r.statusCode, url).toBe(400);
      expect(r.json(), url).toMatchObject({ error: { code: 'DSP_VALIDATION' } });
    }
  });
});
