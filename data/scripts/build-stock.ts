/**
 * Builds data/network/stock.csv (warehouseId,sku,onHand): the stock snapshot the demo starts from.
 *
 *   npx tsx data/scripts/build-stock.ts        (after build-catalogue.ts; reads warehouses.json)
 *
 * Seeded and deterministic. The assortment follows how a parts distributor actually stocks:
 * - fast movers (top 35 % of SKUs by expected demand) in every regional warehouse;
 * - the next 40 % in the four provincial hubs (SH01, NJ01, HZ01, HF01) plus 2-5 seeded others;
 * - slow movers (next ~20 %) in 2-3 hubs only;
 * - the slowest ~5 % are scarce: the national warehouse plus at most one regional warehouse, in
 *   single-digit quantities, so that splits, transfers and backorders actually happen;
 * - about 3 % of the non-fast regional rows are listed but sold out (onHand 0);
 * - the national warehouse (TJ01) holds the largest quantity of every SKU: it is the chain's
 *   central buffer, which is why the old "biggest stock" logic kept picking it.
 * Regional quantities are DAYS_OF_COVER days of the warehouse's share of normal-day demand
 * (expectedDailyUnits from src/demo/orders.ts, shared with the order generator), ±30 % noise.
 * A warehouse's share of demand is its outbound capacity's share, because the capacities in
 * warehouses.json were sized from each warehouse's catchment population (data/README.md).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Sku, StockRow, Warehouse } from '../../src/domain/network.js';
import { expectedDailyUnits, mulberry32 } from '../../src/demo/orders.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dataDir = join(repoRoot, 'data');
const rand = mulberry32(0x570c4);

/** Regional replenishment cycle: weekly deliveries from suppliers plus two weeks of safety stock. */
const DAYS_OF_COVER = 21;
/** The national buffer holds a month of the whole network's normal demand. */
const NATIONAL_DAYS_OF_COVER = 30;
/** The hubs that carry the long tail: one per province. */
const HUBS = ['SH01', 'NJ01', 'HZ01', 'HF01'];
/**
 * The demo and the tests lock 200 sets of BRK-0001 at SH01 (the case's key-account reservation);
 * the radius rule needs 1.2 × 200 = 240 free, so keep well above that whatever the noise does.
 */
const SH01_BRK0001_MIN = 600;

const warehouses = JSON.parse(readFileSync(join(dataDir, 'network', 'warehouses.json'), 'utf8')) as Warehouse[];
const skus = JSON.parse(readFileSync(join(dataDir, 'catalogue', 'skus.json'), 'utf8')) as Sku[];
const regional = warehouses.filter((w) => w.kind === 'regional');
const national = warehouses.find((w) => w.kind === 'national');
if (!national) throw new Error('warehouses.json has no national warehouse');
for (const h of HUBS) if (!regional.some((w) => w.id === h)) throw new Error(`hub ${h} is not a regional warehouse`);

const daily = expectedDailyUnits(skus, 'normal');
const ranked = [...skus].sort((a, b) => (daily.get(b.sku) ?? 0) - (daily.get(a.sku) ?? 0) || a.sku.localeCompare(b.sku));
const n = ranked.length;
const capacity = new Map(regional.map((w) => [w.id, w.dailyOutboundParcels]));

/** Seeded Fisher-Yates shuffle (copy). */
function shuffled<T>(xs: readonly T[]): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

const rows: StockRow[] = [];
ranked.forEach((sku, rank) => {
  const q = rank / n;
  const perDay = daily.get(sku.sku) ?? 0;
  let holders: string[];
  let scarce = false;
  if (q < 0.35) holders = regional.map((w) => w.id);
  else if (q < 0.75) {
    const others = shuffled(regional.map((w) => w.id).filter((id) => !HUBS.includes(id)));
    holders = [...HUBS, ...others.slice(0, 2 + Math.floor(rand() * 4))];
  } else if (q < 0.95) holders = shuffled(HUBS).slice(0, 2 + Math.floor(rand() * 2));
  else {
    scarce = true;
    holders = rand() < 0.5 ? [] : [regional[Math.floor(rand() * regional.length)]!.id];
  }

  const holderCapacity = holders.reduce((s, id) => s + (capacity.get(id) ?? 0), 0);
  let maxRegional = 0;
  for (const id of holders) {
    let onHand: number;
    if (scarce) onHand = 1 + Math.floor(rand() * 3);
    else {
      const share = (capacity.get(id) ?? 0) / holderCapacity;
      onHand = Math.max(2, Math.round(perDay * share * DAYS_OF_COVER * (0.7 + 0.6 * rand())));
      if (q >= 0.35 && rand() < 0.03) onHand = 0; // listed here, sold out right now
    }
    if (id === 'SH01' && sku.sku === 'BRK-0001') onHand = Math.max(onHand, SH01_BRK0001_MIN);
    maxRegional = Math.max(maxRegional, onHand);
    rows.push({ warehouseId: id, sku: sku.sku, onHand });
  }
  const nationalQty = scarce
    ? maxRegional + 2 + Math.floor(rand() * 6)
    : Math.max(Math.ceil(maxRegional * 1.5), Math.ceil(perDay * NATIONAL_DAYS_OF_COVER * (0.8 + 0.4 * rand())));
  rows.push({ warehouseId: national.id, sku: sku.sku, onHand: nationalQty });
});

const whOrder = new Map(warehouses.map((w, i) => [w.id, i]));
rows.sort((a, b) => whOrder.get(a.warehouseId)! - whOrder.get(b.warehouseId)! || a.sku.localeCompare(b.sku));
const csv = `warehouseId,sku,onHand\n${rows.map((r) => `${r.warehouseId},${r.sku},${r.onHand}`).join('\n')}\n`;
writeFileSync(join(dataDir, 'network', 'stock.csv'), csv);
const scarceCount = ranked.filter((_, rank) => rank / n >= 0.95).length;
console.log(`wrote data/network/stock.csv: ${rows.length} rows, ${skus.length} SKUs, ${scarceCount} scarce`);
