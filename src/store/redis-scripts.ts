/**
 * The Lua scripts of the Redis store. Each runs atomically on one Cluster slot.
 *
 * Slot scripts work on one hash-tagged slot T ("wh:ID" for a warehouse, "cap" for the counters
 * that name no warehouse) and always take the same eight keys, in this order (SLOT_KEYS):
 *   {T}:onhand    hash sku -> units on hand
 *   {T}:reserved  hash sku -> units held by reservations
 *   {T}:locked    hash sku -> units held by active customer locks
 *   {T}:cap       hash counter key -> used
 *   {T}:parts     hash orderId -> JSON part {a: attempt, i: [[sku, qty, [[lockId, qty]...]]...], c: [[key, amount]...], e: expiresAt}
 *   {T}:locks     hash lockId -> JSON lock {id, customerId, warehouseId, sku, qty, remaining, state, createdAt, expiresAt}
 *   {T}:owned     hash "customerId\tsku" -> JSON array of the customer's active lock ids
 *   {T}:exp       sorted set "R:orderId" | "L:lockId" scored by expiresAt (epoch ms)
 * Every slot script first applies the expiries that are due (EXPIRE_DUE), inside its own atomic
 * step: expiry needs no sweeper, and two instances can never both apply one.
 *
 * Order scripts work on the order's record {ord:ID}, a hash: state (pending | held | none |
 * committed | released | aborted), attempt, claimedAt, expiresAt, parts (JSON array of slot tags),
 * decision (JSON), cancelled.
 *
 * An order's transitions (ship = commit, cancel, expiry) touch its record and the parts in its
 * warehouses' slots, which on a Cluster are different slots, so no one script can hold them all.
 * The record decides: COMMIT_ORDER and CANCEL_ORDER compare-and-set the record's state in one
 * step (held -> committed, or held -> released with the cancelled mark), so of a ship and a cancel
 * exactly one wins, and the loser gets the winner's state as its answer. Only then are the parts
 * finished (FINISH_PART), each in its own slot, in the mode the record's state names; re-running
 * that is harmless (a part is ended once, by attempt), so an interrupted finish is completed by
 * the next cancel or ship of the order or by the recovery pass. Expiry is the third party: parts
 * expire in their slots at expiresAt with no call to the record, so a commit is refused from
 * expiresAt - guard (the claim timeout) on, and a part can never both expire and be committed
 * unless the committing process stalls longer than that guard between the two steps.
 *
 * Pending markers ({idx}:pending, a sorted set "orderId<TAB>operation id" -> deadline, epoch ms)
 * are written before a claim, a commit or a cancel and removed after it completed, one per
 * operation: the recovery pass (RECOVER) looks only at markers past their deadline, so it never
 * scans every order.
 */

import { OUTBOX_TIME_DIGITS } from './keys.js';

