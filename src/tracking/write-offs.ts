import { expiryMs } from '../allocate/stages/lots.js';
import { DAY_MS } from '../domain/time.js';
import type { Sku } from '../domain/network.js';

/**
 * Write-offs (issue 21, item 5): units of lots that can no longer be sold to any customer under
 * their SKU's default minimum remaining shelf life, or that have expired, at a given time. The
 * test is the allocator's own (src/allocate/stages/lots.ts offerLots) judged at the earliest
 * possible delivery, now: a lot is offered only while it has not expired and its last sellable
 * moment (the start of its expiry day, local, minus the minimum) is not before the delivery, so a
 * lot failing that now fails it for every later delivery too. Per-customer overrides
 * (MIN_SHELF_LIFE_OVERRIDES) are left out on purpose: a lot one key account with a lower minimum
 * could still take is stock nobody else may buy, and the figure is meant to say how much stock
 * is lost to the catalogue's rule.
 *
 * Only free units count: units of such a lot that a reservation holds were sold while the lot was
 * sellable and leave with their order (as bench/lots-writeoff.ts and tests/support/lot-stream.ts
 * count them). Lots take no customer locks, so free is on hand minus reserved.
 */
export interface LotUnits {
  sku: string;
  /** The lot's expiry day, YYYY-MM-DD (local); stock without a lot has none and is never counted. */
  expiresOn?: string | undefined;
  free: number;
}

export interface WriteOffs {
  units: number;
  /** Their value at list price, in fen (integers, so that sums are exact). */
  valueFen: number;
}

export function writeOffs(
  lots: Iterable<LotUnits>,
  nowMs: number,
  opts: { timezoneOffsetMinutes: number; minDays: (sku: string) => number; priceCny: (sku: string) => number },
): WriteOffs {
  let units = 0;
  let valueFen = 0;
  for (const l of lots) {
    if (l.expiresOn === undefined || l.free <= 0) continue;
    const ends = expiryMs(l.expiresOn, opts.timezoneOffsetMinutes);
    if (ends > nowMs && ends - opts.minDays(l.sku) * DAY_MS >= nowMs) continue;
    units += l.free;
    valueFen += l.free * Math.round(opts.priceCny(l.sku) * 100);
  }
  return { units, valueFen };
}

/** Write-offs under the catalogue's own rules: each SKU's default minimum remaining shelf life and its list price. */
export function catalogueWriteOffs(lots: Iterable<LotUnits>, nowMs: number, skuByCode: ReadonlyMap<string, Pick<Sku, 'minRemainingShelfLifeDays' | 'priceCny'>>, timezoneOffsetMinutes: number): WriteOffs {
  return writeOffs(lots, nowMs, {
    timezoneOffsetMinutes,
    minDays: (sku) => skuByCode.get(sku)?.minRemainingShelfLifeDays ?? 0,
    priceCny: (sku) => skuByCode.get(sku)?.priceCny ?? 0,
  });
}
