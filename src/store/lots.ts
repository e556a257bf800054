import { lotCell, parseCell } from './keys.js';
import type { LotFree, StockLevel, StockSeedRow } from './types.js';

/**
 * Lot bookkeeping shared by the store implementations (see `lotCell` in keys.ts: a lot is a
 * stock cell of its own, so the stores keep its counts like any cell and only name it here).
 */

/** A stock level of one cell: a lot's cell is reported under its SKU with its lot and expiry. */
export function stockLevel(
  warehouseId: string,
  cell: string,
  counts: { onHand: number; reserved: number; locked: number },
  expiryOf: (cell: string) => string | undefined,
): StockLevel {
  const { sku, lot } = parseCell(cell);
  const level: StockLevel = { warehouseId, sku, onHand: counts.onHand, free: counts.onHand - counts.reserved - counts.locked, reserved: counts.reserved, locked: counts.locked };
  if (lot !== null) {
    level.lot = lot;
    const expiresOn = expiryOf(cell);
    if (expiresOn !== undefined) level.expiresOn = expiresOn;
  }
  return level;
}

/** Stock levels in their listing order: warehouse, SKU, then lots by expiry and id (the plain cell first). */
export function compareLevels(a: StockLevel, b: StockLevel): number {
  return cmp(a.warehouseId, b.warehouseId) || cmp(a.sku, b.sku) || cmp(a.expiresOn ?? '', b.expiresOn ?? '') || cmp(a.lot ?? '', b.lot ?? '');
}

/** What orders a lot in a listing. */
type LotOrder = Pick<LotFree, 'warehouseId' | 'sku' | 'expiresOn' | 'lot'>;

/** Free lots in the order of `freeLots`: warehouse, SKU, expiry, lot. */
export function compareLots(a: LotOrder, b: LotOrder): number {
  return cmp(a.warehouseId, b.warehouseId) || cmp(a.sku, b.sku) || cmp(a.expiresOn, b.expiresOn) || cmp(a.lot, b.lot);
}

/** The stock cell a seed row fills: its lot's cell when it names a lot. */
export function seedCell(r: StockSeedRow): string {
  return r.lot === undefined ? r.sku : lotCell(r.sku, r.lot);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