const PRELUDE = `
local K_ONHAND, K_RES, K_LOCKED, K_CAP, K_PARTS, K_LOCKS, K_OWNED, K_EXP = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local function hnum(key, field)
  local v = redis.call('HGET', key, field)
  if v then return tonumber(v) end
  return 0
end
local function free_of(sku)
  return hnum(K_ONHAND, sku) - hnum(K_RES, sku) - hnum(K_LOCKED, sku)
end
local function get_lock(id)
  local raw = redis.call('HGET', K_LOCKS, id)
  if raw then return cjson.decode(raw) end
  return nil
end
local function put_lock(l)
  redis.call('HSET', K_LOCKS, l.id, cjson.encode(l))
end
-- The customer's active locks on a SKU with units left, soonest expiry first.
local function own_locks(cust, sku)
  local out = {}
  if cust == '' then return out end
  local raw = redis.call('HGET', K_OWNED, cust .. '\\t' .. sku)
  if not raw then return out end
  for _, id in ipairs(cjson.decode(raw)) do
    local l = get_lock(id)
    if l and l.state == 'active' and l.remaining > 0 then table.insert(out, l) end
  end
  table.sort(out, function(a, b) if a.expiresAt == b.expiresAt then return a.id < b.id end return a.expiresAt < b.expiresAt end)
  return out
end
local function own_units(cust, sku)
  local n = 0
  for _, l in ipairs(own_locks(cust, sku)) do n = n + l.remaining end
  return n
end
local function unown(l)
  local f = l.customerId .. '\\t' .. l.sku
  local raw = redis.call('HGET', K_OWNED, f)
  if not raw then return end
  local keep = {}
  for _, id in ipairs(cjson.decode(raw)) do if id ~= l.id then table.insert(keep, id) end end
  if #keep == 0 then redis.call('HDEL', K_OWNED, f) else redis.call('HSET', K_OWNED, f, cjson.encode(keep)) end
end
-- Ends an active lock: its remaining units return to free stock.
local function end_lock(l, state)
  if l.state ~= 'active' then return end
  redis.call('HINCRBY', K_LOCKED, l.sku, -l.remaining)
  l.remaining = 0
  l.state = state
  put_lock(l)
  unown(l)
  redis.call('ZREM', K_EXP, 'L:' .. l.id)
end
-- Ends a held part (mode release | expire | commit). Released units taken from a lock go back to
-- it while the lock is active; on commit the units leave on hand. Only the given attempt's part
-- ('' = whichever) is ended. Returns 1 when a part was ended.
local function end_part(orderId, attempt, mode, now)
  local raw = redis.call('HGET', K_PARTS, orderId)
  if not raw then return 0 end
  local p = cjson.decode(raw)
  if attempt ~= '' and p.a ~= attempt then return 0 end
  for _, it in ipairs(p.i) do
    local sku, qty = it[1], it[2]
    redis.call('HINCRBY', K_RES, sku, -qty)
    if mode == 'commit' then
      redis.call('HINCRBY', K_ONHAND, sku, -qty)
    else
      for _, t in ipairs(it[3]) do
        local l = get_lock(t[1])
        if l and l.state == 'active' and l.expiresAt > now then
          l.remaining = l.remaining + t[2]
          put_lock(l)
          redis.call('HINCRBY', K_LOCKED, sku, t[2])
        end
      end
    end
  end
  if mode ~= 'commit' then
    for _, c in ipairs(p.c) do redis.call('HINCRBY', K_CAP, c[1], -c[2]) end
  end
  redis.call('HDEL', K_PARTS, orderId)
  redis.call('ZREM', K_EXP, 'R:' .. orderId)
  return 1
end
local function expire_due(now)
  local due = redis.call('ZRANGEBYSCORE', K_EXP, '-inf', now)
  for _, m in ipairs(due) do
    local id = string.sub(m, 3)
    if string.sub(m, 1, 1) == 'L' then
      local l = get_lock(id)
      if l then end_lock(l, 'expired') end
    elseif string.sub(m, 1, 1) == 'D' then
      -- A lock past its retention (scored after its expiry, so it has ended): dropped.
      local l = get_lock(id)
      if l and l.state == 'active' then end_lock(l, 'expired') end
      redis.call('HDEL', K_LOCKS, id)
    else
      end_part(id, '', 'expire', now)
    end
    redis.call('ZREM', K_EXP, m)
  end
end
local NOW = tonumber(ARGV[1])
expire_due(NOW)
`;

const slot = (body: string) => PRELUDE + body;

/** Free units for a customer per SKU (free + its own active locks). ARGV: now, customerId, sku*. */
export const VIEW_FREE = slot(`
local out = {}
for i = 3, #ARGV do
  local sku = ARGV[i]
  table.insert(out, free_of(sku) + own_units(ARGV[2], sku))
end
return out
`);

/** All stock rows of the slot. ARGV: now. Returns flat (sku, onHand, reserved, locked)*. */
export const VIEW_ALL = slot(`
local out = {}
local oh = redis.call('HGETALL', K_ONHAND)
for i = 1, #oh, 2 do
  table.insert(out, oh[i]); table.insert(out, oh[i + 1])
  table.insert(out, hnum(K_RES, oh[i])); table.insert(out, hnum(K_LOCKED, oh[i]))
end
return out
`);

/** Counter values. ARGV: now, key*. */
export const VIEW_COUNTERS = slot(`
local out = {}
for i = 2, #ARGV do table.insert(out, hnum(K_CAP, ARGV[i])) end
return out
`);

/**
 * Checks every item and counter of one part, then applies all or none. The owner's locks are
 * consumed first (soonest expiry first), then free stock.
 * ARGV: now, orderId, attempt, expiresAt, customerId, nItems, (sku, qty)*, nCounters, (key, amount, limit)*.
 * Returns {} on success, else a flat list of shortages ("s", sku, qty, free) and counters ("c", key, amount, used, limit),
 * or {"x"} when a newer attempt on the order holds a part here. Attempts are "claimedAtMs:uuid".
 */
