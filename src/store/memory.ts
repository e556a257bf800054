import { randomUUID } from 'node:crypto';
import TinyQueue from 'tinyqueue';
import { lotCell, parseCell, storeKeys } from './keys.js';
import { utcDayMs } from '../domain/time.js';
import { compareLevels, compareLots, seedCell, stockLevel } from './lots.js';
import type {
  OrderState,
  JoinResult,
  OpenShipment,
  OpenShipmentMember,
  OpenShipmentMove,
  MoveResult,
  CancelResult,
  CommitResult,
  IdempotencyClaim,
  KpiMark,
  KpiShare,
  KpiTotals,
  LockRequest,
  LotFree,
  OutboxEntry,
  OutboxFilter,
  OutboxOutcome,
  OutboxState,
  ListEntry,
  RecoveryReport,
  RerouteIntent,
  ReplanRequest,
  ReplanResult,
  ReservationRequest,
  ReservationState,
  ReserveResult,
  StockLevel,
  StockLock,
  StockSeedRow,
  Store,
  StoredDecision,
  StoreOptions,
  StoredScan,
} from './types.js';
import { dueIntents, KPI_MARKS, movePatch, placedWithin, ReservationExistsError, ReservationLostError } from './types.js';
import { outboxCursor, OUTBOX_LIST_SCAN } from './keys.js';

interface Cell {
  onHand: number;
  reserved: number;
  locked: number;
}

/** A lot as the store lists it per SKU; `ref` is its stock cell once the cell exists. */
interface LotEntry {
  warehouseId: string;
  sku: string;
  lot: string;
  cell: string;
  expiresOn: string;
  /** utcDayMs(expiresOn), computed when the lot is first recorded. */
  expiresOnUtcMs: number;
  ref: Cell | undefined;
  /** In its SKU's list (lotsBySku): an empty lot leaves it (freeLots) and comes back with stock (relist). */
  listed: boolean;
  /**
   * The record freeLots last answered for this lot (frozen), answered again while its free units are
   * the same: a decision with shelf-life lines reads some 70 lots and changes a few, and a new
   * record per lot and decision was most of what reading them cost (bench/README.md, 2026-12-07).
   */
  view: Readonly<LotFree> | undefined;
}

/** Empty lots in a SKU's list before they leave it (and they must be at least half of the list). */
const PRUNE_EMPTY_LOTS_AT = 32;

/** Whether a lot's cell holds any unit (on hand, reserved or locked): a lot that holds none is used up. */
function holdsUnits(c: Cell | undefined): boolean {
  return c !== undefined && c.onHand + c.reserved + c.locked > 0;
}

/** Units of one reservation item, and which of the owner's locks they came from. */
interface HeldItem {
  warehouseId: string;
  sku: string;
  qty: number;
  fromLocks: { lockId: string; qty: number }[];
}

interface Reservation {
  items: HeldItem[];
  counters: { key: string; amount: number }[];
  state: ReservationState;
  attempt: string;
  expiresAt: number;
}

/**
 * One merge group's open shipments (store/types.ts OpenShipment): every record by waybill, the ones
 * not picked up yet in `live` (pruned as they are read), and each record's own time: a record
 * leaves the TTL it was put with after its put (the order lists' retention, as its master's other
 * lists: its orders are gone about then), later by as much as a move put its pickup later, so the
 * group of a customer who orders every day does not keep every shipment it ever had for as long as
 * it goes on ordering (the group as a whole is dropped once idle that long).
 */
interface OpenGroup {
  /** When the whole group is dropped (the latest time of a record or put), epoch ms. */
  until: number;
  /** The time the group's entry in the retention queue was queued at. */
  queuedAt: number;
  byTracking: Map<string, OpenShipment>;
  live: OpenShipment[];
  /** Per waybill, when its record leaves, epoch ms. */
  recordUntil: Map<string, number>;
  /** Waybills in the order their records were put (due ones leave from the front); `head` the first one still queued. */
  queue: string[];
  head: number;
}

/**
 * The embedded default store. Each method runs to completion without awaiting, so on Node's single
 * thread every operation is atomic: check every item and counter, then apply all, or none. Expiry
 * of locks and reservations is applied at the start of every operation (see types.ts).
 */
export class MemoryStore implements Store {
  readonly kind = 'memory' as const;
  private readonly cells = new Map<string, Map<string, Cell>>();
  /** Every lot ever recorded, per warehouse and lot cell (`lotCell`), with its expiry day. */
  private readonly lotExpiry = new Map<string, Map<string, LotEntry>>();
  /**
   * Every lot per SKU (a decision reads the lots of its few SKUs, not every lot of the network),
   * kept in the order freeLots answers in (warehouse, expiry, lot): lots are defined rarely and read
   * on every decision with a shelf-life line, which sorted them each time.
   */
  private readonly lotsBySku = new Map<string, LotEntry[]>();
  private readonly counterValues = new Map<string, number>();
  private readonly reservations = new Map<string, Reservation>();
  /**
   * Decisions with the decision itself as JSON, as Redis holds it: a read gets its own copy, and
   * a kept decision is one flat string to the collector instead of a graph of objects (every
   * decision of the day stays here, so that is most of what each young-generation collection
   * would otherwise copy).
   */
  private readonly decisions = new Map<string, StoredDecision<string>>();
  /** Applied stock event ids, each with when it is forgotten (epoch ms; Infinity without an event retention). */
  private readonly events = new Map<string, number>();
  /** Idempotency records (JSON) with when each is forgotten. */
  private readonly idempotency = new Map<string, { value: string; until: number }>();
  /** When a list pushed with a TTL is dropped (lists without one are kept). */
  private readonly listUntil = new Map<string, number>();
  /** The running KPI counters: each order's share, the totals, and per time mark the sorted marks. */
  private readonly kpiShares = new Map<string, KpiShare>();
  private readonly kpiSums = new Map<string, number>();
  private readonly kpiMarks = new Map<KpiMark, SortedTimes>(KPI_MARKS.map((m) => [m, new SortedTimes()]));
  private readonly orderRetentionMs: number | undefined;
  private readonly eventRetentionMs: number | undefined;
  /**
   * What retention drops, soonest first: orders (decision, reservation record, scans, reroutes,
   * KPI share), event ids, idempotency records, lists. An entry whose thing was renewed or removed
   * meanwhile (its time no longer matches) is skipped when it comes up, so memory stays bounded
   * by what the retention keeps, not by what was ever stored.
   */
  private readonly drops = new TinyQueue<{ at: number; kind: 'order' | 'event' | 'idem' | 'list' | 'lock' | 'open'; key: string }>([], (a, b) => a.at - b.at);
  private readonly locks = new Map<string, StockLock>();
  /** Every lock per owner (customer), so that a decision for a customer without locks skips them at once. */
  private readonly locksByCustomer = new Map<string, StockLock[]>();
  private readonly scanSets = new Map<string, Map<string, StoredScan>>();
  private readonly kv = new Map<string, string>();
  private readonly lists = new Map<string, string[]>();
  /**
   * Open shipments per group (the Redis stores key them storeKeys.openShipments), see OpenGroup.
   * `live` holds the records not yet picked up, in the order they were put: a group keeps its
   * customer's and address's shipments for the order retention (GET /v1/orders/{id} shows the
   * group), and listing the open ones must not read them all.
   */
  private readonly open = new Map<string, OpenGroup>();
  private readonly groupLocks = new Map<string, { token: string; until: number }>();
  /** The action outbox: every entry by id, and the ids of the pending ones (what a claim looks at). */
  private readonly outbox = new Map<string, OutboxEntry>();
  private readonly outboxPending = new Set<string>();
  private readonly clock: () => number;
  /**
   * Every lock and reservation by expiry, soonest first (a binary heap): expiring one is a pop,
   * not a pass over every lock and reservation ever made. An entry whose lock or reservation has
   * ended meanwhile (released, committed, cancelled) is dropped when it comes up.
   */
  private readonly expiries = new TinyQueue<{ at: number; lockId?: string; reservationId?: string }>([], (a, b) => a.at - b.at);

