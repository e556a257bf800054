/**
 * Lua scripts for the open shipments of one group (issue 21; src/store/types.ts OpenShipment).
 * A group's shipments are one hash, `{og:GROUP}:open` (trackingNumber -> JSON record), in one
 * hash slot, so joining an order checks the shipment is still open and has room and adds the
 * order in one atomic step, whichever instance runs it. Apart from redis-scripts.ts so that the
 * stock scripts and these change independently.
 *
 * The hash keeps each shipment of the group for the order retention (GET /v1/orders/{id} shows
 * the group), so the ones not yet picked up are also indexed by pickup time in a sorted set,
 * `{og:GROUP}:open-live` (score pickupAtMs, member trackingNumber): listing the open shipments
 * reads those, not the customer's whole history. (A group written before the index existed is
 * listed from then on as it gains shipments; its older ones were joinable for MERGE_WINDOW_MINUTES
 * at most anyway.) When each record leaves is a third key, `{og:GROUP}:open-until` (score: the
 * put's time plus its TTL, later by as much as a move put the pickup later): a put drops the
 * records past their time, so the group of a customer who orders every day keeps its last
 * retention's shipments, not every one it had since it began (the keys' own TTL, renewed by every
 * put, drops the group only once it is idle that long). Records put before that key existed get
 * their time at the group's next put (one retention from then).
 *
 * KEYS[1] the group's hash, KEYS[2] its pickup index, KEYS[3] its record times, where a script
 * takes them. ARGV[1] the store's clock, epoch ms.
 */

/**
 * PUT (KEYS[2] the pickup index, KEYS[3] the record times): ARGV[2] trackingNumber, ARGV[3] JSON
 * record, ARGV[4] ttl ms, ARGV[5] its pickupAtMs. Gives the group's records a time if it has none
 * (a group written before KEYS[3] existed), drops up to 100 records past their time (each put
 * follows a decision, so a group sheds them as fast as it gains them), then adds the record unless
 * present (and indexes it); the keys live at least ttl ms more.
 */
export const OPEN_PUT = `
local now = tonumber(ARGV[1])
local ttl = tonumber(ARGV[4])
-- A group whose records have no times (written before the key existed) gets them now: its records
-- leave one retention from this put, as if put now.
if redis.call('EXISTS', KEYS[3]) == 0 then
  local ids = redis.call('HKEYS', KEYS[1])
  for i = 1, #ids, 500 do
    local args = {}
    for j = i, math.min(i + 499, #ids) do
      args[#args + 1] = now + ttl
      args[#args + 1] = ids[j]
    end
    redis.call('ZADD', KEYS[3], unpack(args))
  end
end
local due = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, 100)
if #due > 0 then
  redis.call('HDEL', KEYS[1], unpack(due))
  redis.call('ZREM', KEYS[2], unpack(due))
  redis.call('ZREM', KEYS[3], unpack(due))
end
if redis.call('HSETNX', KEYS[1], ARGV[2], ARGV[3]) == 1 then
  redis.call('ZADD', KEYS[2], ARGV[5], ARGV[2])
  redis.call('ZADD', KEYS[3], now + ttl, ARGV[2])
end
for i = 1, 3 do
  if redis.call('PTTL', KEYS[i]) < ttl then redis.call('PEXPIRE', KEYS[i], ttl) end
end
return 1
`;

/**
 * LIST (KEYS[2] the index): the JSON records not picked up by ARGV[1], in pickup order; the ones
 * picked up leave the index.
 */
export const OPEN_LIST = `
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. now, '+inf')
if #ids == 0 then return {} end
return redis.call('HMGET', KEYS[1], unpack(ids))
`;

/**
 * JOIN: ARGV[2] trackingNumber, ARGV[3] JSON member (orderId, grams, ...). Answers {outcome,
 * members after}: 'missing', 'member' (already in: a retry changes nothing), 'closed' (picked up by
 * now), 'full' (no room in its parcels) or 'joined'.
 */
