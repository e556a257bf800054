/**
 * Builds data/network/linehaul.json: the truck lanes used to transfer stock between warehouses.
 *
 *   npx tsx data/scripts/build-linehaul.ts        (reads warehouses.json and geo/corridors.json)
 *
 * Lanes: every pair of regional warehouses within MAX_REGIONAL_ROAD_KM road km (both directions;
 * further apart, a transfer plus a parcel is never better than a direct parcel within the
 * promise), and one lane from the national warehouse to every regional one (the nightly trunk).
 *
 * Road km = great-circle km × detour factor: 1.3 by default (design §5), or the corridor's factor
 * when the two warehouses' regions form a corridor in geo/corridors.json, so that the line-haul
 * table and the road-km estimate agree. Price per kg grows with distance (part-load "零担" tariffs
 * run ≈ 0.15 CNY/kg locally to ≈ 0.6 CNY/kg across 1,500 km): 0.15 + 0.0003 × km, capped at 0.6.
 * Hours = driving at 60 km/h average (trucks, incl. toll stations and city access) + waiting for
 * the next departure wave: regional shuttles leave twice a day (mean wait 6 h), the national
 * trunk once a night (mean wait 12 h).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as turf from '@turf/turf';
import type { Corridor, LineHaul, Warehouse } from '../../src/domain/network.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dataDir = join(repoRoot, 'data');

const DEFAULT_DETOUR = 1.3;
const MAX_REGIONAL_ROAD_KM = 450;
const TRUCK_KMH = 60;
const REGIONAL_WAVE_WAIT_H = 6;
const NATIONAL_WAVE_WAIT_H = 12;
const perKgCny = (km: number): number => Math.round(Math.min(0.6, 0.15 + 0.0003 * km) * 100) / 100;

const warehouses = JSON.parse(readFileSync(join(dataDir, 'network', 'warehouses.json'), 'utf8')) as Warehouse[];
const corridors = JSON.parse(readFileSync(join(dataDir, 'geo', 'corridors.json'), 'utf8')) as Corridor[];
const corridorFactor = (a: string, b: string): number =>
  corridors.find((c) => (c.a === a && c.b === b) || (c.a === b && c.b === a))?.detourFactor ?? DEFAULT_DETOUR;

function lane(from: Warehouse, to: Warehouse, waitH: number): LineHaul {
  const gc = turf.distance([from.lon, from.lat], [to.lon, to.lat], { units: 'kilometers' });
  const km = Math.round(gc * corridorFactor(from.regionCode, to.regionCode));
  // Half-hour resolution: wave timetables are not more precise than that.
  const hours = Math.round((km / TRUCK_KMH + waitH) * 2) / 2;
  return { from: from.id, to: to.id, km, perKgCny: perKgCny(km), hours };
}

const regional = warehouses.filter((w) => w.kind === 'regional');
const lanes: LineHaul[] = [];
for (const a of regional) {
  for (const b of regional) {
    if (a === b) continue;
    const l = lane(a, b, REGIONAL_WAVE_WAIT_H);
    if (l.km <= MAX_REGIONAL_ROAD_KM) lanes.push(l);
  }
}
for (const n of warehouses.filter((w) => w.kind === 'national')) {
  for (const r of regional) lanes.push(lane(n, r, NATIONAL_WAVE_WAIT_H));
}
const order = new Map(warehouses.map((w, i) => [w.id, i]));
lanes.sort((x, y) => order.get(x.from)! - order.get(y.from)! || order.get(x.to)! - order.get(y.to)!);
writeFileSync(join(dataDir, 'network', 'linehaul.json'), `[\n${lanes.map((l) => `  ${JSON.stringify(l)}`).join(',\n')}\n]\n`);
console.log(`wrote data/network/linehaul.json: ${lanes.length} lanes`);
