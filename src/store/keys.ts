import { createHash } from 'node:crypto';
/**
 * The store's vocabulary: every key family, and the hash tag that decides which Redis Cluster
 * slot it lives in. What must change together atomically must share a slot (one Lua script runs
 * in one slot), so the tags are a correctness rule, not a naming habit:
 *
 *   slot tag      what lives there (tests/store/keys.test.ts asserts each family's slot)
 *   wh:ID         a warehouse's on-hand, reserved and locked counts, its outbound-parcel
 *                 counters, the reservation parts and customer locks it holds, its expiry queue
 *   cap           courier capacity counters (parcels and grams per courier, province and day):
 *                 one slot, so a reroute moves use from one courier to another atomically
 *   ord:ID        an order's record (claim, reservation state, decision), its reroutes and scans
 *   lock:ID       which warehouse holds a lock (the lock itself lives in that warehouse's slot)
 *   evt:ID        a stock event id already applied
 *   idem:KEY      a lock Idempotency-Key: its customer, request hash and lock id
 *   kpi           the running KPI counters: totals, each order's share, the time marks and
 *                 the retention queue, so one script changes an order's share and the totals
 *                 together (the counters need no other slot: the share is computed before)
 *   idx           indexes read by reroutes and KPI rebuilds (decided orders, shipments per courier-day),
 *                 the pending markers of the recovery pass and the reroute journal
 *   cfg           configuration shared by every instance (courier quotes and capacity limits, API keys,
 *                 business-rule versions)
 *   lease:NAME    a job's lease (which instance runs it, until when): one key, set and renewed by token
 *   og:GROUP      the open shipments of one customer and normalised address (issue 21): one
 *                 hash, so one script joins an order to a shipment and checks its room atomically
 *   obx           the action outbox: every entry, the due queue and the list indexes (one slot,
 *                 so that a claim, a settle or a replay changes an entry and its indexes atomically)
 *
 * The embedded store uses the same names as plain map keys, so both stores speak one language.
 */

/** Hash tags (without braces) of the slot families. */
export const slotTag = {
  warehouse: (warehouseId: string) => `wh:${warehouseId}`,
  courierCounters: 'cap',
  order: (orderId: string) => `ord:${orderId}`,
  lock: (lockId: string) => `lock:${lockId}`,
  event: (eventId: string) => `evt:${eventId}`,
  idempotency: (key: string) => `idem:${key}`,
  kpi: 'kpi',
  index: 'idx',
  config: 'cfg',
  outbox: 'obx',
  lease: (name: string) => `lease:${name}`,
  openGroup: (group: string) => `og:${group}`,
} as const;

/** The eight keys of a warehouse slot, in the order every slot script takes them (redis-scripts.ts). */
const SLOT_PARTS = ['onhand', 'reserved', 'locked', 'cap', 'parts', 'locks', 'owned', 'exp'] as const;

