import type { Config } from '../config.js';
import type { ActionSink } from '../domain/actions.js';
import type { Decision } from '../domain/schemas.js';
import { LEFT_WAREHOUSE_RANK, type StatusMachine } from '../domain/scan-states.js';
import { localDay, toIsoWithOffset } from '../domain/time.js';
import type { NetworkContext } from '../network/context.js';
import { counterKeys, storeKeys } from '../store/keys.js';
import type { ReservationItem, Store } from '../store/types.js';
import type { Allocator } from './allocator.js';
import { trackingNumber } from './ids.js';
import { groupViews, moveOwnRecords } from './open-shipments.js';
import { currentDecision, type Reoptimization } from './reoptimized.js';
import type { Reroute } from './reroute.js';
import { orderListTtlMs } from './retention.js';
import { horizonDays } from './stages/ship-days.js';

const round2 = (x: number) => Math.round(x * 100) / 100;

/**
 * Reasons that say a decision was bent by a scarce resource (docs/reasons.md): a warehouse or
 * courier at capacity, a later wave, a split or a line-haul transfer because one warehouse lacked
 * stock. Such an order may get a better plan once the resource frees up (cancellations, expired
 * reservations, receipts, capacity raised, other orders moved), so the job re-solves it.
 */
const SCARCE_REASONS: ReadonlySet<string> = new Set(['WAREHOUSE_AT_CAPACITY', 'COURIER_NO_CAPACITY', 'NO_FITTING_COURIER', 'LATER_WAVE', 'SPLIT', 'TRANSFER_USED']);

/** Whether a decision was bent by a scarce resource (it then carries a hint in the shipment index). */
export function scarceHint(d: Decision): boolean {
  return d.reasons.some((r) => SCARCE_REASONS.has(r.code));
}

/** A shipment index entry (src/allocate/allocator.ts writes it when a decision is stored). */
interface IndexEntry {
  orderId: string;
  shipment: number;
  customerId?: string;
  /** Destination [lon, lat]. */
  to?: [number, number];
  /** True when the decision was bent by a scarce resource (scarceHint). */
  scarce?: boolean;
}

/** An outbound action code for the ERP (docs/outbox.md): an order's shipments were re-optimised. */
export const REOPTIMIZED_ACTION = 'SHIPMENT_REOPTIMIZED';

/** What one round did. */
export interface ReoptimizeRound {
  /** ISO-8601 with offset. */
  at: string;
  /** Open orders selected (same customer and address as another open order, or bent by a scarce resource). */
  selected: number;
  /** Orders re-solved (selected, held, not picked up, not a rules-bound order). */
  solved: number;
  moved: { orderId: string; savingCny: number; shipments: number }[];
  /** Moves refused at the store (picked up, cancelled or changed between the solve and the move; or would not fit any more). */
  refused: { orderId: string; why: string }[];
  /** Shipments moved and money saved this round, CNY. */
  movedShipments: number;
  savingCny: number;
}

/**
 * The re-optimisation job's work (issue 21 item 3; Xu, Allgor & Graves, "The benefits of
 * re-evaluating real-time order fulfillment decisions"): every round re-solves the orders whose
 * shipments are not yet picked up (reservation held, no "left warehouse" scan, every pickup wave
 * still ahead) among those worth it: orders of one customer to one address decided apart (solved
 * together, one after the other, each seeing the others' current holding), and orders bent by a
 * scarce resource. Each is solved with the allocator's own candidates and solver from the current
 * stock and capacity, its own holding counted as available to itself (Allocator.propose); it moves
 * only when the money saved is at least REOPTIMIZE_MIN_SAVING_CNY per shipment of its old plan and
 * its new plan delivers no later. The move is one atomic store step (Store.replan), refused once
 * the order shipped, so a shipment picked up between the solve and the move is left alone.
 */
export class Reoptimizer {
  /** Observers of every move (KPI shares, the live map, replays). */
  readonly listeners: ((orderId: string, m: Reoptimization) => void)[] = [];
  /** What each open order's last re-solve saw that did not move it (see `unchanged`). */
  private seen = new Map<string, Seen>();

