import type { Config } from '../config.js';

/**
 * How long a list that belongs to orders (a day's shipment index, an order's reroutes) is kept
 * after its last push, ms: as long as any of its orders can be (a reservation lasts
 * RESERVATION_TTL_MINUTES at most, then the order is kept ORDER_RETENTION_DAYS).
 */
export function orderListTtlMs(cfg: Pick<Config, 'reservationTtlMinutes' | 'orderRetentionDays'>): number {
  return cfg.reservationTtlMinutes * 60_000 + cfg.orderRetentionDays * 86_400_000;
}
