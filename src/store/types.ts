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
  /** The lot, for a shelf-life SKU's stock (absent for SKUs without lots). */
  lot?: string;
  /** The lot's expiry day (YYYY-MM-DD, local), with `lot`. */
  expiresOn?: string;
}

/**
 * One lot's free units, for candidate generation. A lot is its own stock cell (`lotCell` in
 * keys.ts): the invariant onHand = free + reserved + locked holds per lot. Lots take no customer
 * locks: their free units are what every customer may take.
 */
export interface LotFree {
  warehouseId: string;
  sku: string;
  lot: string;
  /** Expiry day, YYYY-MM-DD (local). */
  expiresOn: string;
  /**
   * The expiry day at 00:00 UTC, epoch ms (`utcDayMs(expiresOn)`, src/domain/time.ts): the lot
   * expires at the start of that day in local time, this minus the time-zone offset. The stores
   * compute it once per lot, so that judging a decision's lots reads a number, not a day string.
   */
  expiresOnUtcMs: number;
  free: number;
}

/** A start-up stock row: a (warehouse, SKU) cell, or with `lot` and `expiresOn` one lot of a shelf-life SKU. */
export interface StockSeedRow {
  warehouseId: string;
  sku: string;
  onHand: number;
  lot?: string;
  expiresOn?: string;
}

export interface ReservationItem {
  warehouseId: string;
  /** The stock cell: a SKU, or a lot's cell (`lotCell(sku, lot)`). */
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

/** What getDecision says of an order's reservation, without its decision. */
export type OrderState = Pick<StoredDecision, 'reservation' | 'expiresAt' | 'cancelled'>;

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
  /**
   * When the store drops the order (decision, scans, reroutes, KPI share), epoch ms, as read; null
   * or absent when the store keeps orders forever (no order retention configured). Set when the
   * decision is stored: the reservation's end at the latest plus the order retention.
   */
  retainUntil?: number | null;
}

/**
 * One order's share of the KPIs (src/tracking/kpi.ts decides what it means): `sums` are added up
 * over the stored orders; each of `marks` is a time, and reading the KPIs counts the orders whose
 * mark lies at or before the present (`marksBefore` counts those strictly before). Integers only,
 * so that Redis adds them exactly.
 */
export interface KpiShare {
  sums: Record<string, number>;
  marks: Partial<Record<KpiMark, number>>;
}

/** The time marks of a KPI share (each is one sorted set on Redis). */
export const KPI_MARKS = ['promise', 'staleFrom', 'staleUntil'] as const;
export type KpiMark = (typeof KPI_MARKS)[number];

/** The running KPI counters at one moment: sums, and per mark the orders whose mark is <= now and < now. */
export interface KpiTotals {
  sums: Record<string, number>;
  marksAtOrBefore: Record<KpiMark, number>;
  marksBefore: Record<KpiMark, number>;
}

/** An idempotency record (a lock's Idempotency-Key): what the first request stored, and whether this call stored it. */
export interface IdempotencyClaim<T> {
  created: boolean;
  value: T;
}

/** A WMS scan as stored for an order (see src/domain/scan-states.ts). */
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

/**
 * What a commit (the order shipped) did: committed now; refused because the order holds no
 * reservation (never reserved, already committed or released), because it was cancelled, or
 * because its reservation expired first.
 */
export type CommitResult = 'committed' | 'not-held' | 'expired' | 'cancelled';

/** What cancelling an order did: cancelled (now or before), refused because it shipped, or no such order. */
export type CancelResult = 'cancelled' | 'committed' | 'not-found';

/** One entry of a list (Store.listPush): the list's key, the value, and the list's TTL, ms. */
export interface ListEntry {
  key: string;
  value: unknown;
  ttlMs?: number;
}