  constructor(
    private readonly net: NetworkContext,
    private readonly cfg: Pick<Config, 'reoptimizeMinSavingCny' | 'timezoneOffsetMinutes' | 'capacityHorizonDays' | 'reservationTtlMinutes' | 'orderRetentionDays' | 'mergeMinOrders'>,
    private readonly store: Store,
    private readonly allocator: Pick<Allocator, 'propose' | 'book' | 'closed'>,
    private readonly machine: StatusMachine,
    private readonly clock: () => number,
    /** Where the ERP hears of a move (the outbox); none: no webhook event. */
    private readonly actions?: ActionSink,
  ) {}

  async runOnce(): Promise<ReoptimizeRound> {
    const now = this.clock();
    const tz = this.cfg.timezoneOffsetMinutes;
    const round: ReoptimizeRound = { at: toIsoWithOffset(now, tz), selected: 0, solved: 0, moved: [], refused: [], movedShipments: 0, savingCny: 0 };
    const days = horizonDays(now, this.cfg);
    const provinces = this.net.regions.provinceCodes();
    const keys = this.net.couriers.flatMap((c) => provinces.flatMap((p) => days.map((d) => storeKeys.shipmentIndex(c.id, p, d))));
    const lists = await Promise.all(keys.map((k) => this.store.listAll<IndexEntry>(k)));
    // One entry per order: the index has one per shipment (and more after reroutes and moves).
    const orders = new Map<string, IndexEntry>();
    for (const list of lists) for (const e of list) if (e.customerId !== undefined && e.to !== undefined && !orders.has(e.orderId)) orders.set(e.orderId, e);
    const groups = new Map<string, IndexEntry[]>();
    for (const e of orders.values()) {
      const k = `${e.customerId}\u0000${e.to![0].toFixed(5)},${e.to![1].toFixed(5)}`;
      (groups.get(k) ?? groups.set(k, []).get(k)!).push(e);
    }
    for (const group of groups.values()) {
      const picked = group.length > 1 ? group : group.filter((e) => e.scarce === true);
      for (const e of picked) {
        round.selected++;
        await this.reoptimize(e, now, round);
      }
    }
    // Orders no longer in the index (shipped days, dropped) are forgotten.
    for (const id of this.seen.keys()) if (!orders.has(id)) this.seen.delete(id);
    round.savingCny = round2(round.savingCny);
    return round;
  }

