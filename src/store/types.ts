/**
 * The state-store interface. Two implementations share one test suite (tests/store.test.ts):
 * the embedded in-memory store (the default) and, later, Redis. Every method is async so that a
 * networked store fits the same shape.
 *
 * Stock per (warehouse, SKU): onHand = free + reserved. A reservation holds a whole plan: stock
 * items in one or more warehouses and capacity counters (warehouse parcels per day, courier
 * parcels per region and day). It is taken all or nothing, then committed (the stock leaves on
 * hand when it ships) or released (stock and capacity return).
 */

export interface StockLevel {
  warehouseId: string;
  sku: string;
  /** Units physically in the warehouse. */
  onHand: number;
  /** Units available to new orders: onHand - reserved. */
  free: number;
  /** Units held by open reservations. */
  reserved: number;
}

export interface ReservationItem {
  warehouseId: string;
  sku: string;
  /** Units, > 0. */
  qty: number;
}

/** A capacity counter use: `amount` more on `key`, allowed only while the total stays <= `limit`. */
export interface CounterUse {
  key: string;
  amount: number;
  limit: number;
}

export interface ReservationRequest {
  /** Reservation id; the orderId. */
  id: string;
  items: ReservationItem[];
  counters: CounterUse[];
}

export type ReserveResult =
  | { ok: true }
  | {
      ok: false;
      shortages: { warehouseId: string; sku: string; requested: number; free: number }[];
      counters: { key: string; requested: number; used: number; limit: number }[];
    };

export type ReservationState = 'held' | 'committed' | 'released';

export interface StoredDecision<D = unknown> {
  orderId: string;
  /** Hash of the canonical request body, to tell a retry from a different order reusing the id. */
  requestHash: string;
  decision: D;
  /** Reservation state; null when nothing was reserved (fully backordered). */
  reservation: ReservationState | null;
  cancelled: boolean;
}

export interface Store {
  readonly kind: 'memory' | 'redis';
  /** Stock levels, optionally filtered; sorted by warehouse then SKU. */
  stock(filter?: { warehouseId?: string; sku?: string }): Promise<StockLevel[]>;
  /** Free units per warehouse for the given SKUs (a snapshot for candidate generation). */
  freeStock(skus: readonly string[]): Promise<Map<string, Map<string, number>>>;
  /** Sets on-hand quantities, all or nothing; rejects any item whose onHand < reserved. */
  setOnHand(items: { warehouseId: string; sku: string; onHand: number }[]): Promise<
    { ok: true } | { ok: false; rejected: { warehouseId: string; sku: string; onHand: number; reserved: number }[] }
  >;
  /**
   * Adds `delta` units to on hand (a receipt, or a count adjustment), atomically; refused when the
   * result would fall below what is reserved (or below zero).
   */
  adjustOnHand(warehouseId: string, sku: string, delta: number): Promise<{ ok: true; onHand: number } | { ok: false; onHand: number; reserved: number }>;
  /** Records an event id; true the first time, false when it was seen before (idempotent events). */
  markEvent(eventId: string): Promise<boolean>;
  /** Current values of capacity counters (0 when unset). */
  counters(keys: readonly string[]): Promise<Map<string, number>>;
  /** Takes the whole reservation or nothing. A second reserve with the same id throws ReservationExistsError. */
  reserve(req: ReservationRequest): Promise<ReserveResult>;
  /** Returns held stock and capacity; false when the reservation is not held. */
  release(id: string): Promise<boolean>;
  /** The reserved stock ships: it leaves on hand and reserved; false when not held. */
  commit(id: string): Promise<boolean>;
  getDecision<D>(orderId: string): Promise<StoredDecision<D> | null>;
  /** Stores the decision unless one exists for the orderId; returns the one stored. */
  putDecisionIfAbsent<D>(d: StoredDecision<D>): Promise<StoredDecision<D>>;
  /** Marks a stored decision cancelled (after its reservation was released). */
  markCancelled(orderId: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * Thrown by `reserve` when a reservation with the same id already exists: another attempt (this
 * process or another instance) owns the order, and its decision is the one to return.
 */
export class ReservationExistsError extends Error {
  override name = 'ReservationExistsError';
  constructor(readonly id: string) {
    super(`reservation ${id} already exists`);
  }
}
