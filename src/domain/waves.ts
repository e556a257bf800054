import type { LaneRate, Warehouse } from './network.js';
import { DAY_MS, HOUR_MS, OPEN_LOCAL_MINUTES, parseLocalTime } from './time.js';

/**
 * The world's clock for parcels (issue 16, data/README.md "Waves and lanes"): how a warehouse
 * releases, picks and hands parcels to couriers in collection waves, and how a courier's lane,
 * sold in days, turns a collection into a delivery. Pure functions of epoch ms and the network's
 * data; the service's candidate generation (the ETA a decision promises) and the replay's
 * delivery simulator both use them, so a decision's ETA and the simulated world agree.
 *
 *   release   = the moment stock is at the warehouse (now, or after a line haul), if that is
 *               between 08:00 and the warehouse's cut-off; 08:00 that day if earlier; 08:00 the
 *               next day if later (picked next morning);
 *   ready     = release + processingHours (pick and pack);
 *   pickup    = the first of the warehouse's collection waves at or after ready (the next day's
 *               first wave when the day's last one has gone);
 *   delivery  = the lane's delivery window end (deliverByLocal) on the local day pickup + transitDays.
 */

const MINUTE_MS = 60_000;

/** Collection waves of a warehouse that lists none: a midday and an evening wave (data/README.md). */
export const DEFAULT_PICKUP_WAVES: readonly string[] = ['12:00', '20:30'];
/** End of a lane's delivery window when the lane names none: couriers' last B2B run (data/README.md). */
export const DEFAULT_DELIVER_BY = '18:00';

export type WaveSite = Pick<Warehouse, 'cutoffLocal' | 'processingHours'> & { pickupWavesLocal?: readonly string[] | undefined };
export type SoldLane = Pick<LaneRate, 'transitHours'> & { transitDays?: number | undefined; deliverByLocal?: string | undefined };

/** Start of the local day of `localMs` (an instant already shifted into the zone). */
const dayStartOf = (localMs: number) => Math.floor(localMs / DAY_MS) * DAY_MS;

/** The warehouse's collection waves in minutes after local midnight, sorted. */
const waveCache = new WeakMap<readonly string[], number[]>();
function waveMinutes(w: WaveSite): number[] {
  const list = w.pickupWavesLocal && w.pickupWavesLocal.length > 0 ? w.pickupWavesLocal : DEFAULT_PICKUP_WAVES;
  let out = waveCache.get(list);
  if (out === undefined) {
    out = list.map(parseLocalTime).sort((a, b) => a - b);
    waveCache.set(list, out);
  }
  return out;
}

/**
 * When the parcel is packed and waiting for a courier, epoch ms: stock at the warehouse at
 * `availableMs`, released at once before the cut-off (no earlier than 08:00 local), else at
 * 08:00 the next day; then processingHours.
 */
export function readyMs(availableMs: number, w: WaveSite, tzMinutes: number): number {
  const tzMs = tzMinutes * MINUTE_MS;
  const local = availableMs + tzMs;
  const dayStart = dayStartOf(local);
  const minuteOfDay = (local - dayStart) / MINUTE_MS;
  let release = local;
  if (minuteOfDay < OPEN_LOCAL_MINUTES) release = dayStart + OPEN_LOCAL_MINUTES * MINUTE_MS;
  else if (minuteOfDay > parseLocalTime(w.cutoffLocal)) release = dayStart + DAY_MS + OPEN_LOCAL_MINUTES * MINUTE_MS;
  return release - tzMs + w.processingHours * HOUR_MS;
}

/** The first collection wave at or after `fromMs`, epoch ms. */
export function waveAtOrAfter(fromMs: number, w: WaveSite, tzMinutes: number): number {
  const tzMs = tzMinutes * MINUTE_MS;
  const local = fromMs + tzMs;
  const dayStart = dayStartOf(local);
  const waves = waveMinutes(w);
  for (let d = 0; d < 2; d++) {
    for (const m of waves) {
      const t = dayStart + d * DAY_MS + m * MINUTE_MS;
      if (t >= local) return t - tzMs;
    }
  }
  /* c8 ignore next */
  throw new Error('no collection wave within two days');
}

/** The wave after the one at `waveMs` (the next one that day, else the next day's first). */
export function nextWave(waveMs: number, w: WaveSite, tzMinutes: number): number {
  return waveAtOrAfter(waveMs + MINUTE_MS, w, tzMinutes);
}

/** When a courier collects the parcel: the first wave after it is ready (stock there `leadHours` from now). */
export function pickupMs(nowMs: number, w: WaveSite, leadHours: number, tzMinutes: number): number {
  return waveAtOrAfter(readyMs(nowMs + leadHours * HOUR_MS, w, tzMinutes), w, tzMinutes);
}

/**
 * Days of a lane as the courier sells it: `transitDays` when the lane gives it, else the nominal
 * hours read as days ("24 h" = next day, "36 h"/"48 h" = the day after: ⌈hours / 24⌉).
 */
export function laneDays(lane: SoldLane): number {
  return lane.transitDays ?? Math.max(0, Math.ceil(lane.transitHours / 24 - 1e-9));
}

/**
 * When a parcel collected at `pickupAtMs` is delivered, epoch ms: the end of the lane's delivery
 * window on the local day pickup + transitDays (a window that would close before the pickup, as
 * a same-day lane collected after its window, moves to the next day).
 */
export function deliveryMs(pickupAtMs: number, lane: SoldLane, tzMinutes: number, extraDays = 0): number {
  const tzMs = tzMinutes * MINUTE_MS;
  const local = pickupAtMs + tzMs;
  const by = parseLocalTime(lane.deliverByLocal ?? DEFAULT_DELIVER_BY);
  let t = dayStartOf(local) + (laneDays(lane) + extraDays) * DAY_MS + by * MINUTE_MS;
  while (t <= local) t += DAY_MS;
  return t - tzMs;
}
