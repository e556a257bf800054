import type { Warehouse } from '../../domain/network.js';
import { HOUR_MS } from '../../domain/time.js';
import { pickupMs } from '../../domain/waves.js';
import { freeAt, type CandidateContext, type Pools, type SiteDraft } from './context.js';
import { pushStockArcs } from './lots.js';

/** Per line, the open warehouses holding free stock of it: the possible transfer sources of every site. */
export function transferHolders(ctx: CandidateContext, closed: ReadonlySet<string>): Warehouse[][] {
  return ctx.lines.map((l) => ctx.net.warehouses.filter((v) => !closed.has(v.id) && freeAt(ctx, v.id, l.sku) > 0));
}

/**
 * Stage "transfers": for lines the site cannot cover alone, the cheapest few line-haul sources
 * (MAX_TRANSFER_SOURCES; line haul + handling + storage while the stock travels, ties by
 * warehouse id) become transfer arcs into the site. A shipment that uses them waits for the
 * slowest one (the courier stage offers that as the site's transfer option).
 */
export function siteTransfers(ctx: CandidateContext, draft: SiteDraft, holders: readonly Warehouse[][], pools: Pools): void {
  const k = ctx.cfg.maxTransferSources;
  if (k <= 0) return;
  const w = draft.warehouse;
  const tz = ctx.cfg.timezoneOffsetMinutes;
  // When stock that arrives after `hours` of line haul is ready here: per lane duration, once per site.
  const readyAfter = new Map<number, number>();
  ctx.lines.forEach((l, li) => {
    if (draft.freePerLine[li]! >= l.qty) return;
    const holding = ctx.holdingPerUnitDay[li]!;
    // The k cheapest so far, cheapest first (k is small: insertion beats sorting every holder).
    const best: { v: Warehouse; hours: number; transferPerUnit: number; storagePerUnit: number; total: number }[] = [];
    for (const v of holders[li]!) {
      if (v.id === w.id) continue;
      const lane = ctx.net.lineHaulLane(v.id, w.id);
      if (lane === undefined) continue;
      let ready = readyAfter.get(lane.hours);
      if (ready === undefined) {
        ready = pickupMs(ctx.nowMs, w, lane.hours, tz);
        readyAfter.set(lane.hours, ready);
      }
      const transferPerUnit = lane.perKgCny * l.unitWeightKg + ctx.cfg.transferHandlingCnyPerUnit;
      const storagePerUnit = (holding * (ready - ctx.nowMs)) / (24 * HOUR_MS);
      const total = transferPerUnit + storagePerUnit;
      let at = best.length;
      while (at > 0 && (best[at - 1]!.total > total || (best[at - 1]!.total === total && best[at - 1]!.v.id > v.id))) at--;
      if (at >= k) continue;
      best.splice(at, 0, { v, hours: lane.hours, transferPerUnit, storagePerUnit, total });
      if (best.length > k) best.pop();
    }
    for (const src of best) {
      pushStockArcs(ctx, draft, pools, li, src.v.id, freeAt(ctx, src.v.id, l.sku), true, {
        fromWarehouseId: src.v.id,
        sku: l.sku,
        storagePerUnit: src.storagePerUnit,
        transferPerUnit: src.transferPerUnit,
      });
      draft.transferLeadHours = Math.max(draft.transferLeadHours, src.hours);
    }
  });
}
