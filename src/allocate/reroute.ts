import { parcelsFor } from '../../solver/cost.js';
import type { ProblemOption } from '../../solver/types.js';
import type { Config } from '../config.js';
import type { CourierBook } from '../couriers/book.js';
import type { Decision } from '../domain/schemas.js';
import type { NetworkContext } from '../network/context.js';
import type { Store } from '../store/types.js';
import { LEFT_WAREHOUSE_RANK, type StatusMachine } from '../domain/scan-states.js';
import { trackingNumber } from './ids.js';
import { orderListTtlMs } from './retention.js';
import { NO_LIMIT } from './candidates.js';
import { counterKeys, storeKeys } from '../store/keys.js';
import { toIsoWithOffset } from '../domain/time.js';
import { deliveryMs } from '../domain/waves.js';
import { currentDecision, type Reoptimization } from './reoptimized.js';

const HOUR_MS = 3_600_000;
const round2 = (x: number) => Math.round(x * 100) / 100;

/** One shipment moved to another courier, as recorded on the order. */
export interface Reroute {
  /** ISO-8601 with offset. */
  at: string;
  /** Index of the shipment in the decision. */
  shipment: number;
  fromCourierId: string;
  toCourierId: string;
  fromTrackingNumber: string;
  trackingNumber: string;
  code: 'COURIER_CAPACITY_GAP';
  detail: string;
  parcels: number;
  /** Freight and lateness penalty with the new courier, CNY. */
  freight: number;
  lateness: number;
  /** The new ETA, ISO-8601 with offset. */
  eta: string;
}

/** The decision as it stands after its reroutes: each moved shipment with its new courier, waybill, ETA and cost. */
export function applyReroutes(d: Decision, reroutes: readonly Reroute[]): Decision {
  if (reroutes.length === 0) return d;
  const shipments = d.shipments.map((s) => ({ ...s, cost: { ...s.cost } }));
  for (const r of reroutes) {
    const s = shipments[r.shipment];
    if (!s) continue;
    s.courierId = r.toCourierId;
    s.trackingNumber = r.trackingNumber;
    s.parcels = r.parcels;
    s.eta = r.eta;
    s.cost.freight = r.freight;
    s.cost.lateness = r.lateness;
    s.cost.total = round2(s.cost.freight + s.cost.transfer + s.cost.storage + s.cost.lateness + s.cost.split);
  }
  return { ...d, shipments, totalCost: round2(shipments.reduce((n, s) => n + s.cost.total, 0)) };
}

export interface RerouteOutcome {
  rerouted: (Reroute & { orderId: string })[];
  /** Shipments on the cut courier that stay with it, and why (picked up, no other courier with capacity). */
  kept: { orderId: string; shipment: number; why: string }[];
}

/**
 * Re-decides the shipments of a courier whose capacity for a province and day was cut below what
 * is booked: latest decided first, each not yet picked up (no "left warehouse" scan) moves to the
 * cheapest other courier (freight + lateness) that has the parcels and kilograms left, its
 * capacity use moved atomically with the reservation; a new tracking number, a reason and an
 * event. Stops as soon as the courier is back within its limit.
 */
export class Rerouter {
  readonly listeners: ((orderId: string, r: Reroute) => void)[] = [];

  constructor(
    private readonly net: NetworkContext,
    private readonly cfg: Pick<Config, 'latenessCnyPerHour' | 'timezoneOffsetMinutes' | 'reservationTtlMinutes' | 'orderRetentionDays'>,
    private readonly store: Store,
    private readonly book: CourierBook,
    private readonly machine: StatusMachine,
    private readonly clock: () => number,
  ) {}