export const RESERVE_PART = slot(`
local orderId, attempt, expiresAt, cust = ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]
local n = tonumber(ARGV[6])
local fails = {}
for i = 0, n - 1 do
  local sku, qty = ARGV[7 + 2 * i], tonumber(ARGV[8 + 2 * i])
  local avail = free_of(sku) + own_units(cust, sku)
  if avail < qty then table.insert(fails, 's'); table.insert(fails, sku); table.insert(fails, qty); table.insert(fails, avail) end
end
local base = 7 + 2 * n
local m = tonumber(ARGV[base])
for j = 0, m - 1 do
  local key, amount, limit = ARGV[base + 1 + 3 * j], tonumber(ARGV[base + 2 + 3 * j]), tonumber(ARGV[base + 3 + 3 * j])
  local used = hnum(K_CAP, key)
  if used + amount > limit then table.insert(fails, 'c'); table.insert(fails, key); table.insert(fails, amount); table.insert(fails, used); table.insert(fails, limit) end
end
if #fails > 0 then return fails end
-- A part of another attempt on this order: an older, abandoned one is ended (the claim is ours
-- now); a newer one means this attempt was taken over ("x").
local prev = redis.call('HGET', K_PARTS, orderId)
if prev then
  local pa = cjson.decode(prev).a
  if tonumber(string.match(pa, '^(%d+):')) > tonumber(string.match(attempt, '^(%d+):')) then return {'x'} end
  end_part(orderId, '', 'release', NOW)
end
local part = { a = attempt, i = {}, c = {}, e = expiresAt }
for i = 0, n - 1 do
  local sku, qty = ARGV[7 + 2 * i], tonumber(ARGV[8 + 2 * i])
  local left = qty
  local takes = {}
  for _, l in ipairs(own_locks(cust, sku)) do
    if left == 0 then break end
    local take = math.min(left, l.remaining)
    l.remaining = l.remaining - take
    put_lock(l)
    redis.call('HINCRBY', K_LOCKED, sku, -take)
    left = left - take
    table.insert(takes, { l.id, take })
  end
  redis.call('HINCRBY', K_RES, sku, qty)
  table.insert(part.i, { sku, qty, takes })
end
for j = 0, m - 1 do
  local key, amount = ARGV[base + 1 + 3 * j], tonumber(ARGV[base + 2 + 3 * j])
  redis.call('HINCRBY', K_CAP, key, amount)
  table.insert(part.c, { key, amount })
end
redis.call('HSET', K_PARTS, orderId, cjson.encode(part))
redis.call('ZADD', K_EXP, expiresAt, 'R:' .. orderId)
return fails
`);

/** Ends one part. ARGV: now, orderId, attempt ('' = any), mode (release | commit). Returns 1 when a part ended. */
export const FINISH_PART = slot(`
return end_part(ARGV[2], ARGV[3], ARGV[4], NOW)
`);

/**
 * Sets on-hand counts unless any would fall below reserved + locked. ARGV: now, (sku, onHand)*.
 * Returns {1, (sku, previous onHand)*} or {0, (sku, onHand, reserved, locked)*}.
 */
export const SET_ONHAND = slot(`
local bad = {}
for i = 2, #ARGV, 2 do
  local r, l = hnum(K_RES, ARGV[i]), hnum(K_LOCKED, ARGV[i])
  if tonumber(ARGV[i + 1]) < r + l then table.insert(bad, ARGV[i]); table.insert(bad, ARGV[i + 1]); table.insert(bad, r); table.insert(bad, l) end
end
if #bad > 0 then return {0, bad} end
local prev = {}
for i = 2, #ARGV, 2 do
  table.insert(prev, ARGV[i]); table.insert(prev, hnum(K_ONHAND, ARGV[i]))
  redis.call('HSET', K_ONHAND, ARGV[i], ARGV[i + 1])
end
return {1, prev}
`);

/**
 * Adds a delta to on hand unless it would fall below reserved + locked. ARGV: now, sku, delta.
 * Returns {1, onHand} or {0, onHand, reserved, locked}.
 */
export const ADJUST_ONHAND = slot(`
local sku, delta = ARGV[2], tonumber(ARGV[3])
local oh, r, l = hnum(K_ONHAND, sku), hnum(K_RES, sku), hnum(K_LOCKED, sku)
if oh + delta < r + l then return {0, oh, r, l} end
return {1, redis.call('HINCRBY', K_ONHAND, sku, delta)}
`);

/**
 * Locks free units for a customer. ARGV: now, lockJson (a StockLock, state active, remaining = qty),
 * dropAt (when the lock record is dropped, epoch ms, after its expiry; '' = kept).
 * Returns {1} or {0, free}.
 */
export const CREATE_LOCK = slot(`
local l = cjson.decode(ARGV[2])
local free = free_of(l.sku)
if free < l.qty then return {0, free} end
if redis.call('HEXISTS', K_LOCKS, l.id) == 1 then return redis.error_reply('lock id exists') end
redis.call('HINCRBY', K_LOCKED, l.sku, l.qty)
put_lock(l)
local f = l.customerId .. '\\t' .. l.sku
local raw = redis.call('HGET', K_OWNED, f)
local ids = {}
if raw then ids = cjson.decode(raw) end
table.insert(ids, l.id)
redis.call('HSET', K_OWNED, f, cjson.encode(ids))
redis.call('ZADD', K_EXP, l.expiresAt, 'L:' .. l.id)
if ARGV[3] and ARGV[3] ~= '' then redis.call('ZADD', K_EXP, ARGV[3], 'D:' .. l.id) end
return {1}
`);

