/**
 * The last shadow prices the pricing job computed (src/pricing/job.ts), as the allocator reads
 * them: decision weights in CNY per unit of each scarce resource, for the local day they were
 * computed on. Never money: a decision adds them to its options' and arcs' costs to choose, and
 * reports its money without them (docs/cost-model.md "Shadow prices").
 */
export interface PriceSnapshot {
  /** Local day (YYYY-MM-DD) whose capacity the prices are for; a snapshot of another day is not used. */
  day: string;
  /** When the prices were computed, epoch ms. */
  computedAtMs: number;
  /** Weight per unit of free stock, by warehouse then SKU (relative to the SKU's cheapest warehouse: see job.ts). */
  stock: ReadonlyMap<string, ReadonlyMap<string, number>>;
  /** Weight per outbound parcel of a warehouse today, by warehouse id. */
  outbound: ReadonlyMap<string, number>;
  /** Weight per parcel of a courier to a destination province today, by `${courierId}|${provinceCode}`. */
  courier: ReadonlyMap<string, number>;
}

/** What the allocator needs from the pricing job: a cheap record of each new order and the last snapshot. */
export interface PriceSource {
  /** Counts a new order into the observed demand (cheap: no I/O, no solve). */
  observe(order: { provinceCode: string; lines: readonly { sku: string; qty: number }[] }, nowMs: number): void;
  /** The prices in force at `nowMs` (the last snapshot of today), or undefined: decide without prices. */
  snapshot(nowMs: number): PriceSnapshot | undefined;
}
