import type { FastifyInstance } from 'fastify';
import { mulberry32 } from '../../src/util/prng.js';
import { PLACES } from './app.js';

/**
 * A generated stream with lots (seeded): shelf-life SKUs received in dated lots at a few
 * warehouses, orders over several days from a few customers, each shipped as soon as it is
 * decided, and at each day's end the lots that can no longer be sold (less than the minimum
 * remaining shelf life left) written off. Used by tests/api/lots-stream.test.ts (with the
 * independent checker) and bench/lots-writeoff.ts (write-offs with FEFO on and off).
 */
export interface LotStreamOptions {
  seed: number;
  days: number;
  ordersPerDay: number;
  /** Shelf-life SKUs with their shelf life and minimum remaining shelf life, days. */
  skus: { sku: string; shelfLifeDays: number; minDays: number }[];
  warehouses: string[];
  /** Epoch ms of the first day's start (local midnight). */
  startMs: number;
}

export interface StreamLot {
  warehouseId: string;
  sku: string;
  lot: string;
  expiresOn: string;
  qty: number;
}

export interface StreamOrder {
  atMs: number;
  body: Record<string, unknown>;
}

const DAY = 86_400_000;
const TZ_MS = 8 * 3_600_000;
const day = (ms: number) => new Date(ms + TZ_MS).toISOString().slice(0, 10);
const places = [PLACES.shanghaiPeoplesSquare, PLACES.suzhouCentre, PLACES.hefeiCentre, { lon: 120.1551, lat: 30.2741 }, { lon: 118.7969, lat: 32.0603 }];

export function lotStream(o: LotStreamOptions): { initial: StreamLot[]; receipts: { atMs: number; lot: StreamLot }[]; orders: StreamOrder[] } {
  const rand = mulberry32(o.seed);
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const initial: StreamLot[] = [];
  let n = 0;
  for (const w of o.warehouses) {
    for (const s of o.skus) {
      // Three lots per cell: one near its minimum (from 5 days below to 40 above), two fresher.
      const lefts = [s.minDays + int(-5, 40), s.minDays + int(60, 300), int(s.minDays + 300, s.shelfLifeDays)];
      for (const left of lefts) initial.push({ warehouseId: w, sku: s.sku, lot: `S${++n}`, expiresOn: day(o.startMs + left * DAY), qty: int(8, 30) });
    }
  }
  const receipts: { atMs: number; lot: StreamLot }[] = [];
  const orders: StreamOrder[] = [];
  for (let d = 0; d < o.days; d++) {
    const dayStart = o.startMs + d * DAY;
    // One fresh lot a day, somewhere.
    const s = o.skus[int(0, o.skus.length - 1)]!;
    receipts.push({ atMs: dayStart + 7 * 3_600_000, lot: { warehouseId: o.warehouses[int(0, o.warehouses.length - 1)]!, sku: s.sku, lot: `R${++n}`, expiresOn: day(dayStart + (s.shelfLifeDays - int(0, 30)) * DAY), qty: int(10, 40) } });
    for (let k = 0; k < o.ordersPerDay; k++) {
      const atMs = dayStart + 8 * 3_600_000 + Math.floor(((k + rand()) / o.ordersPerDay) * 12 * 3_600_000);
      const lines = [o.skus[int(0, o.skus.length - 1)]!];
      if (rand() < 0.3) lines.push(o.skus[int(0, o.skus.length - 1)]!);
      const merged = new Map<string, number>();
      for (const l of lines) merged.set(l.sku, (merged.get(l.sku) ?? 0) + int(1, 6));
      const place = places[int(0, places.length - 1)]!;
      orders.push({
        atMs,
        body: {
          orderId: `LS-${o.seed}-${d}-${k}`,
          customerId: `C-${int(1, 5)}`,
          placedAt: new Date(atMs - 60_000).toISOString(),
          promisedBy: new Date(atMs + int(24, 72) * 3_600_000).toISOString(),
          destination: { ...place, address: 'generated' },
          lines: [...merged].map(([sku, qty]) => ({ sku, qty })),
        },
      });
    }
  }
  return { initial, receipts, orders };
}

