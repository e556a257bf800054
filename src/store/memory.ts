import { randomUUID } from 'node:crypto';
import TinyQueue from 'tinyqueue';
import type {
  CommitResult,
  LockRequest,
  ReservationRequest,
  ReservationState,
  ReserveResult,
  StockLevel,
  StockLock,
  Store,
  StoredDecision,
  StoreOptions,
  StoredScan,
} from './types.js';
import { ReservationExistsError, ReservationLostError } from './types.js';

interface Cell {
  onHand: number;
  reserved: number;
  locked: number;
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
 * The embedded default store. Each method runs to completion without awaiting, so on Node's single
 * thread every operation is atomic: check every item and counter, then apply all, or none. Expiry
 * of locks and reservations is applied at the start of every operation (see types.ts).
 */
export class MemoryStore implements Store {
  readonly kind = 'memory' as const;
  private readonly cells = new Map<string, Map<string, Cell>>();
  private readonly counterValues = new Map<string, number>();
  private readonly reservations = new Map<string, Reservation>();
  /**
   * Decisions with the decision itself as JSON, as Redis holds it: a read gets its own copy, and
   * a kept decision is one flat string to the collector instead of a graph of objects (every
   * decision of the day stays here, so that is most of what each young-generation collection
   * would otherwise copy).
   */
  private readonly decisions = new Map<string, StoredDecision<string>>();
  private readonly events = new Set<string>();
  private readonly locks = new Map<string, StockLock>();
  /** Every lock per owner (customer), so that a decision for a customer without locks skips them at once. */
  private readonly locksByCustomer = new Map<string, StockLock[]>();
  private readonly scanSets = new Map<string, Map<string, StoredScan>>();
  private readonly kv = new Map<string, string>();
  private readonly lists = new Map<string, string[]>();
  private readonly clock: () => number;
  /**
   * Every lock and reservation by expiry, soonest first (a binary heap): expiring one is a pop,
   * not a pass over every lock and reservation ever made. An entry whose lock or reservation has
   * ended meanwhile (released, committed, cancelled) is dropped when it comes up.
   */
  private readonly expiries = new TinyQueue<{ at: number; lockId?: string; reservationId?: string }>([], (a, b) => a.at - b.at);

  constructor(initial: { warehouseId: string; sku: string; onHand: number }[] = [], opts: StoreOptions = {}) {
    this.clock = opts.clock ?? Date.now;
    for (const r of initial) this.cell(r.warehouseId, r.sku).onHand = r.onHand;
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
    return now;
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
      for (const [sku, c] of skus) {
        if (filter.sku !== undefined && filter.sku !== sku) continue;
        out.push({ warehouseId, sku, onHand: c.onHand, free: c.onHand - c.reserved - c.locked, reserved: c.reserved, locked: c.locked });
      }
    }
    return out.sort((a, b) => (a.warehouseId === b.warehouseId ? cmp(a.sku, b.sku) : cmp(a.warehouseId, b.warehouseId)));
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
    for (const i of items) this.cell(i.warehouseId, i.sku).onHand = i.onHand;
    return { ok: true as const };
  }

  async adjustOnHand(warehouseId: string, sku: string, delta: number) {
    this.expireDue();
    const c = this.cell(warehouseId, sku);
    if (c.onHand + delta < c.reserved + c.locked) return { ok: false as const, onHand: c.onHand, reserved: c.reserved, locked: c.locked };
    c.onHand += delta;
    return { ok: true as const, onHand: c.onHand };
  }

  async markEvent(eventId: string): Promise<boolean> {
    if (this.events.has(eventId)) return false;
    this.events.add(eventId);
    return true;
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
    const items: HeldItem[] = [];
    for (const n of need.values()) {
      const c = this.cell(n.warehouseId, n.sku);
      const fromLocks: HeldItem['fromLocks'] = [];
      let left = n.qty;
      for (const l of this.ownLocks(req.customerId, n.warehouseId, n.sku)) {
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
    for (const u of req.counters) this.counterValues.set(u.key, (this.counterValues.get(u.key) ?? 0) + u.amount);
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

  /** A stored decision as read now: its reservation's current state and expiry. */
  private view<D>(d: StoredDecision<string>, decision: D): StoredDecision<D> {
    const out: StoredDecision<D> = { ...d, decision };
    const r = this.reservations.get(d.orderId);
    if (out.reservation !== null && r) {
      out.reservation = r.state;
      out.expiresAt = r.expiresAt;
    }
    return out;
  }

  async putDecisionIfAbsent<D>(d: StoredDecision<D>, attempt?: string): Promise<StoredDecision<D>> {
    const r = this.reservations.get(d.orderId);
    if (attempt !== undefined && (!r || r.attempt !== attempt)) throw new ReservationLostError(d.orderId);
    if (this.decisions.has(d.orderId)) {
      // Another attempt decided first: give back what this one holds.
      if (attempt !== undefined && r?.state === 'held' && !this.decisions.get(d.orderId)!.reservation) await this.release(d.orderId);
      return (await this.getDecision<D>(d.orderId))!;
    }
    const stored = { ...d, decision: JSON.stringify(d.decision), expiresAt: attempt !== undefined && r ? r.expiresAt : null };
    this.decisions.set(d.orderId, stored);
    // The caller's decision is what was just stored (later reads parse their own copies).
    this.expireDue();
    return this.view(stored, d.decision);
  }

  async markCancelled(orderId: string): Promise<void> {
    const d = this.decisions.get(orderId);
    if (d) d.cancelled = true;
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

  async addScans(orderId: string, scans: { key: string; scan: StoredScan }[]): Promise<number> {
    let set = this.scanSets.get(orderId);
    if (!set) this.scanSets.set(orderId, (set = new Map()));
    let added = 0;
    for (const { key, scan } of scans) {
      if (set.has(key)) continue;
      set.set(key, { ...scan });
      added++;
    }
    return added;
  }

  async scans(orderId: string): Promise<StoredScan[]> {
    return [...(this.scanSets.get(orderId)?.values() ?? [])].map((x) => ({ ...x }));
  }

  async orderIds(): Promise<string[]> {
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

  async listPush(key: string, value: unknown): Promise<void> {
    (this.lists.get(key) ?? this.lists.set(key, []).get(key)!).push(JSON.stringify(value));
  }

  async listAll<T>(key: string): Promise<T[]> {
    return (this.lists.get(key) ?? []).map((v) => JSON.parse(v) as T);
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

  async ping(): Promise<void> {}

  async close(): Promise<void> {}
}

const NO_LOCKS: readonly StockLock[] = Object.freeze([]);

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