/** What one recovery pass found and did (Store.recover). */
export interface RecoveryReport {
  /** Pending-reservation markers past their deadline that were looked at. */
  checked: number;
  /** Abandoned attempts (no decision stored) whose reserved parts were given back. */
  released: number;
  /** Interrupted cancels or commits whose parts were finished. */
  finished: number;
  /** Stored decisions whose indexes (Store.putDecisionIfAbsent's `lists`, the order index) the store interrupted and the pass completed. */
  indexed: number;
}

/** One capacity move of a reroute (Store.moveCounter's arguments), as its intent records it. */
export interface RerouteStep {
  orderId: string;
  from: { key: string; amount: number };
  to: { key: string; amount: number; limit: number };
  /**
   * How many uses of exactly `to` (key and amount) the order's reservation held before the move
   * (Store.heldCounters): the move took effect when it holds more now. Counted rather than looked
   * up, because an order with two shipments may already hold that very use for its other one.
   */
  toHeldBefore: number;
}

/**
 * A reroute of a waybill in progress (src/allocate/reroute.ts), written before its first capacity
 * move and deleted after its last step: the capacity moves of every member, the open-shipment move
 * and the reroute entries to push. The moves are separate store calls (other slots on a Cluster),
 * so if the process dies between them the intent is what lets any instance's recovery finish the
 * reroute or give its capacity back (Rerouter.recover).
 */
export interface RerouteIntent {
  /** Unique per attempt (one per courier tried). */
  id: string;
  /** When the rerouter wrote it, epoch ms (its clock): recovery takes only intents older than REROUTE_RECOVERY_GRACE_MS. */
  createdAt: number;
  /** The master's parcels, then every member's grams, in the order they move. */
  steps: RerouteStep[];
  /** The open-shipment move (Store.openShipmentMove's arguments), when the waybill is an open shipment. */
  open: { group: string; fromTracking: string; patch: OpenShipmentMove; members: string[] } | null;
  /** Every member's reroute entry (pushed to storeKeys.reroutes(orderId) with `listTtlMs`). */
  entries: { orderId: string; reroute: { shipment: number; trackingNumber: string } & Record<string, unknown> }[];
  listTtlMs?: number;
}

/** A new plan for a held reservation (Store.replan): the stock items and capacity counters it holds instead. */
export interface ReplanRequest {
  /** The ordering customer: its own active locks count as available, as in reserve. */
  customerId?: string;
  items: ReservationItem[];
  counters: CounterUse[];
}

/**
 * What a replan did: moved (the reservation holds the new plan now); refused because the order
 * holds no decided reservation any more (shipped, cancelled, expired: never moved after pick-up);
 * refused because the new plan does not fit (what was short, with the order's own use counted
 * as available); or refused because this store cannot change those parts in one atomic step
 * (Redis: a plan that changes more than the courier counters' slot).
 */
export type ReplanResult =
  | { ok: true }
  | { ok: false; why: 'not-held' }
  | { ok: false; why: 'short'; shortages: { warehouseId: string; sku: string; requested: number; free: number }[]; counters: { key: string; requested: number; used: number; limit: number }[] }
  | { ok: false; why: 'unsupported' };

/** Where an outbox entry stands: waiting for (another) attempt, delivered, or dead-lettered after the last attempt. */
export type OutboxState = 'pending' | 'delivered' | 'dead';
export const OUTBOX_STATES = ['pending', 'delivered', 'dead'] as const satisfies readonly OutboxState[];

/**
 * One delivery of the action outbox (src/outbox/): one action to one webhook target. Its id is
 * derived from (target, orderId, code, discriminator), so adding the same action twice adds
 * nothing. Times are epoch ms.
 */
export interface OutboxEntry {
  id: string;
  /** The webhook target's name (WEBHOOKS). */
  target: string;
  orderId: string;
  code: string;
  discriminator: string;
  /** The action as the rules produced it, as JSON text (the store never rewrites it). */
  action: string;
  state: OutboxState;
  /** Attempts made (each one ended: answered, failed or timed out). */
  attempts: number;
  /** Times the entry was replayed through the API (each replay starts its attempts again from 0). */
  replays: number;
  createdAt: number;
  /** A pending entry is not claimed before this time (the backoff). */
  nextAttemptAt: number;
  /** The claim of the instance delivering it now (null when unclaimed), and until when it holds. */
  lease: string | null;
  leaseUntil: number | null;
  lastAttemptAt: number | null;
  /** Why the last attempt failed (null after a success). */
  lastError: string | null;
  deliveredAt: number | null;
}

