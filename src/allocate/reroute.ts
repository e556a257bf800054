import { randomUUID } from 'node:crypto';
import { parcelsFor } from '../../solver/cost.js';
import type { ProblemOption } from '../../solver/types.js';
import type { Config } from '../config.js';
import type { CourierBook } from '../couriers/book.js';
import type { Decision } from '../domain/schemas.js';
import type { NetworkContext } from '../network/context.js';
import type { OpenShipment, RerouteIntent, RerouteStep, Store, StoredDecision } from '../store/types.js';
import { LEFT_WAREHOUSE_RANK, type StatusMachine } from '../domain/scan-states.js';
import { trackingNumber } from './ids.js';
import { orderListTtlMs } from './retention.js';
import { NO_LIMIT } from './candidates.js';
import { counterKeys, storeKeys } from '../store/keys.js';
import { toIsoWithOffset } from '../domain/time.js';
import { deliveryMs } from '../domain/waves.js';
import { currentDecision, type Reoptimization } from './reoptimized.js';

const HOUR_MS = 3_600_000;
const round2 = (x: number) => Math.round(x * 100) / 100;

/** One shipment moved to another courier, as recorded on the order. */
export interface Reroute {
  /** ISO-8601 with offset. */
  at: string;
  /** Index of the shipment in the decision. */
  shipment: number;
  fromCourierId: string;
  toCourierId: string;
  fromTrackingNumber: string;
  trackingNumber: string;
  code: 'COURIER_CAPACITY_GAP';
  detail: string;
  parcels: number;
  /** Freight and lateness penalty with the new courier, CNY. */
  freight: number;
  lateness: number;
  /** The new ETA, ISO-8601 with offset. */
  eta: string;
}

/** The decision as it stands after its reroutes: each moved shipment with its new courier, waybill, ETA and cost. */
export function applyReroutes(d: Decision, reroutes: readonly Reroute[]): Decision {
  if (reroutes.length === 0) return d;
  const shipments = d.shipments.map((s) => ({ ...s, cost: { ...s.cost } }));
  for (const r of reroutes) {
    const s = shipments[r.shipment];
    if (!s) continue;
    s.courierId = r.toCourierId;
    s.trackingNumber = r.trackingNumber;
    s.parcels = r.parcels;
    s.eta = r.eta;
    s.cost.freight = r.freight;
    s.cost.lateness = r.lateness;
    s.cost.total = round2(s.cost.freight + s.cost.transfer + s.cost.storage + s.cost.lateness + s.cost.split);
  }
  return { ...d, shipments, totalCost: round2(shipments.reduce((n, s) => n + s.cost.total, 0)) };
}

export interface RerouteOutcome {
  rerouted: (Reroute & { orderId: string })[];
  /** Shipments on the cut courier that stay with it, and why (picked up, no other courier with capacity). */
  kept: { orderId: string; shipment: number; why: string }[];
}

/** How often a waybill is read again when orders joined or left it while it moved. */
const WAYBILL_ATTEMPTS = 3;

/** One order's shipment on the waybill being moved: the master's own, or a child's joined one. */
interface Rider {
  orderId: string;
  /** Index of the shipment in the order's decision. */
  shipment: number;
  /** The shipment as it stands (reroutes and re-optimisation applied). */
  current: Decision['shipments'][number];
  d: StoredDecision<Decision>;
  /** Reroutes recorded for the order so far. */
  reroutes: number;
  /** Its kilograms, and the parcels its reservation holds on the courier (a child holds none: it rides in the master's). */
  grams: number;
  parcels: number;
}

/** A waybill as the rerouter moves it: the master's shipment and, on an open shipment, the children that joined it. */
interface Waybill {
  /** The master first. */
  riders: Rider[];
  /** The open-shipment record and its group, when the master's shipment is one (issue 21); null otherwise. */
  open: { group: string; record: OpenShipment } | null;
  /** Why it stays where it is, when it must (a member picked up). */
  pinned: string | null;
  /** A member joined but its decision is not stored yet (it is being decided): read the waybill again shortly. */
  unsettled: boolean;
}

