import type { Reroute } from '../allocate/reroute.js';
import { currentDecision, type Reoptimization } from '../allocate/reoptimized.js';
import type { Decision } from '../domain/schemas.js';
import type { TrackingView } from '../domain/scan-states.js';
import type { KpiShare, KpiTotals, StoredDecision } from '../store/types.js';
import type { WriteOffs } from './write-offs.js';

/**
 * The delivery KPIs from running counters (issue 19: GET /v1/kpi read every stored order, 150-340
 * ms per call at 120k orders). Each order owns a share of the counters, computed here from the
 * order alone; the store keeps the totals of the shares of the orders it keeps (src/store/types.ts
 * `kpiPut`, `kpiRead`), and the tracker replaces an order's share whenever the order changes
 * (decided, cancelled, shipped, scanned, rerouted). Reading the KPIs is then a handful of counters
 * and three counts in sorted sets, whatever the number of orders.
 *
 * Two figures depend on the time of reading, not only on the orders: an order becomes due when its
 * promise passes, and stale when no scan came for STALE_TRACKING_HOURS (until its reservation
 * expires). They are time marks of the share: the store counts the orders whose mark has passed.
 *
 * Money is counted in integers, so that Redis adds them exactly: shipment costs in micro-CNY
 * (1e-6 CNY: a cost is not always rounded to the fen, and the sum must round as the plain sum
 * did), backordered value in fen (quantity x a list price in fen); times in ms.
 */

const HOUR_MS = 3_600_000;

/** What a share needs besides the order. */
export interface ShareContext {
  staleTrackingHours: number;
  /** List price of a SKU in CNY (backordered value). */
  priceCny: (sku: string) => number;
}

/** Integer fen from CNY (list prices are in fen already; this removes the float error). */
const fen = (cny: number) => Math.round(cny * 100);
/** Integer micro-CNY from CNY. */
const micro = (cny: number) => Math.round(cny * 1_000_000);

/**
 * One order's share: what it adds to every sum, and its time marks. `view` is the order's WMS view
 * (needed only when it shipped something and is not cancelled).
 */
export function kpiShare(d: StoredDecision<Decision>, reroutes: readonly Reroute[], view: TrackingView | null, ctx: ShareContext, reopts: readonly Reoptimization[] = []): KpiShare {
  // Reroutes count for every order, cancelled ones too (as the scan did), and so do the moves of
  // the re-optimisation job and the money they saved (fen, so that Redis adds them exactly).
  const sums: Record<string, number> = { reroutes: reroutes.length };
  if (reopts.length > 0) {
    sums.reoptimizedShipments = reopts.reduce((n, m) => n + m.from.length, 0);
    sums.reoptimizationSavingFen = reopts.reduce((n, m) => n + fen(m.savingCny), 0);
  }
  const marks: KpiShare['marks'] = {};
  if (d.cancelled) return { sums, marks };
  // An order a business rule held or refused is not a dispatch decision: counted per reason, apart.
  if (d.decision.status === 'held' || d.decision.status === 'refused') {
    sums[`${d.decision.status}:${d.decision.rules?.intercept?.reason ?? 'UNKNOWN'}`] = 1;
    return { sums, marks };
  }
  sums.orders = 1;
  const decision = currentDecision(d.decision, reroutes, reopts);
  let money = 0;
  let penalties = 0;
  for (const s of decision.shipments) {
    money += micro(s.cost.freight) + micro(s.cost.transfer) + micro(s.cost.storage);
    penalties += micro(s.cost.lateness) + micro(s.cost.split);
  }
  sums.moneyMicroCny = money;
  const f = mergeAndLotFigures(decision);
  sums.nearExpiryUnits = f.nearExpiryUnits;
  if (f.joinedShipments > 0) {
    sums.joinedShipments = f.joinedShipments;
    sums.mergeSavedMicroCny = f.mergeSavedMicroCny;
  }
  if (f.mergedGroups > 0) sums.mergedGroups = f.mergedGroups;
  sums.penaltiesMicroCny = penalties;
  const units = decision.backordered.reduce((n, b) => n + b.qty, 0);
  sums.backorderedUnits = units;
  sums.backorderedValueFen = decision.backordered.reduce((n, b) => n + fen(b.qty * ctx.priceCny(b.sku)), 0);
  const shipped = decision.shipments.length > 0;
  sums.ordersShipped = shipped ? 1 : 0;
  sums.partialOrders = shipped && units > 0 ? 1 : 0;
  const promised = d.promisedByMs ?? null;
  const delivered = shipped && view !== null ? view.deliveredAt : null;
  if (delivered !== null) {
    // Delivered: due for good, on time only when all of it arrived by the promise.
    sums.due = 1;
    sums.deliveredOnTime = units === 0 && promised !== null && delivered <= promised ? 1 : 0;
    const eta = etaOf(decision);
    if (eta !== null) {
      sums.etaN = 1;
      sums.etaErrorMs = delivered - eta;
      sums.etaAbsErrorMs = Math.abs(delivered - eta);
    }
    return { sums, marks };
  }
  // Not delivered (or nothing shipped): due once its promise has passed.
  if (promised !== null) marks.promise = promised;
  if (!shipped) return { sums, marks };
  // Stale once no scan came for the stale time (strictly after it), unless its reservation has
  // expired by then (a held reservation expires at expiresAt; a committed one never does).
  const last = view?.lastEventAt ?? Date.parse(decision.decidedAt);
  const staleFrom = Math.floor(last + ctx.staleTrackingHours * HOUR_MS);
  const until = d.reservation === 'held' || d.reservation === 'expired' ? d.expiresAt : null;
  // Counted while staleFrom < now and not yet until <= now: an interval that may be empty.
  if (until === null || staleFrom < until - 1) {
    marks.staleFrom = staleFrom;
    if (until !== null) marks.staleUntil = until;
  }
  return { sums, marks };
}