export interface StreamResult {
  decisions: Record<string, unknown>[];
  /** Each order's customer, as generated (decisions do not carry it). */
  customers: Map<string, string>;
  /** The lots as the stream received them (the checker's source of expiry days), by warehouse/SKU/lot. */
  lots: Map<string, StreamLot>;
  shippedUnits: number;
  /** Units of lots written off at a day's end: no longer sellable (below the minimum remaining shelf life). */
  writtenOff: number;
}

/**
 * Runs the stream through the app: `setNow` moves the app's clock. The SKUs' stock without a lot
 * is counted down to zero first, so only the stream's lots exist.
 */
export async function runLotStream(app: FastifyInstance, setNow: (ms: number) => void, o: LotStreamOptions): Promise<StreamResult> {
  const { initial, receipts, orders } = lotStream(o);
  const lots = new Map<string, StreamLot>();
  const post = async (events: object[]) => {
    const r = await app.inject({ method: 'POST', url: '/v1/stock/events', payload: { events } });
    const results = r.json<{ results: { status: string; message?: string }[] }>().results;
    const bad = results.find((x) => x.status === 'rejected');
    if (bad) throw new Error(`stock event rejected: ${bad.message}`);
  };
  const receive = async (l: StreamLot) => {
    lots.set(`${l.warehouseId}/${l.sku}/${l.lot}`, l);
    await post([{ type: 'receipt', warehouseId: l.warehouseId, sku: l.sku, lot: l.lot, expiresOn: l.expiresOn, qty: l.qty }]);
  };
  setNow(o.startMs);
  const zero = o.skus.flatMap((s) => ['SH01', 'SZ01', 'WX01', 'NJ01', 'NT01', 'YZ01', 'XZ01', 'HA01', 'HZ01', 'NB01', 'WZ01', 'JH01', 'TZ01', 'HF01', 'WH01', 'BB01', 'AQ01', 'TJ01'].map((w) => ({ warehouseId: w, sku: s.sku, onHand: 0 })));
  const put = await app.inject({ method: 'PUT', url: '/v1/stock', payload: { items: zero } });
  if (put.statusCode !== 200) throw new Error(put.body);
  for (const l of initial) await receive(l);
  const decisions: Record<string, unknown>[] = [];
  let shippedUnits = 0;
  let writtenOff = 0;
  const minOf = new Map(o.skus.map((s) => [s.sku, s.minDays]));
  const events = [...receipts.map((r) => ({ atMs: r.atMs, receipt: r.lot })), ...orders.map((x) => ({ atMs: x.atMs, order: x.body }))].sort((a, b) => a.atMs - b.atMs);
  let dayEnd = o.startMs + DAY;
  const closeDays = async (until: number) => {
    while (dayEnd <= until) {
      setNow(dayEnd);
      // Lots that cannot reach any customer with the minimum left are written off.
      for (const s of o.skus) {
        const stock = (await app.inject({ method: 'GET', url: `/v1/stock?sku=${s.sku}` })).json<{ items: { warehouseId: string; lot?: string; expiresOn?: string; free: number }[] }>().items;
        for (const r of stock) {
          if (r.lot === undefined || r.free <= 0) continue;
          if (Date.parse(`${r.expiresOn!}T00:00:00+08:00`) - minOf.get(s.sku)! * DAY > dayEnd) continue;
          writtenOff += r.free;
          await post([{ type: 'adjustment', warehouseId: r.warehouseId, sku: s.sku, lot: r.lot, delta: -r.free }]);
        }
      }
      dayEnd += DAY;
    }
  };
  for (const e of events) {
    await closeDays(e.atMs);
    setNow(e.atMs);
    if ('receipt' in e) {
      await receive(e.receipt!);
      continue;
    }
    const r = await app.inject({ method: 'POST', url: '/v1/allocate', payload: e.order });
    if (r.statusCode !== 200) throw new Error(r.body);
    const d = r.json<{ orderId: string; shipments: { lines: { qty: number }[] }[] }>();
    decisions.push(d as unknown as Record<string, unknown>);
    if (d.shipments.length === 0) continue;
    await post([{ type: 'shipped', orderId: d.orderId }]);
    shippedUnits += d.shipments.reduce((n, s) => n + s.lines.reduce((m, l) => m + l.qty, 0), 0);
  }
  await closeDays(o.startMs + o.days * DAY);
  const customers = new Map(orders.map((x) => [x.body.orderId as string, x.body.customerId as string]));
  return { decisions, customers, lots, shippedUnits, writtenOff };
}
