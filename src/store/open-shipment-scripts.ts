/**
 * Lua scripts for the open shipments of one group (issue 21; src/store/types.ts OpenShipment).
 * A group's shipments are one hash, `{og:GROUP}:open` (trackingNumber -> JSON record), in one
 * hash slot, so joining an order checks the shipment is still open and has room and adds the
 * order in one atomic step, whichever instance runs it. Apart from redis-scripts.ts so that the
 * stock scripts and these change independently.
 *
 * KEYS[1] the group's hash. ARGV[1] the store's clock, epoch ms.
 */

/** PUT: ARGV[2] trackingNumber, ARGV[3] JSON record, ARGV[4] ttl ms. Adds the record unless present; the hash lives at least ttl ms more. */
export const OPEN_PUT = `
redis.call('HSETNX', KEYS[1], ARGV[2], ARGV[3])
local ttl = tonumber(ARGV[4])
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
return 1
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
 * MOVE: ARGV[2] the old waybill, ARGV[3] JSON patch (trackingNumber, courierId, etaMs, maxGrams;
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
return 'moved'
`;

/** GROUP_UNLOCK (KEYS[1] the group's lock): ARGV[2] token. Deletes the lock only if that token holds it. */
export const GROUP_UNLOCK = `
if redis.call('GET', KEYS[1]) == ARGV[2] then return redis.call('DEL', KEYS[1]) end
return 0
`;