/**
 * Re-decides the shipments of a courier whose capacity for a province and day was cut below what
 * is booked: latest decided first, each not yet picked up (no "left warehouse" scan) moves to the
 * cheapest other courier (freight + lateness) that has the parcels and kilograms left, its
 * capacity use moved atomically with the reservation; a new tracking number, a reason and an
 * event. Stops as soon as the courier is back within its limit.
 *
 * A shipment that later orders of its customer joined (an open shipment, issue 21) moves as one
 * waybill with them or not at all: the new courier must take its parcels and every member's
 * kilograms, each member's use moves with its own reservation, each member gets a reroute (the
 * children: no parcel, the new courier's per-kg freight, the master's new waybill and ETA), and the
 * open-shipment record moves under the new waybill, so that later orders join the parcel that
 * travels. A child met on its own is left alone: it moves with its master.
 */
export class Rerouter {
  readonly listeners: ((orderId: string, r: Reroute) => void)[] = [];

  constructor(
    private readonly net: NetworkContext,
    private readonly cfg: Pick<Config, 'latenessCnyPerHour' | 'timezoneOffsetMinutes' | 'reservationTtlMinutes' | 'orderRetentionDays' | 'rerouteRecoveryGraceMs'>,
    private readonly store: Store,
    private readonly book: CourierBook,
    private readonly machine: StatusMachine,
    private readonly clock: () => number,
  ) {}

  async onCapacityChange(courierId: string, provinceCode: string, day: string): Promise<RerouteOutcome> {
    // A reroute that a dead process left half done would make the counters below wrong (use
    // booked on two couriers at once, or on one the orders do not name): settle those first.
    await this.recover();
    const out: RerouteOutcome = { rerouted: [], kept: [] };
    const limits = await this.book.limits(provinceCode, day);
    const limit = limits.get(courierId)!;
    const parcelsKey = counterKeys.courierParcels(courierId, provinceCode, day);
    const gramsKey = counterKeys.courierGrams(courierId, provinceCode, day);
    const used = await this.store.counters([parcelsKey, gramsKey]);
    let parcelsOver = limit.parcels === null ? 0 : used.get(parcelsKey)! - limit.parcels;
    let gramsOver = limit.kg === null ? 0 : used.get(gramsKey)! - Math.round(limit.kg * 1_000);
    if (parcelsOver <= 0 && gramsOver <= 0) return out;

    const books = await this.book.quotes();
    const seen = new Set<string>();
    const entries = (await this.store.listAll<{ orderId: string; shipment: number }>(storeKeys.shipmentIndex(courierId, provinceCode, day))).reverse();
    for (const { orderId, shipment } of entries) {
      if (parcelsOver <= 0 && gramsOver <= 0) break;
      const key = `${orderId}#${shipment}`;
      if (seen.has(key)) continue;
      seen.add(key);
      for (let attempt = 1; ; attempt++) {
        const bill = await this.waybill(orderId, shipment, courierId);
        if (bill === null) break;
        for (const r of bill.riders) seen.add(`${r.orderId}#${r.shipment}`);
        if (bill.pinned !== null) {
          this.keep(out, bill, bill.pinned);
          break;
        }
        const moved = bill.unsettled ? 'changed' : await this.move(bill, courierId, provinceCode, day, limits, books);
        if (moved === 'changed' && attempt < WAYBILL_ATTEMPTS) {
          // An order joining right now stores its decision within milliseconds.
          await new Promise((r) => setTimeout(r, 20 * attempt));
          continue;
        }
        if (moved === 'changed') {
          this.keep(out, bill, `orders kept joining or leaving its waybill ${bill.riders[0]!.current.trackingNumber} while it moved; nothing moved`);
        } else if (moved === null) {
          this.keep(out, bill, bill.riders.length > 1 ? `no other courier has a lane and capacity left for its whole waybill ${bill.riders[0]!.current.trackingNumber} (${bill.riders.length} orders, ${bill.riders.reduce((n, r) => n + r.grams, 0) / 1_000} kg): it moves with the orders that joined it or not at all` : 'no other courier has a lane and capacity left for it');
        } else {
          for (const r of moved) out.rerouted.push(r);
          parcelsOver -= bill.riders[0]!.parcels;
          gramsOver -= bill.riders.reduce((n, r) => n + r.grams, 0);
        }
        break;
      }
    }
    return out;
  }

