import { createHash } from 'node:crypto';

/** A waybill-like tracking number: the courier's prefix and 12 digits from the order, shipment and revision. */
export function trackingNumber(courierId: string, orderId: string, shipment: number, revision: number): string {
  const digits = BigInt(`0x${createHash('sha256').update(`${orderId}|${shipment}|${courierId}|${revision}`).digest('hex').slice(0, 15)}`) % 10n ** 12n;
  return `${courierId}${digits.toString().padStart(12, '0')}`;
}