  /** Re-solves one order and moves it when the new plan saves enough and is no later. */
  private async reoptimize(e: IndexEntry, now: number, round: ReoptimizeRound): Promise<void> {
    const tz = this.cfg.timezoneOffsetMinutes;
    const d = await this.store.getDecision<Decision>(e.orderId);
    // Rules may have bent the order (forbidden warehouses, a forced courier): a re-solve without
    // them could break them, so such orders keep their plan.
    if (!d || d.cancelled || d.reservation !== 'held' || d.decision.status !== 'allocated' || d.decision.rules !== undefined || d.promisedByMs === undefined) return;
    const [reroutes, reopts, scans] = await Promise.all([
      this.store.listAll<Reroute>(storeKeys.reroutes(e.orderId)),
      this.store.listAll<Reoptimization>(storeKeys.reoptimizations(e.orderId)),
      this.store.scans(e.orderId),
    ]);
    const cur = currentDecision(d.decision, reroutes, reopts);
    if (cur.shipments.length === 0 || cur.shipments.some((s) => s.pickupAt === undefined || Date.parse(s.pickupAt) <= now)) return;
    if (this.machine.view(scans).rank >= LEFT_WAREHOUSE_RANK) return;
    // Orders that took dated lots keep their plan: their holding is per lot cell, and a re-solve
    // without the lot stage could not keep the shelf-life check (issue 21 item 4).
    if (cur.shipments.some((s) => s.lines.some((l) => l.lots !== undefined))) return;
    // Orders on a shared waybill (merging: a child that joined an open shipment, or a master whose
    // shipment others joined) keep their plan: moving one order would leave the others on a
    // waybill that no longer travels as planned. The group records are read under the waybills as
    // they stand (a reroute moves a shared waybill's record to its new number).
    if (cur.shipments.some((s) => s.joinedOrderId !== undefined) || (await groupViews(this.store, this.cfg, cur, now)).length > 0) return;
    const region = this.net.regions.lookup(e.to![0], e.to![1]);
    if (!region) return;
    const prov = region.provinceCode;
    const lines = new Map<string, number>();
    for (const s of cur.shipments) for (const l of s.lines) lines.set(l.sku, (lines.get(l.sku) ?? 0) + l.qty);
    const own = holdingOf(cur, prov, tz);
    const days = horizonDays(now, this.cfg);
    const counterKeyList = days.flatMap((d) => [
      ...this.net.warehouses.map((w) => counterKeys.warehouseParcels(w.id, d)),
      ...this.net.couriers.flatMap((c) => [counterKeys.courierParcels(c.id, prov, d), counterKeys.courierGrams(c.id, prov, d)]),
    ]);
    const [free, used, quotes, ...limits] = await Promise.all([
      this.store.freeStock([...lines.keys()], e.customerId),
      this.store.counters(counterKeyList),
      this.allocator.book.quotes(),
      ...days.map((d) => this.allocator.book.limits(prov, d)),
    ]);
    // Limits, quote versions and closed warehouses change the options without any counter moving.
    const terms = JSON.stringify([limits.map((l) => [...l]), [...quotes.values()].map((q) => `${q.courierId}:${q.version}`).sort(), [...this.allocator.closed].sort()]);
    const seen: Seen = { plan: cur.shipments.map((s) => s.trackingNumber).join(','), free, used, terms };
    const before = this.seen.get(e.orderId);
    if (before !== undefined && unchanged(before, seen)) return;
    this.seen.set(e.orderId, seen);
    round.solved++;
    const p = await this.allocator.propose(
      {
        orderId: e.orderId,
        customerId: e.customerId!,
        promisedByMs: d.promisedByMs,
        destination: { lon: e.to![0], lat: e.to![1] },
        lines: [...lines].map(([sku, qty]) => ({ sku, qty })),
        // Never more shipments than now: a single shipment stays single.
        allowSplit: cur.shipments.length > 1,
      },
      own,
    );
    if (p === null || p.decision.status !== 'allocated' || p.decision.shipments.length > cur.shipments.length) return;
    // The saving is what is paid out (freight and line haul): storage is counted from the moment
    // of solving, so the old plan's (from its decision) and the new one's (from now) are not on one
    // basis; the new plan may hold no more storage than the old one recorded.
    const paid = (ss: Decision['shipments']) => ss.reduce((n, s) => n + s.cost.freight + s.cost.transfer, 0);
    const storage = (ss: Decision['shipments']) => ss.reduce((n, s) => n + s.cost.storage, 0);
    const saving = round2(paid(cur.shipments) - paid(p.decision.shipments));
    const latest = (ss: Decision['shipments']) => Math.max(...ss.map((s) => Date.parse(s.eta)));
    const minSaving = Math.max(0.01, this.cfg.reoptimizeMinSavingCny * cur.shipments.length);
    if (saving < minSaving || latest(p.decision.shipments) > latest(cur.shipments) || storage(p.decision.shipments) > storage(cur.shipments) + 0.005) return;
    const r = await this.store.replan(e.orderId, { customerId: e.customerId!, ...p.reservation });
    if (!r.ok) {
      round.refused.push({ orderId: e.orderId, why: r.why });
      return;
    }
    const revision = 1_000 * (reopts.length + 1) + reroutes.length;
    const shipments = p.decision.shipments.map((s, i) => ({ ...s, trackingNumber: trackingNumber(s.courierId, e.orderId, i, revision) }));
    const from = cur.shipments.map((s) => ({ warehouseId: s.warehouseId, courierId: s.courierId, trackingNumber: s.trackingNumber, eta: s.eta, moneyCny: round2(s.cost.freight + s.cost.transfer + s.cost.storage) }));
    const m: Reoptimization = {
      at: toIsoWithOffset(now, tz),
      code: 'REOPTIMIZED',
      detail: `re-solved before pickup with the current stock and capacity: ${from.map((f) => `${f.warehouseId}/${f.courierId}`).join(' + ')} -> ${shipments.map((s) => `${s.warehouseId}/${s.courierId}`).join(' + ')} saves ${saving.toFixed(2)} CNY (at least REOPTIMIZE_MIN_SAVING_CNY ${this.cfg.reoptimizeMinSavingCny} per shipment) and delivers no later`,
      from,
      shipments,
      totalCost: p.decision.totalCost,
      savingCny: saving,
      reroutesBefore: reroutes.length,
    };
    const ttl = orderListTtlMs(this.cfg);
    await this.store.listPush(storeKeys.reoptimizations(e.orderId), m, ttl);
    // Its open-shipment records follow it, so later orders of its group join what travels.
    await moveOwnRecords(this.store, this.net, e.orderId, cur.shipments, shipments.map((s, i) => ({ ...s, shipDay: p.shipDays[i]! })), now);
    // Index the new shipments, so a later capacity cut (reroute) and the next round find them.
    await Promise.all(
      shipments.map((s, shipment) => this.store.listPush(storeKeys.shipmentIndex(s.courierId, p.provinceCode, p.shipDays[shipment]!), { orderId: e.orderId, shipment, customerId: e.customerId, to: e.to, scarce: scarceHint(p.decision) }, ttl)),
    );
    round.moved.push({ orderId: e.orderId, savingCny: saving, shipments: from.length });
    round.movedShipments += from.length;
    round.savingCny += saving;
    for (const l of this.listeners) l(e.orderId, m);
    if (this.actions !== undefined) {
      await this.actions.enqueue([
        {
          orderId: e.orderId,
          code: REOPTIMIZED_ACTION,
          discriminator: `move-${reopts.length + 1}`,
          params: { savingCny: saving, from: from.map((f) => f.trackingNumber), to: shipments.map((s) => ({ trackingNumber: s.trackingNumber, warehouseId: s.warehouseId, courierId: s.courierId, pickupAt: s.pickupAt ?? null, eta: s.eta })) },
          source: { ruleset: 'dispatchd', version: 0, rule: 'REOPTIMIZE' },
          decidedAtMs: now,
        },
      ]);
    }
  }
}

