import { parcelsFor, shipmentWeightKg } from '../../solver/cost.js';
import type { Plan, ProblemOption } from '../../solver/types.js';
import type { Config } from '../config.js';
import { addressKey } from '../domain/address.js';
import type { RegionProps } from '../domain/network.js';
import type { AllocateRequest, Decision } from '../domain/schemas.js';
import { toIsoWithOffset } from '../domain/time.js';
import type { NetworkContext } from '../network/context.js';
import { openGroup, storeKeys } from '../store/keys.js';
import type { OpenShipment, OpenShipmentMember, Store } from '../store/types.js';
import type { Candidates } from './candidates.js';
import { orderListTtlMs } from './retention.js';

const round2 = (x: number) => Math.round(x * 100) / 100;

/** Open shipments offered to one order at most (each is one more candidate site). */
const MAX_JOIN_OPTIONS = 3;

/** What the open-shipment and merge rules need of an order beyond the candidate input. */
export interface MergeFacts {
  /** The order's group (customer and normalised address; store/keys.ts openGroup), or null when it opted out or merging is off. */
  group: string | null;
  /** When the order was placed, epoch ms. */
  placedAtMs: number;
  amountCny?: number;
  discountCny?: number;
}

/**
 * The order's group: its customer and its destination's normalised address (src/domain/address.ts:
 * the region code, then the address without its province and city prefix). Without an address
 * text, the coordinates to 5 decimals (about a metre) stand for it: the ERP sends the same ones for
 * the same delivery point. Null when the order opts out (`merge: false`) or MERGE_WINDOW_MINUTES is 0.
 */
export function mergeFacts(net: NetworkContext, cfg: Pick<Config, 'mergeWindowMinutes'>, req: AllocateRequest, region: RegionProps, placedAtMs: number): MergeFacts {
  let group: string | null = null;
  if (req.merge !== false && cfg.mergeWindowMinutes > 0) {
    const text = req.destination.address !== undefined && req.destination.address.trim() !== '' ? req.destination.address : `@${req.destination.lon.toFixed(5)},${req.destination.lat.toFixed(5)}`;
    // The group is a pure function of the customer, the region (its province and city names) and
    // the address text, and an ERP sends one customer's delivery point order after order: the
    // group key's SHA-1 (a node:crypto Hash object per call) was most of what merging cost a
    // decision that joins nothing (bench/README.md, 2026-12-07).
    const memoKey = `${req.customerId}\u0000${region.code}\u0000${text}`;
    group = groupMemo.get(memoKey) ?? null;
    if (group === null) {
      const admin = [net.regions.get(region.provinceCode)?.nameZh ?? '', region.nameZh];
      group = openGroup(req.customerId, addressKey(region.code, text, admin));
      if (groupMemo.size >= GROUP_MEMO_MAX) groupMemo.clear();
      groupMemo.set(memoKey, group);
    }
  }
  // Optional fields set one by one (not spread in): this runs for every order (bench/README.md).
  const out: MergeFacts = { group, placedAtMs };
  if (req.amountCny !== undefined) out.amountCny = req.amountCny;
  if (req.discountCny !== undefined) out.discountCny = req.discountCny;
  return out;
}

/** The member record of an order on a shipment: its grams, placement, the freight it saved, and its amount and discount when the ERP sent them. */
function memberOf(orderId: string, grams: number, savedCny: number, m: MergeFacts): OpenShipmentMember {
  const out: OpenShipmentMember = { orderId, grams, placedAtMs: m.placedAtMs, savedCny };
  if (m.amountCny !== undefined) out.amountCny = m.amountCny;
  if (m.discountCny !== undefined) out.discountCny = m.discountCny;
  return out;
}

/** Groups computed lately, by customer, region and address text (emptied when full, as addressKey's memo). */
const groupMemo = new Map<string, string>();
const GROUP_MEMO_MAX = 10_000;

/**
 * The open shipments of the order's group it may join: not its own, placed within
 * MERGE_WINDOW_MINUTES of the shipment's first order, and whose first order still holds its
 * reservation (not shipped, cancelled or expired). The store already left out the picked-up ones.
 */
