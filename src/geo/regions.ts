import { bbox, booleanPointInPolygon, point } from '@turf/turf';
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
 * province polygons, so the finest region wins where both exist.
 */
export class RegionIndex {
  private readonly tree = new RBush<Entry>();
  private readonly byCode = new Map<string, RegionProps>();

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
    const hits = this.tree.search({ minX: lon, minY: lat, maxX: lon, maxY: lat });
    if (hits.length === 0) return null;
    const pt = point([lon, lat]);
    hits.sort((a, b) => rank(a.feature.properties) - rank(b.feature.properties));
    for (const h of hits) if (booleanPointInPolygon(pt, h.feature)) return h.feature.properties;
    return null;
  }

  get(code: string): RegionProps | undefined {
    return this.byCode.get(code);
  }
}

function rank(p: RegionProps): number {
  return p.level === 'prefecture' ? 0 : 1;
}