/** A lock as JSON, after expiries; ARGV: now, lockId, release ('1' = end it now). */
export const LOCK_OP = slot(`
local l = get_lock(ARGV[2])
if not l then return false end
if ARGV[3] == '1' then end_lock(l, 'released') end
return cjson.encode(l)
`);

/**
 * Claims an order for a reservation attempt. KEYS: {ord:ID}. ARGV: now, attempt, expiresAt, partsJson, claimTimeoutMs.
 * Returns {'ok'}, {'exists'}, or {'stale', oldAttempt, oldPartsJson} after marking an abandoned
 * claim (pending past the timeout, or aborted) aborted: the caller releases its parts, then REPLACE.
 */
export const CLAIM = `
local now = tonumber(ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 1 then
  local r = redis.call('HMGET', KEYS[1], 'state', 'attempt', 'claimedAt', 'parts', 'decision')
  if not r[5] and (r[1] == 'aborted' or (r[1] == 'pending' and now - tonumber(r[3]) > tonumber(ARGV[5]))) then
    redis.call('HSET', KEYS[1], 'state', 'aborted')
    return {'stale', r[2], r[4]}
  end
  return {'exists'}
end
redis.call('HSET', KEYS[1], 'state', 'pending', 'attempt', ARGV[2], 'claimedAt', ARGV[1], 'expiresAt', ARGV[3], 'parts', ARGV[4])
return {'ok'}
`;

/** Takes over an aborted claim. KEYS: {ord:ID}. ARGV: now, attempt, expiresAt, partsJson, oldAttempt. Returns 1, or 0 when someone else did. */
export const REPLACE = `
local r = redis.call('HMGET', KEYS[1], 'state', 'attempt', 'decision')
if r[1] ~= 'aborted' or r[2] ~= ARGV[5] or r[3] then return 0 end
redis.call('HSET', KEYS[1], 'state', 'pending', 'attempt', ARGV[2], 'claimedAt', ARGV[1], 'expiresAt', ARGV[3], 'parts', ARGV[4])
return 1
`;

/**
 * Gives up an attempt's claim: pending -> aborted. KEYS: {ord:ID}. ARGV: attempt. Returns 1 when
 * this attempt's claim is (now) aborted, 0 when this attempt's decision was stored, -1 when the
 * record is not this attempt's (never claimed, forgotten, or taken over).
 */
export const ABORT = `
local r = redis.call('HMGET', KEYS[1], 'state', 'attempt', 'decision')
if r[2] ~= ARGV[1] then return -1 end
if r[3] then return 0 end
if r[1] == 'pending' or r[1] == 'aborted' then redis.call('HSET', KEYS[1], 'state', 'aborted'); return 1 end
return 0
`;

/** Forgets an aborted claim once its parts are released. KEYS: {ord:ID}. ARGV: attempt. */
export const DROP = `
local r = redis.call('HMGET', KEYS[1], 'state', 'attempt')
if r[1] == 'aborted' and r[2] == ARGV[1] then redis.call('DEL', KEYS[1]); return 1 end
return 0
`;

/**
 * Stores a decision once. KEYS: {ord:ID}. ARGV: attempt ('' when nothing was reserved), decisionJson,
 * retentionMs ('' = keep forever), now, todoJson (the list entries that index the order, kept in
 * the record's `todo` field until the caller, or else the recovery pass, has pushed them and the
 * order index has the order; then HDEL).
 * With an attempt, the claim must still be this attempt's and pending; it becomes held. Returns
 * {'ok', dropAt} (dropAt -1 without a retention), {'exists'} (another decision won), or {'lost'}
 * (the claim was taken over). With a retention the record gets a TTL up to dropAt: the
 * reservation's end at the latest (its expiresAt; now when nothing is reserved) plus the retention,
 * so an open reservation's order is never dropped and every order goes by itself.
 */
