/**
 * The day's demand profile: orders per local hour, relative (a B2B workshop customer base orders
 * while cars are on the lift: a morning peak, a lunch dip, an afternoon peak, tailing off after
 * 18:00; almost nothing at night). The demo stream draws its arrival hours from it
 * (src/demo/orders.ts) and the shadow prices (src/pricing) read from it what share of a day's
 * orders is still to come; the volume itself is never taken from here but from the orders
 * observed so far.
 */
export const HOURLY_ORDER_PROFILE: readonly number[] = [0.3, 0.2, 0.1, 0.1, 0.1, 0.2, 0.5, 2, 6, 9, 10, 9, 5, 7, 9, 9, 8, 6, 4, 3, 1.5, 1, 0.6, 0.4];

const TOTAL = HOURLY_ORDER_PROFILE.reduce((a, b) => a + b, 0);

/** Share (0..1) of a day's orders the profile places before `minuteOfDay` (local minutes since midnight, 0..1440); linear within an hour. */
export function profileShareBefore(minuteOfDay: number): number {
  const m = Math.min(1_440, Math.max(0, minuteOfDay));
  const h = Math.floor(m / 60);
  let acc = 0;
  for (let k = 0; k < h && k < 24; k++) acc += HOURLY_ORDER_PROFILE[k]!;
  if (h < 24) acc += (HOURLY_ORDER_PROFILE[h]! * (m - h * 60)) / 60;
  return acc / TOTAL;
}