export async function joinableShipments(store: Store, cfg: Pick<Config, 'mergeWindowMinutes'>, orderId: string, m: MergeFacts): Promise<OpenShipment[]> {
  if (m.group === null) return [];
  // Within the window either side of the first order's placement: orders that arrive together may be decided in any order.
  const windowMs = cfg.mergeWindowMinutes * 60_000;
  const open = await store.openShipments(m.group, { fromMs: m.placedAtMs - windowMs, toMs: m.placedAtMs + windowMs });
  if (open.length === 0) return open;
  // At most one per warehouse and courier (the one with the most room), and MAX_JOIN_OPTIONS in
  // all: a burst of one customer's orders that do not fit one shipment opens several, and each
  // would otherwise become one more site for every later order of the burst. Left out: the order's
  // own shipments (it is their master, or a member: a retry) and shipments whose master no longer
  // holds its reservation (shipped, cancelled, expired). Both are judged while choosing, so that
  // neither takes a place another shipment could have had: the next roomiest of the same warehouse
  // and courier, or of another pair. Masters are asked in rounds of the places still free (one
  // round in the usual case: the first picks hold), not one by one, which on Redis is a round trip
  // each.
  const room = (s: OpenShipment) => (s.maxGrams === null ? Infinity : s.maxGrams - s.grams);
  const ranked = open.filter((s) => s.masterOrderId !== orderId).sort((a, b) => room(b) - room(a));
  const lane = (s: OpenShipment) => `${s.warehouseId}\u0000${s.courierId}`;
  const out: OpenShipment[] = [];
  const taken = new Set<string>();
  /** Shipments left out: the order is a member, or the master no longer holds. */
  const dropped = new Set<OpenShipment>();
  while (out.length < MAX_JOIN_OPTIONS) {
    // The roomiest candidate of each pair not taken yet, as many as places are free. Whether the
    // order is a member is asked of these only: a busy group has many open shipments of many
    // members each, and asking each of them cost more than the rest of the choice (bench/README.md,
    // 2026-12-07). Each round settles at least one shipment, and lists are short.
    const round: OpenShipment[] = [];
    const inRound = new Set<string>();
    for (const s of ranked) {
      if (round.length === MAX_JOIN_OPTIONS - out.length) break;
      const k = lane(s);
      if (dropped.has(s) || taken.has(k) || inRound.has(k)) continue;
      if (s.members.some((x) => x.orderId === orderId)) {
        dropped.add(s);
        continue;
      }
      round.push(s);
      inRound.add(k);
    }
    if (round.length === 0) break;
    const masters = await Promise.all(round.map((s) => store.orderState(s.masterOrderId)));
    round.forEach((s, i) => {
      const m = masters[i]!;
      if (m === null || m.cancelled || m.reservation !== 'held') dropped.add(s);
      else {
        out.push(s);
        taken.add(lane(s));
      }
    });
  }
  return out.sort((a, b) => room(b) - room(a));
}

/** One shipment of a plan that joins an open shipment: the option index, the shipment, grams and the freight it saves. */
export interface PlannedJoin {
  shipment: OpenShipment;
  grams: number;
  /** Freight of shipping the same weight alone on the same lane minus the joining freight: the base rate of its parcels, CNY. */
  savedCny: number;
  /** Orders on the shipment once this one joined (set by joinAll). */
  members?: number;
}

/** The plan's shipments that join an open shipment. */
export function plannedJoins(cands: Candidates, plan: Plan): PlannedJoin[] {
  const out: PlannedJoin[] = [];
  for (const s of plan.shipments) {
    const join = cands.optionInfo[s.option]!.join;
    if (join === undefined) continue;
    const kg = shipmentWeightKg(cands.problem, s);
    const alone = parcelsFor({ parcelMaxKg: join.parcelMaxKg } as ProblemOption, kg);
    out.push({ shipment: join.shipment, grams: Math.round(kg * 1_000), savedCny: round2(join.baseCny * alone) });
  }
  return out;
}

/**
 * Joins the order to each planned shipment, atomically per shipment in the store. All or none: a
 * shipment picked up or filled meanwhile undoes the joins already made and answers false (the
 * caller re-plans from fresh open shipments).
 */
export async function joinAll(store: Store, orderId: string, m: MergeFacts, joins: PlannedJoin[]): Promise<boolean> {
  const done: PlannedJoin[] = [];
  for (const j of joins) {
    const r = await store.openShipmentJoin(m.group!, j.shipment.trackingNumber, memberOf(orderId, j.grams, j.savedCny, m));
    if (r.result === 'joined' || r.result === 'member') {
      j.members = r.members;
      done.push(j);
      continue;
    }
    await leaveAll(store, orderId, m, done);
    return false;
  }
  return true;
}

/** Undoes joins (the order's reservation failed after it joined). */
export async function leaveAll(store: Store, orderId: string, m: MergeFacts, joins: readonly PlannedJoin[]): Promise<void> {
  await Promise.all(joins.map((j) => store.openShipmentLeave(m.group!, j.shipment.trackingNumber, orderId)));
}

/**
 * Records the decision's own shipments (not the joined ones) as open shipments of the order's
 * group, with the order as master, so that the group's later orders may join them until pickup.
 * The room of a shipment is what its parcels hold beyond its weight (the courier's heaviest
 * parcel times its parcels).
 */
export async function recordOpenShipments(store: Store, net: NetworkContext, cfg: Pick<Config, 'reservationTtlMinutes' | 'orderRetentionDays'>, d: Decision, cands: Candidates, plan: Plan, m: MergeFacts, nowMs: number): Promise<void> {
  if (m.group === null) return;
  const ttlMs = orderListTtlMs(cfg);
  // (The order's group itself is written with its decision: Allocator, the decision's lists.)
  await Promise.all(
    d.shipments.map((sh, i) => {
      const info = cands.optionInfo[plan.shipments[i]!.option]!;
      if (info.join !== undefined || info.pickupMs <= nowMs) return undefined;
      const courier = net.couriers.find((c) => c.id === sh.courierId)!;
      const grams = Math.round(shipmentWeightKg(cands.problem, plan.shipments[i]!) * 1_000);
      const open: OpenShipment = {
        trackingNumber: sh.trackingNumber,
        masterOrderId: d.orderId,
        shipment: i,
        warehouseId: sh.warehouseId,
        courierId: sh.courierId,
        provinceCode: cands.region.provinceCode,
        shipDay: info.shipDay,
        pickupAtMs: info.pickupMs,
        etaMs: info.etaMs,
        grams,
        maxGrams: Math.round(sh.parcels * courier.maxParcelKg * 1_000),
        members: [memberOf(d.orderId, grams, 0, m)],
      };
      return store.openShipmentPut(m.group!, open, ttlMs);
    }),
  );
}