/** The result of one attempt, recorded by `outboxSettle`. */
export interface OutboxOutcome {
  /** delivered; pending (retry at nextAttemptAt); dead (no attempts left). */
  state: OutboxState;
  nextAttemptAt: number;
  error: string | null;
}

export interface OutboxFilter {
  state?: OutboxState;
  orderId?: string;
  code?: string;
}

/**
 * A shipment not yet picked up, to one customer and one normalised address (issue 21): later
 * orders to the same customer and address may join it (same warehouse, courier, wave and waybill).
 * Its first order is the master; the orders that joined are its children. The record is kept for
 * the order retention (the group view of GET /v1/orders/{id}) but is open only before
 * `pickupAtMs`: from then on it is neither listed as open nor joinable.
 */
export interface OpenShipment {
  /** The waybill every member shares (the master shipment's tracking number); the record's id within its group. */
  trackingNumber: string;
  masterOrderId: string;
  /** Index of the shipment in the master's decision. */
  shipment: number;
  warehouseId: string;
  courierId: string;
  /** Destination province code and the local day (YYYY-MM-DD) whose capacity counters the shipment uses. */
  provinceCode: string;
  shipDay: string;
  /** When the courier collects it, and its ETA, epoch ms. */
  pickupAtMs: number;
  etaMs: number;
  /** Grams in the shipment now (every member's), and the most it may hold in its parcels (null: no parcel weight limit). */
  grams: number;
  maxGrams: number | null;
  /** The master first, then each order that joined, in joining order. */
  members: OpenShipmentMember[];
}

/** Whether a shipment's first order was placed within the interval (ends included); true without one. Shared by the stores' openShipments. */
export function placedWithin(o: OpenShipment, w?: { fromMs: number; toMs: number }): boolean {
  if (w === undefined) return true;
  const at = o.members[0]!.placedAtMs;
  return at >= w.fromMs && at <= w.toMs;
}

export interface OpenShipmentMember {
  orderId: string;
  /** Grams the order put in the shipment. */
  grams: number;
  /** When the order was placed, epoch ms. */
  placedAtMs: number;
  /** The order's amount and discount as the ERP sent them, CNY (absent when not sent). */
  amountCny?: number;
  discountCny?: number;
  /** Freight the order saved by joining instead of shipping alone, CNY (0 for the master). */
  savedCny: number;
}

/** The outcome of joining an open shipment: joined now, already a member (a retry), or refused (picked up, no room). */
export type JoinResult = 'joined' | 'member' | 'closed' | 'full' | 'missing';

/** What a reroute changes of an open shipment (Store.openShipmentMove): its new waybill, courier, ETA and room. */
export type OpenShipmentMove = Pick<OpenShipment, 'trackingNumber' | 'courierId' | 'etaMs' | 'maxGrams'> &
  /** A re-optimisation may move the shipment to another warehouse, wave and weight too (its master alone on it). */
  Partial<Pick<OpenShipment, 'warehouseId' | 'shipment' | 'shipDay' | 'pickupAtMs' | 'grams' | 'members'>>;

/** Every field an OpenShipmentMove may carry: what a store copies from a patch onto the record, and nothing else. */
export const OPEN_SHIPMENT_MOVE_FIELDS = ['trackingNumber', 'courierId', 'etaMs', 'maxGrams', 'warehouseId', 'shipment', 'shipDay', 'pickupAtMs', 'grams', 'members'] as const satisfies readonly (keyof OpenShipmentMove)[];