export const DECIDE = `
local r = redis.call('HMGET', KEYS[1], 'state', 'attempt', 'decision', 'expiresAt')
if r[3] then return {'exists'} end
if ARGV[1] ~= '' then
  if r[1] ~= 'pending' or r[2] ~= ARGV[1] then return {'lost'} end
  redis.call('HSET', KEYS[1], 'state', 'held', 'decision', ARGV[2], 'todo', ARGV[5])
else
  redis.call('HSET', KEYS[1], 'state', 'none', 'decision', ARGV[2], 'todo', ARGV[5])
end
if ARGV[3] == '' then return {'ok', -1} end
local now = tonumber(ARGV[4])
local base = now
if ARGV[1] ~= '' and tonumber(r[4]) and tonumber(r[4]) > now then base = tonumber(r[4]) end
local dropAt = base + tonumber(ARGV[3])
redis.call('HSET', KEYS[1], 'dropAt', string.format('%d', dropAt))
redis.call('PEXPIRE', KEYS[1], string.format('%d', dropAt - now))
return {'ok', string.format('%d', dropAt)}
`;

/**
 * The running KPI counters (src/tracking/kpi.ts), all in the {kpi} slot. KEYS: sums (hash name ->
 * integer total), shares (hash orderId -> JSON share {sums, marks}), drop (sorted set orderId by
 * when its share is dropped), then one sorted set per time mark (orderId by the mark's time), in
 * the order of KPI_MARKS. Shares past their retention are dropped first, inside the same atomic
 * step (the orders themselves go by TTL at the same time), so the totals are always the sum of
 * the shares of the orders kept.
 * ARGV: now, op (put | read), and for put: orderId, shareJson ('' = none), dropAt ('' = never).
 * put returns 1; read returns {flat sums (name, total)*, flat (count <= now, count < now) per mark}.
 */
export const KPI = `
local K_SUMS, K_SHARES, K_DROP = KEYS[1], KEYS[2], KEYS[3]
local now = tonumber(ARGV[1])
local function unshare(id)
  local raw = redis.call('HGET', K_SHARES, id)
  if not raw then return end
  local s = cjson.decode(raw)
  for k, v in pairs(s.sums) do redis.call('HINCRBY', K_SUMS, k, string.format('%d', -v)) end
  for i = 4, #KEYS do redis.call('ZREM', KEYS[i], id) end
  redis.call('HDEL', K_SHARES, id)
  redis.call('ZREM', K_DROP, id)
end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', K_DROP, '-inf', ARGV[1])) do unshare(id) end
if ARGV[2] == 'put' then
  local id = ARGV[3]
  unshare(id)
  if ARGV[4] == '' then return 1 end
  if ARGV[5] ~= '' and tonumber(ARGV[5]) <= now then return 1 end
  local s = cjson.decode(ARGV[4])
  for k, v in pairs(s.sums) do redis.call('HINCRBY', K_SUMS, k, string.format('%d', v)) end
  for i = 4, #KEYS do
    local name = string.match(KEYS[i], ':mark:(.+)$')
    local at = s.marks[name]
    if at then redis.call('ZADD', KEYS[i], string.format('%d', at), id) end
  end
  redis.call('HSET', K_SHARES, id, ARGV[4])
  if ARGV[5] ~= '' then redis.call('ZADD', K_DROP, ARGV[5], id) end
  return 1
end
local out = {}
local sums = redis.call('HGETALL', K_SUMS)
table.insert(out, sums)
local counts = {}
for i = 4, #KEYS do
  table.insert(counts, redis.call('ZCOUNT', KEYS[i], '-inf', ARGV[1]))
  table.insert(counts, redis.call('ZCOUNT', KEYS[i], '-inf', '(' .. ARGV[1]))
end
table.insert(out, counts)
return out
`;

/**
 * Moves a held reservation to committed or released. KEYS: {ord:ID}. ARGV: to, now, guardMs.
 * Returns 1, 0 when not held, -1 when a commit comes too late (the parts expire at expiresAt; a
 * commit is refused from expiresAt - guardMs so that it never races their expiry).
 */
export const FINISH = `
local r = redis.call('HMGET', KEYS[1], 'state', 'expiresAt')
if r[1] ~= 'held' then return 0 end
if ARGV[1] == 'committed' and tonumber(ARGV[2]) >= tonumber(r[2]) - tonumber(ARGV[3]) then return -1 end
redis.call('HSET', KEYS[1], 'state', ARGV[1])
return 1
`;

/**
 * Moves a held part's counter use to another counter of the same slot (a reroute), possibly with
 * another amount. ARGV: now, orderId, from, fromAmount, to, toAmount, limit. Returns 1, or 0 when refused.
 */
export const MOVE_COUNTER = slot(`
local raw = redis.call('HGET', K_PARTS, ARGV[2])
if not raw then return 0 end
local p = cjson.decode(raw)
local fromAmount, toAmount, limit = tonumber(ARGV[4]), tonumber(ARGV[6]), tonumber(ARGV[7])
local found = nil
for i, c in ipairs(p.c) do if c[1] == ARGV[3] and c[2] == fromAmount then found = i end end
if not found then return 0 end
if hnum(K_CAP, ARGV[5]) + toAmount > limit then return 0 end
redis.call('HINCRBY', K_CAP, ARGV[3], -fromAmount)
redis.call('HINCRBY', K_CAP, ARGV[5], toAmount)
p.c[found] = { ARGV[5], toAmount }
redis.call('HSET', K_PARTS, ARGV[2], cjson.encode(p))
return 1
`);