  constructor(initial: StockSeedRow[] = [], opts: StoreOptions = {}) {
    this.clock = opts.clock ?? Date.now;
    this.orderRetentionMs = opts.orderRetentionMs;
    this.eventRetentionMs = opts.eventRetentionMs;
    for (const r of initial) {
      this.cell(r.warehouseId, seedCell(r)).onHand = r.onHand;
      if (r.lot !== undefined && r.expiresOn !== undefined) this.recordLot(r.warehouseId, seedCell(r), r.expiresOn);
    }
  }

  private cell(warehouseId: string, sku: string): Cell {
    let wh = this.cells.get(warehouseId);
    if (!wh) this.cells.set(warehouseId, (wh = new Map()));
    let c = wh.get(sku);
    if (!c) wh.set(sku, (c = { onHand: 0, reserved: 0, locked: 0 }));
    return c;
  }

  /** Ends every lock and reservation whose time has come; returns the clock reading used. */
  private expireDue(): number {
    const now = this.clock();
    for (let e = this.expiries.peek(); e !== undefined && e.at <= now; e = this.expiries.peek()) {
      this.expiries.pop();
      if (e.lockId !== undefined) {
        const l = this.locks.get(e.lockId);
        if (l?.state === 'active') this.endLock(l, 'expired');
      } else {
        const r = this.reservations.get(e.reservationId!);
        if (r?.state === 'held') this.endReservation(r, 'expired', now);
      }
    }
    // After the expiries: an order's drop time lies past its reservation's end, so a reservation
    // has always ended (and returned its stock) before its order is dropped.
    for (let e = this.drops.peek(); e !== undefined && e.at <= now; e = this.drops.peek()) {
      this.drops.pop();
      if (e.kind === 'order') {
        if (this.decisions.get(e.key)?.retainUntil === e.at) this.dropOrder(e.key);
      } else if (e.kind === 'event') {
        if (this.events.get(e.key) === e.at) this.events.delete(e.key);
      } else if (e.kind === 'idem') {
        if (this.idempotency.get(e.key)?.until === e.at) this.idempotency.delete(e.key);
      } else if (e.kind === 'open') {
        // A group's open shipments, once its record is past its time; a later put moved the time
        // on, and the group's entry goes back in the queue for it.
        // (An entry left from an earlier group of the same key is not the group's own: skipped.)
        const g = this.open.get(e.key);
        if (g === undefined || g.queuedAt !== e.at) continue;
        if (g.until <= e.at) this.open.delete(e.key);
        else this.drops.push({ at: (g.queuedAt = g.until), kind: 'open', key: e.key });
      } else if (e.kind === 'lock') {
        // Past its expiry every lock has ended (the expiries above ran first).
        const l = this.locks.get(e.key);
        if (l !== undefined && l.state !== 'active') {
          this.locks.delete(e.key);
          const mine = this.locksByCustomer.get(l.customerId)?.filter((x) => x.id !== l.id);
          if (mine === undefined || mine.length === 0) this.locksByCustomer.delete(l.customerId);
          else this.locksByCustomer.set(l.customerId, mine);
        }
      } else if (this.listUntil.get(e.key) === e.at) {
        this.listUntil.delete(e.key);
        this.lists.delete(e.key);
      }
    }
    return now;
  }

  /** Drops an order past its retention: everything stored for it, and its share of the KPIs. */
  private dropOrder(orderId: string): void {
    this.forgetOrder(orderId, storeKeys.reroutes(orderId));
    this.listUntil.delete(storeKeys.reroutes(orderId));
  }

  private endLock(l: StockLock, state: 'expired' | 'released'): void {
    this.cell(l.warehouseId, l.sku).locked -= l.remaining;
    l.remaining = 0;
    l.state = state;
  }

  /** Ends a held reservation: committed stock leaves on hand; released or expired units return. */
  private endReservation(r: Reservation, to: Exclude<ReservationState, 'held'>, now: number): void {
    for (const i of r.items) {
      const c = this.cell(i.warehouseId, i.sku);
      c.reserved -= i.qty;
      if (to === 'committed') {
        c.onHand -= i.qty;
        continue;
      }
      // Units taken from a lock go back to it while it is still active; otherwise they are free.
      for (const t of i.fromLocks) {
        const l = this.locks.get(t.lockId);
        if (l && l.state === 'active' && l.expiresAt > now) {
          l.remaining += t.qty;
          c.locked += t.qty;
        }
      }
    }
    if (to !== 'committed') for (const u of r.counters) this.counterValues.set(u.key, (this.counterValues.get(u.key) ?? 0) - u.amount);
    r.state = to;
  }