  /** Every member of the waybill stays, each with the reason (the children's names the master's waybill). */
  private keep(out: RerouteOutcome, bill: Waybill, why: string): void {
    const [master, ...children] = bill.riders;
    out.kept.push({ orderId: master!.orderId, shipment: master!.shipment, why });
    for (const c of children) out.kept.push({ orderId: c.orderId, shipment: c.shipment, why: `joined order ${master!.orderId}'s waybill ${master!.current.trackingNumber}, which stays: ${why}` });
  }

  /**
   * The waybill of an index entry, as it stands now: null when there is nothing to move (the
   * order is gone or no longer on this courier, or the shipment is a child's, which moves only
   * with its master).
   */
  private async waybill(orderId: string, shipment: number, courierId: string): Promise<Waybill | null> {
    const master = await this.rider(orderId, (d) => (d.shipments[shipment] ? shipment : -1));
    if (master === null || master === 'undecided' || master.current.courierId !== courierId) return null;
    // A child travels in its master's parcels: it moves when its master's shipment does, never alone.
    if (master.current.joinedOrderId !== undefined) return null;
    const [group] = await this.store.listAll<string>(storeKeys.orderGroup(orderId));
    const record = group === undefined ? null : await this.store.openShipment(group, master.current.trackingNumber);
    const open = record !== null && record.masterOrderId === orderId ? { group: group!, record } : null;
    const riders = [master];
    let unsettled = false;
    if (open !== null) {
      master.grams = open.record.members[0]!.grams;
      for (const m of open.record.members.slice(1)) {
        const child = await this.rider(m.orderId, (d) => d.shipments.findIndex((s) => s.joinedOrderId === orderId && s.trackingNumber === master.current.trackingNumber));
        if (child === 'undecided') unsettled = true;
        // A child cancelled (leaving the record now) or whose reservation expired has no capacity to move; it stays a member of the record.
        if (child === null || child === 'undecided') continue;
        child.grams = m.grams;
        riders.push(child);
      }
    }
    let pinned: string | null = null;
    for (const r of riders) {
      if (r.d.reservation === 'committed' || this.machine.view(await this.store.scans(r.orderId)).rank >= LEFT_WAREHOUSE_RANK) pinned = 'already picked up (left the warehouse)';
    }
    return { riders, open, pinned, unsettled };
  }

  /**
   * An order's shipment (the one `pick` finds in its current decision) while the order holds its
   * reservation; null otherwise, 'undecided' when the order has no decision stored (yet).
   */
  private async rider(orderId: string, pick: (d: Decision) => number): Promise<Rider | null | 'undecided'> {
    const d = await this.store.getDecision<Decision>(orderId);
    if (!d) return 'undecided';
    if (d.cancelled || (d.reservation !== 'held' && d.reservation !== 'committed')) return null;
    const history = await this.store.listAll<Reroute>(storeKeys.reroutes(orderId));
    // A re-optimised order's shipments are those of its last move (src/allocate/reoptimized.ts).
    const now = currentDecision(d.decision, history, await this.store.listAll<Reoptimization>(storeKeys.reoptimizations(orderId)));
    const shipment = pick(now);
    const current = now.shipments[shipment];
    if (current === undefined) return null;
    return { orderId, shipment, current, d, reroutes: history.length, grams: Math.round(current.weightKg * 1_000), parcels: current.joinedOrderId === undefined ? current.parcels : 0 };
  }

