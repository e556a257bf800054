import type { FastifyInstance } from 'fastify';
import { beforeEach, describe, expect, it } from 'vitest';
import type { Decision } from '../../src/domain/schemas.js';
import type { Store } from '../../src/store/types.js';
import { FIXED_NOW, order, testApp } from '../support/app.js';
import { expectInvariant } from '../store/store.cases.js';

const HOUR = 3_600_000;
const SKU = 'BRK-0003';
const iso = (ms: number) => new Date(ms).toISOString();

/** Customer stock locks through the API, on the embedded store with a clock the test moves. */
describe('customer stock locks', () => {
  let now = FIXED_NOW;
  let app: FastifyInstance;
  let store: Store;

  beforeEach(async () => {
    now = FIXED_NOW;
    ({ app, store } = await testApp({}, undefined, () => now));
    // 250 units of the SKU, all in Shanghai.
    const rows = await store.stock({ sku: SKU });
    await store.setOnHand(rows.map((r) => ({ warehouseId: r.warehouseId, sku: SKU, onHand: r.warehouseId === 'SH01' ? 250 : 0 })));
  });

  const lock = (body: object, headers: Record<string, string> = {}) => app.inject({ method: 'POST', url: '/v1/locks', payload: body, headers });
  const allocate = (body: object) => app.inject({ method: 'POST', url: '/v1/allocate', payload: body });
  const sh01 = async () => (await store.stock({ warehouseId: 'SH01', sku: SKU }))[0]!;

  it('a 200-unit lock is invisible to other customers, used by its owner, and released at expiry', async () => {
    const created = await lock({ customerId: 'KEY-ACCOUNT', sku: SKU, qty: 200, warehouseId: 'SH01', expiresAt: iso(now + 24 * HOUR) });
    expect(created.statusCode).toBe(201);
    const l = created.json<{ lockId: string }>();
    expect(l).toMatchObject({ customerId: 'KEY-ACCOUNT', warehouseId: 'SH01', sku: SKU, qty: 200, remaining: 200, state: 'active' });
    expect(await sh01()).toMatchObject({ onHand: 250, free: 50, reserved: 0, locked: 200 });

    // Another customer gets only the 50 free units; the rest is backordered.
    const other = await allocate(order({ customerId: 'WALK-IN', lines: [{ sku: SKU, qty: 100 }] }));
    expect(other.statusCode).toBe(200);
    expect(other.json<Decision>()).toMatchObject({ status: 'partial', backordered: [{ sku: SKU, qty: 50 }] });
    expect(await sh01()).toMatchObject({ free: 0, reserved: 50, locked: 200 });

    // The owner's order takes its locked units.
    const own = await allocate(order({ customerId: 'KEY-ACCOUNT', lines: [{ sku: SKU, qty: 120 }] }));
    expect(own.json<Decision>()).toMatchObject({ status: 'allocated', shipments: [{ warehouseId: 'SH01', lines: [{ sku: SKU, qty: 120 }] }] });
    expect(await sh01()).toMatchObject({ free: 0, reserved: 170, locked: 80 });
    expect((await app.inject({ method: 'GET', url: `/v1/locks/${l.lockId}` })).json()).toMatchObject({ remaining: 80, state: 'active' });
    await expectInvariant(store);

    // At expiry (a day later; the orders' reservations hold 48 h) the 80 units left return to free stock by themselves.
    now += 24 * HOUR;
    expect((await app.inject({ method: 'GET', url: `/v1/locks/${l.lockId}` })).json()).toMatchObject({ remaining: 0, state: 'expired' });
    expect(await sh01()).toMatchObject({ onHand: 250, free: 80, reserved: 170, locked: 0 });
    await expectInvariant(store);
  });

  it('DELETE ends a lock at once; GET and DELETE of an unknown lock answer 404', async () => {
    const l = (await lock({ customerId: 'K', sku: SKU, qty: 30, warehouseId: 'SH01', expiresAt: iso(now + HOUR) })).json<{ lockId: string }>();
    const del = await app.inject({ method: 'DELETE', url: `/v1/locks/${l.lockId}` });
    expect(del.json()).toMatchObject({ state: 'released', remaining: 0 });
    expect(await sh01()).toMatchObject({ free: 250, locked: 0 });
    expect((await app.inject({ method: 'DELETE', url: `/v1/locks/${l.lockId}` })).json()).toMatchObject({ state: 'released' });
    for (const method of ['GET', 'DELETE'] as const) {
      const r = await app.inject({ method, url: '/v1/locks/LCK-nope' });
      expect(r.statusCode).toBe(404);
      expect(r.json()).toMatchObject({ error: { code: 'DSP_LOCK_NOT_FOUND' } });
    }
  });

  it('picks the warehouse when none is named, and is idempotent on Idempotency-Key', async () => {
    const body = { customerId: 'ST01', sku: SKU, qty: 40, expiresAt: iso(now + HOUR) };
    const a = await lock(body, { 'idempotency-key': 'erp-lock-1' });
    const b = await lock(body, { 'idempotency-key': 'erp-lock-1' });
    expect(a.statusCode).toBe(201);
    expect(b.statusCode).toBe(200);
    expect(b.json()).toEqual(a.json());
    expect(a.json()).toMatchObject({ warehouseId: 'SH01' });
    // The id is random, not the caller's key (anyone who knows or guesses a key cannot read the lock).
    expect(a.json<{ lockId: string }>().lockId).toMatch(/^LCK-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(a.json<{ lockId: string }>().lockId).not.toContain('erp-lock-1');
    expect(await sh01()).toMatchObject({ locked: 40 });
  });

  it('scopes an Idempotency-Key to its customer and request: another customer, or another body, answers 409 and locks nothing', async () => {
    const body = { customerId: 'CUST-A', sku: SKU, qty: 30, warehouseId: 'SH01', expiresAt: iso(now + HOUR) };
    const a = await lock(body, { 'idempotency-key': 'shared-key' });
    expect(a.statusCode).toBe(201);
    const b = await lock({ ...body, customerId: 'CUST-B', qty: 10 }, { 'idempotency-key': 'shared-key' });
    expect(b.statusCode).toBe(409);
    expect(b.json()).toMatchObject({ error: { code: 'DSP_IDEMPOTENCY_CONFLICT' } });
    // Nothing of A's lock is told to B.
    expect(b.body).not.toContain('CUST-A');
    expect(b.body).not.toContain(a.json<{ lockId: string }>().lockId);
    const sameBodyOtherCustomer = await lock({ ...body, customerId: 'CUST-B' }, { 'idempotency-key': 'shared-key' });
    expect(sameBodyOtherCustomer.statusCode).toBe(409);
    const otherBody = await lock({ ...body, qty: 31 }, { 'idempotency-key': 'shared-key' });
    expect(otherBody.statusCode).toBe(409);
    expect(otherBody.json()).toMatchObject({ error: { code: 'DSP_IDEMPOTENCY_CONFLICT' } });
    expect(await sh01()).toMatchObject({ locked: 30 });
    // The owner's true retry still answers its lock.
    const retry = await lock(body, { 'idempotency-key': 'shared-key' });
    expect(retry.statusCode).toBe(200);
    expect(retry.json()).toEqual(a.json());
  });

  it('one Idempotency-Key locks once under 20 concurrent twins; a refused request gives its key back; keys expire after IDEMPOTENCY_RETENTION_HOURS', async () => {
    const body = { customerId: 'K', sku: SKU, qty: 100, warehouseId: 'SH01', expiresAt: iso(now + 48 * HOUR) };
    const twins = await Promise.all(Array.from({ length: 20 }, () => lock(body, { 'idempotency-key': 'twin' })));
    expect(twins.filter((r) => r.statusCode === 201)).toHaveLength(1);
    expect(twins.filter((r) => r.statusCode === 200)).toHaveLength(19);
    expect(new Set(twins.map((r) => r.json<{ lockId: string }>().lockId)).size).toBe(1);
    expect(await sh01()).toMatchObject({ locked: 100 });
    // Too many units: refused, and the key stays usable for the same request once stock arrives.
    const big = { ...body, qty: 200 };
    expect((await lock(big, { 'idempotency-key': 'later' })).statusCode).toBe(409);
    await store.adjustOnHand('SH01', SKU, 100);
    expect((await lock(big, { 'idempotency-key': 'later' })).statusCode).toBe(201);
    expect(await sh01()).toMatchObject({ onHand: 350, locked: 300 });
    // A day later (the default retention) the key is forgotten: the same request locks anew.
    now += 24 * HOUR;
    await store.adjustOnHand('SH01', SKU, 100);
    expect((await lock(body, { 'idempotency-key': 'twin' })).statusCode).toBe(201);
  });

  it('refuses what cannot be locked with a clear error, locking nothing', async () => {
    const cases: [object, number, string][] = [
      [{ customerId: 'K', sku: SKU, qty: 251, warehouseId: 'SH01', expiresAt: iso(now + HOUR) }, 409, 'DSP_INSUFFICIENT_STOCK'],
      [{ customerId: 'K', sku: SKU, qty: 251, expiresAt: iso(now + HOUR) }, 409, 'DSP_INSUFFICIENT_STOCK'],
      [{ customerId: 'K', sku: 'NOPE-1', qty: 1, expiresAt: iso(now + HOUR) }, 422, 'DSP_UNKNOWN_SKU'],
      [{ customerId: 'K', sku: SKU, qty: 1, warehouseId: 'XX99', expiresAt: iso(now + HOUR) }, 422, 'DSP_UNKNOWN_WAREHOUSE'],
      [{ customerId: 'K', sku: SKU, qty: 1, expiresAt: iso(now - 1) }, 422, 'DSP_BAD_TIME'],
      [{ customerId: 'K', sku: SKU, qty: 1, expiresAt: '2026-11-12T10:00:00' }, 422, 'DSP_BAD_TIME'],
      [{ customerId: 'K', sku: SKU, qty: 1, expiresAt: iso(now + 91 * 24 * HOUR) }, 422, 'DSP_BAD_TIME'],
      [{ customerId: 'K', sku: SKU, qty: 0, expiresAt: iso(now + HOUR) }, 400, 'DSP_VALIDATION'],
      [{ customerId: 'K', sku: SKU, qty: 1 }, 400, 'DSP_VALIDATION'],
      [{ customerId: 'K', sku: SKU, qty: 1, expiresAt: iso(now + HOUR), extra: 1 }, 400, 'DSP_VALIDATION'],
    ];
    for (const [body, status, code] of cases) {
      const r = await lock(body);
      expect(r.statusCode, JSON.stringify(body)).toBe(status);
      expect(r.json()).toMatchObject({ error: { code } });
    }
    const r = await lock(cases[0]![0]);
    expect(r.json()).toMatchObject({ error: { details: [{ warehouseId: 'SH01', sku: SKU, requested: 251, free: 250 }] } });
    expect(await sh01()).toMatchObject({ free: 250, locked: 0 });
  });

  it('an unshipped reservation expires: the order shows expired and a late shipment is refused', async () => {
    const body = order({ lines: [{ sku: SKU, qty: 10 }] });
    expect((await allocate(body)).statusCode).toBe(200);
    const id = body.orderId as string;
    const before = (await app.inject({ method: 'GET', url: `/v1/orders/${id}` })).json<{ state: string; reservationExpiresAt: string }>();
    expect(before.state).toBe('reserved');
    expect(Date.parse(before.reservationExpiresAt)).toBe(now + 48 * HOUR);
    now += 48 * HOUR;
    expect((await app.inject({ method: 'GET', url: `/v1/orders/${id}` })).json()).toMatchObject({ state: 'expired' });
    expect(await sh01()).toMatchObject({ free: 250, reserved: 0 });
    const shipped = await app.inject({ method: 'POST', url: '/v1/stock/events', payload: { events: [{ type: 'shipped', orderId: id }] } });
    expect(shipped.json()).toMatchObject({ results: [{ status: 'rejected', code: 'DSP_RESERVATION_EXPIRED' }] });
    expect(await sh01()).toMatchObject({ onHand: 250, free: 250 });
  });
});
