import { expect, it } from 'vitest';
import { testApp } from '../support/app.js';
import { runLotStream } from '../support/lot-stream.js';
import { checkShippedLots } from '../support/shelf-life-checker.js';

it('a generated stream with lots ships 0 units below their minimum remaining shelf life (independent checker)', async () => {
  let now = Date.parse('2026-11-11T00:00:00+08:00');
  // C-5 needs 700 days left on every shelf-life part: more than most lots have.
  const { app } = await testApp({ minShelfLifeOverrides: 'C-5=700' }, undefined, () => now);
  try {
    const run = await runLotStream(app, (ms) => void (now = ms), {
      seed: 21,
      days: 8,
      ordersPerDay: 14,
      skus: [
        { sku: 'BFL-0001', shelfLifeDays: 1095, minDays: 365 },
        { sku: 'WIP-0001', shelfLifeDays: 1095, minDays: 365 },
        { sku: 'CLT-0001', shelfLifeDays: 1825, minDays: 609 },
      ],
      warehouses: ['SH01', 'SZ01', 'HZ01', 'HF01'],
      startMs: now,
    });
    const check = checkShippedLots(run.decisions as never, run.customers, run.lots, new Map([['C-5', 700]]));
    expect(check.violations).toEqual([]);
    // Every shipped unit is a lot unit the checker looked at, and there were plenty: not vacuous.
    expect(check.units).toBe(run.shippedUnits);
    expect(check.units).toBeGreaterThan(150);
    // And the checker does fail a stream that ships below a minimum (here one it was not given).
    expect(checkShippedLots(run.decisions as never, run.customers, run.lots, new Map([['C-1', 1000]])).violations.length).toBeGreaterThan(0);
  } finally {
    await app.close();
  }
}, 90_000);
