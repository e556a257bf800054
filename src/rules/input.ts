import type { RegionProps } from '../domain/network.js';
import type { AllocateRequest, Decision } from '../domain/schemas.js';
import { parseIsoWithOffset, toIsoWithOffset } from '../domain/time.js';
import type { NetworkContext } from '../network/context.js';
import type { LineFacts, OrderFacts, PlanFacts } from './engine.js';

const round2 = (x: number) => Math.round(x * 100) / 100;

/**
 * The order as the tables see it (fields.ts documents each field). Lines are the ERP's lines as
 * sent (not merged), so a line's own price and core-return link stay with it. `nowMs` stands for
 * placedAt when the ERP sent none.
 */
export function orderFacts(req: AllocateRequest, net: NetworkContext, region: RegionProps, nowMs: number, tzMinutes: number): { order: OrderFacts; lines: LineFacts[] } {
  const lines: LineFacts[] = req.lines.map((l) => {
    const sku = net.skuByCode.get(l.sku);
    const priceCny = l.priceCny ?? sku?.priceCny ?? 0;
    return { sku: l.sku, qty: l.qty, priceCny, amountCny: round2(priceCny * l.qty), category: sku?.category ?? '', linkedCoreReturn: l.linkedCoreReturn ?? null };
  });
  const placedMs = req.placedAt !== undefined ? (parseIsoWithOffset(req.placedAt) ?? nowMs) : nowMs;
  const promisedMs = parseIsoWithOffset(req.promisedBy) ?? placedMs;
  const order: OrderFacts = {
    orderId: req.orderId,
    customerId: req.customerId,
    customerTier: req.customerTier ?? null,
    regionCode: region.code,
    regionName: region.name,
    provinceCode: region.provinceCode,
    amountCny: round2(lines.reduce((n, l) => n + l.amountCny, 0)),
    lineCount: lines.length,
    units: lines.reduce((n, l) => n + l.qty, 0),
    skus: lines.map((l) => l.sku),
    placedAt: toIsoWithOffset(placedMs, tzMinutes),
    promisedBy: toIsoWithOffset(promisedMs, tzMinutes),
    promiseHours: round2((promisedMs - placedMs) / 3_600_000),
    allowSplit: req.allowSplit ?? true,
    attributes: { ...(req.attributes ?? {}) },
  };
  return { order, lines };
}

/** The plan as the after-plan tables see it (money cost: what the shipments cost, CNY). */
export function planFacts(d: Pick<Decision, 'status' | 'shipments' | 'totalCost'>, promisedByMs: number, tzMinutes: number): PlanFacts {
  let latest: number | null = null;
  for (const s of d.shipments) {
    const eta = parseIsoWithOffset(s.eta);
    if (eta !== null && (latest === null || eta > latest)) latest = eta;
  }
  const hoursLate = latest === null ? 0 : Math.max(0, (latest - promisedByMs) / 3_600_000);
  return {
    status: d.status,
    warehouses: [...new Set(d.shipments.map((s) => s.warehouseId))],
    couriers: [...new Set(d.shipments.map((s) => s.courierId))],
    costCny: d.totalCost,
    eta: latest === null ? null : toIsoWithOffset(latest, tzMinutes),
    late: hoursLate > 0,
    lateDays: hoursLate > 0 ? Math.ceil(hoursLate / 24 - 1e-9) : 0,
    split: d.shipments.length > 1,
    shipmentCount: d.shipments.length,
  };
}
