import { expect, it } from 'vitest';
import { LOT_SNAPSHOT_DAY, stockWithLots } from '../../src/network/lots.js';
import { network } from '../support/app.js';

it('splits the bundled shelf-life stock into dated lots, unit for unit, the same way every time', () => {
  const net = network().network;
  const rows = stockWithLots(net);
  expect(stockWithLots(net)).toEqual(rows);
  const shelf = new Map(net.skus.filter((s) => s.shelfLifeDays !== null).map((s) => [s.sku, s]));
  const total = (list: { warehouseId: string; sku: string; onHand: number }[]) => {
    const m = new Map<string, number>();
    for (const r of list) m.set(`${r.warehouseId}/${r.sku}`, (m.get(`${r.warehouseId}/${r.sku}`) ?? 0) + r.onHand);
    return m;
  };
  expect(total(rows)).toEqual(total(net.stock));
  const day0 = Date.parse(`${LOT_SNAPSHOT_DAY}T00:00:00Z`);
  let nearOrBelow = 0;
  for (const r of rows) {
    const sku = shelf.get(r.sku);
    expect(r.lot !== undefined, `${r.warehouseId}/${r.sku}`).toBe(sku !== undefined);
    if (sku === undefined) continue;
    const left = (Date.parse(`${r.expiresOn!}T00:00:00Z`) - day0) / 86_400_000;
    expect(left).toBeLessThanOrEqual(sku.shelfLifeDays!);
    expect(left).toBeGreaterThan(0);
    if (left < sku.minRemainingShelfLifeDays! + 60) nearOrBelow++;
  }
  // The demo has lots to skip and to use up first.
  expect(nearOrBelow).toBeGreaterThan(50);
});