  /**
   * Moves the waybill to the cheapest other courier that takes all of it; its reroutes when it
   * moved, null when no courier could take it, 'changed' when orders joined or left the open
   * shipment meanwhile (the capacity moved is given back; the caller reads the waybill again).
   */
  private async move(bill: Waybill, courierId: string, provinceCode: string, day: string, limits: Awaited<ReturnType<CourierBook['limits']>>, books: Awaited<ReturnType<CourierBook['quotes']>>): Promise<(Reroute & { orderId: string })[] | null | 'changed'> {
    const [master, ...children] = bill.riders;
    const current = master!.current;
    const parcelsKey = counterKeys.courierParcels(courierId, provinceCode, day);
    const gramsKey = counterKeys.courierGrams(courierId, provinceCode, day);
    const w = this.net.warehouseById.get(current.warehouseId)!;
    const fromProvince = this.net.warehouseProvince.get(w.id)!;
    const oldCourier = this.net.couriers.find((c) => c.id === courierId)!;
    const oldTransit = this.book.terms(books, oldCourier, fromProvince, provinceCode)?.rate.transitHours ?? 0;
    const grams = bill.riders.reduce((n, r) => n + r.grams, 0);
    const lateBy = (r: Rider, etaMs: number) => (Math.max(0, etaMs - (r.d.promisedByMs ?? Infinity)) / HOUR_MS) * this.cfg.latenessCnyPerHour;
    const options = this.net.couriers
      .filter((c) => c.id !== courierId)
      .map((c) => {
        const t = this.book.terms(books, c, fromProvince, provinceCode);
        if (!t) return null;
        // The waybill's parcels hold every member's kilograms; the master pays their base rate, each child its own per kg.
        const parcels = parcelsFor({ parcelMaxKg: c.maxParcelKg } as ProblemOption, grams / 1_000);
        const freight = t.rate.baseCny * parcels + t.rate.perKgCny * current.weightKg;
        // The new lane from the same pickup wave (src/domain/waves.ts); a decision stored
        // before pickupAt existed shifts its ETA by the difference in nominal hours.
        const etaMs = current.pickupAt !== undefined ? deliveryMs(Date.parse(current.pickupAt), t.rate, this.cfg.timezoneOffsetMinutes) : Date.parse(current.eta) + (t.rate.transitHours - oldTransit) * HOUR_MS;
        const lateness = lateBy(master!, etaMs);
        const riders = children.map((r) => ({ freight: (t.rate.perKgCny * r.grams) / 1_000, lateness: lateBy(r, etaMs) }));
        const total = freight + lateness + riders.reduce((n, r) => n + r.freight + r.lateness, 0);
        return { c, parcels, freight, lateness, etaMs, riders, total };
      })
      .filter((x): x is NonNullable<typeof x> => x !== null)
      .sort((a, b) => a.total - b.total || (a.c.id < b.c.id ? -1 : 1));
    for (const o of options) {
      const lim = limits.get(o.c.id)!;
      const toParcels = { key: counterKeys.courierParcels(o.c.id, provinceCode, day), limit: lim.parcels ?? NO_LIMIT };
      const toGrams = { key: counterKeys.courierGrams(o.c.id, provinceCode, day), limit: lim.kg === null ? NO_LIMIT : Math.round(lim.kg * 1_000) };
      // The whole waybill must fit before any of it moves (each move below checks its own part again, atomically).
      const room = await this.store.counters([toParcels.key, toGrams.key]);
      if (room.get(toParcels.key)! + o.parcels > toParcels.limit || room.get(toGrams.key)! + grams > toGrams.limit) continue;
      const tracking = trackingNumber(o.c.id, master!.orderId, master!.shipment, master!.reroutes + 1);
      const at = toIsoWithOffset(this.clock(), this.cfg.timezoneOffsetMinutes);
      const eta = toIsoWithOffset(o.etaMs, this.cfg.timezoneOffsetMinutes);
      const why = `${courierId} capacity for ${provinceCode} on ${day} was cut below what was booked before pickup; moved to ${o.c.id}, the cheapest courier with capacity left`;
      // Every member's reroute, in the order's record as before merging existed (same fields, same order).
      const entry = (r: Rider, detail: string, parcels: number, freight: number, lateness: number): Reroute & { orderId: string } => ({
        orderId: r.orderId,
        at,
        shipment: r.shipment,
        fromCourierId: courierId,
        toCourierId: o.c.id,
        fromTrackingNumber: current.trackingNumber,
        trackingNumber: tracking,
        code: 'COURIER_CAPACITY_GAP',
        detail,
        parcels,
        freight: round2(freight),
        lateness: round2(lateness),
        eta,
      });
      const joined = children.length === 1 ? 'the order that joined its waybill' : `the ${children.length} orders that joined its waybill`;
      const moved = [
        entry(master!, children.length > 0 ? `${why}, with ${joined}` : why, o.parcels, o.freight, o.lateness),
        ...children.map((r, i) => entry(r, `${why}, with order ${master!.orderId}'s waybill it joined (no parcel of its own)`, 0, o.riders[i]!.freight, o.riders[i]!.lateness)),
      ];
      // Each member's use moves with its own reservation: the master's parcels and kilograms, then each child's kilograms.
      const moves = [
        { orderId: master!.orderId, from: { key: parcelsKey, amount: master!.parcels }, to: { ...toParcels, amount: o.parcels } },
        ...bill.riders.map((r) => ({ orderId: r.orderId, from: { key: gramsKey, amount: r.grams }, to: { ...toGrams, amount: r.grams } })),
      ];
      // The steps below are separate store calls (other slots on a Cluster): the intent, written
      // first, lets any instance finish or undo them if this process dies in between (recover()).
      const held = new Map(await Promise.all(bill.riders.map(async (r) => [r.orderId, await this.store.heldCounters(r.orderId)] as const)));
      const steps: RerouteStep[] = moves.map((m) => ({ ...m, toHeldBefore: uses(held.get(m.orderId) ?? null, m.to) }));
      const intent: RerouteIntent = {
        id: randomUUID(),
        createdAt: this.clock(),
        steps,
        open: bill.open === null ? null : { group: bill.open.group, fromTracking: current.trackingNumber, patch: { trackingNumber: tracking, courierId: o.c.id, etaMs: o.etaMs, maxGrams: Math.round(o.parcels * o.c.maxParcelKg * 1_000) }, members: bill.open.record.members.map((m) => m.orderId) },
        entries: moved.map(({ orderId, ...reroute }) => ({ orderId, reroute })),
        listTtlMs: orderListTtlMs(this.cfg),
      };
      await this.store.rerouteIntentPut(intent);
      const done: RerouteStep[] = [];
      for (const step of steps) {
        if (!(await this.store.moveCounter(step.orderId, step.from, step.to))) break;
        done.push(step);
      }
      if (done.length < steps.length) {
        // Out of room (or a member's reservation ended meanwhile): give back what moved and try the next courier.
        await this.giveBack(done);
        await this.store.rerouteIntentDelete(intent.id);
        continue;
      }
      if (intent.open !== null) {
        const r = await this.store.openShipmentMove(intent.open.group, intent.open.fromTracking, intent.open.patch, intent.open.members);
        if (r === 'changed') {
          await this.giveBack(done);
          await this.store.rerouteIntentDelete(intent.id);
          return 'changed';
        }
      }
      for (const { orderId, ...r } of moved) {
        await this.store.listPush(storeKeys.reroutes(orderId), r, intent.listTtlMs);
        for (const l of this.listeners) l(orderId, r);
      }
      await this.store.rerouteIntentDelete(intent.id);
      return moved;
    }
    return null;
  }

