import { bbox, booleanPointInPolygon, point, pointToPolygonDistance } from '@turf/turf';
import type { Feature, FeatureCollection, MultiPolygon, Polygon } from 'geojson';
import RBush from 'rbush';
import type { RegionProps } from '../domain/network.js';

type RegionFeature = Feature<Polygon | MultiPolygon, RegionProps>;

interface Entry {
  minX: number;
  minY: number;
  maxX: number;
  maxY: number;
  feature: RegionFeature;
}

/**
 * Destination -> region lookup: an R-tree (rbush) over the regions' bounding boxes narrows the
 * candidates, then turf's point-in-polygon decides. Prefecture polygons are checked before
 * province polygons, so the finest region wins where both exist. The prefecture shapes and the
 * province shapes come from different sources and leave slivers along their common border
 * (data/README.md); a point in such a sliver, or on a coast just outside a simplified shoreline,
 * takes the nearest region within `SNAP_KM`. Farther out (at sea, abroad) there is no region.
 */
export const SNAP_KM = 5;
/**
 * Points whose region is remembered (then the memo starts afresh). Orders go to the same
 * customers' addresses over and over (the chain's 63 stores), and a lookup costs 10-15 µs of
 * point-in-polygon tests against about 1 µs for a remembered point.
 */
const MEMO_MAX = 10_000;
/** SNAP_KM in degrees of latitude, generous for longitude at these latitudes (bbox search only). */
const SNAP_DEG = SNAP_KM / 80;
export class RegionIndex {
  private readonly tree = new RBush<Entry>();
  private readonly byCode = new Map<string, RegionProps>();
  private readonly memo = new Map<string, RegionProps | null>();

  constructor(regions: FeatureCollection<Polygon | MultiPolygon, RegionProps>) {
    const entries: Entry[] = [];
    for (const f of regions.features) {
      const [minX, minY, maxX, maxY] = bbox(f);
      entries.push({ minX: minX!, minY: minY!, maxX: maxX!, maxY: maxY!, feature: f });
      this.byCode.set(f.properties.code, f.properties);
    }
    this.tree.load(entries);
  }

  get size(): number {
    return this.byCode.size;
  }

  /** The region containing the point, or null when none does (at sea, abroad). */
  lookup(lon: number, lat: number): RegionProps | null {
    const key = `${lon},${lat}`;
    let found = this.memo.get(key);
    if (found === undefined) {
      if (this.memo.size >= MEMO_MAX) this.memo.clear();
      found = this.find(lon, lat);
      this.memo.set(key, found);
    }
    return found;
  }

  private find(lon: number, lat: number): RegionProps | null {
    const hits = this.tree.search({ minX: lon, minY: lat, maxX: lon, maxY: lat });
    const pt = point([lon, lat]);
    hits.sort((a, b) => rank(a.feature.properties) - rank(b.feature.properties));
    for (const h of hits) if (booleanPointInPolygon(pt, h.feature)) return h.feature.properties;
    return this.nearest(lon, lat);
  }

  private nearest(lon: number, lat: number): RegionProps | null {
    const near = this.tree.search({ minX: lon - SNAP_DEG, minY: lat - SNAP_DEG, maxX: lon + SNAP_DEG, maxY: lat + SNAP_DEG });
    const pt = point([lon, lat]);
    let best: { km: number; props: RegionProps } | null = null;
    for (const h of near) {
      const km = pointToPolygonDistance(pt, h.feature, { units: 'kilometers' });
      if (km <= SNAP_KM && (!best || km < best.km)) best = { km, props: h.feature.properties };
    }
    return best?.props ?? null;
  }

  /** Every province code of the regions, sorted (the re-optimisation job reads the shipment index per province). */
  provinceCodes(): string[] {
    return [...new Set([...this.byCode.values()].map((r) => r.provinceCode))].sort();
  }

  get(code: string): RegionProps | undefined {
    return this.byCode.get(code);
  }
}

function rank(p: RegionProps): number {
  return p.level === 'prefecture' ? 0 : 1;
}