  /** The owner's active locks on a cell, soonest expiry first (consumed in that order). */
  /**
   * Holds checked units and counters (reserve and replan): each cell's units come from the
   * customer's own locks first, then from free stock; the counters are added.
   */
  private take(customerId: string | undefined, need: Iterable<{ warehouseId: string; sku: string; qty: number }>, counters: readonly { key: string; amount: number }[]): HeldItem[] {
    const items: HeldItem[] = [];
    for (const n of need) {
      const c = this.cell(n.warehouseId, n.sku);
      const fromLocks: HeldItem['fromLocks'] = [];
      let left = n.qty;
      for (const l of this.ownLocks(customerId, n.warehouseId, n.sku)) {
        if (left === 0) break;
        const take = Math.min(left, l.remaining);
        l.remaining -= take;
        c.locked -= take;
        left -= take;
        fromLocks.push({ lockId: l.id, qty: take });
      }
      c.reserved += n.qty;
      items.push({ ...n, fromLocks });
    }
    for (const u of counters) this.counterValues.set(u.key, (this.counterValues.get(u.key) ?? 0) + u.amount);
    return items;
  }

  private ownLocks(customerId: string | undefined, warehouseId: string, sku: string): readonly StockLock[] {
    const mine = customerId === undefined ? undefined : this.locksByCustomer.get(customerId);
    if (mine === undefined) return NO_LOCKS;
    const out: StockLock[] = [];
    for (const l of mine) {
      if (l.state === 'active' && l.warehouseId === warehouseId && l.sku === sku && l.remaining > 0) out.push(l);
    }
    return out.sort((a, b) => a.expiresAt - b.expiresAt || cmp(a.id, b.id));
  }

  async stock(filter: { warehouseId?: string; sku?: string } = {}): Promise<StockLevel[]> {
    this.expireDue();
    const out: StockLevel[] = [];
    for (const [warehouseId, skus] of this.cells) {
      if (filter.warehouseId !== undefined && filter.warehouseId !== warehouseId) continue;
      const expiries = this.lotExpiry.get(warehouseId);
      for (const [cell, c] of skus) {
        if (filter.sku !== undefined && filter.sku !== parseCell(cell).sku) continue;
        out.push(stockLevel(warehouseId, cell, c, (k) => expiries?.get(k)?.expiresOn));
      }
    }
    return out.sort(compareLevels);
  }

  mayHaveLots(): boolean {
    return this.lotsBySku.size > 0;
  }

  async freeLots(skus: readonly string[]): Promise<LotFree[]> {
    this.expireDue();
    const out: LotFree[] = [];
    // Each SKU's lots are kept in (warehouse, expiry, lot) order, so the answer's order (warehouse,
    // SKU, expiry, lot) is a merge of the SKUs' lists by warehouse: linear, where sorting the
    // concatenation compared strings some hundred times per decision with two shelf-life lines.
    const distinct = [...new Set(skus)].sort();
    const lists = distinct.map((sku) => this.lotsBySku.get(sku) ?? []);
    const at = lists.map(() => 0);
    // Lots with nothing on hand, reserved or locked, per list: a lot received once and shipped
    // stays recorded for good, and a year of daily receipts would otherwise be read on every
    // decision; once they are most of a list they leave it (a receipt or count puts one back).
    const empty = lists.map(() => 0);
    for (;;) {
      let k = -1;
      for (let j = 0; j < lists.length; j++) {
        if (at[j]! < lists[j]!.length && (k < 0 || lists[j]![at[j]!]!.warehouseId < lists[k]![at[k]!]!.warehouseId)) k = j;
      }
      if (k < 0) break;
      // The whole run of SKU k at this warehouse, in its expiry order.
      const list = lists[k]!;
      const warehouseId = list[at[k]!]!.warehouseId;
      let i = at[k]!;
      for (; i < list.length && list[i]!.warehouseId === warehouseId; i++) {
        const l = list[i]!;
        // A lot's cell, once it exists, is the same object for good (cells are never removed).
        const c = (l.ref ??= this.cells.get(l.warehouseId)?.get(l.cell));
        if (!holdsUnits(c)) empty[k]!++;
        const free = c === undefined ? 0 : c.onHand - c.reserved - c.locked;
        if (free <= 0) continue;
        let view = l.view;
        if (view === undefined || view.free !== free) {
          view = Object.freeze({ warehouseId, sku: l.sku, lot: l.lot, expiresOn: l.expiresOn, expiresOnUtcMs: l.expiresOnUtcMs, free });
          l.view = view;
        }
        out.push(view);
      }
      at[k] = i;
    }
    lists.forEach((list, k) => {
      if (empty[k]! < PRUNE_EMPTY_LOTS_AT || 2 * empty[k]! < list.length) return;
      const kept = list.filter((l) => (l.listed = holdsUnits(l.ref)));
      this.lotsBySku.set(distinct[k]!, kept);
    });
    return out;
  }

  async defineLot(warehouseId: string, sku: string, lot: string, expiresOn: string): Promise<string> {
    return this.recordLot(warehouseId, lotCell(sku, lot), expiresOn);
  }

  private recordLot(warehouseId: string, cell: string, expiresOn: string): string {
    let m = this.lotExpiry.get(warehouseId);
    if (m === undefined) this.lotExpiry.set(warehouseId, (m = new Map()));
    const known = m.get(cell);
    if (known !== undefined) return known.expiresOn;
    const { sku, lot } = parseCell(cell);
    const entry: LotEntry = { warehouseId, sku, lot: lot!, cell, expiresOn, expiresOnUtcMs: utcDayMs(expiresOn), ref: undefined, listed: false, view: undefined };
    m.set(cell, entry);
    this.list(entry);
    return expiresOn;
  }

  /** Puts a lot into its SKU's list, in (warehouse, expiry, lot) order. */
  private list(entry: LotEntry): void {
    let bySku = this.lotsBySku.get(entry.sku);
    if (bySku === undefined) this.lotsBySku.set(entry.sku, (bySku = []));
    let at = bySku.length;
    while (at > 0 && compareLots(bySku[at - 1]!, entry) > 0) at--;
    bySku.splice(at, 0, entry);
    entry.listed = true;
  }

  /** A lot cell that gets units again (a receipt or count) goes back into its SKU's list. */
  private relist(warehouseId: string, cell: string): void {
    const entry = this.lotExpiry.get(warehouseId)?.get(cell);
    if (entry !== undefined && !entry.listed) this.list(entry);
  }

  async freeStock(skus: readonly string[], customerId?: string): Promise<Map<string, Map<string, number>>> {
    this.expireDue();
    const out = new Map<string, Map<string, number>>();
    // Most customers hold no locks: then no per-cell lock lookup at all.
    const anyLocks = customerId !== undefined && this.locksByCustomer.has(customerId);
    for (const [warehouseId, cells] of this.cells) {
      let m: Map<string, number> | undefined;
      for (const sku of skus) {
        const c = cells.get(sku);
        if (!c) continue;
        let units = c.onHand - c.reserved - c.locked;
        if (anyLocks) for (const l of this.ownLocks(customerId, warehouseId, sku)) units += l.remaining;
        if (units > 0) (m ??= new Map()).set(sku, units);
      }
      if (m !== undefined) out.set(warehouseId, m);
    }
    return out;
  }