  /** Moves capacity use back where it was, latest first (a waybill that could not move as a whole). */
  private async giveBack(done: readonly { orderId: string; from: { key: string; amount: number }; to: { key: string; amount: number } }[]): Promise<void> {
    for (const s of [...done].reverse()) await this.store.moveCounter(s.orderId, { key: s.to.key, amount: s.to.amount }, { ...s.from, limit: NO_LIMIT });
  }

  /** The recovery pass running now in this process, if any (one at a time, as the store's). */
  private recovering: Promise<RerouteRecovery> | undefined;
  private recoveryTimer: NodeJS.Timeout | undefined;

  /**
   * Settles the reroutes that a process left half done (it died, or the store failed, between the
   * steps of `move`): every intent older than REROUTE_RECOVERY_GRACE_MS (a move takes
   * milliseconds, so an intent that old has no live writer) is completed when every capacity move
   * took effect, and rolled back otherwise, then deleted. Each intent is claimed with a lease
   * first, and read again under it, so that instances running the pass at once settle it once;
   * every step is idempotent, so a pass that dies midway is finished by the next one.
   */
  recover(): Promise<RerouteRecovery> {
    this.recovering ??= this.recoverOnce().finally(() => (this.recovering = undefined));
    return this.recovering;
  }

  /** Runs the recovery pass every `intervalMs` (RECOVERY_INTERVAL_MS), so that instances still running find what a dead one left. */
  startRecovery(intervalMs: number): void {
    if (this.recoveryTimer !== undefined) return;
    // A pass at start-up too: an instance restarted after dying mid-move finds its own leftovers.
    void this.recover().catch(() => undefined);
    this.recoveryTimer = setInterval(() => void this.recover().catch(() => undefined), intervalMs).unref();
  }