/** The intents among `raws` (JSON, as both stores keep them) written at or before `createdAtOrBefore`, oldest first (Store.rerouteIntents). */
export function dueIntents(raws: Iterable<string>, createdAtOrBefore: number): RerouteIntent[] {
  return [...raws]
    .map((raw) => JSON.parse(raw) as RerouteIntent)
    .filter((i) => i.createdAt <= createdAtOrBefore)
    .sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
}

/** A move's own fields of `patch`, those it sets (both stores apply exactly these; members copied, so the store never shares the caller's array). */
export function movePatch(patch: OpenShipmentMove): OpenShipmentMove {
  const out: Record<string, unknown> = {};
  for (const k of OPEN_SHIPMENT_MOVE_FIELDS) if (patch[k] !== undefined) out[k] = k === 'members' ? patch.members!.map((m) => ({ ...m })) : patch[k];
  return out as OpenShipmentMove;
}

/**
 * The outcome of moving an open shipment: moved now; 'missing' (no record under that waybill:
 * moved already, or dropped); 'changed' (its members are not the ones the caller moved: an order
 * joined or left meanwhile, so the caller gives the capacity back and reads it again).
 */
export type MoveResult = 'moved' | 'missing' | 'changed';

export interface Store {
  readonly kind: 'memory' | 'redis';
  /** Stock levels, optionally filtered; sorted by warehouse then SKU. */
  stock(filter?: { warehouseId?: string; sku?: string }): Promise<StockLevel[]>;
  /**
   * Units per warehouse the given customer may take for the given SKUs: free stock plus the
   * customer's own active locks (a snapshot for candidate generation). Zero entries are left out.
   */
  freeStock(skus: readonly string[], customerId?: string): Promise<Map<string, Map<string, number>>>;
  /**
   * Free units per lot of the given SKUs, every warehouse (lots with no free units left out),
   * sorted by warehouse, SKU, expiry, lot. The records are read-only: the embedded store hands out
   * the same frozen record for a lot until its free units change.
   */
  freeLots(skus: readonly string[]): Promise<LotFree[]>;
  /**
   * Whether any lot may exist (answered from what this process knows, without a store round trip):
   * false only while no lot was seeded, defined or seen, so that a network without lots decides
   * as it did before lots, with no extra read.
   */
  mayHaveLots(): boolean;
  /**
   * Records a lot's expiry day unless the lot has one; answers the recorded day (a different day
   * than asked means the lot exists with another expiry). A lot's stock cell is `lotCell(sku, lot)`:
   * counts and receipts then go through setOnHand and adjustOnHand on that cell.
   */
  defineLot(warehouseId: string, sku: string, lot: string, expiresOn: string): Promise<string>;
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
  /**
   * Records an event id; true the first time, false when it was recorded before and is still kept
   * (idempotent events). Ids are kept for the store's event retention (StoreOptions), then forgotten.
   */
  markEvent(eventId: string): Promise<boolean>;
  /** Forgets an event id (its event was rejected and changed nothing: a corrected re-send must apply). */
  forgetEvent(eventId: string): Promise<void>;
  /**
   * Stores `value` under an idempotency key unless one is stored (atomic: of two concurrent calls,
   * exactly one sees created: true); either way answers the stored value. Kept `ttlMs`.
   */
  claimIdempotency<T>(key: string, value: T, ttlMs: number): Promise<IdempotencyClaim<T>>;
  /** Forgets an idempotency key (its request failed and changed nothing). */
  dropIdempotency(key: string): Promise<void>;
  /**
   * Replaces an order's share of the running KPI counters (null: it no longer counts), atomically
   * with the totals. The share is dropped with the order (`retainUntil` of its decision).
   */
  kpiPut(orderId: string, share: KpiShare | null, retainUntil: number | null): Promise<void>;
  /** The running KPI counters now (the store's clock), shares past their retention dropped first. */
  kpiRead(): Promise<KpiTotals>;
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
  /**
   * The order shipped, in one atomic step against its cancellation and its expiry: its reserved
   * stock leaves on hand and reserved. Refused ('cancelled') once the order was cancelled, and
   * ('expired') once the reservation expired, and ('not-held') when the order holds no decided
   * reservation (never reserved, or already committed). Of a commit and a cancel racing on one
   * order exactly one wins.
   */
  commit(id: string): Promise<CommitResult>;
  /**
   * Cancels an order in one atomic step: its held reservation (if any) is released and the order
   * marked cancelled together, or, when the order shipped, nothing changes ('committed').
   * Cancelling twice answers 'cancelled' again.
   */
  cancelOrder(orderId: string): Promise<CancelResult>;
  /**
   * The recovery pass: gives back what attempts left reserved without a stored decision (the
   * store went away between reserve and storing the decision, or the process died), and finishes
   * cancels and commits that the store interrupted, once their deadline passed. Idempotent and
   * safe to run on several instances at once. The embedded store has nothing to recover (a
   * process that dies takes it along).
   */
  recover(): Promise<RecoveryReport>;
  getDecision<D>(orderId: string): Promise<StoredDecision<D> | null>;
  /**
   * A stored order's reservation state and cancel mark as getDecision reads them, without reading
   * or parsing its decision (null when no decision is stored or it is past its retention): the
   * open-shipment check asks it of up to three masters per order.
   */
  orderState(orderId: string): Promise<OrderState | null>;
  /**
   * Stores the decision unless one exists for the orderId; returns the one stored. `attempt` (from
   * reserve) binds it to this attempt's reservation: when another decision won, this attempt's
   * reservation is returned; when the attempt was taken over, ReservationLostError is thrown.
   * The store takes ownership of `d.decision`: the caller must not change it afterwards.
   * `lists` are entries pushed to lists (as listPush) when this call stores the decision: the
   * indexes that make the order complete. If the store fails after the decision may have been
   * stored, the recovery pass pushes them once the store answers again; an entry may then be
   * pushed twice (this call and the pass), so readers of those lists must tolerate repeats.
   */
  putDecisionIfAbsent<D>(d: StoredDecision<D>, attempt?: string, lists?: readonly ListEntry[]): Promise<StoredDecision<D>>;
  /** Locks units of free stock for a customer; refused (with the free units) when not enough is free. */
  createLock(req: LockRequest): Promise<{ ok: true; lock: StockLock } | { ok: false; free: number }>;
  getLock(id: string): Promise<StockLock | null>;
  /** Ends an active lock: its remaining units return to free stock. Null when no such lock. */
  releaseLock(id: string): Promise<StockLock | null>;
  /**
   * Adds WMS scans to an order, keyed by `key` (order number + code + operation time): a scan
   * already stored under its key is not added again. Returns, per scan in order, whether it was
   * new (atomic per scan: of two instances adding the same scan, exactly one sees true).
   */
  addScans(orderId: string, scans: { key: string; scan: StoredScan }[]): Promise<boolean[]>;
  /** Every scan stored for an order, in no particular order. */
  scans(orderId: string): Promise<StoredScan[]>;
  /** Every order id with a stored decision (for KPIs over the stored orders). */
  orderIds(): Promise<string[]>;
  /** A small JSON value shared by every instance (quote books, capacity limits); null when unset. */
  kvGet<T>(key: string): Promise<T | null>;
  kvSet(key: string, value: unknown): Promise<void>;
  /** Adds 1 to an integer and returns the new value (versions). */
  kvIncr(key: string): Promise<number>;
  /**
   * Appends a JSON value to a list (reroutes of an order, shipments of a courier-region-day). With
   * `ttlMs`, the list is dropped that long after this push (lists that belong to orders or days).
   */
  listPush(key: string, value: unknown, ttlMs?: number): Promise<void>;
  listAll<T>(key: string): Promise<T[]>;
  /**
   * The open shipments of a group (customer and normalised address, src/store/keys.ts openGroup):
   * those not picked up by now; with `firstPlacedWithin`, only those whose first order was placed
   * in that interval, epoch ms, ends included (the merge window: the others are not read out).
   */
  openShipments(group: string, firstPlacedWithin?: { fromMs: number; toMs: number }): Promise<OpenShipment[]>;
  /** One shipment record of a group, open or not (null when unknown or past retention). */
  openShipment(group: string, trackingNumber: string): Promise<OpenShipment | null>;
  /** Records a new open shipment (its master as the only member) unless the group has it already; kept `ttlMs`. */
  openShipmentPut(group: string, s: OpenShipment, ttlMs: number): Promise<void>;
  /**
   * Adds an order to an open shipment, atomically: refused when it is picked up by now ('closed')
   * or its parcels lack the room ('full'); an order already a member answers 'member' and changes
   * nothing (idempotent across instances). `members`: the orders on the shipment after the call (0 when missing).
   */
  openShipmentJoin(group: string, trackingNumber: string, member: OpenShipmentMember): Promise<{ result: JoinResult; members: number }>;
  /**
   * Takes the group's decision lock for `ttlMs` unless another token holds it (true: taken). Orders
   * of one customer and address are decided one at a time across instances, so that a later order
   * sees the open shipment of an earlier one even when they arrive together.
   */
  groupLock(group: string, token: string, ttlMs: number): Promise<boolean>;
  /** Gives the lock back if `token` still holds it. */
  groupUnlock(group: string, token: string): Promise<void>;
  /** Takes an order out of a shipment it joined (its reservation failed after the join); nothing when it is not a member. */
  openShipmentLeave(group: string, trackingNumber: string, orderId: string): Promise<void>;
  /**
   * Replaces a shipment record under a new waybill (a reroute moved it to another courier), in one
   * atomic step: the record under `fromTracking` is removed and the same record, with `patch`
   * applied, stored under `patch.trackingNumber`, so that later orders of the group join the moved
   * parcel. Refused ('changed') unless its members are exactly `members` (order ids, master first,
   * in joining order): the caller moved the capacity of those orders, and an order that joined or
   * left since must not ride along unaccounted. The group's retention is unchanged.
   */
  openShipmentMove(group: string, fromTracking: string, patch: OpenShipmentMove, members: readonly string[]): Promise<MoveResult>;
  /**
   * Moves a held reservation's capacity use from one counter to another (a reroute to another
   * courier), atomically: refused (false) when `to` would exceed its limit, or when the
   * reservation holds no `from` use of that amount. Both counters must live in the same slot
   * (courier counters do).
   */
  moveCounter(orderId: string, from: { key: string; amount: number }, to: { key: string; amount: number; limit: number }): Promise<boolean>;
  /**
   * The capacity counter uses a held reservation holds now (what moveCounter changes), in no
   * particular order; null when the order holds no reservation (never reserved, or ended).
   */
  heldCounters(orderId: string): Promise<{ key: string; amount: number }[] | null>;
  /**
   * The reroute journal (Rerouter.recover): an intent is written before a waybill's first capacity
   * move and deleted after its last step, so that one whose process died in between can be found.
   * Put overwrites an intent with the same id; delete of a missing one does nothing.
   */
  rerouteIntentPut(intent: RerouteIntent): Promise<void>;
  rerouteIntentGet(id: string): Promise<RerouteIntent | null>;
  rerouteIntentDelete(id: string): Promise<void>;
  /** The intents written at or before `createdAtOrBefore` (epoch ms), oldest first. */
  rerouteIntents(createdAtOrBefore: number): Promise<RerouteIntent[]>;
  /**
   * Replaces a held reservation's plan (a re-optimisation move), in one atomic step: refused
   * ('not-held') unless the order has a decision, is not cancelled and its reservation is held
   * (not committed: a shipment picked up is never moved, whatever was read before); the new items
   * and counters are checked with the order's own current use counted as available to itself, then
   * the old use is returned and the new one taken together, or nothing changes. The reservation
   * keeps its expiry. The invariant onHand = free + reserved + locked holds before and after.
   */
  replan(orderId: string, req: ReplanRequest): Promise<ReplanResult>;
  /**
   * Takes or renews a named lease for `token` until now + `ttlMs` (Redis: SET NX PX, renewed only
   * by its holder): true when `token` holds it after the call; false when another token does.
   */
  leaseAcquire(name: string, token: string, ttlMs: number): Promise<boolean>;
  /** Gives the lease up if `token` holds it; true when it did. */
  leaseRelease(name: string, token: string): Promise<boolean>;
  /**
   * Adds outbox entries, each unless an entry with its id exists (one atomic step per entry);
   * returns per entry whether it was new. Acknowledged only once written (on Redis, and with
   * OUTBOX_MIN_REPLICAS, once that many replicas have it too).
   */
  outboxAdd(entries: readonly OutboxEntry[]): Promise<boolean[]>;
  /**
   * Claims up to `limit` pending entries that are due (nextAttemptAt reached) and not claimed, or
   * whose claim expired (its instance died), oldest due first: each gets a fresh lease for
   * `leaseMs`. Several instances may claim at once; no entry is claimed twice while its lease holds.
   */
  outboxClaim(limit: number, leaseMs: number): Promise<OutboxEntry[]>;
  /**
   * Records one attempt of a claimed entry (attempts + 1) and its outcome, and ends the claim.
   * Null, and nothing changed, when `lease` is no longer the entry's claim.
   */
  outboxSettle(id: string, lease: string, outcome: OutboxOutcome): Promise<OutboxEntry | null>;
  outboxGet(id: string): Promise<OutboxEntry | null>;
  /**
   * Entries matching the filter, oldest first (createdAt, then id), a page at a time: `cursor`
   * null starts; `next` continues, null at the end. A page may hold fewer than `limit` entries
   * before the end (the store bounds the work of one call).
   */
  outboxList(filter: OutboxFilter, cursor: string | null, limit: number): Promise<{ items: OutboxEntry[]; next: string | null }>;
  /**
   * Sends a delivered or dead entry again: pending, due now, attempts from 0, replays + 1, any
   * claim dropped. `replayed` false (and nothing changed) when the entry is pending.
   */
  outboxReplay(id: string): Promise<{ entry: OutboxEntry; replayed: boolean } | null>;
  /** Entries per state. */
  outboxCounts(): Promise<Record<OutboxState, number>>;
  /**
   * Forgets up to `limit` delivered entries created before `before` (epoch ms), oldest first;
   * returns how many. Pending and dead entries are kept whatever their age. A purged action
   * enqueued again is delivered again (its receivers dedupe by its key).
   */
  outboxPurge(before: number, limit: number): Promise<number>;
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

/**
 * Thrown by any store method when the store cannot be reached or does not answer in time (a
 * connection refused or lost, a command timeout, a Redis node loading or failing over). The
 * service answers it with 503 DSP_STORE_UNAVAILABLE; nothing else in the service needs to know
 * how a particular store fails.
 */
export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError';
  constructor(
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
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
  /**
   * Redis: outbox entries are acknowledged only once this many replicas of their node have them
   * (WAIT), so that a failover to a replica does not lose an acknowledged action; 0 = the master's
   * write is enough. The wait is bounded by `replicaWaitMs`.
   */
  outboxMinReplicas?: number;
  replicaWaitMs?: number;
  /**
   * How long an order is kept after its reservation ends at the latest, ms (ORDER_RETENTION_DAYS):
   * then its decision, scans, reroutes and KPI share are dropped. Undefined = kept forever (tests,
   * what-if replays, which forget orders themselves).
   */
  orderRetentionMs?: number;
  /** How long an applied stock event id is kept, ms (EVENT_RETENTION_DAYS). Undefined = forever. */
  eventRetentionMs?: number;
}

/** Default claim timeout, ms: far above any healthy reserve path, short enough for ERP retries. */
export const DEFAULT_CLAIM_TIMEOUT_MS = 10_000;