  async setOnHand(items: { warehouseId: string; sku: string; onHand: number }[]) {
    this.expireDue();
    const rejected = items
      .map((i) => {
        const c = this.cells.get(i.warehouseId)?.get(i.sku);
        return { ...i, reserved: c?.reserved ?? 0, locked: c?.locked ?? 0 };
      })
      .filter((i) => i.onHand < i.reserved + i.locked);
    if (rejected.length > 0) return { ok: false as const, rejected };
    for (const i of items) {
      this.cell(i.warehouseId, i.sku).onHand = i.onHand;
      if (i.onHand > 0) this.relist(i.warehouseId, i.sku);
    }
    return { ok: true as const };
  }

  async adjustOnHand(warehouseId: string, sku: string, delta: number) {
    this.expireDue();
    const c = this.cell(warehouseId, sku);
    if (c.onHand + delta < c.reserved + c.locked) return { ok: false as const, onHand: c.onHand, reserved: c.reserved, locked: c.locked };
    c.onHand += delta;
    if (c.onHand > 0) this.relist(warehouseId, sku);
    return { ok: true as const, onHand: c.onHand };
  }

  async markEvent(eventId: string): Promise<boolean> {
    const now = this.expireDue();
    if (this.events.has(eventId)) return false;
    const until = this.eventRetentionMs === undefined ? Infinity : now + this.eventRetentionMs;
    this.events.set(eventId, until);
    if (until !== Infinity) this.drops.push({ at: until, kind: 'event', key: eventId });
    return true;
  }

  async forgetEvent(eventId: string): Promise<void> {
    this.events.delete(eventId);
  }

  async claimIdempotency<T>(key: string, value: T, ttlMs: number): Promise<IdempotencyClaim<T>> {
    const now = this.expireDue();
    const had = this.idempotency.get(key);
    if (had) return { created: false, value: JSON.parse(had.value) as T };
    const until = now + ttlMs;
    this.idempotency.set(key, { value: JSON.stringify(value), until });
    this.drops.push({ at: until, kind: 'idem', key });
    return { created: true, value };
  }

  async dropIdempotency(key: string): Promise<void> {
    this.idempotency.delete(key);
  }

  /** Replaces an order's share in the totals and marks (no retention check: the caller's). */
  private applyKpiShare(orderId: string, share: KpiShare | null): void {
    const old = this.kpiShares.get(orderId);
    if (old) {
      for (const [k, v] of Object.entries(old.sums)) this.kpiSums.set(k, (this.kpiSums.get(k) ?? 0) - v);
      for (const [m, at] of Object.entries(old.marks) as [KpiMark, number][]) this.kpiMarks.get(m)!.remove(at);
      this.kpiShares.delete(orderId);
    }
    if (share === null) return;
    const copy: KpiShare = { sums: { ...share.sums }, marks: { ...share.marks } };
    for (const [k, v] of Object.entries(copy.sums)) this.kpiSums.set(k, (this.kpiSums.get(k) ?? 0) + v);
    for (const [m, at] of Object.entries(copy.marks) as [KpiMark, number][]) this.kpiMarks.get(m)!.insert(at);
    this.kpiShares.set(orderId, copy);
  }

  async kpiPut(orderId: string, share: KpiShare | null): Promise<void> {
    this.expireDue();
    // An order already dropped (or never stored) has no share: a late update must not bring it back.
    this.applyKpiShare(orderId, this.decisions.has(orderId) ? share : null);
  }

  async kpiRead(): Promise<KpiTotals> {
    const now = this.expireDue();
    const marksAtOrBefore = {} as Record<KpiMark, number>;
    const marksBefore = {} as Record<KpiMark, number>;
    for (const [m, times] of this.kpiMarks) {
      marksAtOrBefore[m] = times.countAtOrBefore(now);
      marksBefore[m] = times.countBefore(now);
    }
    return { sums: Object.fromEntries(this.kpiSums), marksAtOrBefore, marksBefore };
  }

  async counters(keys: readonly string[]): Promise<Map<string, number>> {
    this.expireDue();
    const out = new Map<string, number>();
    for (const k of keys) out.set(k, this.counterValues.get(k) ?? 0);
    return out;
  }

  async reserve(req: ReservationRequest): Promise<ReserveResult> {
    const now = this.expireDue();
    // A held reservation without a decision in this process means a concurrent attempt is deciding.
    // (An abandoned attempt cannot exist here: a process that dies takes this store with it.)
    if (this.reservations.has(req.id)) throw new ReservationExistsError(req.id);
    // Sum per (warehouse, sku) first: a plan may take the same cell on two arcs.
    const need = new Map<string, { warehouseId: string; sku: string; qty: number }>();
    for (const i of req.items) {
      const k = `${i.warehouseId}\u0000${i.sku}`;
      const e = need.get(k);
      if (e) e.qty += i.qty;
      else need.set(k, { ...i });
    }
    const shortages = [];
    for (const n of need.values()) {
      const c = this.cells.get(n.warehouseId)?.get(n.sku);
      const own = this.ownLocks(req.customerId, n.warehouseId, n.sku).reduce((s, l) => s + l.remaining, 0);
      const free = c ? c.onHand - c.reserved - c.locked + own : 0;
      if (free < n.qty) shortages.push({ warehouseId: n.warehouseId, sku: n.sku, requested: n.qty, free });
    }
    const counters = [];
    for (const u of req.counters) {
      const used = this.counterValues.get(u.key) ?? 0;
      if (used + u.amount > u.limit) counters.push({ key: u.key, requested: u.amount, used, limit: u.limit });
    }
    if (shortages.length > 0 || counters.length > 0) return { ok: false, shortages, counters };
    const items = this.take(req.customerId, need.values(), req.counters);
    const attempt = randomUUID();
    const expiresAt = now + req.ttlMs;
    this.reservations.set(req.id, { items, counters: req.counters.map((u) => ({ key: u.key, amount: u.amount })), state: 'held', attempt, expiresAt });
    this.expiries.push({ at: expiresAt, reservationId: req.id });
    return { ok: true, attempt };
  }

  async release(id: string): Promise<boolean> {
    const now = this.expireDue();
    const r = this.reservations.get(id);
    if (!r || r.state !== 'held') return false;
    this.endReservation(r, 'released', now);
    return true;
  }

