import { readFileSync } from 'node:fs';

/**
 * An independent checker of shipped lots, with its own small code (it shares nothing with the
 * allocator's eligibility rule in src/allocate/stages/lots.ts): it reads the catalogue file itself,
 * takes each lot's expiry day from what was received (not from the decision), and for every lot
 * unit a decision ships checks the shelf life left when the shipment arrives (its ETA) against the
 * SKU's minimum, or the customer's override.
 */
export interface ShippedLotCheck {
  /** Lot units checked. */
  units: number;
  /** One line per lot unit group shipped below its minimum, expired, unknown, or not adding up to its line. */
  violations: string[];
}

interface DecisionLike {
  orderId: string;
  shipments: { warehouseId: string; eta: string; lines: { sku: string; qty: number; lots?: { lot: string; fromWarehouseId: string; qty: number }[] }[] }[];
}

export function checkShippedLots(
  decisions: readonly DecisionLike[],
  customers: ReadonlyMap<string, string>,
  received: ReadonlyMap<string, { expiresOn: string }>,
  overrides: ReadonlyMap<string, number> = new Map(),
): ShippedLotCheck {
  const catalogue = JSON.parse(readFileSync(new URL('../../data/catalogue/skus.json', import.meta.url), 'utf8')) as { sku: string; minRemainingShelfLifeDays: number | null }[];
  const minimum = new Map(catalogue.map((s) => [s.sku, s.minRemainingShelfLifeDays]));
  const violations: string[] = [];
  let units = 0;
  for (const d of decisions) {
    for (const s of d.shipments) {
      const arrives = Date.parse(s.eta);
      for (const line of s.lines) {
        const min = minimum.get(line.sku);
        if (min === null || min === undefined) continue;
        const need = overrides.get(customers.get(d.orderId) ?? '') ?? min;
        const lots = line.lots ?? [];
        if (lots.reduce((n, l) => n + l.qty, 0) !== line.qty) violations.push(`${d.orderId} ${line.sku}: lots do not add up to ${line.qty}`);
        for (const l of lots) {
          units += l.qty;
          const lot = received.get(`${l.fromWarehouseId}/${line.sku}/${l.lot}`);
          if (lot === undefined) {
            violations.push(`${d.orderId} ${line.sku}: lot ${l.lot} at ${l.fromWarehouseId} was never received`);
            continue;
          }
          // The lot expires at the start of its expiry day, China Standard Time.
          const daysLeft = (Date.parse(`${lot.expiresOn}T00:00:00+08:00`) - arrives) / 86_400_000;
          if (daysLeft < need) violations.push(`${d.orderId} ${line.sku}: lot ${l.lot} arrives ${s.eta} with ${daysLeft.toFixed(2)} days left, below ${need}`);
        }
      }
    }
  }
  return { units, violations };
}