/** Redis keys, each with its family's hash tag. */
export const storeKeys = {
  /** The eight keys of a slot script, for a slot tag from `slotTag` (a warehouse or `cap`). */
  slot: (tag: string): string[] => SLOT_PARTS.map((k) => `{${tag}}:${k}`),
  /** A warehouse's on-hand hash (seeding writes it directly). */
  onHand: (warehouseId: string) => `{${slotTag.warehouse(warehouseId)}}:onhand`,
  /**
   * A warehouse's lot expiries: a hash from lot cell (`lotCell`) to expiry day (YYYY-MM-DD). In
   * the warehouse's slot, beside the counts, so that a lot and its stock move together.
   */
  lots: (warehouseId: string) => `{${slotTag.warehouse(warehouseId)}}:lots`,
  /** The order's record: claim, reservation state, decision. */
  order: (orderId: string) => `{${slotTag.order(orderId)}}`,
  /** The order's reroutes (a list beside its decision). */
  reroutes: (orderId: string) => `{${slotTag.order(orderId)}}:reroutes`,
  /** The order's re-optimisation moves (a list beside its decision; src/allocate/reoptimize.ts). */
  reoptimizations: (orderId: string) => `{${slotTag.order(orderId)}}:reopt`,
  /** The order's customer-and-address group for open shipments and merging (a one-entry list beside its decision; src/allocate/open-shipments.ts). */
  orderGroup: (orderId: string) => `{${slotTag.order(orderId)}}:group`,
  /** The order's WMS scans (a hash by scan key). */
  scans: (orderId: string) => `{${slotTag.order(orderId)}}:scans`,
  /** Which warehouse holds a customer lock. */
  lockIndex: (lockId: string) => `{${slotTag.lock(lockId)}}`,
  /** A stock event id that was applied. */
  event: (eventId: string) => `{${slotTag.event(eventId)}}`,
  /**
   * Every order id with a stored decision, scored by when it is dropped (a sorted set: the
   * members past their retention are trimmed as new ones come).
   */
  orderIndex: `{${slotTag.index}}:orders-by-drop`,
  /** The index before retention (a set, no drop times): still read, so a KPI rebuild after the upgrade finds those orders. */
  legacyOrderIndex: `{${slotTag.index}}:orders`,
  /** A lock Idempotency-Key's record (scoped by the caller: `lock:<key>`). */
  idempotency: (key: string) => `{${slotTag.idempotency(key)}}`,
  /** The running KPI counters (src/tracking/kpi.ts): totals, shares per order, retention queue, one sorted set per time mark. */
  kpiSums: `{${slotTag.kpi}}:sums`,
  kpiShares: `{${slotTag.kpi}}:shares`,
  kpiDrop: `{${slotTag.kpi}}:drop`,
  kpiMark: (mark: string) => `{${slotTag.kpi}}:mark:${mark}`,
  /**
   * Pending markers: "orderId<TAB>operation id" -> deadline (epoch ms) of a reservation, commit
   * or cancel in progress; the recovery pass looks at those past their deadline (redis-scripts.ts).
   */
  pending: `{${slotTag.index}}:pending`,
  /**
   * The reroute journal: a hash intent id -> JSON RerouteIntent of the waybill reroutes in
   * progress (src/allocate/reroute.ts). One key, read and written one command at a time, so it
   * may live in any slot; beside the pending markers, as the other thing a recovery pass reads.
   */
  rerouteIntents: `{${slotTag.index}}:reroute-intents`,
  /** The shipments decided for a courier, destination province and day (reroutes). */
  shipmentIndex: (courierId: string, provinceCode: string, day: string) => `{${slotTag.index}}:ship:${courierId}:${provinceCode}:${day}`,
  /** A periodic job's lease: the token of the instance that runs it, expiring by itself (src/allocate/reoptimize-job.ts). */
  lease: (name: string) => `{${slotTag.lease(name)}}`,
  /** A courier's live quote book, and its version counter. */
  quotes: (courierId: string) => `{${slotTag.config}}:quotes:${courierId}`,
  quotesVersion: (courierId: string) => `{${slotTag.config}}:quotes:${courierId}:version`,
  /** A courier's capacity limit for a destination province and day. */
  capacityLimit: (courierId: string, provinceCode: string, day: string) => `{${slotTag.config}}:caplimit:${courierId}:${provinceCode}:${day}`,
  /** An API key's record (name, roles, SHA-256 of its secret, revocation; src/auth/keys.ts). */
  apiKey: (keyId: string) => `{${slotTag.config}}:apikey:${keyId}`,
  /** The ids of every API key ever created (a list; a repeated id is read once). */
  apiKeyIndex: `{${slotTag.config}}:apikeys`,
  /** The open shipments of a group (customer and normalised address): a hash trackingNumber -> JSON OpenShipment. */
  openShipments: (group: string) => `{${slotTag.openGroup(group)}}:open`,
  /** The group's shipments not yet picked up: a sorted set trackingNumber by pickupAtMs (src/store/open-shipment-scripts.ts). */
  openShipmentsLive: (group: string) => `{${slotTag.openGroup(group)}}:open-live`,
  /** When each of the group's records leaves: a sorted set trackingNumber by that time, epoch ms (its put plus the order lists' retention; src/store/open-shipment-scripts.ts). */
  openShipmentsUntil: (group: string) => `{${slotTag.openGroup(group)}}:open-until`,
  /** The group's decision lock (a token with an expiry): its orders are decided one at a time. */
  openGroupLock: (group: string) => `{${slotTag.openGroup(group)}}:lock`,
  /** The outbox entries: a hash id -> JSON entry (src/store/redis-scripts.ts, OUTBOX_*). */
  outboxEntries: `{${slotTag.outbox}}:e`,
  /** Pending entries by when they may next be claimed (their backoff, or the end of their claim), a sorted set. */
  outboxDue: `{${slotTag.outbox}}:due`,
  /** Every entry by `outboxCursor` (a sorted set read by lexical range). */
  outboxIndex: `{${slotTag.outbox}}:i`,
  /** The entries of one state, one order or one action code, the same way. */
  outboxByState: (state: string) => `{${slotTag.outbox}}:i:s:${state}`,
  outboxByOrder: (orderId: string) => `{${slotTag.outbox}}:i:o:${orderId}`,
  outboxByCode: (code: string) => `{${slotTag.outbox}}:i:c:${code}`,
  /** Every ruleset id ever created (a list; a repeated id is read once; src/rules/repo.ts). */
  rulesetIndex: `{${slotTag.config}}:rulesets`,
  /** A ruleset's version counter (the last version number handed out). */
  rulesetVersions: (rulesetId: string) => `{${slotTag.config}}:ruleset:${rulesetId}:versions`,
  /** One version of a ruleset: its graph, tests, who made it and when. */
  rulesetVersion: (rulesetId: string, version: number) => `{${slotTag.config}}:ruleset:${rulesetId}:v:${version}`,
  /** The active version of a ruleset with its graph: one value, so activation swaps it in one write. */
  rulesetActive: (rulesetId: string) => `{${slotTag.config}}:ruleset:${rulesetId}:active`,
  /** A ruleset's audit trail: who created, edited, activated what, when (a list). */
  rulesetAudit: (rulesetId: string) => `{${slotTag.config}}:ruleset:${rulesetId}:audit`,
  /** Bumped by every activation: instances poll it and reload the active versions when it moves. */
  rulesEpoch: `{${slotTag.config}}:rules:epoch`,
};