  async commit(id: string): Promise<CommitResult> {
    const now = this.expireDue();
    // Checked in the same synchronous step as the state change below, so a cancel cannot slip
    // in between: of a commit and a cancel of one order exactly one wins.
    const d = this.decisions.get(id);
    if (d?.cancelled) return 'cancelled';
    // Only a decided reservation ships, as on Redis: an attempt still deciding holds none yet.
    if (!d || d.reservation === null) return 'not-held';
    const r = this.reservations.get(id);
    if (r?.state === 'expired') return 'expired';
    if (!r || r.state !== 'held') return 'not-held';
    this.endReservation(r, 'committed', now);
    return 'committed';
  }

  async getDecision<D>(orderId: string): Promise<StoredDecision<D> | null> {
    this.expireDue();
    const d = this.decisions.get(orderId);
    if (!d) return null;
    return this.view(d, JSON.parse(d.decision) as D);
  }

  async orderState(orderId: string): Promise<OrderState | null> {
    this.expireDue();
    const d = this.decisions.get(orderId);
    if (!d) return null;
    // The reservation as getDecision reads it (view), without parsing the decision or copying its record.
    const r = this.reservationOf(d);
    return r === undefined ? { reservation: d.reservation, expiresAt: d.expiresAt, cancelled: d.cancelled } : { reservation: r.state, expiresAt: r.expiresAt, cancelled: d.cancelled };
  }

  /** A stored decision as read now: its reservation's current state and expiry. */
  private view<D>(d: StoredDecision<string>, decision: D): StoredDecision<D> {
    const out: StoredDecision<D> = { ...d, decision };
    const r = this.reservationOf(d);
    if (r !== undefined) {
      out.reservation = r.state;
      out.expiresAt = r.expiresAt;
    }
    return out;
  }

  /** The reservation whose state and expiry a stored decision reads as now (none when it reserved nothing). */
  private reservationOf(d: StoredDecision<string>): Reservation | undefined {
    return d.reservation === null ? undefined : this.reservations.get(d.orderId);
  }

  async putDecisionIfAbsent<D>(d: StoredDecision<D>, attempt?: string, lists: readonly ListEntry[] = []): Promise<StoredDecision<D>> {
    const r = this.reservations.get(d.orderId);
    if (attempt !== undefined && (!r || r.attempt !== attempt)) throw new ReservationLostError(d.orderId);
    if (this.decisions.has(d.orderId)) {
      // Another attempt decided first: give back what this one holds.
      if (attempt !== undefined && r?.state === 'held' && !this.decisions.get(d.orderId)!.reservation) await this.release(d.orderId);
      return (await this.getDecision<D>(d.orderId))!;
    }
    const now = this.clock();
    const expiresAt = attempt !== undefined && r ? r.expiresAt : null;
    // Kept for the retention after the reservation ends at the latest (at once when nothing is reserved).
    const retainUntil = this.orderRetentionMs === undefined ? null : Math.max(now, expiresAt ?? now) + this.orderRetentionMs;
    const stored = { ...d, decision: JSON.stringify(d.decision), expiresAt, retainUntil };
    this.decisions.set(d.orderId, stored);
    if (retainUntil !== null) this.drops.push({ at: retainUntil, kind: 'order', key: d.orderId });
    for (const l of lists) await this.listPush(l.key, l.value, l.ttlMs);
    // The caller's decision is what was just stored (later reads parse their own copies).
    this.expireDue();
    return this.view(stored, d.decision);
  }

  async cancelOrder(orderId: string): Promise<CancelResult> {
    const now = this.expireDue();
    const d = this.decisions.get(orderId);
    if (!d) return 'not-found';
    // One synchronous step: the release and the cancelled mark, or the refusal, with no await
    // in between for a commit to interleave.
    const r = d.reservation === null ? undefined : this.reservations.get(orderId);
    if (r?.state === 'committed') return 'committed';
    if (r?.state === 'held') this.endReservation(r, 'released', now);
    d.cancelled = true;
    return 'cancelled';
  }

  /** Nothing to recover: an outage of the embedded store is the death of its process. */
  async recover(): Promise<RecoveryReport> {
    return { checked: 0, released: 0, finished: 0, indexed: 0 };
  }

  async createLock(req: LockRequest) {
    const now = this.expireDue();
    const c = this.cell(req.warehouseId, req.sku);
    const free = c.onHand - c.reserved - c.locked;
    if (free < req.qty) return { ok: false as const, free };
    if (this.locks.has(req.id)) throw new Error(`lock ${req.id} exists`);
    const lock: StockLock = { ...req, remaining: req.qty, state: 'active', createdAt: now };
    c.locked += req.qty;
    this.locks.set(req.id, lock);
    const mine = this.locksByCustomer.get(lock.customerId);
    if (mine) mine.push(lock);
    else this.locksByCustomer.set(lock.customerId, [lock]);
    this.expiries.push({ at: req.expiresAt, lockId: req.id });
    // An ended lock is kept for the order retention after its expiry (the latest it can end), then dropped.
    if (this.orderRetentionMs !== undefined) this.drops.push({ at: req.expiresAt + this.orderRetentionMs, kind: 'lock', key: req.id });
    return { ok: true as const, lock: { ...lock } };
  }

  async getLock(id: string): Promise<StockLock | null> {
    this.expireDue();
    const l = this.locks.get(id);
    return l ? { ...l } : null;
  }

  async releaseLock(id: string): Promise<StockLock | null> {
    this.expireDue();
    const l = this.locks.get(id);
    if (!l) return null;
    if (l.state === 'active') this.endLock(l, 'released');
    return { ...l };
  }

  async addScans(orderId: string, scans: { key: string; scan: StoredScan }[]): Promise<boolean[]> {
    this.expireDue();
    let set = this.scanSets.get(orderId);
    if (!set) this.scanSets.set(orderId, (set = new Map()));
    return scans.map(({ key, scan }) => {
      if (set.has(key)) return false;
      set.set(key, { ...scan });
      return true;
    });
  }

  async scans(orderId: string): Promise<StoredScan[]> {
    return [...(this.scanSets.get(orderId)?.values() ?? [])].map((x) => ({ ...x }));
  }

  async orderIds(): Promise<string[]> {
    this.expireDue();
    return [...this.decisions.keys()];
  }

  async kvGet<T>(key: string): Promise<T | null> {
    const v = this.kv.get(key);
    return v === undefined ? null : (JSON.parse(v) as T);
  }

  async kvSet(key: string, value: unknown): Promise<void> {
    this.kv.set(key, JSON.stringify(value));
  }

  async kvIncr(key: string): Promise<number> {
    const n = Number(this.kv.get(key) ?? 0) + 1;
    this.kv.set(key, String(n));
    return n;
  }

