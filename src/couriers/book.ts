import type { Courier, LaneRate } from '../domain/network.js';
import type { NetworkContext } from '../network/context.js';
import { storeKeys } from '../store/keys.js';
import type { Store } from '../store/types.js';

/**
 * Live courier terms shared by every instance through the store: quote books (lane rates pushed
 * by the couriers' APIs, versioned and timestamped) and capacity limits per courier, province
 * and day. The bundled rate cards and daily capacities (data/couriers) are the fallback.
 */

export interface QuoteRate {
  /** Origin province code, or "*". */
  from: string;
  /** Destination province code, or "*". */
  to: string;
  /** CNY per parcel. */
  baseCny: number;
  /** CNY per kg. */
  perKgCny: number;
  /** Hours from handover to delivery. */
  transitHours: number;
  /** Days from the pickup day to the delivery day (src/domain/waves.ts); absent: ⌈transitHours / 24⌉. */
  transitDays?: number;
  /** End of the delivery window, local "HH:MM"; absent: 18:00. */
  deliverByLocal?: string;
}

export interface QuoteBook {
  courierId: string;
  /** 1, 2, …: every PUT is a new version. */
  version: number;
  /** Epoch ms. */
  updatedAt: number;
  rates: QuoteRate[];
}

export interface CapacityLimit {
  courierId: string;
  provinceCode: string;
  /** Local day, YYYY-MM-DD. */
  day: string;
  /** Parcels the courier takes for this province and day; null = no parcel limit. */
  parcels: number | null;
  /** Kilograms; null = no weight limit. */
  kg: number | null;
  /** Epoch ms. */
  updatedAt: number;
}

/** What a decision uses: the rate per lane and where it came from. */
export interface LaneTerms {
  rate: LaneRate;
  /** The quote book's version, null when the bundled rate card answered. */
  quoteVersion: number | null;
  /** Epoch ms of the quote, null for the rate card. */
  quotedAt: number | null;
}


/** The specificity of a rate for a lane: exact > from-only > to-only > any; 0 = does not apply. */
function score(r: { from: string; to: string }, from: string, to: string): number {
  if (r.from === from && r.to === to) return 4;
  if (r.from === from && r.to === '*') return 3;
  if (r.from === '*' && r.to === to) return 2;
  if (r.from === '*' && r.to === '*') return 1;
  return 0;
}

export class CourierBook {
  constructor(
    private readonly net: NetworkContext,
    private readonly store: Store,
    private readonly clock: () => number,
  ) {}

  async putQuotes(courierId: string, rates: QuoteRate[]): Promise<QuoteBook> {
    const version = await this.store.kvIncr(storeKeys.quotesVersion(courierId));
    const book: QuoteBook = { courierId, version, updatedAt: this.clock(), rates };
    await this.store.kvSet(storeKeys.quotes(courierId), book);
    return book;
  }

  getQuotes(courierId: string): Promise<QuoteBook | null> {
    return this.store.kvGet<QuoteBook>(storeKeys.quotes(courierId));
  }

  /** Every courier's current quote book (absent when none was pushed). */
  async quotes(): Promise<Map<string, QuoteBook>> {
    const books = await Promise.all(this.net.couriers.map((c) => this.getQuotes(c.id)));
    return new Map(books.filter((b): b is QuoteBook => b !== null).map((b) => [b.courierId, b]));
  }

  /** The rate for a lane: the courier's quote book when it covers the lane, else the bundled card. */
  terms(books: Map<string, QuoteBook>, courier: Courier, fromProvince: string, toProvince: string): LaneTerms | null {
    const book = books.get(courier.id);
    if (book) {
      let best: QuoteRate | null = null;
      for (const r of book.rates) if (score(r, fromProvince, toProvince) > 0 && (!best || score(r, fromProvince, toProvince) > score(best, fromProvince, toProvince))) best = r;
      if (best) return { rate: { ...best }, quoteVersion: book.version, quotedAt: book.updatedAt };
    }
    const rate = this.net.laneRate(courier, fromProvince, toProvince);
    return rate ? { rate, quoteVersion: null, quotedAt: null } : null;
  }

  async setCapacity(courierId: string, provinceCode: string, day: string, parcels: number | null, kg: number | null): Promise<CapacityLimit> {
    const limit: CapacityLimit = { courierId, provinceCode, day, parcels, kg, updatedAt: this.clock() };
    await this.store.kvSet(storeKeys.capacityLimit(courierId, provinceCode, day), limit);
    return limit;
  }

  /** Every courier's limits for a province and day: the set limit, else the bundled daily capacity. */
  async limits(provinceCode: string, day: string): Promise<Map<string, { parcels: number | null; kg: number | null }>> {
    const set = await Promise.all(this.net.couriers.map((c) => this.store.kvGet<CapacityLimit>(storeKeys.capacityLimit(c.id, provinceCode, day))));
    return new Map(this.net.couriers.map((c, i) => [c.id, set[i] ? { parcels: set[i]!.parcels, kg: set[i]!.kg } : { parcels: c.dailyParcelsPerRegion, kg: null }]));
  }
}
