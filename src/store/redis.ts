import type { Redis } from 'ioredis';
import type {
  CounterUse,
  ReservationItem,
  ReservationRequest,
  ReservationState,
  ReserveResult,
  StockLevel,
  Store,
  StoredDecision,
} from './types.js';
import { ReservationExistsError } from './types.js';

/**
 * The Redis implementation of Store (design §4), for several dispatchd instances sharing state.
 *
 * Keys carry a hash tag per warehouse, so one warehouse's stock, reservations and capacity
 * counters live in one Redis Cluster slot and one Lua script can check and change them atomically:
 *   {wh:ID}:onhand      hash sku -> units on hand
 *   {wh:ID}:reserved    hash sku -> units reserved
 *   {wh:ID}:cap         hash counter key -> used   (counters whose key names the warehouse)
 *   {wh:ID}:res:ORDER   hash sku -> units this reservation holds here
 * Counters that name no warehouse (courier capacity) live in {cap}:counters. A reservation's
 * record, the hash {res:ORDER} (state, parts), claims the id and carries its state. A decision is
 * {dec:ORDER} (JSON, written once) with {dec:ORDER}:cancelled beside it. A multi-warehouse plan is
 * reserved warehouse by warehouse; when one part fails, the parts already taken are released
 * (compensation), so no half-reserved plan remains.
 *
 * Status: the contract suite (tests/store/store.cases.ts) passes against one Redis node. Not yet
 * built: wiring into the service (REDIS_URL), reservation expiry, Cluster tests (issue 4).
 */

// Checks every item and counter of one warehouse part, then applies all or none.
// KEYS: onhand, reserved, cap, res. ARGV: nItems, (sku, qty)*, nCounters, (key, amount, limit)*.
// Returns {} on success, else a flat list of shortages ("s", sku, qty, free) and counters ("c", key, amount, used, limit).
const RESERVE_PART = `
local n = tonumber(ARGV[1])
local fails = {}
for i = 0, n - 1 do
  local sku = ARGV[2 + 2 * i]
  local qty = tonumber(ARGV[3 + 2 * i])
  local free = tonumber(redis.call('HGET', KEYS[1], sku) or '0') - tonumber(redis.call('HGET', KEYS[2], sku) or '0')
  if free < qty then table.insert(fails, 's'); table.insert(fails, sku); table.insert(fails, qty); table.insert(fails, free) end
end
local base = 2 + 2 * n
local m = tonumber(ARGV[base])
for j = 0, m - 1 do
  local key = ARGV[base + 1 + 3 * j]
  local amount = tonumber(ARGV[base + 2 + 3 * j])
  local limit = tonumber(ARGV[base + 3 + 3 * j])
  local used = tonumber(redis.call('HGET', KEYS[3], key) or '0')
  if used + amount > limit then table.insert(fails, 'c'); table.insert(fails, key); table.insert(fails, amount); table.insert(fails, used); table.insert(fails, limit) end
end
if #fails > 0 then return fails end
for i = 0, n - 1 do
  local sku = ARGV[2 + 2 * i]
  local qty = tonumber(ARGV[3 + 2 * i])
  redis.call('HINCRBY', KEYS[2], sku, qty)
  redis.call('HINCRBY', KEYS[4], sku, qty)
end
for j = 0, m - 1 do
  redis.call('HINCRBY', KEYS[3], ARGV[base + 1 + 3 * j], tonumber(ARGV[base + 2 + 3 * j]))
end
return fails
`;

// Releases (mode "release") or commits (mode "commit") one warehouse part: every unit the part
// holds leaves reserved; on commit it also leaves on hand. Release also returns the counters.
// KEYS: onhand, reserved, cap, res. ARGV: mode, nCounters, (key, amount)*.
const FINISH_PART = `
local held = redis.call('HGETALL', KEYS[4])
for i = 1, #held, 2 do
  local qty = tonumber(held[i + 1])
  redis.call('HINCRBY', KEYS[2], held[i], -qty)
  if ARGV[1] == 'commit' then redis.call('HINCRBY', KEYS[1], held[i], -qty) end
end
redis.call('DEL', KEYS[4])
if ARGV[1] == 'release' then
  local m = tonumber(ARGV[2])
  for j = 0, m - 1 do redis.call('HINCRBY', KEYS[3], ARGV[3 + 2 * j], -tonumber(ARGV[4 + 2 * j])) end
end
return 1
`;