/** The inputs of an order's last re-solve that matter for whether a new one can find a cheaper plan. */
interface Seen {
  /** Its shipments' tracking numbers then (a reroute or move changes them). */
  plan: string;
  /** Free units per warehouse and SKU for its customer, and counter use. */
  free: Map<string, Map<string, number>>;
  used: Map<string, number>;
  /** The capacity limits, quote versions and closed warehouses in force. */
  terms: string;
}

/**
 * Whether a re-solve now would only see a smaller world than the last one that did not move the
 * order: its own plan the same, no free stock of its SKUs risen anywhere, no capacity counter
 * fallen, and no limit, quote or warehouse closure changed. Each of those only removes options (the order's own holding stays
 * available to it), so the cheapest plan cannot have become cheaper and the solve is skipped. This
 * is what keeps a round cheap: most orders see the world only shrink between rounds (other orders
 * take stock and capacity), and are solved again when a receipt, a cancellation, an expiry, a
 * capacity change or a move frees something.
 */
function unchanged(a: Seen, b: Seen): boolean {
  if (a.plan !== b.plan || a.terms !== b.terms) return false;
  for (const [w, skus] of b.free) for (const [sku, n] of skus) if (n > (a.free.get(w)?.get(sku) ?? 0)) return false;
  for (const [k, n] of b.used) if (n < (a.used.get(k) ?? 0)) return false;
  return true;
}

/**
 * What an order's current shipments hold in the store, as the allocator reserved it: per shipment
 * its units (at its warehouse, less what came by line haul; the line-haul units at their source),
 * the warehouse's outbound parcels and the courier's parcels and grams on its ship day.
 */
export function holdingOf(d: Decision, provinceCode: string, tzMinutes: number): { items: ReservationItem[]; counters: { key: string; amount: number }[] } {
  const items: ReservationItem[] = [];
  const counters: { key: string; amount: number }[] = [];
  for (const s of d.shipments) {
    for (const l of s.lines) {
      const hauled = s.transfers.filter((t) => t.sku === l.sku).reduce((n, t) => n + t.qty, 0);
      if (l.qty - hauled > 0) items.push({ warehouseId: s.warehouseId, sku: l.sku, qty: l.qty - hauled });
    }
    for (const t of s.transfers) items.push({ warehouseId: t.fromWarehouseId, sku: t.sku, qty: t.qty });
    const day = localDay(Date.parse(s.pickupAt ?? s.eta), tzMinutes);
    counters.push({ key: counterKeys.warehouseParcels(s.warehouseId, day), amount: s.parcels });
    counters.push({ key: counterKeys.courierParcels(s.courierId, provinceCode, day), amount: s.parcels });
    counters.push({ key: counterKeys.courierGrams(s.courierId, provinceCode, day), amount: Math.round(s.weightKg * 1_000) });
  }
  return { items, counters };
}