/**
 * After a re-optimisation moved an order (a master alone on its open shipments: the job leaves
 * shared waybills as they are), its records follow its shipments, so that later orders of the group
 * join the parcels that travel: the record of old shipment i moves under new shipment i's waybill,
 * warehouse, courier, wave and weight; a record whose shipment has no counterpart any more (the new
 * plan has fewer shipments) is closed (its pickup set to now: neither listed nor joinable). A record
 * that an order joined meanwhile ('changed') stays as it is: the documented race of a join and a move.
 */
export async function moveOwnRecords(
  store: Store,
  net: NetworkContext,
  orderId: string,
  from: readonly Decision['shipments'][number][],
  to: readonly (Decision['shipments'][number] & { shipDay: string })[],
  nowMs: number,
): Promise<void> {
  const [group] = await store.listAll<string>(storeKeys.orderGroup(orderId));
  if (group === undefined) return;
  await Promise.all(
    from.map(async (old, i) => {
      const record = await store.openShipment(group, old.trackingNumber);
      if (record === null || record.masterOrderId !== orderId || record.pickupAtMs <= nowMs) return;
      const next = to[i];
      const members = record.members.map((m) => m.orderId);
      if (next === undefined) {
        await store.openShipmentMove(group, old.trackingNumber, { trackingNumber: record.trackingNumber, courierId: record.courierId, etaMs: record.etaMs, maxGrams: record.maxGrams, pickupAtMs: nowMs }, members);
        return;
      }
      const courier = net.couriers.find((c) => c.id === next.courierId)!;
      const grams = Math.round(next.weightKg * 1_000);
      await store.openShipmentMove(
        group,
        old.trackingNumber,
        {
          trackingNumber: next.trackingNumber,
          courierId: next.courierId,
          warehouseId: next.warehouseId,
          shipment: i,
          shipDay: next.shipDay,
          pickupAtMs: Date.parse(next.pickupAt ?? next.eta),
          etaMs: Date.parse(next.eta),
          grams,
          maxGrams: Math.round(next.parcels * courier.maxParcelKg * 1_000),
          members: record.members.map((m, k) => (k === 0 ? { ...m, grams } : m)),
        },
        members,
      );
    }),
  );
}

/** The merge group of an order as GET /v1/orders/{id} shows it (one per shared waybill with more than one order). */
export interface GroupView {
  waybill: string;
  masterOrderId: string;
  childOrderIds: string[];
  /** MERGE_MIN_ORDERS or more orders share the waybill: a merged group (master and children). */
  merged: boolean;
  /** Still open for later orders (not picked up). */
  open: boolean;
  pickupAt: string;
  /** Freight the children saved by joining instead of shipping alone, CNY. */
  savedCny: number;
  members: { orderId: string; role: 'master' | 'child'; weightKg: number; placedAt: string; amountCny?: number; discountCny?: number }[];
}

/** The groups of the order's waybills that more than one order shares. */
export async function groupViews(store: Store, cfg: Pick<Config, 'mergeMinOrders' | 'timezoneOffsetMinutes'>, d: Decision, nowMs: number): Promise<GroupView[]> {
  const [group] = await store.listAll<string>(storeKeys.orderGroup(d.orderId));
  if (group === undefined) return [];
  const records = await Promise.all([...new Set(d.shipments.map((s) => s.trackingNumber))].map((t) => store.openShipment(group, t)));
  const tz = cfg.timezoneOffsetMinutes;
  return records
    .filter((r): r is OpenShipment => r !== null && r.members.length > 1)
    .map((r) => ({
      waybill: r.trackingNumber,
      masterOrderId: r.masterOrderId,
      childOrderIds: r.members.slice(1).map((x) => x.orderId),
      merged: r.members.length >= cfg.mergeMinOrders,
      open: r.pickupAtMs > nowMs,
      pickupAt: toIsoWithOffset(r.pickupAtMs, tz),
      savedCny: round2(r.members.reduce((n, x) => n + x.savedCny, 0)),
      members: r.members.map((x, i) => ({
        orderId: x.orderId,
        role: i === 0 ? ('master' as const) : ('child' as const),
        weightKg: x.grams / 1_000,
        placedAt: toIsoWithOffset(x.placedAtMs, tz),
        ...(x.amountCny !== undefined ? { amountCny: x.amountCny } : {}),
        ...(x.discountCny !== undefined ? { discountCny: x.discountCny } : {}),
      })),
    }));
}
