/**
 * What one shadow-price refresh costs (src/pricing/job.ts): the Double-11 demo day's orders are
 * observed up to a few hours of the day (the stream's own order), then one refresh reads the
 * store, builds the price LP of the rest of the day and solves it with HiGHS. Reported per hour:
 * orders seen, the forecast factor, the LP's size, the wall time of the first refresh of the
 * process (HiGHS's code cold) and of a second one, and how many resources got a price. Stock is
 * the bundled one, untouched (no allocations): the LP's size and time, not the prices, are the
 * point here.
 *
 *   npx tsx bench/prices.ts
 */
import { loadConfig } from '../src/config.js';
import { CourierBook } from '../src/couriers/book.js';
import { generateOrders } from '../src/demo/orders.js';
import { loadNetworkContext } from '../src/network/context.js';
import { ShadowPrices } from '../src/pricing/job.js';
import { solvePriceLp } from '../solver/prices.js';
import { loadHighs } from '../src/solve/exact.js';
import { MemoryStore } from '../src/store/memory.js';
import { machine } from './util.js';

const cfg = loadConfig();
const net = loadNetworkContext(cfg);
const orders = generateOrders(net.network, net.regionsGeoJson, { seed: 1, profile: 'double11', date: '2026-11-11' });
let now = 0;
const store = new MemoryStore(net.network.stock, { clock: () => now });
const book = new CourierBook(net, store, () => now);
const highs = await loadHighs();
const prices = new ShadowPrices(net, cfg, store, book, async (lp) => solvePriceLp(highs, lp), () => now);
console.log(`# shadow-price refresh on the Double-11 demo day; ${machine()}`);
console.log('| hour | orders seen | factor | rows | columns | first ms | again ms (HiGHS) | priced |');
console.log('|---|---|---|---|---|---|---|---|');
let i = 0;
for (const h of [2, 9, 12, 15, 18]) {
  const until = Date.parse(`2026-11-11T${String(h).padStart(2, '0')}:00:00+08:00`);
  for (; i < orders.length && Date.parse(orders[i]!.placedAt) < until; i++) {
    const o = orders[i]!;
    const r = net.regions.lookup(o.destination.lon, o.destination.lat);
    if (r) prices.observe({ provinceCode: r.provinceCode, lines: o.lines }, Date.parse(o.placedAt));
  }
  now = until;
  const first = (await prices.refresh())!;
  const again = (await prices.refresh())!;
  console.log(`| ${h}:00 | ${first.ordersSeen} | ${first.factor.toFixed(2)} | ${first.rows} | ${first.cols} | ${first.millis.toFixed(0)} | ${again.millis.toFixed(0)} (${again.solveMillis.toFixed(0)}) | ${again.priced} |`);
}
