/**
 * The embedded store's `freeLots` for one shelf-life SKU after a year of daily receipts at 17
 * warehouses, every lot but the last two of each warehouse shipped (6,205 lots recorded, 34 with
 * units): what a decision with that SKU reads. Used-up lots leave the list once they are most of it
 * (src/store/memory.ts), so the first call drops them and the next ones read the 34.
 *
 *   npx tsx bench/free-lots.ts [--rounds 3] [--calls 20000]
 */
import { lotCell } from '../src/store/keys.js';
import { MemoryStore } from '../src/store/memory.js';
import { flag, machine } from './util.js';

const rounds = Number(flag('rounds', '3'));
const calls = Number(flag('calls', '20000'));
const sku = 'BFL-0001';
const s = new MemoryStore([], { clock: () => Date.UTC(2026, 10, 11, 1) });
const day = (k: number) => new Date(Date.UTC(2027, 0, 1) + k * 86_400_000).toISOString().slice(0, 10);
for (let w = 0; w < 17; w++) {
  const warehouseId = `W${String(w).padStart(2, '0')}`;
  for (let k = 0; k < 365; k++) {
    await s.defineLot(warehouseId, sku, `L${k}`, day(k));
    await s.adjustOnHand(warehouseId, lotCell(sku, `L${k}`), 5);
    if (k < 363) await s.adjustOnHand(warehouseId, lotCell(sku, `L${k}`), -5);
  }
}
console.log(`# freeLots of one SKU, 6,205 lots recorded, 34 with units (${calls} calls a round); ${machine()}`);
for (let r = 0; r < rounds; r++) {
  const t = performance.now();
  let lots = 0;
  for (let i = 0; i < calls; i++) lots += (await s.freeLots([sku])).length;
  console.log(`round ${r + 1}: ${(((performance.now() - t) * 1000) / calls).toFixed(2)} µs a call, ${lots / calls} lots`);
}