  stopRecovery(): void {
    clearInterval(this.recoveryTimer);
    this.recoveryTimer = undefined;
  }

  private async recoverOnce(): Promise<RerouteRecovery> {
    const report: RerouteRecovery = { completed: 0, rolledBack: 0 };
    const grace = this.cfg.rerouteRecoveryGraceMs;
    for (const found of await this.store.rerouteIntents(this.clock() - grace)) {
      const token = randomUUID();
      const lease = `reroute:${found.id}`;
      if (!(await this.store.leaseAcquire(lease, token, grace))) continue;
      try {
        // Another instance may have settled and deleted it between the listing and the claim.
        const intent = await this.store.rerouteIntentGet(found.id);
        if (intent === null) continue;
        report[await this.settle(intent)]++;
        await this.store.rerouteIntentDelete(intent.id);
      } finally {
        await this.store.leaseRelease(lease, token).catch(() => undefined);
      }
    }
    return report;
  }

  /**
   * Completes or rolls back one intent, from what the store holds now. A capacity move took effect
   * when the member's reservation holds more uses of its target than before (moveCounter rewrites
   * the reservation's use together with the counters, in one step); a member whose reservation
   * ended (shipped, cancelled, expired) has nothing left to move either way.
   */
  private async settle(intent: RerouteIntent): Promise<'completed' | 'rolledBack'> {
    const orderIds = [...new Set(intent.steps.map((s) => s.orderId))];
    const held = new Map(await Promise.all(orderIds.map(async (id) => [id, await this.store.heldCounters(id)] as const)));
    const state = intent.steps.map((s) => {
      const now = held.get(s.orderId) ?? null;
      return now === null ? 'gone' : uses(now, s.to) > s.toHeldBefore ? 'moved' : 'unmoved';
    });
    const moved = intent.steps.filter((_, k) => state[k] === 'moved');
    if (state.includes('unmoved') || moved.length === 0) {
      await this.giveBack(moved);
      return 'rolledBack';
    }
    if (intent.open !== null) {
      // 'missing' means it moved already (this intent's earlier pass) or the record is gone: either way nothing to move.
      const r = await this.store.openShipmentMove(intent.open.group, intent.open.fromTracking, intent.open.patch, intent.open.members);
      if (r === 'changed') {
        // An order joined or left the waybill under its old number since: the capacity goes back, as in `move`.
        await this.giveBack(moved);
        return 'rolledBack';
      }
    }
    for (const { orderId, reroute } of intent.entries) {
      // Pushed unless an earlier attempt pushed it: a waybill's tracking number is new with each reroute.
      const have = await this.store.listAll<Reroute>(storeKeys.reroutes(orderId));
      if (have.some((r) => r.trackingNumber === reroute.trackingNumber && r.shipment === reroute.shipment)) continue;
      await this.store.listPush(storeKeys.reroutes(orderId), reroute, intent.listTtlMs);
      for (const l of this.listeners) l(orderId, reroute as unknown as Reroute);
    }
    return 'completed';
  }
}

/** What one reroute recovery pass did (Rerouter.recover). */
export interface RerouteRecovery {
  /** Intents whose every capacity move had taken effect: the open shipment moved and the missing reroutes recorded. */
  completed: number;
  /** Intents with a capacity move missing (or a waybill that changed since): the moves that took effect given back. */
  rolledBack: number;
}

/** How many of `held` are exactly `use` (its key and amount). */
function uses(held: readonly { key: string; amount: number }[] | null, use: { key: string; amount: number }): number {
  return held === null ? 0 : held.filter((h) => h.key === use.key && h.amount === use.amount).length;
}
