/**
 * Lua scripts for the open shipments of one group (issue 21; src/store/types.ts OpenShipment).
 * A group's shipments are one hash, `{og:GROUP}:open` (trackingNumber -> JSON record), in one
 * hash slot, so joining an order checks the shipment is still open and has room and adds the
 * order in one atomic step, whichever instance runs it. Apart from redis-scripts.ts so that the
 * stock scripts and these change independently.
 *
 * The hash keeps every shipment of the group for the order retention (GET /v1/orders/{id} shows
 * the group), so the ones not yet picked up are also indexed by pickup time in a sorted set,
 * `{og:GROUP}:open-live` (score pickupAtMs, member trackingNumber): listing the open shipments
 * reads those, not the customer's whole history. (A group written before the index existed is
 * listed from then on as it gains shipments; its older ones were joinable for MERGE_WINDOW_MINUTES
 * at most anyway.)
 *
 * KEYS[1] the group's hash (KEYS[2] its index where a script takes two). ARGV[1] the store's clock, epoch ms.
 */

/**
 * PUT (KEYS[2] the index): ARGV[2] trackingNumber, ARGV[3] JSON record, ARGV[4] ttl ms, ARGV[5]
 * its pickupAtMs. Adds the record unless present (and indexes it); both keys live at least ttl ms more.
 */
export const OPEN_PUT = `
if redis.call('HSETNX', KEYS[1], ARGV[2], ARGV[3]) == 1 then redis.call('ZADD', KEYS[2], ARGV[5], ARGV[2]) end
local ttl = tonumber(ARGV[4])
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
if redis.call('PTTL', KEYS[2]) < ttl then redis.call('PEXPIRE', KEYS[2], ttl) end
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
 * MOVE (KEYS[2] the index): ARGV[2] the old waybill, ARGV[3] JSON patch (trackingNumber, courierId, etaMs, maxGrams;
 * a re-optimisation also warehouseId, shipment, shipDay, pickupAtMs, grams, members),
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
for k, v in pairs(p) do o[k] = v end
redis.call('HDEL', KEYS[1], ARGV[2])
redis.call('HSET', KEYS[1], p.trackingNumber, cjson.encode(o))
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('ZADD', KEYS[2], o.pickupAtMs, p.trackingNumber)
-- The index lives as long as the records (it may have just been created: a group put before it existed).
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 and redis.call('PTTL', KEYS[2]) < 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
return 'moved'
`;

/** GROUP_UNLOCK (KEYS[1] the group's lock): ARGV[2] token. Deletes the lock only if that token holds it. */
export const GROUP_UNLOCK = `
if redis.call('GET', KEYS[1]) == ARGV[2] then return redis.call('DEL', KEYS[1]) end
return 0
`;