  async listPush(key: string, value: unknown, ttlMs?: number): Promise<void> {
    const now = this.expireDue();
    if (ttlMs !== undefined) {
      const until = now + ttlMs;
      this.listUntil.set(key, until);
      this.drops.push({ at: until, kind: 'list', key });
    }
    (this.lists.get(key) ?? this.lists.set(key, []).get(key)!).push(JSON.stringify(value));
  }

  async listAll<T>(key: string): Promise<T[]> {
    this.expireDue();
    return (this.lists.get(key) ?? []).map((v) => JSON.parse(v) as T);
  }

  private openGroupOf(group: string, now: number) {
    const g = this.open.get(group);
    if (g !== undefined && g.until <= now) this.open.delete(group);
    return g !== undefined && g.until > now ? g : undefined;
  }

  async openShipments(group: string, firstPlacedWithin?: { fromMs: number; toMs: number }): Promise<OpenShipment[]> {
    const now = this.clock();
    const out: OpenShipment[] = [];
    const g = this.openGroupOf(group, now);
    if (g === undefined) return out;
    // A record past its pickup, or replaced by a move (its new record was put on the list), leaves
    // the list for good: the store's clock only moves on.
    let kept = 0;
    for (const o of g.live) {
      if (o.pickupAtMs <= now || g.byTracking.get(o.trackingNumber) !== o) continue;
      g.live[kept++] = o;
      // The record itself: records are frozen and replaced on every change (storedOpen).
      if (placedWithin(o, firstPlacedWithin)) out.push(o);
    }
    g.live.length = kept;
    return out;
  }

  async openShipment(group: string, trackingNumber: string): Promise<OpenShipment | null> {
    return this.openGroupOf(group, this.clock())?.byTracking.get(trackingNumber) ?? null;
  }

  async openShipmentPut(group: string, o: OpenShipment, ttlMs: number): Promise<void> {
    const now = this.clock();
    let g = this.openGroupOf(group, now);
    if (g === undefined) {
      this.open.set(group, (g = { until: now + ttlMs, queuedAt: now + ttlMs, byTracking: new Map(), live: [], recordUntil: new Map(), queue: [], head: 0 }));
      // Retention: the group is dropped at that time even if its customer never orders again.
      // One entry per group: a later put only moves `until` on, and the entry, once due, puts
      // itself back at the group's new time (expireDue), rather than one entry per shipment.
      this.drops.push({ at: g.until, kind: 'open', key: group });
    } else if (now + ttlMs > g.until) {
      g.until = now + ttlMs;
    }
    pruneOpenRecords(g, now);
    if (g.byTracking.has(o.trackingNumber)) return;
    const rec = storedOpen(o);
    g.byTracking.set(o.trackingNumber, rec);
    g.live.push(rec);
    g.recordUntil.set(o.trackingNumber, now + ttlMs);
    g.queue.push(o.trackingNumber);
  }

  async openShipmentJoin(group: string, trackingNumber: string, member: OpenShipmentMember): Promise<{ result: JoinResult; members: number }> {
    const now = this.clock();
    const g = this.openGroupOf(group, now);
    const o = g?.byTracking.get(trackingNumber);
    if (g === undefined || o === undefined) return { result: 'missing', members: 0 };
    const members = o.members.length;
    if (o.members.some((m) => m.orderId === member.orderId)) return { result: 'member', members };
    if (o.pickupAtMs <= now) return { result: 'closed', members };
    if (o.maxGrams !== null && o.grams + member.grams > o.maxGrams) return { result: 'full', members };
    replaceOpen(g, o, storedOpen(o, o.grams + member.grams, [...o.members, member]));
    return { result: 'joined', members: members + 1 };
  }

  async groupLock(group: string, token: string, ttlMs: number): Promise<boolean> {
    const now = this.clock();
    const held = this.groupLocks.get(group);
    if (held !== undefined && held.until > now && held.token !== token) return false;
    this.groupLocks.set(group, { token, until: now + ttlMs });
    return true;
  }

  async groupUnlock(group: string, token: string): Promise<void> {
    if (this.groupLocks.get(group)?.token === token) this.groupLocks.delete(group);
  }

  async openShipmentLeave(group: string, trackingNumber: string, orderId: string): Promise<void> {
    const g = this.openGroupOf(group, this.clock());
    const o = g?.byTracking.get(trackingNumber);
    const i = o?.members.findIndex((m) => m.orderId === orderId) ?? -1;
    // The master never leaves: its shipment is the record.
    if (g === undefined || o === undefined || i <= 0) return;
    replaceOpen(g, o, storedOpen(o, o.grams - o.members[i]!.grams, o.members.filter((_, k) => k !== i)));
  }

  async openShipmentMove(group: string, fromTracking: string, patch: OpenShipmentMove, members: readonly string[]): Promise<MoveResult> {
    const g = this.openGroupOf(group, this.clock());
    const o = g?.byTracking.get(fromTracking);
    if (g === undefined || o === undefined) return 'missing';
    if (o.members.length !== members.length || o.members.some((m, i) => m.orderId !== members[i])) return 'changed';
    g.byTracking.delete(fromTracking);
    const moved = storedOpen({ ...o, ...movePatch(patch) });
    g.byTracking.set(patch.trackingNumber, moved);
    g.live.push(moved);
    // The record keeps its time, later by as much as its pickup moved later.
    const until = g.recordUntil.get(fromTracking);
    g.recordUntil.delete(fromTracking);
    if (until !== undefined) {
      const later = until + Math.max(0, moved.pickupAtMs - o.pickupAtMs);
      g.recordUntil.set(patch.trackingNumber, later);
      g.queue.push(patch.trackingNumber);
      // The group lasts as long as its records.
      if (later > g.until) g.until = later;
    }
    return 'moved';
  }

  async moveCounter(orderId: string, from: { key: string; amount: number }, to: { key: string; amount: number; limit: number }): Promise<boolean> {
    this.expireDue();
    const r = this.reservations.get(orderId);
    const use = r?.state === 'held' ? r.counters.find((c) => c.key === from.key && c.amount === from.amount) : undefined;
    if (!use) return false;
    if ((this.counterValues.get(to.key) ?? 0) + to.amount > to.limit) return false;
    this.counterValues.set(from.key, (this.counterValues.get(from.key) ?? 0) - from.amount);
    this.counterValues.set(to.key, (this.counterValues.get(to.key) ?? 0) + to.amount);
    use.key = to.key;
    use.amount = to.amount;
    return true;
  }

  async heldCounters(orderId: string): Promise<{ key: string; amount: number }[] | null> {
    this.expireDue();
    const r = this.reservations.get(orderId);
    return r?.state === 'held' ? r.counters.map((c) => ({ key: c.key, amount: c.amount })) : null;
  }

