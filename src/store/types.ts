/**
 * The state-store interface. Two implementations share one test suite (tests/store/store.cases.ts):
 * the embedded in-memory store (the default) and Redis (one node or a Cluster). Every method is
 * async so that a networked store fits the same shape.
 *
 * Stock per (warehouse, SKU), at every moment: onHand = free + reserved + locked, all >= 0.
 *   - reserved: held by open reservations (an order's plan, until it ships, is cancelled or expires);
 *   - locked:   held by customer stock locks (a key account's units, until used, released or expired);
 *   - free:     what any order may take. A lock's owner may also take its own locked units.
 * A reservation holds a whole plan: stock items in one or more warehouses and capacity counters
 * (warehouse parcels per day, courier parcels per region and day). It is taken all or nothing,
 * then committed (the stock leaves on hand when it ships), released (stock and capacity return),
 * or it expires by itself at `expiresAt`. Locks expire by themselves too. Expiry is applied by
 * whichever operation next touches the warehouse, inside that operation's atomic step, so there is
 * no sweeper and no race between instances.
 *
 * Times are epoch milliseconds from the store's clock (injected, so that tests and replays control it).
 */

export interface StockLevel {
  warehouseId: string;
  sku: string;
  /** Units physically in the warehouse. */
  onHand: number;
  /** Units available to any new order: onHand - reserved - locked. */
  free: number;
  /** Units held by open reservations. */
  reserved: number;
  /** Units held by active customer locks (not yet consumed by their owner's orders). */
  locked: number;
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
  /** The ordering customer: its own active locks on a cell are consumed before free stock. */
  customerId?: string;
  items: ReservationItem[];
  counters: CounterUse[];
  /** How long the reservation holds unless committed or released first, ms (> 0). */
  ttlMs: number;
}

export type ReserveResult =
  | {
      ok: true;
      /** This attempt's token: pass it to putDecisionIfAbsent, which binds the decision to the reservation. */
      attempt: string;
    }
  | {
      ok: false;
      shortages: { warehouseId: string; sku: string; requested: number; free: number }[];
      counters: { key: string; requested: number; used: number; limit: number }[];
    };

export type ReservationState = 'held' | 'committed' | 'released' | 'expired';

export interface StoredDecision<D = unknown> {
  orderId: string;
  /** Hash of the canonical request body, to tell a retry from a different order reusing the id. */
  requestHash: string;
  decision: D;
  /** Reservation state; null when nothing was reserved (fully backordered). */
  reservation: ReservationState | null;
  /** When an unshipped reservation expires by itself, epoch ms; null without a reservation. */
  expiresAt: number | null;
  cancelled: boolean;
  /** The order's promised delivery time, epoch ms (for the on-time KPI). */
  promisedByMs?: number;
}

/** A WMS scan as stored for an order (see src/tracking/status.ts). */
export interface StoredScan {
  code: string;
  /** Operation time, epoch ms. */
  at: number;
  warehouseId?: string;
  location?: string;
}

export type LockState = 'active' | 'expired' | 'released';

/** A customer stock lock: units of one SKU in one warehouse kept for one customer until expiresAt. */
export interface StockLock {
  id: string;
  customerId: string;
  warehouseId: string;
  sku: string;
  /** Units locked at creation. */
  qty: number;
  /** Units still locked for the owner (qty minus what the owner's orders hold or shipped). */
  remaining: number;
  state: LockState;
  /** Epoch ms. */
  createdAt: number;
  /** Epoch ms: the remaining units return to free stock by themselves at this time. */
  expiresAt: number;
}

export interface LockRequest {
  id: string;
  customerId: string;
  warehouseId: string;
  sku: string;
  qty: number;
  expiresAt: number;
}

export type CommitResult = 'committed' | 'not-held' | 'expired';