/** An order's part in the slot, as stored (JSON), or false. ARGV: now, orderId. */
export const VIEW_PART = slot(`
return redis.call('HGET', K_PARTS, ARGV[2])
`);

/**
 * Replaces the capacity counters of an order's held part in this slot (a re-optimisation move to
 * other couriers or days), checking the new ones with the part's own current use counted as
 * available. ARGV: now, orderId, n, (key, amount, limit)*. 1 = moved; 0 = no held part; -1 = a
 * counter would pass its limit (nothing changed).
 */
export const SWAP_COUNTERS = slot(`
local raw = redis.call('HGET', K_PARTS, ARGV[2])
if not raw then return 0 end
local p = cjson.decode(raw)
local own, want = {}, {}
for _, c in ipairs(p.c) do own[c[1]] = (own[c[1]] or 0) + c[2] end
local n = tonumber(ARGV[3])
for k = 0, n - 1 do
  local key, amount = ARGV[4 + 3 * k], tonumber(ARGV[5 + 3 * k])
  want[key] = (want[key] or 0) + amount
end
for k = 0, n - 1 do
  local key, limit = ARGV[4 + 3 * k], tonumber(ARGV[6 + 3 * k])
  if hnum(K_CAP, key) - (own[key] or 0) + want[key] > limit then return -1 end
end
for _, c in ipairs(p.c) do redis.call('HINCRBY', K_CAP, c[1], -c[2]) end
local cs = {}
for k = 0, n - 1 do
  local key, amount = ARGV[4 + 3 * k], tonumber(ARGV[5 + 3 * k])
  redis.call('HINCRBY', K_CAP, key, amount)
  table.insert(cs, { key, amount })
end
p.c = cs
redis.call('HSET', K_PARTS, ARGV[2], cjson.encode(p))
return 1
`);

/** KEYS: the lease. ARGV: token, ttlMs. 1 = held by token now (taken or renewed), 0 = another holds it. */
export const LEASE_ACQUIRE = `
local cur = redis.call('GET', KEYS[1])
if cur and cur ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`;

/** KEYS: the lease. ARGV: token. 1 = released, 0 = not held by token. */
export const LEASE_RELEASE = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
`;

/*
 * The action outbox, all in the {obx} slot (keys.ts): {obx}:e, a hash id -> JSON entry (the
 * OutboxEntry fields, the action as a JSON string the scripts never decode, and `k`, its place
 * in the lists); {obx}:due, pending ids scored by when they may be claimed; lexical indexes
 * (score 0, member `k`) of all entries, per state, per order and per action code.
 */

/** KEYS: e, due, all, state:pending, order, code. ARGV: id, json, k, nextAttemptAt. 1 = added, 0 = the id exists. */
export const OUTBOX_ADD = `
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
for i = 3, 6 do redis.call('ZADD', KEYS[i], 0, ARGV[3]) end
return 1
`;

/**
 * KEYS: e, due. ARGV: now, limit, leaseMs, token. Claims due pending entries (a due score is the
 * backoff's end, or a dead instance's expired claim), each with lease token:n until now + leaseMs.
 * Returns their JSON.
 */
export const OUTBOX_CLAIM = `
local now = tonumber(ARGV[1])
local untilMs = now + tonumber(ARGV[3])
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for i, id in ipairs(ids) do
  local raw = redis.call('HGET', KEYS[1], id)
  local e = raw and cjson.decode(raw)
  if e and e.state == 'pending' then
    e.lease = ARGV[4] .. ':' .. i
    e.leaseUntil = untilMs
    local enc = cjson.encode(e)
    redis.call('HSET', KEYS[1], id, enc)
    redis.call('ZADD', KEYS[2], untilMs, id)
    table.insert(out, enc)
  else
    redis.call('ZREM', KEYS[2], id)
  end
end
return out
`;

/**
 * KEYS: e, due, state:pending, state:delivered, state:dead. ARGV: id, lease, now, state,
 * nextAttemptAt, hasError (1|0), error. Records one attempt of the entry claimed under the lease;
 * nil when that is not (or no longer) its claim.
 */
export const OUTBOX_SETTLE = `
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return false end
local e = cjson.decode(raw)
if e.state ~= 'pending' or e.lease ~= ARGV[2] then return false end
local now = tonumber(ARGV[3])
e.attempts = e.attempts + 1
e.lastAttemptAt = now
if ARGV[6] == '1' then e.lastError = ARGV[7] else e.lastError = cjson.null end
e.lease = cjson.null
e.leaseUntil = cjson.null
e.state = ARGV[4]
e.nextAttemptAt = tonumber(ARGV[5])
if e.state == 'delivered' then e.deliveredAt = now end
local enc = cjson.encode(e)
redis.call('HSET', KEYS[1], ARGV[1], enc)
if e.state == 'pending' then
  redis.call('ZADD', KEYS[2], e.nextAttemptAt, ARGV[1])