/**
 * A decision's merging and lot figures (issue 21), as the KPI counters, the live map and the
 * replays count them: shipments that joined an open shipment and the freight that saved (money,
 * in micro-CNY so that sums are exact), merged groups (counted once, by the order that brought its
 * waybill to MERGE_MIN_ORDERS), and units of lots picked while near expiry (stock used up that
 * would otherwise be written off).
 */
export function mergeAndLotFigures(d: Pick<Decision, 'shipments' | 'reasons'>): { joinedShipments: number; mergeSavedMicroCny: number; mergedGroups: number; nearExpiryUnits: number } {
  let joinedShipments = 0;
  let mergeSavedMicroCny = 0;
  let mergedGroups = 0;
  for (const r of d.reasons ?? []) {
    if (r.code === 'JOINED_OPEN_SHIPMENT') {
      joinedShipments++;
      mergeSavedMicroCny += micro(r.costDelta ?? 0);
    } else if (r.code === 'MERGED_GROUP') mergedGroups++;
  }
  let nearExpiryUnits = 0;
  for (const s of d.shipments) for (const l of s.lines) for (const lot of l.lots ?? []) if (lot.nearExpiry === true) nearExpiryUnits += lot.qty;
  return { joinedShipments, mergeSavedMicroCny, mergedGroups, nearExpiryUnits };
}

/**
 * The KPIs as GET /v1/kpi answers them, from the running totals at `now`. The write-offs are not
 * a sum over orders but the stock's state at `now` (src/tracking/write-offs.ts), read beside them.
 */
export function kpiFromTotals(t: KpiTotals, now: number, staleAfterHours: number, at: string, writtenOff: WriteOffs = { units: 0, valueFen: 0 }) {
  const n = (k: string) => t.sums[k] ?? 0;
  const orders = n('orders');
  const due = n('due') + t.marksAtOrBefore.promise;
  const onTime = n('deliveredOnTime');
  const etaN = n('etaN');
  const round = (x: number, k = 4) => Math.round(x * 10 ** k) / 10 ** k;
  return {
    at,
    orders,
    ordersShipped: n('ordersShipped'),
    due,
    deliveredOnTime: onTime,
    onTimeRate: due === 0 ? null : round(onTime / due),
    partialOrders: n('partialOrders'),
    // staleFrom counts strictly before now (stale means more than the stale time without a scan).
    staleTracking: t.marksBefore.staleFrom - t.marksAtOrBefore.staleUntil,
    staleAfterHours,
    reroutes: n('reroutes'),
    reoptimizedShipments: n('reoptimizedShipments'),
    reoptimizationSavingCny: round(n('reoptimizationSavingFen') / 100, 2),
    // Rounded to the fen from the exact integer quotient (a float sum lands on either side of a half fen).
    costPerOrder: orders === 0 ? null : Math.round(n('moneyMicroCny') / (orders * 10_000)) / 100,
    penaltyPerOrder: orders === 0 ? null : Math.round(n('penaltiesMicroCny') / (orders * 10_000)) / 100,
    backorderedUnits: n('backorderedUnits'),
    joinedShipments: n('joinedShipments'),
    mergedGroups: n('mergedGroups'),
    mergeSavedCny: Math.round(n('mergeSavedMicroCny') / 10_000) / 100,
    backorderedValueCny: round(n('backorderedValueFen') / 100, 2),
    nearExpiryUnitsShipped: n('nearExpiryUnits'),
    writtenOffUnits: writtenOff.units,
    writtenOffValueCny: writtenOff.valueFen / 100,
    heldByReason: byReason(t, 'held:'),
    refusedByReason: byReason(t, 'refused:'),
    etaErrorHours: {
      n: etaN,
      mean: etaN === 0 ? null : round(n('etaErrorMs') / HOUR_MS / etaN, 2),
      meanAbs: etaN === 0 ? null : round(n('etaAbsErrorMs') / HOUR_MS / etaN, 2),
    },
  };
}

/** Orders a business rule held or refused, per reason code (sums named `held:<REASON>`, `refused:<REASON>`). */
function byReason(t: KpiTotals, prefix: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(t.sums)) if (k.startsWith(prefix) && v > 0) out[k.slice(prefix.length)] = v;
  return out;
}

/** The order's ETA: its last shipment's (every shipment must arrive), epoch ms. */
export function etaOf(d: StoredDecision<Decision>['decision']): number | null {
  const etas = d.shipments.map((s) => Date.parse(s.eta)).filter((x) => Number.isFinite(x));
  return etas.length === 0 ? null : Math.max(...etas);
}
