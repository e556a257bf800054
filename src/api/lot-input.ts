import type { Services } from './services.js';
import { DspError } from '../errors.js';
import { lotCell } from '../store/keys.js';

/** Stock named by the API: a (warehouse, SKU) and, for a shelf-life SKU, its lot and expiry day. */
export interface LotInput {
  warehouseId: string;
  sku: string;
  lot?: string | undefined;
  expiresOn?: string | undefined;
}

/**
 * The stock cell a receipt, adjustment or count changes (src/store/keys.ts `lotCell`). A shelf-life
 * SKU's stock is kept per lot: it must name its lot, and a lot the warehouse does not know yet its
 * expiry day (recorded here, once); a SKU without shelf life names neither. A lot keeps the expiry
 * it was first received with, so a different day is refused rather than silently ignored.
 */
export async function stockCell(svc: Services, item: LotInput, adds: boolean): Promise<string> {
  const sku = svc.net.skuByCode.get(item.sku)!;
  if (sku.shelfLifeDays === null) {
    if (item.lot !== undefined || item.expiresOn !== undefined) {
      throw new DspError('DSP_LOT_NOT_APPLICABLE', `${item.sku} has no shelf life: its stock has no lots (drop lot and expiresOn)`, [{ warehouseId: item.warehouseId, sku: item.sku }]);
    }
    return item.sku;
  }
  if (item.lot === undefined) {
    // Units without a lot (kept from before lots, or by a store seeded without them) have no known
    // expiry: a count may take them down, never add to them.
    if (!adds) return item.sku;
    throw new DspError('DSP_LOT_REQUIRED', `${item.sku} has a shelf life of ${sku.shelfLifeDays} days: its stock is kept per lot (name the lot and its expiresOn)`, [{ warehouseId: item.warehouseId, sku: item.sku }]);
  }
  if (item.expiresOn === undefined) {
    const known = (await svc.store.stock({ warehouseId: item.warehouseId, sku: item.sku })).find((r) => r.lot === item.lot)?.expiresOn;
    if (known === undefined) {
      throw new DspError('DSP_LOT_REQUIRED', `${item.warehouseId}/${item.sku} lot ${item.lot} is new: name its expiresOn`, [{ warehouseId: item.warehouseId, sku: item.sku, lot: item.lot }]);
    }
    return lotCell(item.sku, item.lot);
  }
  if (!validDay(item.expiresOn)) throw new DspError('DSP_VALIDATION', `expiresOn ${item.expiresOn} is not a calendar day (YYYY-MM-DD)`, [{ expiresOn: item.expiresOn }]);
  const recorded = await svc.store.defineLot(item.warehouseId, item.sku, item.lot, item.expiresOn);
  if (recorded !== item.expiresOn) {
    throw new DspError('DSP_LOT_EXPIRY_MISMATCH', `${item.warehouseId}/${item.sku} lot ${item.lot} expires on ${recorded}, not ${item.expiresOn}`, [
      { warehouseId: item.warehouseId, sku: item.sku, lot: item.lot, expiresOn: recorded },
    ]);
  }
  return lotCell(item.sku, item.lot);
}

function validDay(day: string): boolean {
  const t = Date.parse(`${day}T00:00:00Z`);
  return Number.isFinite(t) && new Date(t).toISOString().slice(0, 10) === day;
}
