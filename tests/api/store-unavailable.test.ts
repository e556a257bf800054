import type { InjectOptions } from 'fastify';
import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/store/memory.js';
import { StoreUnavailableError, type Store } from '../../src/store/types.js';
import { network, order, testApp } from '../support/app.js';

/**
 * The service knows one thing about store failures: a StoreUnavailableError (whatever the store,
 * whatever its client says) answers 503 DSP_STORE_UNAVAILABLE. A store whose every method fails
 * that way, behind every route that reads or writes state.
 */
let down = false;
/** The embedded store, until `down`: then every method fails as an unreachable store does. */
function unavailable(net: ReturnType<typeof network>): Store {
  const real = new MemoryStore(net.network.stock);
  return new Proxy(real, {
    get(target, prop) {
      const v: unknown = Reflect.get(target, prop, target);
      if (typeof v !== 'function' || prop === 'close') return v;
      return (...args: unknown[]) => (down ? Promise.reject(new StoreUnavailableError('down for the test')) : (v as (...a: unknown[]) => unknown).apply(target, args));
    },
  });
}

describe('a store-unavailable error from any store method answers 503', () => {
  it('on every route that touches the store', async () => {
    const { app } = await testApp({}, async (net) => unavailable(net));
    // The store goes away once the service is up (start-up itself needs it: stock, API keys).
    down = true;
    const lock = { customerId: 'C-1', sku: 'BRK-0001', qty: 1, warehouseId: 'SH01', expiresAt: '2026-11-12T10:00:00+08:00' };
    const requests: InjectOptions[] = [
      { method: 'POST', url: '/v1/allocate', payload: order() },
      { method: 'GET', url: '/v1/orders/X-1' },
      { method: 'POST', url: '/v1/orders/X-1/cancel' },
      { method: 'GET', url: '/v1/orders/X-1/timeline' },
      { method: 'GET', url: '/v1/stock?warehouseId=SH01' },
      { method: 'PUT', url: '/v1/stock', payload: { items: [{ warehouseId: 'SH01', sku: 'BRK-0001', onHand: 5 }] } },
      { method: 'POST', url: '/v1/stock/events', payload: { events: [{ type: 'receipt', warehouseId: 'SH01', sku: 'BRK-0001', qty: 1, eventId: 'E1' }] } },
      { method: 'POST', url: '/v1/locks', payload: lock },
      { method: 'GET', url: '/v1/locks/LCK-1' },
      { method: 'GET', url: '/v1/couriers/STO/quotes' },
      { method: 'GET', url: '/v1/kpi' },
      { method: 'GET', url: '/readyz' },
    ];
    for (const r of requests) {
      const res = await app.inject(r);
      expect([res.statusCode, res.json().error?.code], `${r.method} ${r.url}`).toEqual([503, 'DSP_STORE_UNAVAILABLE']);
    }
    // Liveness never touches the store.
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    await app.close();
  });
});