  async onCapacityChange(courierId: string, provinceCode: string, day: string): Promise<RerouteOutcome> {
    const out: RerouteOutcome = { rerouted: [], kept: [] };
    const limits = await this.book.limits(provinceCode, day);
    const limit = limits.get(courierId)!;
    const parcelsKey = counterKeys.courierParcels(courierId, provinceCode, day);
    const gramsKey = counterKeys.courierGrams(courierId, provinceCode, day);
    const used = await this.store.counters([parcelsKey, gramsKey]);
    let parcelsOver = limit.parcels === null ? 0 : used.get(parcelsKey)! - limit.parcels;
    let gramsOver = limit.kg === null ? 0 : used.get(gramsKey)! - Math.round(limit.kg * 1_000);
    if (parcelsOver <= 0 && gramsOver <= 0) return out;

    const books = await this.book.quotes();
    const seen = new Set<string>();
    const entries = (await this.store.listAll<{ orderId: string; shipment: number }>(storeKeys.shipmentIndex(courierId, provinceCode, day))).reverse();
    for (const { orderId, shipment } of entries) {
      if (parcelsOver <= 0 && gramsOver <= 0) break;
      const key = `${orderId}#${shipment}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const d = await this.store.getDecision<Decision>(orderId);
      if (!d || d.cancelled || (d.reservation !== 'held' && d.reservation !== 'committed')) continue;
      const history = await this.store.listAll<Reroute>(storeKeys.reroutes(orderId));
      // A re-optimised order's shipments are those of its last move (src/allocate/reoptimized.ts).
      const current = currentDecision(d.decision, history, await this.store.listAll<Reoptimization>(storeKeys.reoptimizations(orderId))).shipments[shipment];
      if (!current || current.courierId !== courierId) continue;
      if (d.reservation === 'committed' || this.machine.view(await this.store.scans(orderId)).rank >= LEFT_WAREHOUSE_RANK) {
        out.kept.push({ orderId, shipment, why: 'already picked up (left the warehouse)' });
        continue;
      }
      const w = this.net.warehouseById.get(current.warehouseId)!;
      const fromProvince = this.net.warehouseProvince.get(w.id)!;
      const oldCourier = this.net.couriers.find((c) => c.id === courierId)!;
      const oldTransit = this.book.terms(books, oldCourier, fromProvince, provinceCode)?.rate.transitHours ?? 0;
      const promisedBy = d.promisedByMs ?? Infinity;
      const grams = Math.round(current.weightKg * 1_000);
      const options = this.net.couriers
        .filter((c) => c.id !== courierId)
        .map((c) => {
          const t = this.book.terms(books, c, fromProvince, provinceCode);
          if (!t) return null;
          const parcels = parcelsFor({ parcelMaxKg: c.maxParcelKg } as ProblemOption, current.weightKg);
          const freight = t.rate.baseCny * parcels + t.rate.perKgCny * current.weightKg;
          // The new lane from the same pickup wave (src/domain/waves.ts); a decision stored
          // before pickupAt existed shifts its ETA by the difference in nominal hours.
          const etaMs = current.pickupAt !== undefined ? deliveryMs(Date.parse(current.pickupAt), t.rate, this.cfg.timezoneOffsetMinutes) : Date.parse(current.eta) + (t.rate.transitHours - oldTransit) * HOUR_MS;
          const lateness = (Math.max(0, etaMs - promisedBy) / HOUR_MS) * this.cfg.latenessCnyPerHour;
          return { c, parcels, freight, lateness, etaMs };
        })
        .filter((x): x is NonNullable<typeof x> => x !== null)
        .sort((a, b) => a.freight + a.lateness - (b.freight + b.lateness) || (a.c.id < b.c.id ? -1 : 1));
      let moved = false;
      for (const o of options) {
        const lim = limits.get(o.c.id)!;
        const toParcels = { key: counterKeys.courierParcels(o.c.id, provinceCode, day), amount: o.parcels, limit: lim.parcels ?? NO_LIMIT };
        if (!(await this.store.moveCounter(orderId, { key: parcelsKey, amount: current.parcels }, toParcels))) continue;
        const toGrams = { key: counterKeys.courierGrams(o.c.id, provinceCode, day), amount: grams, limit: lim.kg === null ? NO_LIMIT : Math.round(lim.kg * 1_000) };
        if (!(await this.store.moveCounter(orderId, { key: gramsKey, amount: grams }, toGrams))) {
          // Out of kilograms: put the parcels back and try the next courier.
          await this.store.moveCounter(orderId, { key: toParcels.key, amount: o.parcels }, { key: parcelsKey, amount: current.parcels, limit: NO_LIMIT });
          continue;
        }
        const r: Reroute = {
          at: toIsoWithOffset(this.clock(), this.cfg.timezoneOffsetMinutes),
          shipment,
          fromCourierId: courierId,
          toCourierId: o.c.id,
          fromTrackingNumber: current.trackingNumber,
          trackingNumber: trackingNumber(o.c.id, orderId, shipment, history.length + 1),
          code: 'COURIER_CAPACITY_GAP',
          detail: `${courierId} capacity for ${provinceCode} on ${day} was cut below what was booked before pickup; moved to ${o.c.id}, the cheapest courier with capacity left`,
          parcels: o.parcels,
          freight: round2(o.freight),
          lateness: round2(o.lateness),
          eta: toIsoWithOffset(o.etaMs, this.cfg.timezoneOffsetMinutes),
        };
        await this.store.listPush(storeKeys.reroutes(orderId), r, orderListTtlMs(this.cfg));
        for (const l of this.listeners) l(orderId, r);
        out.rerouted.push({ orderId, ...r });
        parcelsOver -= current.parcels;
        gramsOver -= grams;
        moved = true;
        break;
      }
      if (!moved) out.kept.push({ orderId, shipment, why: 'no other courier has a lane and capacity left for it' });
    }
    return out;
  }
}
