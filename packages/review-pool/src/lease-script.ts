/**
 * Lua: a leased item back to pending, in the pool by its priority and age again, its lease (and
 * any stale verdict marker) gone. Shared by expiry (in the lease script) and by a reviewer giving
 * an item back.
 */
export const returnToPool = `
local function returnToPool(prefix, id, item)
  item.status = 'pending'
  item.leasedBy = nil
  item.leaseExpiresAt = nil
  item.closing = nil
  redis.call('SET', prefix .. ':review:item:' .. id, cjson.encode(item))
  redis.call('ZREM', prefix .. ':review:leases', id)
  redis.call('ZADD', prefix .. ':review:pool', item.sampling.priority, id)
  redis.call('ZADD', prefix .. ':review:pool:' .. item.model, item.sampling.priority, id)
  redis.call('ZADD', prefix .. ':review:pending-age', item.sampledAt, id)
  return item
end
`;

/**
 * Lua: whether a verdict is being kept on the item (a marker younger than the closing timeout).
 * An older marker is a request that died between its begin and its finish: it no longer blocks.
 */
export const closingLive = `
local function closingLive(item, now, closingStaleMs)
  return item.closing ~= nil and item.closing.at + closingStaleMs > now
end
`;

/**
 * Lua: every lease that ran out back to the pool (returnToPool), unless a verdict on its item is
 * being kept: such an item stays leased until its marker times out (the begin script moved its
 * expiry there; a marker that outlived it moves it again). Reads as many items as there are
 * expired leases. Needs returnToPool and closingLive.
 */
export const reclaimExpired = `
local function reclaimExpired(prefix, now, closingStaleMs)
  local leases = prefix .. ':review:leases'
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', leases, '-inf', now)) do
    local raw = redis.call('GET', prefix .. ':review:item:' .. id)
    local item = raw and cjson.decode(raw)
    if item and item.status == 'leased' and closingLive(item, now, closingStaleMs) then
      redis.call('ZADD', leases, item.closing.at + closingStaleMs, id)
    elseif item and item.status == 'leased' then
      returnToPool(prefix, id, item)
    else
      redis.call('ZREM', leases, id)
    end
  end
end
`;

/**
 * Lua: stores an item just closed (reviewed or set aside) without its lease, and takes it out of
 * the leases; returns its JSON. It is kept for `retentionMs` when that is above 0: only closed
 * items expire, one still waiting for a reviewer is kept however old. review.json next to the
 * explanation is the lasting record; this bounds Redis, whose noeviction policy would otherwise
 * end in refused writes for the whole pipeline.
 */
export const storeClosed = `
local function storeClosed(prefix, id, item, retentionMs)
  item.leasedBy = nil
  item.leaseExpiresAt = nil
  item.closing = nil
  local encoded = cjson.encode(item)
  local key = prefix .. ':review:item:' .. id
  if retentionMs > 0 then redis.call('SET', key, encoded, 'PX', retentionMs) else redis.call('SET', key, encoded) end
  redis.call('ZREM', prefix .. ':review:leases', id)
  return encoded
end
`;

/**
 * Adds a new item: SET NX of the item, then (only if it was new) its place in the pool, the
 * model's pool, the listing index and the pending index.
 *
 * KEYS: item, pool, model pool, index, pending age. ARGV: item JSON, priority, sampledAt, id.
 * Returns 1 when added, 0 when the id was already there.
 */
export const addScript = `
if not redis.call('SET', KEYS[1], ARGV[1], 'NX') then return 0 end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[4])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[4])
redis.call('ZADD', KEYS[4], ARGV[3], ARGV[4])
redis.call('ZADD', KEYS[5], ARGV[3], ARGV[4])
return 1
`;

/**
 * Atomically: return expired leases to the pool; answer the reviewer's own live lease if they
 * hold one (whatever model this call asks for); else take the highest-priority pending item
 * (of one model, or of all) that the reviewer has not skipped, and lease it to them. One
 * script, so two reviewers can never receive the same item, and one reviewer holds at most one
 * live lease. Keys are derived from the prefix inside the script (single Redis, not Cluster:
 * the pipeline's keys share one prefix anyway).
 *
 * Skips older than the skip memory are forgotten first. Of the top (skips + 1) items at least
 * one is not skipped, so a lease reads at most that many: its cost grows with the reviewer's
 * remembered skips, never with the pool.
 *
 * An item whose verdict is being kept stays leased even when its lease ran out (the verdict
 * began in time; the begin script moved its expiry to the marker's timeout), until the marker
 * is older than the closing timeout: then it goes back to the pool like any expired lease.
 *
 * ARGV: prefix, now (ms), lease ms, reviewer, model ('' = any; for a new lease only), skip memory (ms), closing timeout (ms)
 * Returns the leased item's JSON, or nil when nothing is pending for this reviewer.
 */
