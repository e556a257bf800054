import type { Warehouse } from '../../domain/network.js';
import { HOUR_MS } from '../../domain/time.js';
import { pickupMs } from '../../domain/waves.js';
import { freeAt, type CandidateContext, type Pools, type SiteDraft } from './context.js';
import { pushStockArcs } from './lots.js';

/**
 * Stage "stock pools and customer locks": a site's own stock. The snapshot's free units are this
 * customer's view (free stock plus its own active locks; other customers' locks are not free), so
 * locks need nothing more here. Each line the site holds gets a direct arc from the site's pool,
 * priced at the storage its units occupy until the site hands them over.
 */
export function siteStock(ctx: CandidateContext, w: Warehouse, site: number, pools: Pools): SiteDraft {
  const freePerLine = ctx.lines.map((l) => freeAt(ctx, w.id, l.sku));
  const readyMs = pickupMs(ctx.nowMs, w, 0, ctx.cfg.timezoneOffsetMinutes);
  const draft: SiteDraft = { warehouse: w, site, freePerLine, readyMs, arcs: [], arcInfo: [], transferLeadHours: 0 };
  ctx.lines.forEach((l, li) => {
    if (freePerLine[li]! <= 0) return;
    const storage = (ctx.holdingPerUnitDay[li]! * (readyMs - ctx.nowMs)) / (24 * HOUR_MS);
    pushStockArcs(ctx, draft, pools, li, w.id, freePerLine[li]!, false, { fromWarehouseId: w.id, sku: l.sku, storagePerUnit: storage, transferPerUnit: 0 });
  });
  return draft;
}