export const OPEN_JOIN = `
local raw = redis.call('HGET', KEYS[1], ARGV[2])
if not raw then return {'missing', 0} end
local o = cjson.decode(raw)
local m = cjson.decode(ARGV[3])
for _, x in ipairs(o.members) do
  if x.orderId == m.orderId then return {'member', #o.members} end
end
if o.pickupAtMs <= tonumber(ARGV[1]) then return {'closed', #o.members} end
if o.maxGrams ~= cjson.null and o.grams + m.grams > o.maxGrams then return {'full', #o.members} end
o.grams = o.grams + m.grams
table.insert(o.members, m)
redis.call('HSET', KEYS[1], ARGV[2], cjson.encode(o))
return {'joined', #o.members}
`;

/** LEAVE: ARGV[2] trackingNumber, ARGV[3] orderId. Takes a child out (never the master). */
export const OPEN_LEAVE = `
local raw = redis.call('HGET', KEYS[1], ARGV[2])
if not raw then return 0 end
local o = cjson.decode(raw)
for i, x in ipairs(o.members) do
  if i > 1 and x.orderId == ARGV[3] then
    o.grams = o.grams - x.grams
    table.remove(o.members, i)
    redis.call('HSET', KEYS[1], ARGV[2], cjson.encode(o))
    return 1
  end
end
return 0
`;

/**
 * MOVE (KEYS[2] the pickup index, KEYS[3] the record times): ARGV[2] the old waybill, ARGV[3] JSON
 * patch (trackingNumber, courierId, etaMs, maxGrams; a re-optimisation also warehouseId, shipment,
 * shipDay, pickupAtMs, grams, members),
 * ARGV[4] JSON array of the member order ids the caller moved (master first). Answers 'missing'
 * (no record under the old waybill), 'changed' (its members are not those: an order joined or
 * left since the caller read it) or 'moved' (the record now lives under the new waybill, patched).
 */
export const OPEN_MOVE = `
local raw = redis.call('HGET', KEYS[1], ARGV[2])
if not raw then return 'missing' end
local o = cjson.decode(raw)
local ids = cjson.decode(ARGV[4])
if #o.members ~= #ids then return 'changed' end
for i, x in ipairs(o.members) do
  if x.orderId ~= ids[i] then return 'changed' end
end
local p = cjson.decode(ARGV[3])
local pickup = o.pickupAtMs
for k, v in pairs(p) do o[k] = v end
redis.call('HDEL', KEYS[1], ARGV[2])
redis.call('HSET', KEYS[1], p.trackingNumber, cjson.encode(o))
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('ZADD', KEYS[2], o.pickupAtMs, p.trackingNumber)
-- The record keeps its time, later by as much as its pickup moved later.
local untilMs = redis.call('ZSCORE', KEYS[3], ARGV[2])
if untilMs then
  untilMs = tonumber(untilMs) + math.max(0, o.pickupAtMs - pickup)
  redis.call('ZREM', KEYS[3], ARGV[2])
  redis.call('ZADD', KEYS[3], untilMs, p.trackingNumber)
end
-- The indexes live as long as the records (they may have just been created: a group put before
-- they existed), and all three as long as the moved record.
local ttl = redis.call('PTTL', KEYS[1])
for i = 2, 3 do
  if ttl > 0 and redis.call('PTTL', KEYS[i]) < 0 then redis.call('PEXPIRE', KEYS[i], ttl) end
end
if untilMs then
  local keep = untilMs - tonumber(ARGV[1])
  for i = 1, 3 do
    if redis.call('PTTL', KEYS[i]) < keep then redis.call('PEXPIRE', KEYS[i], keep) end
  end
end
return 'moved'
`;

/** GROUP_UNLOCK (KEYS[1] the group's lock): ARGV[2] token. Deletes the lock only if that token holds it. */
export const GROUP_UNLOCK = `
if redis.call('GET', KEYS[1]) == ARGV[2] then return redis.call('DEL', KEYS[1]) end
return 0
`;
