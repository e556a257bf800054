/**
 * Soak: does the embedded store stay flat over a long run? (Issue 19: 147 MB -> 772 MB after 120k
 * requests, because orders, decisions, scans and event ids were never dropped.) A seeded demo
 * stream is decided day after day through the real allocator on the embedded store, with the
 * retention of the service (ORDER_RETENTION_DAYS, EVENT_RETENTION_DAYS) and a simulated clock that
 * moves with the orders, so retention applies. Besides the allocations, every day: about one
 * order in ten is cancelled, the others leave the warehouse (WMS scan "left warehouse", which
 * commits their stock) and are delivered a day later (WMS scan "signed"), every cell the day
 * emptied is replenished by a stock receipt event (an eventId each, as the ERP sends them), a few
 * receipts for an unknown warehouse are rejected (their ids forgotten), and the KPIs are read.
 *
 * Reports RSS and the live heap after a full GC (run node with --expose-gc) at the start (after
 * the warm-up, before the first order), at the mark (default 200,000 allocations) and at the end,
 * with the orders the store keeps at each point. Not a test: figures go to bench/README.md.
 *
 *   node --expose-gc --import tsx bench/soak.ts [--count 1000000] [--mark 200000] [--per-day 3500] [--seed 1]
 */
import { loadConfig } from '../src/config.js';
import { generateOrders } from '../src/demo/orders.js';
import { loadNetworkContext } from '../src/network/context.js';
import { openServices } from '../src/services.js';
import { MemoryStore } from '../src/store/memory.js';
import type { WmsEvent } from '../src/tracking/tracker.js';
import { flag, machine } from './util.js';

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

const count = Number(flag('count', '1000000'));
const mark = Number(flag('mark', '200000'));
const perDay = Number(flag('per-day', '3500'));
const seed = Number(flag('seed', '1'));

const config = loadConfig(process.env, { solverThreads: 0, demoFeed: 'off' });
const net = loadNetworkContext(config);
let now = Date.parse('2026-01-01T00:00:00+08:00');
const clock = () => now;
const store = new MemoryStore(net.network.stock, {
  clock,
  orderRetentionMs: config.orderRetentionDays * DAY_MS,
  eventRetentionMs: config.eventRetentionDays * DAY_MS,
  claimTimeoutMs: config.claimTimeoutMs,
});
const svc = await openServices(config, { net, store, clock });
const initial = new Map(net.network.stock.map((r) => [`${r.warehouseId}\u0000${r.sku}`, r.onHand]));

/** A small seeded generator (mulberry32), for the cancels. */
let state = seed;
const random = () => {
  state = (state + 0x6d2b79f5) | 0;
  let t = Math.imul(state ^ (state >>> 15), 1 | state);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
};

const gc = (globalThis as { gc?: () => void }).gc;
const mb = (bytes: number) => Math.round(bytes / 2 ** 20);
async function snapshot(label: string, allocations: number) {
  if (gc) for (let i = 0; i < 3; i++) gc();
  const m = process.memoryUsage();
  const kept = (await store.orderIds()).length;
  const row = { label, allocations, day: new Date(now + 8 * HOUR_MS).toISOString().slice(0, 10), rssMb: mb(m.rss), heapUsedMb: mb(m.heapUsed), ordersKept: kept, wallS: Math.round((performance.now() - t0) / 1000) };
  console.log(JSON.stringify(row));
  return row;
}

const iso = (ms: number) => `${new Date(ms + 8 * HOUR_MS).toISOString().slice(0, 19)}+08:00`;
const t0 = performance.now();
const rows = [await snapshot('start', 0)];
let allocations = 0;
let cancels = 0;
let scans = 0;
let receipts = 0;
let rejected = 0;
let errors = 0;
let yesterday: string[] = [];
for (let day = 0; allocations < count; day++) {
  const date = new Date(Date.parse('2026-01-01T00:00:00Z') + day * DAY_MS).toISOString().slice(0, 10);
  const orders = generateOrders(net.network, net.regionsGeoJson, { seed, profile: 'normal', date, count: Math.min(perDay, count - allocations) });
  const shipped: { orderId: string; at: number }[] = [];
  for (const o of orders) {
    now = Math.max(now, Date.parse(o.placedAt));
    try {
      const d = await svc.allocator.allocate(o);
      allocations++;
      if (allocations === mark) rows.push(await snapshot('mark', allocations));
      if (d.shipments.length === 0) continue;
      if (random() < 0.1) {
        await svc.allocator.cancel(o.orderId);
        cancels++;
      } else {
        shipped.push({ orderId: o.orderId, at: now });
      }
    } catch (err) {
      if (++errors <= 3) console.error(o.orderId, err);
    }
  }
  // End of the day: today's orders leave the warehouse (commits their stock), yesterday's are delivered.
  now = Date.parse(`${date}T23:30:00+08:00`);
  const events: WmsEvent[] = [];
  for (const s of shipped) {
    events.push({ orderId: s.orderId, code: 'PICK_DONE', at: iso(Math.min(now, s.at + HOUR_MS)) });
    events.push({ orderId: s.orderId, code: 'GATE_OUT', at: iso(Math.min(now, s.at + 2 * HOUR_MS)) });
  }
  for (const orderId of yesterday) events.push({ orderId, code: 'SIGNED', at: iso(now - 2 * HOUR_MS) });
  for (let i = 0; i < events.length; i += 1_000) {
    const r = await svc.tracker.apply(events.slice(i, i + 1_000));
    scans += r.filter((x) => x.status === 'applied').length;
  }
  yesterday = shipped.map((s) => s.orderId);
  // Replenishment as stock receipt events, one eventId per cell, as the stock-events route applies
  // them (mark the id, apply; a rejected one forgets its id).
  for (const row of await store.stock()) {
    const want = initial.get(`${row.warehouseId}\u0000${row.sku}`) ?? 0;
    if (row.onHand >= want) continue;
    const eventId = `RCV-${date}-${row.warehouseId}-${row.sku}`;
    if (!(await store.markEvent(eventId))) continue;
    if ((await store.adjustOnHand(row.warehouseId, row.sku, want - row.onHand)).ok) receipts++;
    else await store.forgetEvent(eventId);
  }
  for (let i = 0; i < 20; i++) {
    // A receipt for a warehouse that does not exist: rejected, its id forgotten.
    const eventId = `RCV-${date}-BAD-${i}`;
    if (await store.markEvent(eventId)) {
      rejected++;
      await store.forgetEvent(eventId);
    }
  }
  await svc.tracker.kpi();
  if (day % 30 === 29) await snapshot(`day ${day + 1}`, allocations);
}
rows.push(await snapshot('end', allocations));
const k = await svc.tracker.kpi();
console.log(`# soak: ${allocations} allocations, ${cancels} cancelled, ${scans} scans applied, ${receipts} receipts, ${rejected} rejected receipts, ${errors} errors; ${machine()}${gc ? '' : ' (no --expose-gc: RSS without a forced GC)'}`);
console.log(`# KPIs at the end (the orders kept): ${JSON.stringify({ orders: k.orders, onTimeRate: k.onTimeRate, costPerOrder: k.costPerOrder })}`);
const at = (label: string) => rows.find((r) => r.label === label);
const m = at('mark');
const e = at('end');
if (m && e) console.log(`# RSS ${at('start')!.rssMb} MB at start, ${m.rssMb} MB at ${m.allocations}, ${e.rssMb} MB at ${e.allocations}: ${(((e.rssMb - m.rssMb) / m.rssMb) * 100).toFixed(1)} % from the mark to the end`);
await svc.close();
