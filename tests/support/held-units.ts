import type { Decision } from '../../src/domain/schemas.js';
import type { Store } from '../../src/store/types.js';

/**
 * Issue 19's outage check: reserved units per SKU, network-wide, against the units of the orders
 * whose stored decision holds a reservation. After an outage and the recovery pass the two must be
 * equal exactly (nothing reserved that no order holds).
 */
export async function heldUnitsCheck(store: Store, orderIds: Iterable<string>): Promise<{ reserved: Record<string, number>; held: Record<string, number>; heldOrders: number }> {
  const reserved: Record<string, number> = {};
  for (const row of await store.stock()) if (row.reserved > 0) reserved[row.sku] = (reserved[row.sku] ?? 0) + row.reserved;
  const held: Record<string, number> = {};
  let heldOrders = 0;
  for (const id of new Set(orderIds)) {
    const d = await store.getDecision<Decision>(id);
    if (d?.reservation !== 'held') continue;
    heldOrders++;
    for (const sh of d.decision.shipments) for (const l of sh.lines) held[l.sku] = (held[l.sku] ?? 0) + l.qty;
  }
  return { reserved, held, heldOrders };
}
