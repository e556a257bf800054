import type { Network } from '../domain/network.js';
import type { StockSeedRow } from '../store/types.js';

/**
 * The bundled stock with lots: stock.csv holds one count per (warehouse, SKU); a shelf-life SKU's
 * units are split here into up to three lots with expiry days spread deterministically (a hash of
 * warehouse, SKU and lot number, no random state) around the snapshot day, so the demo has lots
 * to pick: mostly fresh ones, and for about one cell in three a small lot already near or below its
 * minimum remaining shelf life. Other SKUs' rows are kept as they are.
 */
export const LOT_SNAPSHOT_DAY = '2026-11-01';

export function stockWithLots(network: Pick<Network, 'stock' | 'skus'>, snapshotDay = LOT_SNAPSHOT_DAY): StockSeedRow[] {
  const shelf = new Map(network.skus.filter((s) => s.shelfLifeDays !== null).map((s) => [s.sku, s]));
  const day0 = Date.parse(`${snapshotDay}T00:00:00Z`);
  const out: StockSeedRow[] = [];
  for (const r of network.stock) {
    const sku = shelf.get(r.sku);
    if (sku === undefined) {
      out.push(r);
      continue;
    }
    const life = sku.shelfLifeDays!;
    const min = sku.minRemainingShelfLifeDays ?? 0;
    // Shares of the cell's units: an old lot (20 %), a middle one (30 %), the newest (the rest).
    const old = Math.floor(r.onHand * 0.2);
    const middle = Math.floor(r.onHand * 0.3);
    const parts = [old, middle, r.onHand - old - middle];
    parts.forEach((qty, k) => {
      if (qty <= 0 && !(k === 2 && r.onHand === 0)) return;
      const u = unit(`${r.warehouseId}/${r.sku}/${k}`);
      // Days of shelf life left on the snapshot day: the old lot near its minimum (from 40 days
      // below to 80 days above it), the others spread over the fresher part of the life.
      const left = k === 0 ? min - 40 + Math.floor(u * 120) : k === 1 ? min + 80 + Math.floor(u * (life - min - 80) * 0.5) : min + Math.floor((0.5 + u * 0.5) * (life - min));
      const expires = new Date(day0 + left * 86_400_000).toISOString().slice(0, 10);
      const made = new Date(day0 + (left - life) * 86_400_000).toISOString().slice(0, 10).replaceAll('-', '');
      out.push({ warehouseId: r.warehouseId, sku: r.sku, onHand: qty, lot: `L${made}-${k + 1}`, expiresOn: expires });
    });
  }
  return out;
}

/** A number in [0, 1) from a string (FNV-1a): the same input, the same number, on every machine. */
function unit(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h / 2 ** 32;
}