export interface Store {
  readonly kind: 'memory' | 'redis';
  /** Stock levels, optionally filtered; sorted by warehouse then SKU. */
  stock(filter?: { warehouseId?: string; sku?: string }): Promise<StockLevel[]>;
  /**
   * Units per warehouse the given customer may take for the given SKUs: free stock plus the
   * customer's own active locks (a snapshot for candidate generation). Zero entries are left out.
   */
  freeStock(skus: readonly string[], customerId?: string): Promise<Map<string, Map<string, number>>>;
  /** Sets on-hand quantities, all or nothing; rejects any item whose onHand < reserved + locked. */
  setOnHand(items: { warehouseId: string; sku: string; onHand: number }[]): Promise<
    { ok: true } | { ok: false; rejected: { warehouseId: string; sku: string; onHand: number; reserved: number; locked: number }[] }
  >;
  /**
   * Adds `delta` units to on hand (a receipt, or a count adjustment), atomically; refused when the
   * result would fall below what is reserved and locked (or below zero).
   */
  adjustOnHand(
    warehouseId: string,
    sku: string,
    delta: number,
  ): Promise<{ ok: true; onHand: number } | { ok: false; onHand: number; reserved: number; locked: number }>;
  /** Records an event id; true the first time, false when it was seen before (idempotent events). */
  markEvent(eventId: string): Promise<boolean>;
  /** Current values of capacity counters (0 when unset). */
  counters(keys: readonly string[]): Promise<Map<string, number>>;
  /**
   * Takes the whole reservation or nothing. A second reserve with the same id throws
   * ReservationExistsError, unless the first attempt was abandoned (no decision stored within the
   * store's claim timeout), in which case its parts are returned and this attempt takes over.
   */
  reserve(req: ReservationRequest): Promise<ReserveResult>;
  /** Returns held stock and capacity; false when the reservation is not held. */
  release(id: string): Promise<boolean>;
  /** The reserved stock ships: it leaves on hand and reserved. Refused once the reservation expired. */
  commit(id: string): Promise<CommitResult>;
  getDecision<D>(orderId: string): Promise<StoredDecision<D> | null>;
  /**
   * Stores the decision unless one exists for the orderId; returns the one stored. `attempt` (from
   * reserve) binds it to this attempt's reservation: when another decision won, this attempt's
   * reservation is returned; when the attempt was taken over, ReservationLostError is thrown.
   * The store takes ownership of `d.decision`: the caller must not change it afterwards.
   */
  putDecisionIfAbsent<D>(d: StoredDecision<D>, attempt?: string): Promise<StoredDecision<D>>;
  /** Marks a stored decision cancelled (after its reservation was released). */
  markCancelled(orderId: string): Promise<void>;
  /** Locks units of free stock for a customer; refused (with the free units) when not enough is free. */
  createLock(req: LockRequest): Promise<{ ok: true; lock: StockLock } | { ok: false; free: number }>;
  getLock(id: string): Promise<StockLock | null>;
  /** Ends an active lock: its remaining units return to free stock. Null when no such lock. */
  releaseLock(id: string): Promise<StockLock | null>;
  /**
   * Adds WMS scans to an order, keyed by `key` (order number + code + operation time): a scan
   * already stored under its key is not added again. Returns how many were new.
   */
  addScans(orderId: string, scans: { key: string; scan: StoredScan }[]): Promise<number>;
  /** Every scan stored for an order, in no particular order. */
  scans(orderId: string): Promise<StoredScan[]>;
  /** Every order id with a stored decision (for KPIs over the stored orders). */
  orderIds(): Promise<string[]>;
  /** A small JSON value shared by every instance (quote books, capacity limits); null when unset. */
  kvGet<T>(key: string): Promise<T | null>;
  kvSet(key: string, value: unknown): Promise<void>;
  /** Adds 1 to an integer and returns the new value (versions). */
  kvIncr(key: string): Promise<number>;
  /** Appends a JSON value to a list (reroutes of an order, shipments of a courier-region-day). */
  listPush(key: string, value: unknown): Promise<void>;
  listAll<T>(key: string): Promise<T[]>;
  /**
   * Moves a held reservation's capacity use from one counter to another (a reroute to another
   * courier), atomically: refused (false) when `to` would exceed its limit, or when the
   * reservation holds no `from` use of that amount. Both counters must live in the same slot
   * (courier counters do).
   */
  moveCounter(orderId: string, from: { key: string; amount: number }, to: { key: string; amount: number; limit: number }): Promise<boolean>;
  /** Throws when the store cannot be reached (readiness). */
  ping(): Promise<void>;
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

/**
 * Thrown by `putDecisionIfAbsent` when this attempt's claim on the order was abandoned and taken
 * over (it took longer than the claim timeout); nothing of this attempt stays reserved.
 */
export class ReservationLostError extends Error {
  override name = 'ReservationLostError';
  constructor(readonly id: string) {
    super(`reservation ${id} was taken over by a later attempt`);
  }
}

/** Options shared by the store implementations. */
export interface StoreOptions {
  /** Epoch-ms clock (default Date.now). */
  clock?: () => number;
  /**
   * An attempt that claimed an order but stored no decision within this time is abandoned (its
   * process died or lost the store), and a retry may take the order over, ms.
   */
  claimTimeoutMs?: number;
}

/** Default claim timeout, ms: far above any healthy reserve path, short enough for ERP retries. */
export const DEFAULT_CLAIM_TIMEOUT_MS = 10_000;
