/**
 * Write-offs with FEFO on and off on a generated stream with lots (issue 21, item 4).
 *
 *   npx tsx bench/lots-writeoff.ts [--days 30] [--orders-per-day 20] [--seed 21]
 *
 * The same seeded stream (tests/support/lot-stream.ts: dated lots at six warehouses, a fresh lot
 * received each day, orders shipped as soon as decided, unsellable lots written off at each day's
 * end) runs through the real service three times: lots picked freshest first without the
 * near-expiry credit (FEFO off), earliest expiry first without the credit, and earliest expiry
 * first with NEAR_EXPIRY_CREDIT_CNY at its default and at 10 CNY/unit. Units written off, units shipped and units
 * backordered are printed per variant, and the independent checker's verdict on each.
 */
import { parseArgs } from 'node:util';
import { testApp } from '../tests/support/app.js';
import { runLotStream } from '../tests/support/lot-stream.js';
import { checkShippedLots } from '../tests/support/shelf-life-checker.js';
import type { Config } from '../src/config.js';

const { values } = parseArgs({ options: { days: { type: 'string', default: '30' }, 'orders-per-day': { type: 'string', default: '20' }, seed: { type: 'string', default: '21' } } });
const variants: { name: string; cfg: Partial<Config> }[] = [
  { name: 'FEFO off (freshest first, no credit)', cfg: { lotPickOrder: 'latest-expiry-first', nearExpiryCreditCny: 0 } },
  { name: 'FEFO, no near-expiry credit', cfg: { lotPickOrder: 'fefo', nearExpiryCreditCny: 0 } },
  { name: 'FEFO + near-expiry credit (default 2 CNY/unit)', cfg: {} },
  { name: 'FEFO + near-expiry credit 10 CNY/unit', cfg: { nearExpiryCreditCny: 10 } },
];
for (const v of variants) {
  let now = Date.parse('2026-11-11T00:00:00+08:00');
  const { app } = await testApp(v.cfg, undefined, () => now);
  const t0 = performance.now();
  const run = await runLotStream(app, (ms) => void (now = ms), {
    seed: Number(values.seed),
    days: Number(values.days),
    ordersPerDay: Number(values['orders-per-day']),
    skus: [
      { sku: 'BFL-0001', shelfLifeDays: 1095, minDays: 365 },
      { sku: 'WIP-0001', shelfLifeDays: 1095, minDays: 365 },
      { sku: 'CLT-0001', shelfLifeDays: 1825, minDays: 609 },
      { sku: 'BLT-0001', shelfLifeDays: 1825, minDays: 609 },
    ],
    warehouses: ['SH01', 'SZ01', 'HZ01', 'HF01', 'NJ01', 'NB01'],
    startMs: now,
  });
  await app.close();
  const backordered = run.decisions.reduce((n, d) => n + (d.backordered as { qty: number }[]).reduce((m, b) => m + b.qty, 0), 0);
  const check = checkShippedLots(run.decisions as never, run.customers, run.lots);
  console.log(
    `${v.name.padEnd(48)} written off ${String(run.writtenOff).padStart(5)} units, shipped ${String(run.shippedUnits).padStart(5)}, backordered ${String(backordered).padStart(4)}, ` +
      `orders ${run.decisions.length}, below-minimum findings ${check.violations.length} (checker), ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
}