  /**
   * Reroute intents as JSON by id. The embedded store dies with its process, so none is ever
   * found by a later recovery; they are kept all the same, so that the rerouter's code path is
   * the one it runs on Redis.
   */
  private readonly rerouteJournal = new Map<string, string>();

  async rerouteIntentPut(intent: RerouteIntent): Promise<void> {
    this.rerouteJournal.set(intent.id, JSON.stringify(intent));
  }

  async rerouteIntentGet(id: string): Promise<RerouteIntent | null> {
    const raw = this.rerouteJournal.get(id);
    return raw === undefined ? null : (JSON.parse(raw) as RerouteIntent);
  }

  async rerouteIntentDelete(id: string): Promise<void> {
    this.rerouteJournal.delete(id);
  }

  async rerouteIntents(createdAtOrBefore: number): Promise<RerouteIntent[]> {
    return dueIntents(this.rerouteJournal.values(), createdAtOrBefore);
  }

  async replan(orderId: string, req: ReplanRequest): Promise<ReplanResult> {
    const now = this.expireDue();
    const d = this.decisions.get(orderId);
    const r = this.reservations.get(orderId);
    // Synchronous from here on: a commit or cancel cannot interleave with the check and the swap.
    if (!d || d.cancelled || d.reservation === null || !r || r.state !== 'held') return { ok: false, why: 'not-held' };
    const need = new Map<string, { warehouseId: string; sku: string; qty: number }>();
    for (const i of req.items) {
      const k = `${i.warehouseId}\u0000${i.sku}`;
      const e = need.get(k);
      if (e) e.qty += i.qty;
      else need.set(k, { ...i });
    }
    const ownQty = new Map<string, number>();
    for (const i of r.items) ownQty.set(`${i.warehouseId}\u0000${i.sku}`, (ownQty.get(`${i.warehouseId}\u0000${i.sku}`) ?? 0) + i.qty);
    const ownUse = new Map<string, number>();
    for (const u of r.counters) ownUse.set(u.key, (ownUse.get(u.key) ?? 0) + u.amount);
    const shortages = [];
    for (const [k, n] of need) {
      const c = this.cells.get(n.warehouseId)?.get(n.sku);
      const locks = this.ownLocks(req.customerId, n.warehouseId, n.sku).reduce((s, l) => s + l.remaining, 0);
      const free = (c ? c.onHand - c.reserved - c.locked : 0) + locks + (ownQty.get(k) ?? 0);
      if (free < n.qty) shortages.push({ warehouseId: n.warehouseId, sku: n.sku, requested: n.qty, free });
    }
    const counters = [];
    const newUse = new Map<string, number>();
    for (const u of req.counters) newUse.set(u.key, (newUse.get(u.key) ?? 0) + u.amount);
    for (const u of req.counters) {
      const used = (this.counterValues.get(u.key) ?? 0) - (ownUse.get(u.key) ?? 0);
      if (used + newUse.get(u.key)! > u.limit) counters.push({ key: u.key, requested: u.amount, used, limit: u.limit });
    }
    if (shortages.length > 0 || counters.length > 0) return { ok: false, why: 'short', shortages, counters };
    // Give the old plan back (units from locks return to them) and take the new one, like reserve.
    this.endReservation(r, 'released', now);
    const items = this.take(req.customerId, need.values(), req.counters);
    r.items = items;
    r.counters = req.counters.map((u) => ({ key: u.key, amount: u.amount }));
    r.state = 'held';
    return { ok: true };
  }

  /** Leases by name: holder token and until when (epoch ms). */
  private readonly leases = new Map<string, { token: string; until: number }>();

  async leaseAcquire(name: string, token: string, ttlMs: number): Promise<boolean> {
    const now = this.clock();
    const l = this.leases.get(name);
    if (l && l.until > now && l.token !== token) return false;
    this.leases.set(name, { token, until: now + ttlMs });
    return true;
  }

  async leaseRelease(name: string, token: string): Promise<boolean> {
    const l = this.leases.get(name);
    if (!l || l.token !== token || l.until <= this.clock()) return false;
    this.leases.delete(name);
    return true;
  }

  async outboxAdd(entries: readonly OutboxEntry[]): Promise<boolean[]> {
    return entries.map((e) => {
      if (this.outbox.has(e.id)) return false;
      this.outbox.set(e.id, { ...e });
      if (e.state === 'pending') this.outboxPending.add(e.id);
      return true;
    });
  }

  async outboxClaim(limit: number, leaseMs: number): Promise<OutboxEntry[]> {
    const now = this.clock();
    const due = (e: OutboxEntry) => (e.lease !== null ? e.leaseUntil! : e.nextAttemptAt);
    const ready = [...this.outboxPending]
      .map((id) => this.outbox.get(id)!)
      .filter((e) => due(e) <= now)
      .sort((a, b) => due(a) - due(b) || cmp(a.id, b.id))
      .slice(0, limit);
    return ready.map((e) => {
      e.lease = randomUUID();
      e.leaseUntil = now + leaseMs;
      return { ...e };
    });
  }

  async outboxSettle(id: string, lease: string, outcome: OutboxOutcome): Promise<OutboxEntry | null> {
    const e = this.outbox.get(id);
    if (!e || e.state !== 'pending' || e.lease !== lease) return null;
    const now = this.clock();
    e.attempts += 1;
    e.lastAttemptAt = now;
    e.lastError = outcome.error;
    e.lease = null;
    e.leaseUntil = null;
    e.state = outcome.state;
    e.nextAttemptAt = outcome.nextAttemptAt;
    if (outcome.state === 'delivered') e.deliveredAt = now;
    if (outcome.state !== 'pending') this.outboxPending.delete(id);
    return { ...e };
  }

  async outboxGet(id: string): Promise<OutboxEntry | null> {
    const e = this.outbox.get(id);
    return e ? { ...e } : null;
  }

  async outboxList(filter: OutboxFilter, cursor: string | null, limit: number): Promise<{ items: OutboxEntry[]; next: string | null }> {
    // The same order and cursor as the Redis store's index, and the same bound on one call's scan.
    const all = [...this.outbox.values()].map((e) => ({ key: outboxCursor(e.createdAt, e.id), e })).sort((a, b) => cmp(a.key, b.key));
    let i = cursor === null ? 0 : all.findIndex((x) => x.key > cursor);
    if (i < 0) i = all.length;
    const items: OutboxEntry[] = [];
    let scanned = 0;
    let last: string | null = cursor;
    for (; i < all.length && items.length < limit && scanned < OUTBOX_LIST_SCAN; i++, scanned++) {
      const { key, e } = all[i]!;
      last = key;
      if ((filter.state === undefined || e.state === filter.state) && (filter.orderId === undefined || e.orderId === filter.orderId) && (filter.code === undefined || e.code === filter.code)) {
        items.push({ ...e });
      }
    }
    return { items, next: i < all.length ? last : null };
  }