/**
 * An outbox entry's place in its lists: creation time (zero-padded epoch ms, so that text order
 * is time order) then id. It is also the list cursor: a page continues after the last place read.
 */
export function outboxCursor(createdAt: number, id: string): string {
  return `${String(createdAt).padStart(OUTBOX_TIME_DIGITS, '0')}:${id}`;
}
export const OUTBOX_TIME_DIGITS = 15;
/** Entries one list call reads at most, whatever its filter (it keeps one Redis script short). */
export const OUTBOX_LIST_SCAN = 1_000;

/**
 * Capacity counters. They are fields of a slot's counter hash, not keys of their own: a
 * warehouse's outbound parcels live in that warehouse's slot (reserved together with its stock),
 * courier counters in the `cap` slot. `counterSlot` reads back the slot from the name, beside the
 * names it reads, so the two cannot drift apart.
 */
export const counterKeys = {
  warehouseParcels: (warehouseId: string, day: string) => `cap:wh:${warehouseId}:${day}:parcels`,
  courierParcels: (courierId: string, provinceCode: string, day: string) => `cap:courier:${courierId}:${provinceCode}:${day}:parcels`,
  /** Grams (integers, so that Redis counts them exactly). */
  courierGrams: (courierId: string, provinceCode: string, day: string) => `cap:courier:${courierId}:${provinceCode}:${day}:grams`,
};

const WAREHOUSE_COUNTER = 'cap:wh:';

/** The slot tag a capacity counter lives in: its warehouse's, or the courier counters'. */
export function counterSlot(counterKey: string): string {
  if (!counterKey.startsWith(WAREHOUSE_COUNTER)) return slotTag.courierCounters;
  const end = counterKey.indexOf(':', WAREHOUSE_COUNTER.length);
  return slotTag.warehouse(counterKey.slice(WAREHOUSE_COUNTER.length, end < 0 ? undefined : end));
}

/** The warehouse id of a warehouse slot tag (`wh:SH01` -> `SH01`). */
export function warehouseOfSlot(tag: string): string {
  return tag.slice(slotTag.warehouse('').length);
}

/**
 * The stock cell of one lot of a shelf-life SKU. A lot is a cell of its own in its warehouse's
 * count hashes (on hand, reserved, locked), named `SKU@LOT`: every script that keeps the stock
 * invariant on a cell (reserve, commit, release, expiry, counts) keeps it per lot unchanged, in the
 * warehouse's slot. SKU codes and lot ids never contain `@` (both are validated at the API).
 */
export function lotCell(sku: string, lot: string): string {
  return `${sku}${LOT_SEPARATOR}${lot}`;
}
export const LOT_SEPARATOR = '@';

/** The SKU and lot of a stock cell (`lot` null for a plain (warehouse, SKU) cell). */
export function parseCell(cell: string): { sku: string; lot: string | null } {
  const at = cell.indexOf(LOT_SEPARATOR);
  return at < 0 ? { sku: cell, lot: null } : { sku: cell.slice(0, at), lot: cell.slice(at + 1) };
}

/**
 * The group of an order for open shipments and merging: its customer and its destination's
 * normalised address (src/domain/address.ts addressKey). Hashed, so that the key stays short and
 * free of braces whatever the address holds.
 */
export function openGroup(customerId: string, addressKey: string): string {
  return createHash('sha1').update(`${customerId}\n${addressKey}`).digest('hex').slice(0, 24);
}