// Moves a reservation record (a hash: state, parts) from one state to another; returns 1 when it
// was in the expected state. KEYS: record. ARGV: from, to.
const TRANSITION = `
if redis.call('HGET', KEYS[1], 'state') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'state', ARGV[2])
return 1
`;

// Sets on-hand counts of one warehouse unless any would fall below what is reserved.
// KEYS: onhand, reserved. ARGV: (sku, onHand)*. Returns the rejected (sku, onHand, reserved)* or {}.
const SET_ONHAND = `
local bad = {}
for i = 1, #ARGV, 2 do
  local reserved = tonumber(redis.call('HGET', KEYS[2], ARGV[i]) or '0')
  if tonumber(ARGV[i + 1]) < reserved then table.insert(bad, ARGV[i]); table.insert(bad, ARGV[i + 1]); table.insert(bad, reserved) end
end
if #bad > 0 then return bad end
for i = 1, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
return bad
`;

// Adds a delta to on hand unless it would fall below what is reserved. KEYS: onhand, reserved.
// ARGV: sku, delta. Returns {1, onHand} or {0, onHand, reserved}.
const ADJUST_ONHAND = `
local onhand = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
local reserved = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
local delta = tonumber(ARGV[2])
if onhand + delta < reserved then return {0, onhand, reserved} end
return {1, redis.call('HINCRBY', KEYS[1], ARGV[1], delta)}
`;

interface Part {
  /** The hash tag of the slot: "wh:ID" or "cap". */
  tag: string;
  items: ReservationItem[];
  counters: CounterUse[];
}

type RecordParts = { tag: string; counters: { key: string; amount: number }[] }[];

const WH_COUNTER = /^cap:wh:([^:]+):/;

export class RedisStore implements Store {
  readonly kind = 'redis' as const;

  constructor(
    private readonly redis: Redis,
    /** Every warehouse id of the network: Redis is asked per warehouse, never scanned. */
    private readonly warehouseIds: readonly string[],
  ) {}

  private keys(tag: string, reservationId?: string) {
    return [`{${tag}}:onhand`, `{${tag}}:reserved`, tag === 'cap' ? '{cap}:counters' : `{${tag}}:cap`, `{${tag}}:res:${reservationId ?? ''}`];
  }

  private counterTag(key: string): string {
    const m = WH_COUNTER.exec(key);
    return m ? `wh:${m[1]}` : 'cap';
  }

  /** Sets on-hand counts where none are set yet (start-up seeding that never overwrites live state). */
  async seed(rows: { warehouseId: string; sku: string; onHand: number }[]): Promise<void> {
    const pipe = this.redis.pipeline();
    for (const r of rows) pipe.hsetnx(`{wh:${r.warehouseId}}:onhand`, r.sku, r.onHand);
    await pipe.exec();
  }

  async stock(filter: { warehouseId?: string; sku?: string } = {}): Promise<StockLevel[]> {
    const ids = this.warehouseIds.filter((w) => filter.warehouseId === undefined || w === filter.warehouseId);
    const pipe = this.redis.pipeline();
    for (const w of ids) pipe.hgetall(`{wh:${w}}:onhand`).hgetall(`{wh:${w}}:reserved`);
    const res = (await pipe.exec()) ?? [];
    const out: StockLevel[] = [];
    ids.forEach((warehouseId, i) => {
      const onHand = (res[2 * i]?.[1] ?? {}) as Record<string, string>;
      const reserved = (res[2 * i + 1]?.[1] ?? {}) as Record<string, string>;
      for (const sku of Object.keys(onHand).sort()) {
        if (filter.sku !== undefined && filter.sku !== sku) continue;
        const oh = Number(onHand[sku]);
        const rv = Number(reserved[sku] ?? 0);
        out.push({ warehouseId, sku, onHand: oh, free: oh - rv, reserved: rv });
      }
    });
    return out.sort((a, b) => (a.warehouseId === b.warehouseId ? (a.sku < b.sku ? -1 : 1) : a.warehouseId < b.warehouseId ? -1 : 1));
  }