  async outboxReplay(id: string): Promise<{ entry: OutboxEntry; replayed: boolean } | null> {
    const e = this.outbox.get(id);
    if (!e) return null;
    if (e.state === 'pending') return { entry: { ...e }, replayed: false };
    e.state = 'pending';
    e.attempts = 0;
    e.replays += 1;
    e.nextAttemptAt = this.clock();
    e.lease = null;
    e.leaseUntil = null;
    e.deliveredAt = null;
    this.outboxPending.add(id);
    return { entry: { ...e }, replayed: true };
  }

  async outboxPurge(before: number, limit: number): Promise<number> {
    const old = [...this.outbox.values()]
      .filter((e) => e.state === 'delivered' && e.createdAt < before)
      .sort((a, b) => a.createdAt - b.createdAt || cmp(a.id, b.id))
      .slice(0, limit);
    for (const e of old) this.outbox.delete(e.id);
    return old.length;
  }

  async outboxCounts(): Promise<Record<OutboxState, number>> {
    const out: Record<OutboxState, number> = { pending: 0, delivered: 0, dead: 0 };
    for (const e of this.outbox.values()) out[e.state] += 1;
    return out;
  }

  /**
   * Forgets an order no reader will ask about again: its decision, reservation, scans and
   * reroutes. Not part of the Store interface: a what-if replay keeps its memory flat over a year
   * of orders by forgetting each order once its outcome is counted (src/replay/engine.ts). A held
   * reservation is kept (its stock is still spoken for).
   */
  forgetOrder(orderId: string, reroutesKey: string): void {
    this.decisions.delete(orderId);
    this.applyKpiShare(orderId, null);
    if (this.reservations.get(orderId)?.state !== 'held') this.reservations.delete(orderId);
    this.scanSets.delete(orderId);
    this.lists.delete(reroutesKey);
  }

  /**
   * Drops one list (a replay drops a finished order's re-optimisation log). A lookup by key: a
   * predicate over every list would pass over the group lists of every order kept, once per order.
   */
  forgetList(key: string): void {
    this.lists.delete(key);
  }

  /** Drops every list whose key the predicate names (a replay drops past days' shipment indexes). */
  forgetLists(drop: (key: string) => boolean): void {
    for (const key of [...this.lists.keys()]) if (drop(key)) this.lists.delete(key);
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {}
}

const NO_LOCKS: readonly StockLock[] = Object.freeze([]);

/**
 * A sorted multiset of times (the embedded store's sorted sets of KPI marks): insert and remove
 * by binary search plus one array move, counting by binary search. The marks of the orders kept
 * (tens of thousands) fit one flat array, and the KPI read costs a logarithm, not a pass.
 */
class SortedTimes {
  private readonly xs: number[] = [];

  /** The first index whose time is >= t (strict = false) or > t (strict = true). */
  private bound(t: number, strict: boolean): number {
    let lo = 0;
    let hi = this.xs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.xs[mid]! < t || (strict && this.xs[mid] === t)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  insert(t: number): void {
    this.xs.splice(this.bound(t, true), 0, t);
  }

  remove(t: number): void {
    const i = this.bound(t, false);
    if (this.xs[i] === t) this.xs.splice(i, 1);
  }

  countAtOrBefore(t: number): number {
    return this.bound(t, true);
  }

  countBefore(t: number): number {
    return this.bound(t, false);
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * An open shipment as the embedded store keeps it: a copy of the caller's, field by field (on
 * Node 20 an object spread that replaces a key leaves V8's fast clone path, and structuredClone cost
 * ~10 µs a record), frozen with its members, and replaced (never changed) by a join, a leave or a
 * move, so that reads hand out the record itself: a decision lists its group's open shipments, and
 * a copy of each with its members on every read was most of what listing them cost (bench/README.md,
 * 2026-12-07). `grams` and `members` stand in for the record's own (a join or leave).
 */
function storedOpen(o: OpenShipment, grams = o.grams, members = o.members): OpenShipment {
  return Object.freeze({
    trackingNumber: o.trackingNumber,
    masterOrderId: o.masterOrderId,
    shipment: o.shipment,
    warehouseId: o.warehouseId,
    courierId: o.courierId,
    provinceCode: o.provinceCode,
    shipDay: o.shipDay,
    pickupAtMs: o.pickupAtMs,
    etaMs: o.etaMs,
    grams,
    maxGrams: o.maxGrams,
    // A member already kept (frozen) is shared by the record that replaces its record.
    members: Object.freeze(members.map((m) => (Object.isFrozen(m) ? m : Object.freeze(copyMember(m))))) as OpenShipmentMember[],
  });
}
/**
 * Drops the group's records past their time, oldest put first. A record whose time is later than
 * one put after it (its pickup moved later) holds those behind it in the queue until it is due:
 * they leave a little late, never early.
 */
function pruneOpenRecords(g: OpenGroup, now: number): void {
  while (g.head < g.queue.length) {
    const tn = g.queue[g.head]!;
    const until = g.recordUntil.get(tn);
    // Moved away under another waybill since (its new waybill is queued).
    if (until !== undefined) {
      if (until > now) break;
      g.recordUntil.delete(tn);
      g.byTracking.delete(tn);
    }
    g.head++;
  }
  // The queue's front is dropped once it is most of the queue (each waybill is shifted out once).
  if (g.head > 64 && 2 * g.head > g.queue.length) {
    g.queue = g.queue.slice(g.head);
    g.head = 0;
  }
}

/** Puts `rec` in the place of `old`, its record before a join or leave (same waybill), in the group's lookup and its open list. */
function replaceOpen(g: OpenGroup, old: OpenShipment, rec: OpenShipment): void {
  g.byTracking.set(rec.trackingNumber, rec);
  const i = g.live.indexOf(old);
  if (i >= 0) g.live[i] = rec;
}

function copyMember(m: OpenShipmentMember): OpenShipmentMember {
  const out: OpenShipmentMember = { orderId: m.orderId, grams: m.grams, placedAtMs: m.placedAtMs, savedCny: m.savedCny };
  if (m.amountCny !== undefined) out.amountCny = m.amountCny;
  if (m.discountCny !== undefined) out.discountCny = m.discountCny;
  return out;
}