else
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('ZREM', KEYS[3], e.k)
  if e.state == 'delivered' then redis.call('ZADD', KEYS[4], 0, e.k) else redis.call('ZADD', KEYS[5], 0, e.k) end
end
return enc
`;

/**
 * KEYS: e, due, state:pending, state:delivered, state:dead. ARGV: id, now. A delivered or dead
 * entry becomes pending, due now, attempts from 0. Returns {1|0 (replayed), JSON}; nil when unknown.
 */
export const OUTBOX_REPLAY = `
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return false end
local e = cjson.decode(raw)
if e.state == 'pending' then return {0, raw} end
if e.state == 'delivered' then redis.call('ZREM', KEYS[4], e.k) else redis.call('ZREM', KEYS[5], e.k) end
local now = tonumber(ARGV[2])
e.state = 'pending'
e.attempts = 0
e.replays = e.replays + 1
e.nextAttemptAt = now
e.lease = cjson.null
e.leaseUntil = cjson.null
e.deliveredAt = cjson.null
local enc = cjson.encode(e)
redis.call('HSET', KEYS[1], ARGV[1], enc)
redis.call('ZADD', KEYS[3], 0, e.k)
redis.call('ZADD', KEYS[2], now, ARGV[1])
return {1, enc}
`;

/**
 * KEYS: e, all, state:delivered, order, code. ARGV: id. Forgets a delivered entry and its list
 * places (the caller found it with OUTBOX_OLD); 0 when it is no longer delivered (replayed since).
 */
export const OUTBOX_FORGET = `
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return 0 end
local e = cjson.decode(raw)
if e.state ~= 'delivered' then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
for i = 2, 5 do redis.call('ZREM', KEYS[i], e.k) end
return 1
`;

/**
 * KEYS: e, state:delivered. ARGV: place (entries created before it), limit. The oldest delivered
 * entries created before the place: {id, orderId, code, ...} (what OUTBOX_FORGET needs to name its keys).
 */
export const OUTBOX_OLD = `
local places = redis.call('ZRANGEBYLEX', KEYS[2], '-', '(' .. ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, k in ipairs(places) do
  local id = string.sub(k, ${OUTBOX_TIME_DIGITS + 2})
  local raw = redis.call('HGET', KEYS[1], id)
  if raw then
    local e = cjson.decode(raw)
    table.insert(out, id)
    table.insert(out, e.orderId)
    table.insert(out, e.code)
  else
    redis.call('ZREM', KEYS[2], k)
  end
end
return out
`;

/**
 * KEYS: e, index (all, or the narrowest of the filter's). ARGV: cursor ('' = from the start),
 * limit, scanMax, state, orderId, code ('' = any). Reads at most scanMax places after the cursor
 * and returns {more (1|0), last place read, JSON of each match...}, at most limit matches.
 */
export const OUTBOX_LIST = `
local min = '-'
if ARGV[1] ~= '' then min = '(' .. ARGV[1] end
local scanMax = tonumber(ARGV[3])
local limit = tonumber(ARGV[2])
local places = redis.call('ZRANGEBYLEX', KEYS[2], min, '+', 'LIMIT', 0, scanMax + 1)
local out = {0, ARGV[1]}
local found, n = 0, 0
for _, k in ipairs(places) do
  if found >= limit or n >= scanMax then break end
  n = n + 1
  out[2] = k
  local id = string.sub(k, ${OUTBOX_TIME_DIGITS + 2})
  local raw = redis.call('HGET', KEYS[1], id)
  if raw then
    local e = cjson.decode(raw)
    if (ARGV[4] == '' or e.state == ARGV[4]) and (ARGV[5] == '' or e.orderId == ARGV[5]) and (ARGV[6] == '' or e.code == ARGV[6]) then
      table.insert(out, raw)
      found = found + 1
    end
  end
end
if n < #places then out[1] = 1 end
return out
`;

/**
 * Records a key once until it expires: stock event ids, idempotency records. KEYS: the key. ARGV:
 * now, ttlMs ('' = forever), value. The record holds its expiry by the store's clock beside the
 * value, and Redis drops it by TTL: an expired record is gone for both (the store's clock is
 * injected in tests and replays, Redis keeps its own time). Returns {1, value} when this call
 * stored it, else {0, the stored value}.
 */
export const CLAIM_ONCE = `
local now = tonumber(ARGV[1])
local raw = redis.call('GET', KEYS[1])
if raw then
  local sep = string.find(raw, '|', 1, true)
  -- An event id recorded before ids expired (value '1'): kept as it was.
  if not sep then return {0, raw} end
  local untilMs = tonumber(string.sub(raw, 1, sep - 1))
  if untilMs == nil or untilMs > now then return {0, string.sub(raw, sep + 1)} end
end
if ARGV[2] == '' then
  redis.call('SET', KEYS[1], 'inf|' .. ARGV[3])
else
  redis.call('SET', KEYS[1], string.format('%d', now + tonumber(ARGV[2])) .. '|' .. ARGV[3], 'PX', ARGV[2])
end
return {1, ARGV[3]}
`;

/**
 * The order shipped: held -> committed, atomically against a cancel. KEYS: {ord:ID}. ARGV: now, guardMs.
 * Returns {'commit', attempt, partsJson} (now committed: finish the parts), {'again', attempt,
 * partsJson} (committed before: finishing the parts again completes an interrupted commit),
 * {'cancelled'}, {'expired'} (from expiresAt - guardMs on, see above) or {'not-held'}.
 */
export const COMMIT_ORDER = `
local r = redis.call('HMGET', KEYS[1], 'state', 'expiresAt', 'decision', 'cancelled', 'attempt', 'parts')
if r[4] == '1' then return {'cancelled'} end
if r[1] == 'committed' then return {'again', r[5], r[6]} end
if r[1] ~= 'held' or not r[3] then return {'not-held'} end
if tonumber(ARGV[1]) >= tonumber(r[2]) - tonumber(ARGV[2]) then return {'expired'} end
redis.call('HSET', KEYS[1], 'state', 'committed')
return {'commit', r[5], r[6]}
`;

/**
 * Cancels an order: held -> released and the cancelled mark in one step, atomically against a
 * commit. KEYS: {ord:ID}. ARGV: now. Returns {'absent'} (no decision), {'committed'} (it shipped: refused),
 * {'release', attempt, partsJson} (release the parts; again after a cancel, which completes an
 * interrupted one) or {'cancelled'} (nothing was held).
 */
export const CANCEL_ORDER = `
local r = redis.call('HMGET', KEYS[1], 'state', 'decision', 'attempt', 'parts', 'expiresAt')
if not r[2] then return {'absent'} end
if r[1] == 'committed' then return {'committed'} end
redis.call('HSET', KEYS[1], 'cancelled', '1')
-- An expired reservation stays as it is (its parts expire in their slots by themselves), so the
-- order reads "expired" and cancelled, as on the embedded store.
if r[1] == 'held' and tonumber(ARGV[1]) >= tonumber(r[5]) then return {'cancelled'} end
if r[1] == 'held' then redis.call('HSET', KEYS[1], 'state', 'released') end
if r[1] == 'held' or r[1] == 'released' then return {'release', r[3], r[4]} end
return {'cancelled'}
`;

/**
 * What the recovery pass does with an order whose pending marker is past its deadline.
 * KEYS: {ord:ID}. ARGV: now, claimTimeoutMs. Returns {'gone'} (no record: nothing held),
 * {'abandoned', attempt, partsJson} (no decision and the claim abandoned: now aborted; release
 * the parts, then DROP), {'wait', deadline} (a live claim), or for a decided order
 * {'release' | 'commit' | 'done', attempt, partsJson, todoJson, dropAt}: finish a cancel or a commit
 * again (or nothing), and, when todoJson is not '', complete the order's indexes that the decision's
 * writer may not have completed (DECIDE); dropAt is '' without a retention.
 */
export const RECOVER = `
if redis.call('EXISTS', KEYS[1]) == 0 then return {'gone'} end
local now, timeout = tonumber(ARGV[1]), tonumber(ARGV[2])
local r = redis.call('HMGET', KEYS[1], 'state', 'attempt', 'claimedAt', 'parts', 'decision', 'todo', 'dropAt')
if not r[5] then
  if r[1] == 'aborted' or (r[1] == 'pending' and now - tonumber(r[3]) > timeout) then
    redis.call('HSET', KEYS[1], 'state', 'aborted')
    return {'abandoned', r[2], r[4]}
  end
  return {'wait', tostring(tonumber(r[3]) + timeout + 1)}
end
local kind = 'done'
if r[1] == 'released' then kind = 'release' elseif r[1] == 'committed' then kind = 'commit' end
return {kind, r[2] or '', r[4] or '[]', r[6] or '', r[7] or ''}
`;
