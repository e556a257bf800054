import type { Warehouse } from '../domain/network.js';

export const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** Warehouses start releasing work at 08:00 local time. */
export const OPEN_LOCAL_MINUTES = 8 * 60;

/** "HH:MM" -> minutes after local midnight. */
const parsedTimes = new Map<string, number>();

export function parseLocalTime(hhmm: string): number {
  const known = parsedTimes.get(hhmm);
  if (known !== undefined) return known;
  const m = /^(\d{2}):(\d{2})$/.exec(hhmm);
  if (!m) throw new Error(`bad local time ${hhmm}`);
  const minutes = Number(m[1]) * 60 + Number(m[2]);
  parsedTimes.set(hhmm, minutes);
  return minutes;
}

/** The local calendar day (YYYY-MM-DD) of an instant, for a zone `tzMinutes` east of UTC. */
export function localDay(ms: number, tzMinutes: number): string {
  return new Date(ms + tzMinutes * 60_000).toISOString().slice(0, 10);
}

/**
 * When a warehouse hands a shipment to the courier, epoch ms: stock available at
 * now + leadHours (line haul), released for processing at once if before the warehouse's
 * cut-off (no earlier than 08:00 local), otherwise at 08:00 the next day; then processingHours.
 */
export function nextReadyMs(nowMs: number, w: Pick<Warehouse, 'cutoffLocal' | 'processingHours'>, leadHours: number, tzMinutes: number): number {
  const tzMs = tzMinutes * 60_000;
  const local = nowMs + leadHours * HOUR_MS + tzMs;
  const dayStart = Math.floor(local / DAY_MS) * DAY_MS;
  const minuteOfDay = (local - dayStart) / 60_000;
  let release = local;
  if (minuteOfDay < OPEN_LOCAL_MINUTES) release = dayStart + OPEN_LOCAL_MINUTES * 60_000;
  else if (minuteOfDay > parseLocalTime(w.cutoffLocal)) release = dayStart + DAY_MS + OPEN_LOCAL_MINUTES * 60_000;
  return release - tzMs + w.processingHours * HOUR_MS;
}

const ISO_WITH_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?([zZ]|[+-]\d{2}:\d{2})$/;

/** Epoch ms of an ISO-8601 time that carries its offset (Z or ±hh:mm); null for anything else. */
export function parseIsoWithOffset(s: string): number | null {
  if (!ISO_WITH_OFFSET.test(s)) return null;
  const ms = Date.parse(s);
  return Number.isFinite(ms) ? ms : null;
}

/** Epoch ms -> ISO-8601 with the zone's offset, seconds precision, e.g. 2026-11-11T16:00:00+08:00. */
export function toIsoWithOffset(ms: number, tzMinutes: number): string {
  const local = new Date(Math.round(ms / 1000) * 1000 + tzMinutes * 60_000).toISOString().slice(0, 19);
  const sign = tzMinutes >= 0 ? '+' : '-';
  const abs = Math.abs(tzMinutes);
  return `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}
