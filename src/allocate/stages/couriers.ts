import type { ProblemCourier, ProblemOption } from '../../../solver/types.js';
import type { LaneTerms } from '../../couriers/book.js';
import { pickupMs, deliveryMs } from '../../domain/waves.js';
import { counterKeys } from '../../store/keys.js';
import type { Courier } from '../../domain/network.js';
import type { CandidateContext, CourierLimit, CourierTerms, SiteDraft } from './context.js';
import { lateness } from './order.js';
import type { JoinInfo } from './open-shipments.js';

export interface OptionInfo {
  courierId: string;
  /** Lateness penalty of this option's ETA, CNY. */
  latenessCny: number;
  /** Hours late (0 when on time). */
  hoursLate: number;
  /** Epoch ms. */
  etaMs: number;
  /** The courier quote's version (null: the bundled rate card) and when it was quoted (epoch ms). */
  quoteVersion: number | null;
  quotedAt: number | null;
  /** Transit hours of the lane. */
  transitHours: number;
  /** When the courier collects the shipment (a collection wave, src/domain/waves.ts), epoch ms. */
  pickupMs: number;
  /** Local day (YYYY-MM-DD) whose capacity counters the shipment uses (its site's ship day). */
  shipDay: string;
  /** Set when the option joins an open shipment (stages/open-shipments.ts) instead of opening one. */
  join?: JoinInfo;
}

/** A courier's limit for the destination province on a day: the live one, else the bundled daily allocation. */
export function courierLimit(terms: CourierTerms | undefined, c: Courier, day: string, today: string): CourierLimit {
  const live = day === today ? terms?.limits : terms?.limitsByDay?.get(day);
  return live?.get(c.id) ?? { parcels: c.dailyParcelsPerRegion, kg: null };
}

/**
 * Stage "courier capacity": what each courier can still take to the destination province on a
 * day, parcels and kg (the live limit, or the bundled daily allocation, minus what is booked for
 * that day).
 */
export function courierCaps(ctx: CandidateContext, day: string = ctx.day): ProblemCourier[] {
  const prov = ctx.region.provinceCode;
  return ctx.net.couriers.map((c) => {
    const limit = courierLimit(ctx.courierTerms, c, day, ctx.day);
    return {
      id: c.id,
      parcelCap: limit.parcels === null ? null : Math.max(0, limit.parcels - (ctx.usage.get(counterKeys.courierParcels(c.id, prov, day)) ?? 0)),
      kgCap: limit.kg === null ? null : Math.max(0, limit.kg - (ctx.usage.get(counterKeys.courierGrams(c.id, prov, day)) ?? 0) / 1_000),
    };
  });
}

/** Lane terms per courier from an origin province to the destination: looked up once per province (warehouses share provinces). */
export function laneTermsFrom(ctx: CandidateContext): (fromProvince: string) => (LaneTerms | null)[] {
  const cache = new Map<string, (LaneTerms | null)[]>();
  const dest = ctx.region.provinceCode;
  return (fromProvince) => {
    let all = cache.get(fromProvince);
    if (all === undefined) {
      all = ctx.net.couriers.map((c) => {
        const lane = ctx.courierTerms ? ctx.courierTerms.terms(c, fromProvince, dest) : ctx.net.laneRate(c, fromProvince, dest);
        return !lane ? null : 'rate' in lane ? lane : { rate: lane, quoteVersion: null, quotedAt: null };
      });
      cache.set(fromProvince, all);
    }
    return all;
  };
}

export type SiteOptions =
  | { ok: true; options: { option: ProblemOption; info: OptionInfo }[] }
  | { ok: false; noCapacity: number; noLane: number };

/**
 * Stage "courier options": every courier with a lane from the site's province and capacity left
 * offers a shipment, priced at the lane's base per parcel and per kg, with the lateness of its
 * ETA (the wave model: collected at the first wave after picking, delivered by the lane's window
 * on its transit day); when the site has transfer arcs, a second variant waits for the slowest
 * line haul.
 */
export function siteOptions(
  ctx: CandidateContext,
  draft: SiteDraft,
  caps: readonly ProblemCourier[],
  terms: (LaneTerms | null)[],
  shipDay: { day: string; firstWaveMs: number; courierIndex: (ci: number) => number } = { day: ctx.day, firstWaveMs: 0, courierIndex: (ci) => ci },
): SiteOptions {
  const w = draft.warehouse;
  const hasTransfers = draft.arcs.some((a) => a.transfer);
  // When the site hands over: at once, or after the slowest transfer's line haul; on a later ship
  // day, not before that day's first collection wave.
  const direct = Math.max(draft.readyMs, shipDay.firstWaveMs);
  const readyAfterTransfers = hasTransfers ? Math.max(pickupMs(ctx.nowMs, w, draft.transferLeadHours, ctx.cfg.timezoneOffsetMinutes), shipDay.firstWaveMs) : direct;
  const options: { option: ProblemOption; info: OptionInfo }[] = [];
  let noCapacity = 0;
  let noLane = 0;
  for (let ci = 0; ci < ctx.net.couriers.length; ci++) {
    const c = ctx.net.couriers[ci]!;
    // Business rules (FORBID_COURIER, FORCE_COURIER): a courier they rule out offers nothing.
    const rules = ctx.order.rules;
    if (rules && (rules.forbidCouriers.has(c.id) || (rules.forceCourier !== null && rules.forceCourier !== c.id))) continue;
    const lane = terms[ci]!;
    if (!lane) {
      noLane++;
      continue;
    }
    const rate = lane.rate;
    if (caps[ci]!.parcelCap === 0 || caps[ci]!.kgCap === 0) {
      noCapacity++;
      continue;
    }
    for (let variant = 0; variant < (hasTransfers ? 2 : 1); variant++) {
      const transfer = variant === 1;
      const ready = transfer ? readyAfterTransfers : direct;
      // The wave model (src/domain/waves.ts): the lane's delivery window, transit days after the pickup wave.
      const etaMs = deliveryMs(ready, rate, ctx.cfg.timezoneOffsetMinutes);
      const { hoursLate, latenessCny, lateDays } = lateness(ctx.cfg, ctx.order, etaMs);
      options.push({
        option: { site: draft.site, courier: shipDay.courierIndex(ci), fixedCost: latenessCny, perParcel: rate.baseCny, perKg: rate.perKgCny, parcelMaxKg: c.maxParcelKg, transfer, late: lateDays },
        info: { courierId: c.id, latenessCny, hoursLate, etaMs, quoteVersion: lane.quoteVersion, quotedAt: lane.quotedAt, transitHours: rate.transitHours, pickupMs: ready, shipDay: shipDay.day },
      });
    }
  }
  return options.length > 0 ? { ok: true, options } : { ok: false, noCapacity, noLane };
}
