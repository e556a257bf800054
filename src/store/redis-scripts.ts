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
 */

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
 * Locks free units for a customer. ARGV: now, lockJson (a StockLock, state active, remaining = qty).
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

/** Gives up an attempt's claim: pending -> aborted. KEYS: {ord:ID}. ARGV: attempt. Returns 1 when this attempt's claim is (now) aborted. */
export const ABORT = `
local r = redis.call('HMGET', KEYS[1], 'state', 'attempt', 'decision')
if r[2] ~= ARGV[1] or r[3] then return 0 end
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
 * Stores a decision once. KEYS: {ord:ID}. ARGV: attempt ('' when nothing was reserved), decisionJson.
 * With an attempt, the claim must still be this attempt's and pending; it becomes held. Returns
 * {'ok'}, {'exists'} (another decision won), or {'lost'} (the claim was taken over).
 */
export const DECIDE = `
local r = redis.call('HMGET', KEYS[1], 'state', 'attempt', 'decision')
if r[3] then return {'exists'} end
if ARGV[1] ~= '' then
  if r[1] ~= 'pending' or r[2] ~= ARGV[1] then return {'lost'} end
  redis.call('HSET', KEYS[1], 'state', 'held', 'decision', ARGV[2])
else
  redis.call('HSET', KEYS[1], 'state', 'none', 'decision', ARGV[2])
end
return {'ok'}
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
