import { readFileSync, writeFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import type { Decision } from '../../src/domain/schemas.js';
import { testApp } from '../support/app.js';

/**
 * Golden scenario (design example 6): input and expected decisions are checked in; any change in
 * a decision shows up as a diff to review. Only the measured solve time is left out.
 */
const dir = new URL('../golden/', import.meta.url);
const input = JSON.parse(readFileSync(new URL('east-china.input.json', dir), 'utf8')) as {
  stock: { warehouseId: string; sku: string; onHand: number }[];
  orders: Record<string, unknown>[];
};

it('decides the golden East-China scenario exactly as checked in', async () => {
  // The golden decisions are the optimiser's, without business rules: G-003 has a RECY- line
  // without a linked old part, which the bundled rules would hold for review.
  const { app } = await testApp({ rulesDir: 'off' });
  const put = await app.inject({ method: 'PUT', url: '/v1/stock', payload: { items: input.stock } });
  expect(put.statusCode).toBe(200);
  const decisions: Omit<Decision, 'solveMicros' | 'decideMicros' | 'searchNodes'>[] = [];
  for (const o of input.orders) {
    const r = await app.inject({ method: 'POST', url: '/v1/allocate', payload: o });
    expect(r.statusCode, JSON.stringify(r.json())).toBe(200);
    // Timings and search effort vary by machine and solver version; the decision itself must not.
    const { solveMicros: _t, decideMicros: _d, searchNodes: _n, ...d } = r.json<Decision>();
    decisions.push(d);
  }
  await app.close();
  const expectedUrl = new URL('east-china.expected.json', dir);
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(expectedUrl, `${JSON.stringify(decisions, null, 2)}\n`);
  expect(decisions).toEqual(JSON.parse(readFileSync(expectedUrl, 'utf8')));
});
