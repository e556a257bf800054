import { describe, expect, it } from 'vitest';
import type { Decision } from '../../src/domain/schemas.js';
import { order, PLACES, testApp } from '../support/app.js';
import { checkPlan } from '../support/check-plan.js';
import { nearestPlan } from '../../solver/rules.js';
import { generateProblem } from '../support/instances.js';

/** The what-if baseline policies (ALLOCATION_POLICY) used by replays. */
describe('baseline policies', () => {
  it('nearest: the nearest warehouse that can ship everything, whatever it costs', async () => {
    const { app, store } = await testApp({ policy: 'nearest' });
    const sku = 'BRK-0007';
    const rows = await store.stock({ sku });
    // Suzhou (near Shanghai) and Tianjin (far) hold it; Suzhou is short for 30 units.
    await store.setOnHand(rows.map((r) => ({ warehouseId: r.warehouseId, sku, onHand: r.warehouseId === 'SZ01' ? 20 : r.warehouseId === 'TJ01' ? 500 : 0 })));
    const near = (await app.inject({ method: 'POST', url: '/v1/allocate', payload: order({ lines: [{ sku, qty: 10 }] }) })).json<Decision>();
    expect(near).toMatchObject({ mode: 'rule', solver: 'nearest', shipments: [{ warehouseId: 'SZ01' }] });
    expect(near.reasons).toContainEqual(expect.objectContaining({ code: 'NEAREST_WAREHOUSE', warehouseId: 'SZ01' }));
    const far = (await app.inject({ method: 'POST', url: '/v1/allocate', payload: order({ lines: [{ sku, qty: 30 }] }) })).json<Decision>();
    expect(far.shipments.map((s) => s.warehouseId)).toEqual(['TJ01']);
    await app.close();
  });

  it('radius-rule: the radius lock where it applies, else the nearest warehouse', async () => {
    const { app } = await testApp({ policy: 'radius-rule' });
    const locked = (await app.inject({ method: 'POST', url: '/v1/allocate', payload: order({ lines: [{ sku: 'BRK-0001', qty: 2 }] }) })).json<Decision>();
    expect(locked.mode).toBe('radius-lock');
    const open = (await app.inject({ method: 'POST', url: '/v1/allocate', payload: order({ destination: PLACES.hefeiCentre, lines: [{ sku: 'BRK-0001', qty: 5000 }] }) })).json<Decision>();
    expect(open.mode).toBe('rule');
    await app.close();
  });

  it('nearestPlan returns a valid plan on generated instances', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const p = generateProblem(90_000 + seed);
      const plan = nearestPlan(p, p.sites.map((_, i) => (i * 37) % 11));
      expect(checkPlan(p, plan).errors, `seed ${90_000 + seed}`).toEqual([]);
    }
  });
});
