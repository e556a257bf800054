import { profileShareBefore } from '../domain/demand-profile.js';
import { localDay } from '../domain/time.js';

/**
 * The demand observed so far today and the expected rest of the day (issue 17 item 3):
 * - the rate: units ordered in the last RATE_WINDOW_MINUTES (or since the day began), divided by
 *   the share of a day's orders the demand profile (src/domain/demand-profile.ts) places in that
 *   window, is the day's expected volume; the profile's share after now, of it, is what is still
 *   to come. A recent window, not the whole day so far, so that a burst early in the day (a
 *   promotion opening at midnight) is not read as the day's level once it has passed;
 * - the mix: every demand class (destination province, SKU) gets its share of today's units so far.
 * The volume and the mix are the observed ones; only the day's shape comes from the profile, so a
 * day busier or quieter than usual, or with another mix of destinations and SKUs, is forecast
 * from itself.
 */

/** The window the current order rate is measured over, minutes. */
export const RATE_WINDOW_MINUTES = 180;

/**
 * The forecast never exceeds this many times what has been seen today. Early in the day the
 * profile's elapsed share is tiny and the ratio (1 − F) / F huge, so without a bound a burst of
 * orders at night (a promotion opening at midnight) would be read as a day many times over on a
 * few minutes' evidence. Ten is not fitted to a stream: it lets a day's first hour of business
 * stand for the rest of the day (the profile puts 2-7 % of a day in its first busy hour) while
 * refusing to extrapolate from the night.
 */
export const MAX_FORECAST_FACTOR = 10;

const minuteOf = (nowMs: number, tzMinutes: number) => {
  const local = nowMs + tzMinutes * 60_000;
  return Math.floor((((local % 86_400_000) + 86_400_000) % 86_400_000) / 60_000);
};

export interface DemandClass {
  provinceCode: string;
  sku: string;
  /** Expected units still to come today. */
  units: number;
  /** Parcels per unit, from the orders seen (a unit's share of its order's parcels, by weight). */
  parcelsPerUnit: number;
}

export interface Forecast {
  day: string;
  classes: DemandClass[];
  /** Mean kg per parcel by destination province (the couriers' per-kg rate is priced with it). */
  kgPerParcel: Map<string, number>;
  /** Orders seen today, and the factor their demand was scaled by. */
  ordersSeen: number;
  factor: number;
}

interface Tally {
  units: number;
  parcels: number;
}

export class DemandTracker {
  private day = '';
  private orders = 0;
  private units = 0;
  /** Units ordered per local minute of today. */
  private readonly perMinute = new Float64Array(1_440);
  private readonly classes = new Map<string, Tally>();
  private readonly kg = new Map<string, { kg: number; parcels: number }>();

  constructor(
    /** kg per SKU unit. */
    private readonly unitKg: (sku: string) => number,
    /** A parcel's weight limit used to estimate parcels per order, kg (the couriers' largest). */
    private readonly parcelKg: number,
    private readonly tzMinutes: number,
  ) {}

  observe(order: { provinceCode: string; lines: readonly { sku: string; qty: number }[] }, nowMs: number): void {
    const day = localDay(nowMs, this.tzMinutes);
    if (day !== this.day) {
      this.day = day;
      this.orders = 0;
      this.units = 0;
      this.perMinute.fill(0);
      this.classes.clear();
      this.kg.clear();
    }
    this.orders++;
    let kg = 0;
    let units = 0;
    for (const l of order.lines) {
      kg += l.qty * this.unitKg(l.sku);
      units += l.qty;
    }
    // One shipment's parcels: the order as one shipment of the largest parcels any courier takes.
    const parcels = Math.max(1, Math.ceil(kg / this.parcelKg - 1e-9));
    this.units += units;
    this.perMinute[minuteOf(nowMs, this.tzMinutes)]! += units;
    for (const l of order.lines) {
      const share = kg > 0 ? (l.qty * this.unitKg(l.sku)) / kg : l.qty / units;
      const key = `${order.provinceCode}|${l.sku}`;
      const t = this.classes.get(key) ?? this.classes.set(key, { units: 0, parcels: 0 }).get(key)!;
      t.units += l.qty;
      t.parcels += parcels * share;
    }
    const k = this.kg.get(order.provinceCode) ?? this.kg.set(order.provinceCode, { kg: 0, parcels: 0 }).get(order.provinceCode)!;
    k.kg += kg;
    k.parcels += parcels;
  }

  /** The expected rest of today at `nowMs` (empty when nothing was seen today). */
  forecast(nowMs: number): Forecast {
    const day = localDay(nowMs, this.tzMinutes);
    if (day !== this.day || this.orders === 0) return { day, classes: [], kgPerParcel: new Map(), ordersSeen: 0, factor: 0 };
    const minute = minuteOf(nowMs, this.tzMinutes);
    const from = Math.max(0, minute + 1 - RATE_WINDOW_MINUTES);
    let recent = 0;
    for (let m = from; m <= minute; m++) recent += this.perMinute[m]!;
    const windowShare = profileShareBefore(minute + 1) - profileShareBefore(from);
    const rest = 1 - profileShareBefore(minute + 1);
    // Units still to come = the day's volume at the recent rate x the share still to come.
    const remaining = windowShare > 0 ? (recent / windowShare) * rest : Infinity;
    const factor = Math.min(MAX_FORECAST_FACTOR, remaining / this.units);
    const classes: DemandClass[] = [];
    for (const [key, t] of this.classes) {
      const [provinceCode, sku] = key.split('|') as [string, string];
      classes.push({ provinceCode, sku, units: t.units * factor, parcelsPerUnit: t.parcels / t.units });
    }
    const kgPerParcel = new Map([...this.kg].map(([p, k]) => [p, k.kg / k.parcels]));
    return { day, classes, kgPerParcel, ordersSeen: this.orders, factor };
  }
}
