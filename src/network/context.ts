import type { FeatureCollection, MultiPolygon, Polygon } from 'geojson';
import type { Config } from '../config.js';
import type { Courier, LaneRate, LineHaul, Network, RegionProps, Sku, Warehouse } from '../domain/network.js';
import { RoadDistance } from '../geo/distance.js';
import { RegionIndex } from '../geo/regions.js';
import { loadNetwork, loadRegions } from './load.js';

/**
 * The loaded network with its lookups built once at start-up, so the allocation hot path does
 * map lookups only.
 */
export class NetworkContext {
  readonly warehouses: Warehouse[];
  readonly warehouseById: Map<string, Warehouse>;
  readonly skuByCode: Map<string, Sku>;
  readonly couriers: Courier[];
  readonly regions: RegionIndex;
  readonly road: RoadDistance;
  /** Province code of each warehouse. */
  readonly warehouseProvince: Map<string, string>;
  /** Line-haul lanes by origin, then destination warehouse id. */
  private readonly lineHaul = new Map<string, Map<string, LineHaul>>();
  /** Per courier, origin and destination province: the rate that applies (looked up without building keys). */
  private readonly rateCache = new Map<Courier, Map<string, Map<string, LaneRate | null>>>();

  constructor(
    readonly network: Network,
    readonly regionsGeoJson: FeatureCollection<Polygon | MultiPolygon, RegionProps>,
    config: Pick<Config, 'detourFactor'>,
  ) {
    this.warehouses = network.warehouses;
    this.warehouseById = new Map(network.warehouses.map((w) => [w.id, w]));
    this.skuByCode = new Map(network.skus.map((s) => [s.sku, s]));
    this.couriers = network.couriers;
    this.regions = new RegionIndex(regionsGeoJson);
    this.road = new RoadDistance(config.detourFactor, network.corridors);
    this.warehouseProvince = new Map(
      network.warehouses.map((w) => [w.id, this.regions.get(w.regionCode)?.provinceCode ?? `${w.regionCode.slice(0, 2)}0000`]),
    );
    for (const l of network.lineHauls) {
      let byTo = this.lineHaul.get(l.from);
      if (!byTo) this.lineHaul.set(l.from, (byTo = new Map()));
      byTo.set(l.to, l);
    }
  }

  /** The line-haul lane from one warehouse to another, if one runs. */
  lineHaulLane(from: string, to: string): LineHaul | undefined {
    return this.lineHaul.get(from)?.get(to);
  }

  /**
   * A courier's rate for a lane: the most specific row wins (exact/exact, exact/*, * /exact, * /*).
   * Null when the courier has no rate for the lane (it does not serve it).
   */
  laneRate(courier: Courier, fromProvince: string, toProvince: string): LaneRate | null {
    let byFrom = this.rateCache.get(courier);
    if (byFrom === undefined) this.rateCache.set(courier, (byFrom = new Map()));
    let byTo = byFrom.get(fromProvince);
    if (byTo === undefined) byFrom.set(fromProvince, (byTo = new Map()));
    const cached = byTo.get(toProvince);
    if (cached !== undefined) return cached;
    const score = (r: LaneRate): number =>
      r.from === fromProvince && r.to === toProvince ? 4 : r.from === fromProvince && r.to === '*' ? 3 : r.from === '*' && r.to === toProvince ? 2 : r.from === '*' && r.to === '*' ? 1 : 0;
    let best: LaneRate | null = null;
    for (const r of courier.rates) if (score(r) > 0 && (!best || score(r) > score(best))) best = r;
    byTo.set(toProvince, best);
    return best;
  }
}

/** The network of config.dataDir (the bundled data/ when empty), with its lookups built. */
export function loadNetworkContext(config: Pick<Config, 'dataDir' | 'detourFactor'>): NetworkContext {
  const dir = config.dataDir === '' ? undefined : config.dataDir;
  return new NetworkContext(loadNetwork(dir), loadRegions(dir), config);
}
