import { distance } from '@turf/turf';
import type { Corridor } from '../domain/network.js';

export interface LonLat {
  lon: number;
  lat: number;
}

/** Great-circle distance, km (turf's haversine on the WGS84 mean radius). */
export function greatCircleKm(a: LonLat, b: LonLat): number {
  // turf takes bare [lon, lat] positions as well as Point features: no feature objects per call.
  return distance([a.lon, a.lat], [b.lon, b.lat], { units: 'kilometers' });
}

/**
 * Road-km estimate: great-circle km x a detour factor, with per-corridor overrides between two
 * regions (Hangzhou Bay bridge, Yangtze crossings, islands). One function, so that a routing
 * engine can replace it later without touching callers.
 */
export class RoadDistance {
  /** Per region code, the corridor factors to other regions (both directions stored). */
  private readonly overrides = new Map<string, Map<string, number>>();

  constructor(
    private readonly defaultDetour: number,
    corridors: Corridor[],
  ) {
    const put = (a: string, b: string, f: number) => {
      let to = this.overrides.get(a);
      if (to === undefined) this.overrides.set(a, (to = new Map()));
      to.set(b, f);
    };
    for (const c of corridors) {
      put(c.a, c.b, c.detourFactor);
      put(c.b, c.a, c.detourFactor);
    }
  }

  /** Detour factor between two regions (by region code). */
  detour(regionA: string, regionB: string): number {
    return this.overrides.get(regionA)?.get(regionB) ?? this.defaultDetour;
  }

  /** Road km between two points lying in the given regions. */
  roadKm(a: LonLat, regionA: string, b: LonLat, regionB: string): number {
    return greatCircleKm(a, b) * this.detour(regionA, regionB);
  }
}

/** The service-radius test: is the destination within `radiusKm` road km? */
export function withinRadius(roadKm: number, radiusKm: number): boolean {
  return roadKm <= radiusKm;
}