  async freeStock(skus: readonly string[]): Promise<Map<string, Map<string, number>>> {
    const out = new Map<string, Map<string, number>>();
    if (skus.length === 0) return out;
    const pipe = this.redis.pipeline();
    for (const w of this.warehouseIds) pipe.hmget(`{wh:${w}}:onhand`, ...skus).hmget(`{wh:${w}}:reserved`, ...skus);
    const res = (await pipe.exec()) ?? [];
    this.warehouseIds.forEach((w, i) => {
      const oh = (res[2 * i]?.[1] ?? []) as (string | null)[];
      const rv = (res[2 * i + 1]?.[1] ?? []) as (string | null)[];
      const m = new Map<string, number>();
      skus.forEach((sku, k) => {
        const free = Number(oh[k] ?? 0) - Number(rv[k] ?? 0);
        if (free > 0) m.set(sku, free);
      });
      if (m.size > 0) out.set(w, m);
    });
    return out;
  }

  async setOnHand(items: { warehouseId: string; sku: string; onHand: number }[]) {
    const byWh = new Map<string, typeof items>();
    for (const i of items) (byWh.get(i.warehouseId) ?? byWh.set(i.warehouseId, []).get(i.warehouseId)!).push(i);
    // Check everything first, so that a refusal changes nothing; each warehouse's write then
    // re-checks atomically (a reservation landing in between is still never undercut).
    const current = await this.stock();
    const reservedOf = new Map(current.map((s) => [`${s.warehouseId}/${s.sku}`, s.reserved]));
    const rejected = items
      .map((i) => ({ ...i, reserved: reservedOf.get(`${i.warehouseId}/${i.sku}`) ?? 0 }))
      .filter((i) => i.onHand < i.reserved);
    if (rejected.length > 0) return { ok: false as const, rejected };
    for (const [w, rows] of byWh) {
      const [onhand, reserved] = this.keys(`wh:${w}`);
      const bad = (await this.redis.eval(SET_ONHAND, 2, onhand!, reserved!, ...rows.flatMap((r) => [r.sku, r.onHand]))) as string[];
      for (let k = 0; k < bad.length; k += 3) rejected.push({ warehouseId: w, sku: bad[k]!, onHand: Number(bad[k + 1]), reserved: Number(bad[k + 2]) });
    }
    return rejected.length > 0 ? { ok: false as const, rejected } : { ok: true as const };
  }

  async adjustOnHand(warehouseId: string, sku: string, delta: number) {
    const [onhand, reserved] = this.keys(`wh:${warehouseId}`);
    const r = (await this.redis.eval(ADJUST_ONHAND, 2, onhand!, reserved!, sku, delta)) as number[];
    return r[0] === 1 ? { ok: true as const, onHand: Number(r[1]) } : { ok: false as const, onHand: Number(r[1]), reserved: Number(r[2]) };
  }

  async markEvent(eventId: string): Promise<boolean> {
    return (await this.redis.set(`{evt:${eventId}}`, '1', 'NX')) === 'OK';
  }

  async counters(keys: readonly string[]): Promise<Map<string, number>> {
    const pipe = this.redis.pipeline();
    for (const k of keys) pipe.hget(this.keys(this.counterTag(k))[2]!, k);
    const res = (await pipe.exec()) ?? [];
    return new Map(keys.map((k, i) => [k, Number(res[i]?.[1] ?? 0)]));
  }