export const leaseScript = `${returnToPool}${closingLive}${reclaimExpired}
local prefix, now, leaseMs, reviewer, model, skipMemoryMs, closingStaleMs = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7])
local leases = prefix .. ':review:leases'
local pool = prefix .. ':review:pool'
reclaimExpired(prefix, now, closingStaleMs)
-- The reviewer's own live lease is answered again, whatever model this call asks for: asking
-- twice (a reload, a retried request, another tab with another filter) does not lease a second
-- item, so nobody can hoard the pool; a new filter applies from the next item. Not an item whose
-- verdict is being kept (the reviewer is done with it), but one whose marker went stale (its
-- request died): that one is still theirs to judge.
local held = prefix .. ':review:leased-by:' .. reviewer
redis.call('ZREMRANGEBYSCORE', held, '-inf', now)
for _, heldId in ipairs(redis.call('ZRANGE', held, 0, -1)) do
  local raw = redis.call('GET', prefix .. ':review:item:' .. heldId)
  local item = raw and cjson.decode(raw)
  if not (item and item.status == 'leased' and item.leasedBy == reviewer) then
    redis.call('ZREM', held, heldId)
  elseif item.leaseExpiresAt > now and not closingLive(item, now, closingStaleMs) then
    return raw
  end
end
local source = pool
if model ~= '' then source = pool .. ':' .. model end
local skipped = prefix .. ':review:skipped:' .. reviewer
redis.call('ZREMRANGEBYSCORE', skipped, '-inf', now - skipMemoryMs)
local id
for _, candidate in ipairs(redis.call('ZREVRANGE', source, 0, redis.call('ZCARD', skipped))) do
  if not redis.call('ZSCORE', skipped, candidate) then
    id = candidate
    break
  end
end
if not id then return nil end
local key = prefix .. ':review:item:' .. id
local item = cjson.decode(redis.call('GET', key))
redis.call('ZREM', pool, id)
redis.call('ZREM', pool .. ':' .. item.model, id)
redis.call('ZREM', prefix .. ':review:pending-age', id)
item.status = 'leased'
item.leasedBy = reviewer
item.leaseExpiresAt = now + leaseMs
redis.call('SET', key, cjson.encode(item))
redis.call('ZADD', leases, now + leaseMs, id)
redis.call('ZADD', held, now + leaseMs, id)
redis.call('PEXPIRE', held, leaseMs)
return cjson.encode(item)
`;

/**
 * Returns every lease that ran out to the pool (as the lease script does first), so that what a
 * listing or a read shows agrees with the backlog: an item whose lease ran out is pending, not
 * leased with an expiry in the past, from the moment it ran out rather than from the next lease.
 * ARGV: prefix, now (ms), closing timeout (ms). Returns nothing.
 */
export const reclaimScript = `${returnToPool}${closingLive}${reclaimExpired}
reclaimExpired(ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]))
`;

/**
 * Atomically gives a leased item back to the pool before its lease runs out (a reviewer who
 * stops, or skips it), so it does not wait for the expiry. Only the lease holder can, and only
 * while it holds. A skip is also remembered for the skip memory, so the lease script hands the
 * item to someone else; the memory key expires with its newest skip.
 * Not while the holder's verdict is being kept (it would be kept on an item back in the pool).
 * ARGV: prefix, id, reviewer, now (ms), skip memory (ms; 0 = a plain release, nothing remembered), closing timeout (ms)
 * Returns the item's JSON, pending again, or an error reply: NOT_FOUND, NOT_LEASED, IN_PROGRESS.
 */
