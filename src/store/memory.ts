import type {
  ReservationRequest,
  ReservationState,
  ReserveResult,
  StockLevel,
  Store,
  StoredDecision,
} from './types.js';
import { ReservationExistsError } from './types.js';

interface Cell {
  onHand: number;
  reserved: number;
}

interface Reservation {
  req: ReservationRequest;
  state: ReservationState;
}

/**
 * The embedded default store. Each method runs to completion without awaiting, so on Node's single
 * thread every reservation is atomic: check every item and counter, then apply all, or none.
 */
export class MemoryStore implements Store {
  readonly kind = 'memory' as const;
  private readonly cells = new Map<string, Map<string, Cell>>();
  private readonly counterValues = new Map<string, number>();
  private readonly reservations = new Map<string, Reservation>();
  private readonly decisions = new Map<string, StoredDecision>();
  private readonly events = new Set<string>();

  constructor(initial: { warehouseId: string; sku: string; onHand: number }[] = []) {
    for (const r of initial) this.cell(r.warehouseId, r.sku).onHand = r.onHand;
  }

  private cell(warehouseId: string, sku: string): Cell {
    let wh = this.cells.get(warehouseId);
    if (!wh) this.cells.set(warehouseId, (wh = new Map()));
    let c = wh.get(sku);
    if (!c) wh.set(sku, (c = { onHand: 0, reserved: 0 }));
    return c;
  }

  async stock(filter: { warehouseId?: string; sku?: string } = {}): Promise<StockLevel[]> {
    const out: StockLevel[] = [];
    for (const [warehouseId, skus] of this.cells) {
      if (filter.warehouseId !== undefined && filter.warehouseId !== warehouseId) continue;
      for (const [sku, c] of skus) {
        if (filter.sku !== undefined && filter.sku !== sku) continue;
        out.push({ warehouseId, sku, onHand: c.onHand, free: c.onHand - c.reserved, reserved: c.reserved });
      }
    }
    return out.sort((a, b) => (a.warehouseId === b.warehouseId ? cmp(a.sku, b.sku) : cmp(a.warehouseId, b.warehouseId)));
  }

  async freeStock(skus: readonly string[]): Promise<Map<string, Map<string, number>>> {
    const out = new Map<string, Map<string, number>>();
    for (const [warehouseId, cells] of this.cells) {
      const m = new Map<string, number>();
      for (const sku of skus) {
        const c = cells.get(sku);
        if (c && c.onHand - c.reserved > 0) m.set(sku, c.onHand - c.reserved);
      }
      if (m.size > 0) out.set(warehouseId, m);
    }
    return out;
  }

  async setOnHand(items: { warehouseId: string; sku: string; onHand: number }[]) {
    const rejected = items
      .map((i) => ({ ...i, reserved: this.cells.get(i.warehouseId)?.get(i.sku)?.reserved ?? 0 }))
      .filter((i) => i.onHand < i.reserved);
    if (rejected.length > 0) return { ok: false as const, rejected };
    for (const i of items) this.cell(i.warehouseId, i.sku).onHand = i.onHand;
    return { ok: true as const };
  }

  async adjustOnHand(warehouseId: string, sku: string, delta: number) {
    const c = this.cell(warehouseId, sku);
    if (c.onHand + delta < c.reserved) return { ok: false as const, onHand: c.onHand, reserved: c.reserved };
    c.onHand += delta;
    return { ok: true as const, onHand: c.onHand };
  }

  async markEvent(eventId: string): Promise<boolean> {
    if (this.events.has(eventId)) return false;
    this.events.add(eventId);
    return true;
  }

  async counters(keys: readonly string[]): Promise<Map<string, number>> {
    return new Map(keys.map((k) => [k, this.counterValues.get(k) ?? 0]));
  }

  async reserve(req: ReservationRequest): Promise<ReserveResult> {
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
      const free = c ? c.onHand - c.reserved : 0;
      if (free < n.qty) shortages.push({ warehouseId: n.warehouseId, sku: n.sku, requested: n.qty, free });
    }
    const counters = [];
    for (const u of req.counters) {
      const used = this.counterValues.get(u.key) ?? 0;
      if (used + u.amount > u.limit) counters.push({ key: u.key, requested: u.amount, used, limit: u.limit });
    }
    if (shortages.length > 0 || counters.length > 0) return { ok: false, shortages, counters };
    for (const n of need.values()) this.cell(n.warehouseId, n.sku).reserved += n.qty;
    for (const u of req.counters) this.counterValues.set(u.key, (this.counterValues.get(u.key) ?? 0) + u.amount);
    this.reservations.set(req.id, { req, state: 'held' });
    return { ok: true };
  }

  async release(id: string): Promise<boolean> {
    const r = this.reservations.get(id);
    if (!r || r.state !== 'held') return false;
    for (const i of r.req.items) this.cell(i.warehouseId, i.sku).reserved -= i.qty;
    for (const u of r.req.counters) this.counterValues.set(u.key, (this.counterValues.get(u.key) ?? 0) - u.amount);
    r.state = 'released';
    this.syncDecision(id, 'released');
    return true;
  }

  async commit(id: string): Promise<boolean> {
    const r = this.reservations.get(id);
    if (!r || r.state !== 'held') return false;
    for (const i of r.req.items) {
      const c = this.cell(i.warehouseId, i.sku);
      c.reserved -= i.qty;
      c.onHand -= i.qty;
    }
    r.state = 'committed';
    this.syncDecision(id, 'committed');
    return true;
  }

  private syncDecision(id: string, state: ReservationState): void {
    const d = this.decisions.get(id);
    if (d) d.reservation = state;
  }

  async getDecision<D>(orderId: string): Promise<StoredDecision<D> | null> {
    const d = this.decisions.get(orderId);
    return d ? (structuredClone(d) as StoredDecision<D>) : null;
  }

  async putDecisionIfAbsent<D>(d: StoredDecision<D>): Promise<StoredDecision<D>> {
    const existing = this.decisions.get(d.orderId);
    if (existing) return structuredClone(existing) as StoredDecision<D>;
    this.decisions.set(d.orderId, structuredClone(d));
    return d;
  }

  async markCancelled(orderId: string): Promise<void> {
    const d = this.decisions.get(orderId);
    if (d) d.cancelled = true;
  }

  async close(): Promise<void> {}
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
