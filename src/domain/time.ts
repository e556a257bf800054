export const HOUR_MS = 3_600_000;
/** One day, ms. */
export const DAY_MS = 24 * HOUR_MS;
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

/** A calendar day YYYY-MM-DD at 00:00 UTC, epoch ms (its local start is this minus the zone's offset). */
export function utcDayMs(day: string): number {
  return Date.parse(`${day}T00:00:00Z`);
}

const ISO_WITH_OFFSET = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(?:[zZ]|([+-])(\d{2}):(\d{2}))$/;

/** Days in a month of the proleptic Gregorian calendar (month 1-12). */
function daysInMonth(year: number, month: number): number {
  return month === 2 ? (year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28) : [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/**
 * Epoch ms of an ISO-8601 time that carries its offset (Z or ±hh:mm); null for anything else,
 * including times that do not exist on the calendar or the clock: 30 February and 24:00 are
 * refused, not rolled over into March or the next day as Date.parse would. Offsets up to ±14:00
 * (the zones that exist), years 1000-9999.
 */
export function parseIsoWithOffset(s: string): number | null {
  const m = ISO_WITH_OFFSET.exec(s);
  if (!m) return null;
  const [year, month, day, hour, minute] = [m[1], m[2], m[3], m[4], m[5]].map(Number) as [number, number, number, number, number];
  const second = m[6] === undefined ? 0 : Number(m[6]);
  if (year < 1000 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null;
  if (hour > 23 || minute > 59 || second > 59) return null;
  if (m[8] !== undefined && (Number(m[9]) > 14 || Number(m[10]) > 59 || (Number(m[9]) === 14 && Number(m[10]) > 0))) return null;
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