  async reserve(req: ReservationRequest): Promise<ReserveResult> {
    const recordKey = `{res:${req.id}}`;
    const parts = new Map<string, Part>();
    const part = (tag: string) => parts.get(tag) ?? parts.set(tag, { tag, items: [], counters: [] }).get(tag)!;
    for (const i of req.items) {
      const p = part(`wh:${i.warehouseId}`);
      const same = p.items.find((x) => x.sku === i.sku);
      if (same) same.qty += i.qty;
      else p.items.push({ ...i });
    }
    for (const c of req.counters) part(this.counterTag(c.key)).counters.push(c);
    const recordParts: RecordParts = [...parts.values()].map((p) => ({ tag: p.tag, counters: p.counters.map((c) => ({ key: c.key, amount: c.amount })) }));
    // Claim the id first: a second reservation under the same id must never take stock.
    if ((await this.redis.hsetnx(recordKey, 'state', 'pending')) !== 1) throw new ReservationExistsError(req.id);
    await this.redis.hset(recordKey, 'parts', JSON.stringify(recordParts));

    const taken: Part[] = [];
    const shortages: Extract<ReserveResult, { ok: false }>['shortages'] = [];
    const counters: Extract<ReserveResult, { ok: false }>['counters'] = [];
    for (const p of [...parts.values()].sort((a, b) => (a.tag < b.tag ? -1 : 1))) {
      const argv = [p.items.length, ...p.items.flatMap((i) => [i.sku, i.qty]), p.counters.length, ...p.counters.flatMap((c) => [c.key, c.amount, c.limit])];
      const fails = (await this.redis.eval(RESERVE_PART, 4, ...this.keys(p.tag, req.id), ...argv)) as (string | number)[];
      if (fails.length === 0) {
        taken.push(p);
        continue;
      }
      const warehouseId = p.tag.slice(3);
      for (let k = 0; k < fails.length; ) {
        if (fails[k] === 's') {
          shortages.push({ warehouseId, sku: String(fails[k + 1]), requested: Number(fails[k + 2]), free: Number(fails[k + 3]) });
          k += 4;
        } else {
          counters.push({ key: String(fails[k + 1]), requested: Number(fails[k + 2]), used: Number(fails[k + 3]), limit: Number(fails[k + 4]) });
          k += 5;
        }
      }
      break;
    }
    if (shortages.length > 0 || counters.length > 0) {
      // Compensation: give back every part already taken, then forget the claim on the id.
      for (const p of taken) await this.finishPart(p.tag, req.id, 'release', p.counters);
      await this.redis.del(recordKey);
      return { ok: false, shortages, counters };
    }
    await this.redis.eval(TRANSITION, 1, recordKey, 'pending', 'held');
    return { ok: true };
  }

  private async finishPart(tag: string, id: string, mode: 'release' | 'commit', counters: { key: string; amount: number }[]): Promise<void> {
    await this.redis.eval(FINISH_PART, 4, ...this.keys(tag, id), mode, counters.length, ...counters.flatMap((c) => [c.key, c.amount]));
  }

  private async finish(id: string, to: 'released' | 'committed'): Promise<boolean> {
    const recordKey = `{res:${id}}`;
    if ((await this.redis.eval(TRANSITION, 1, recordKey, 'held', to)) !== 1) return false;
    const parts = JSON.parse((await this.redis.hget(recordKey, 'parts')) ?? '[]') as RecordParts;
    for (const p of parts) await this.finishPart(p.tag, id, to === 'released' ? 'release' : 'commit', p.counters);
    return true;
  }

  release(id: string): Promise<boolean> {
    return this.finish(id, 'released');
  }

  commit(id: string): Promise<boolean> {
    return this.finish(id, 'committed');
  }

  async getDecision<D>(orderId: string): Promise<StoredDecision<D> | null> {
    // The decision is written once; its live parts (reservation state, cancellation) are read beside it.
    const [raw, state, cancelled] = await Promise.all([
      this.redis.get(`{dec:${orderId}}`),
      this.redis.hget(`{res:${orderId}}`, 'state'),
      this.redis.exists(`{dec:${orderId}}:cancelled`),
    ]);
    if (!raw) return null;
    const d = JSON.parse(raw) as StoredDecision<D>;
    if (state && state !== 'pending') d.reservation = state as ReservationState;
    if (cancelled === 1) d.cancelled = true;
    return d;
  }

  async putDecisionIfAbsent<D>(d: StoredDecision<D>): Promise<StoredDecision<D>> {
    if ((await this.redis.set(`{dec:${d.orderId}}`, JSON.stringify(d), 'NX')) === 'OK') return d;
    return (await this.getDecision<D>(d.orderId))!;
  }

  async markCancelled(orderId: string): Promise<void> {
    await this.redis.set(`{dec:${orderId}}:cancelled`, '1');
  }

  async close(): Promise<void> {
    // QUIT needs a live server; when Redis is gone, drop the socket instead of waiting on it.
    if (this.redis.status === 'ready') await this.redis.quit();
    else this.redis.disconnect();
  }
}
