/**
 * The bundled network's shapes, as stored in `data/` and loaded by `src/network/load.ts`.
 * Units are in the field names or comments; coordinates are WGS84 degrees.
 */

export interface Warehouse {
  /** Stable id, e.g. "SH01". */
  id: string;
  name: string;
  /** City name in English, e.g. "Shanghai". */
  city: string;
  /** City name in Chinese, e.g. "上海". */
  cityZh: string;
  /** Province name in English, e.g. "Jiangsu". */
  province: string;
  /** Region code of the warehouse's own location (see Region.code). */
  regionCode: string;
  lon: number;
  lat: number;
  /** Service radius, road km. */
  radiusKm: number;
  /** Pick + pack time from release to courier hand-over, hours. */
  processingHours: number;
  /** Last release time for same-day processing, local time "HH:MM" (China Standard Time, UTC+8). */
  cutoffLocal: string;
  /** Outbound parcels the warehouse can hand to couriers per day, parcels/day. */
  dailyOutboundParcels: number;
  /**
   * Courier collection waves, local times "HH:MM" (src/domain/waves.ts); absent: the default
   * midday and evening waves (DEFAULT_PICKUP_WAVES).
   */
  pickupWavesLocal?: string[];
  /** "regional" for the 17 East-China warehouses, "national" for the large North-China one. */
  kind: 'regional' | 'national';
}

export interface Store {
  id: string;
  name: string;
  city: string;
  regionCode: string;
  lon: number;
  lat: number;
}

export interface Sku {
  /** e.g. "BRK-0001"; core-return items start with "RECY-". */
  sku: string;
  name: string;
  category: string;
  /** kg per unit. */
  unitWeightKg: number;
  /** List price, CNY per unit. */
  priceCny: number;
  /** Gross margin, CNY per unit (price minus purchase cost). */
  grossMarginCny: number;
  /** Shelf life from production, days; null when the part does not expire. */
  shelfLifeDays: number | null;
  /**
   * Least shelf life a unit must have left when it reaches the customer, days (null without a shelf
   * life). Lots that would arrive with less are never offered (src/allocate/stages/lots.ts).
   */
  minRemainingShelfLifeDays: number | null;
}

export interface StockRow {
  warehouseId: string;
  sku: string;
  /** Units on hand. */
  onHand: number;
  /** The lot, for a shelf-life SKU (its stock is kept per lot), with its expiry day (YYYY-MM-DD, local). */
  lot?: string;
  expiresOn?: string;
}

/** One lane price of a courier: from an origin province to a destination province. */
export interface LaneRate {
  /** Origin province code (Region.provinceCode), or "*" for any. */
  from: string;
  /** Destination province code, or "*" for any. The most specific match wins. */
  to: string;
  /** Price per parcel, CNY. Freight = baseCny + perKgCny * parcel weight (linear, so exact in the MIP). */
  baseCny: number;
  /** Price per kg of parcel weight, CNY/kg. */
  perKgCny: number;
  /** Pickup to delivery, hours: the courier's nominal product time ("24 h" = next day). */
  transitHours: number;
  /**
   * Days from the pickup wave's local day to the delivery day, as the lane is sold; absent:
   * ⌈transitHours / 24⌉ (src/domain/waves.ts laneDays).
   */
  transitDays?: number;
  /** End of the delivery window on the delivery day, local "HH:MM"; absent: 18:00. */
  deliverByLocal?: string;
}

export interface Courier {
  /** "STO", "ZTO", "YUNDA", "SF". */
  id: string;
  name: string;
  kind: 'economy' | 'express';
  /** Heaviest parcel the courier accepts, kg. */
  maxParcelKg: number;
  /** Default daily capacity per destination province, parcels/day; null = unlimited. */
  dailyParcelsPerRegion: number | null;
  rates: LaneRate[];
  /**
   * The world's delivery delays (replays only, src/replay/engine.ts): shares of parcels that
   * arrive 0, 1, 2, … days after the lane's delivery day; sums to 1. Absent: never late.
   */
  daysLateShares?: number[];
}

/** A line-haul lane between two warehouses (stock transfer by truck). */
export interface LineHaul {
  from: string;
  to: string;
  /** Road km of the lane. */
  km: number;
  /** Price per kg moved, CNY/kg. */
  perKgCny: number;
  /** Departure to arrival incl. loading at the next wave, hours. */
  hours: number;
}

/** A per-corridor road-km override: a detour factor between two regions (by code). */
export interface Corridor {
  a: string;
  b: string;
  /** Road km = great-circle km * detourFactor on this corridor. */
  detourFactor: number;
  note: string;
}

/** Region feature properties in data/geo/regions.geojson. */
export interface RegionProps {
  /** Prefecture adcode (e.g. "320500") in East China, province code elsewhere (e.g. "110000"). */
  code: string;
  name: string;
  nameZh: string;
  /** Province code, e.g. "320000" for Jiangsu. */
  provinceCode: string;
  level: 'prefecture' | 'province';
  /** 2020 census population, persons (prefectures only; null where not typed in). */
  population: number | null;
}

export interface Network {
  warehouses: Warehouse[];
  stores: Store[];
  skus: Sku[];
  stock: StockRow[];
  couriers: Courier[];
  lineHauls: LineHaul[];
  corridors: Corridor[];
}