export const releaseScript = `${returnToPool}${closingLive}
local prefix, id, reviewer, now, skipMemoryMs, closingStaleMs = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local raw = redis.call('GET', prefix .. ':review:item:' .. id)
if not raw then return redis.error_reply('NOT_FOUND') end
local item = cjson.decode(raw)
if item.status == 'leased' and item.leasedBy == reviewer and closingLive(item, now, closingStaleMs) then
  return redis.error_reply('IN_PROGRESS')
end
if item.status ~= 'leased' or item.leasedBy ~= reviewer or item.leaseExpiresAt < now then
  return redis.error_reply('NOT_LEASED')
end
if skipMemoryMs > 0 then
  local skipped = prefix .. ':review:skipped:' .. reviewer
  redis.call('ZADD', skipped, now, id)
  redis.call('PEXPIRE', skipped, skipMemoryMs)
  redis.call('HINCRBY', prefix .. ':review:skips', item.model, 1)
end
return cjson.encode(returnToPool(prefix, id, item))
`;

/**
 * Atomically sets a leased item aside as `broken` (its stored files cannot be shown): out of the
 * leases, never leased again (it is in no pool), still listed. Only the reviewer it is leased to
 * can, and not while a verdict on it is being kept.
 * ARGV: prefix, id, reviewer, now (ms), reason, closing timeout (ms), retention (ms; 0 = for ever)
 * Returns the item's JSON, or an error reply: NOT_FOUND, NOT_LEASED, IN_PROGRESS.
 */
export const setAsideScript = `${closingLive}${storeClosed}
local prefix, id, reviewer, now, reason, closingStaleMs, retentionMs = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7])
local key = prefix .. ':review:item:' .. id
local raw = redis.call('GET', key)
if not raw then return redis.error_reply('NOT_FOUND') end
local item = cjson.decode(raw)
if item.status ~= 'leased' or item.leasedBy ~= reviewer then return redis.error_reply('NOT_LEASED') end
if closingLive(item, now, closingStaleMs) then return redis.error_reply('IN_PROGRESS') end
item.status = 'broken'
redis.call('HINCRBY', prefix .. ':review:broken', item.model, 1)
item.brokenReason = reason
item.brokenAt = now
return storeClosed(prefix, id, item, retentionMs)
`;

/**
 * Atomically puts a broken item back in the pool, pending again, once an operator has repaired
 * its stored files: its reason goes, and it no longer expires (pending items never do). The
 * broken count stays: gradcam_review_broken_total counts set-asides, and only ever goes up.
 * ARGV: prefix, id
 * Returns the item's JSON, pending again, or an error reply: NOT_FOUND, NOT_BROKEN.
 */
export const restoreScript = `${returnToPool}
local prefix, id = ARGV[1], ARGV[2]
local raw = redis.call('GET', prefix .. ':review:item:' .. id)
if not raw then return redis.error_reply('NOT_FOUND') end
local item = cjson.decode(raw)
if item.status ~= 'broken' then return redis.error_reply('NOT_BROKEN') end
item.brokenReason = nil
item.brokenAt = nil
return cjson.encode(returnToPool(prefix, id, item))
`;

/**
 * The backlog, read in one step: pending items are those in the pool plus those whose lease ran
 * out (they go back to the pool at the next lease call, but wait for a reviewer already), unless
 * a verdict on them is being kept. Reads as many items as there are expired leases.
 * ARGV: prefix, now (ms), closing timeout (ms)
 * Returns { pending, leased, oldest pending sampledAt (false = none) }.
 */
export const backlogScript = `${closingLive}
local prefix, now, closingStaleMs = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local leases = prefix .. ':review:leases'
local pending = redis.call('ZCARD', prefix .. ':review:pool')
local leased = redis.call('ZCOUNT', leases, '(' .. now, '+inf')
local oldest = redis.call('ZRANGE', prefix .. ':review:pending-age', 0, 0, 'WITHSCORES')[2]
oldest = oldest and tonumber(oldest)
for _, id in ipairs(redis.call('ZRANGEBYSCORE', leases, '-inf', now)) do
  local raw = redis.call('GET', prefix .. ':review:item:' .. id)
  local item = raw and cjson.decode(raw)
  if item and item.status == 'leased' then
    if closingLive(item, now, closingStaleMs) then
      leased = leased + 1
    else
      pending = pending + 1
      if not oldest or item.sampledAt < oldest then oldest = item.sampledAt end
    end
  end
end
return { pending, leased, oldest or false }
`;
