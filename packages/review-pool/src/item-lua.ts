/**
 * How the scripts keep an item: its fixed part (what `add` was given, less the fields below) at
 * `{prefix}:review:item:{id}`, written once and never again, and its state (status, lease,
 * verdict, set-aside fields) as its own JSON at `{prefix}:review:state:{id}` (the scripts build
 * both names from the prefix; they must stay contracts' `redisKeys` reviewItem and reviewState,
 * which the TypeScript side reads, and a test holds them to it). Redis's cjson writes
 * numbers with 14 significant digits (and refuses a higher precision), so an item re-encoded by a
 * script lost the last digits of its probability, priority, threshold and rank: exports disagreed
 * with explanation.json, and "sampled iff rank ≥ threshold" could flip. The state holds only
 * strings and integer epoch ms (13 digits), which 14 digits write exactly; the fixed part is only
 * ever decoded, to read the model, class, priority and sampledAt.
 *
 * An item stored before the state had its own key (its fixed part still holds a `status`) is read
 * as it is until a script first changes it.
 */

/**
 * The fields a script may change; every other field of an item is fixed when it is added.
 * `undoing` (an undo being saved) and `applied` are the pool's own and never reach callers (the
 * item's schema drops them). `applied` is the token of the last step applied to the item (a
 * release or skip, a set-aside, a restore, a verdict or an undo finished): ioredis sends a command
 * whose reply a dropped connection lost once more after it reconnects, and that same command
 * (same token) is answered as it was the first time instead of being refused for what it did itself.
 */
export const itemStateFields = ['status', 'leasedBy', 'leaseExpiresAt', 'verdict', 'reviewer', 'reviewedAt', 'comment', 'shown', 'closing', 'verdictId', 'brokenReason', 'brokenAt', 'undoing', 'applied', 'lane'] as const;

/**
 * Which of the pool's two orders a pending item waits in (its state's `lane`, the pool's own, like
 * `applied`; see pool-order.ts): `baseline`, the uniform draw (the policy's `rate=` term), served
 * oldest first in a share of the leases; `priority`, every other item, served by priority. An
 * item stored before the lanes has none: it waits in the old pool until a lease sorts it.
 */
export type PoolLane = 'baseline' | 'priority';

/**
 * Lua: `loadItem(prefix, id)` → the item's fixed part (decoded, read-only) and its state, or nil
 * when there is no item (never added, or expired: a fixed part without a state is one whose keys
 * are expiring, unless it is an item stored whole before the state had its own key).
 * `saveState(prefix, id, state)` writes the state alone, without expiry, and returns its JSON;
 * `saveStateKeepingExpiry` keeps the expiry it had (a reviewed item's retention, when an undo
 * marker is set or cleared on it).
 */
export const itemStore = `
local stateFields = { ${itemStateFields.map((field) => `'${field}'`).join(', ')} }
local function loadItem(prefix, id)
  local found = redis.call('MGET', prefix .. ':review:item:' .. id, prefix .. ':review:state:' .. id)
  if not found[1] then return nil end
  local item = cjson.decode(found[1])
  if found[2] then return item, cjson.decode(found[2]) end
  if item.status == nil then return nil end
  local state = {}
  for _, field in ipairs(stateFields) do state[field] = item[field] end
  return item, state
end
local function saveState(prefix, id, state)
  local encoded = cjson.encode(state)
  redis.call('SET', prefix .. ':review:state:' .. id, encoded)
  return encoded
end
local function saveStateKeepingExpiry(prefix, id, state)
  local encoded = cjson.encode(state)
  redis.call('SET', prefix .. ':review:state:' .. id, encoded, 'KEEPTTL')
  return encoded
end
`;

/** How many expired ids one lease, read or add takes out of the listing index at most (see expiringIndex). */
export const expiredPerCall = 100;

/**
 * Lua: the closed items' expiry index, `{prefix}:review:expiring` (id → when its keys expire,
 * epoch ms). Reviewed and broken items expire after their retention, but the listing index
 * (`:index`) held their ids until a listing walked over them, so a pool nobody lists kept an id
 * for every item ever closed, in a Redis that runs noeviction. `storeClosed` enters each closed
 * item here; `dropExpired(prefix)` takes up to `expiredPerCall` of those whose time has come out of
 * both (bounded work, called by lease, the reads' reclaim and add). Times are Redis's own clock
 * (`serverMs`, TIME), as PEXPIRE counts them: the scripts' `now` is the caller's, and tests move
 * it. An id due here whose item still lives (no expiry any more: undone or restored; or due a few
 * ms late) is not dropped from the listing index: kept items leave this index, the others get
 * their real expiry.
 */
export const expiringIndex = `
local function serverMs()
  local time = redis.call('TIME')
  return tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end
local function dropExpired(prefix)
  local expiring = prefix .. ':review:expiring'
  local now = serverMs()
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', expiring, '-inf', now, 'LIMIT', 0, ${expiredPerCall})) do
    local ttl = redis.call('PTTL', prefix .. ':review:item:' .. id)
    if ttl == -2 then
      redis.call('ZREM', prefix .. ':review:index', id)
      redis.call('ZREM', expiring, id)
    elseif ttl == -1 then
      redis.call('ZREM', expiring, id)
    else
      redis.call('ZADD', expiring, now + ttl, id)
    end
  end
end
`;

/**
 * Lua: the item leased to `reviewer` until now + leaseMs: its state saved (without expiry), and
 * the lease in the leases index and in the reviewer's own set. Returns the state's JSON. Shared
 * by a new lease and by an undo, which leases the item back to its reviewer.
 */
export const leaseTo = `
local function leaseTo(prefix, id, state, reviewer, now, leaseMs)
  -- A lease held on is renewed to a later time than it had, never the same or an earlier one:
  -- its leaseExpiresAt names it (a release bound to the one before is refused), and 'now' is the
  -- clock of whichever service instance asks, which may be behind the one that leased it.
  local expires = now + leaseMs
  if state.status == 'leased' and state.leasedBy == reviewer and state.leaseExpiresAt and state.leaseExpiresAt >= expires then
    expires = state.leaseExpiresAt + 1
  end
  state.status = 'leased'
  state.leasedBy = reviewer
  state.leaseExpiresAt = expires
  local encoded = saveState(prefix, id, state)
  local held = prefix .. ':review:leased-by:' .. reviewer
  redis.call('ZADD', prefix .. ':review:leases', expires, id)
  redis.call('ZADD', held, expires, id)
  redis.call('PEXPIRE', held, expires - now)
  return encoded
end
`;

/**
 * Lua: where a pending item waits (see pool-order.ts for the order and why). `poolMember` is its
 * member in both lanes, `{sampledAt, 16 digits}:{id}`: members of equal score sort by their bytes,
 * so equal priorities go oldest first (then by id), whatever the ids (a client's choice). A
 * sampledAt before 1970 counts as 1970 there. `enterPool` puts it in its lane's sets (all models
 * and its model's) and the pending indexes (all models' and its model's, id → sampledAt: a model's
 * backlog reads its oldest item there, not past every other model's): the priority lane scores it
 * −priority (ZRANGE, ascending, is the serving order), the baseline lane by its sampledAt. An item without a lane (stored before
 * the lanes: `lane` is not in its state) goes back to the old pool, id → priority, which the next
 * lease sorts (review-pool.ts). `leavePool` takes it out of all of them.
 *
 * `forgetEmptyModel(prefix, model)`: once none of the model's pool sets (both lanes, the old pool)
 * nor its pending index holds anything (Redis has deleted those sorted sets as they emptied), it
 * deletes `:indexed:{model}` too, the time its index was last whole (backlog-script.ts): an empty
 * index of an empty pool is whole, so the model starts its interval again at the first look once
 * it has items again, as a model never indexed does. Kept, it outlived the model for ever (a model
 * taken out of service). `leavePool` calls it, and so does the end of a model's indexing.
 */
export const poolLanes = `
local function forgetEmptyModel(prefix, model)
  local keys = prefix .. ':review:'
  if redis.call('EXISTS', keys .. 'by-priority:' .. model, keys .. 'baseline:' .. model, keys .. 'pool:' .. model, keys .. 'pending-age:' .. model) == 0 then
    redis.call('DEL', keys .. 'indexed:' .. model)
  end
end
local function poolMember(item, id)
  return string.format('%016d', math.max(0, item.sampledAt)) .. ':' .. id
end
local function enterPool(prefix, id, item, state)
  local keys = prefix .. ':review:'
  local member = poolMember(item, id)
  if state.lane == 'baseline' then
    redis.call('ZADD', keys .. 'baseline', item.sampledAt, member)
    redis.call('ZADD', keys .. 'baseline:' .. item.model, item.sampledAt, member)
  elseif state.lane == 'priority' then
    redis.call('ZADD', keys .. 'by-priority', -item.sampling.priority, member)
    redis.call('ZADD', keys .. 'by-priority:' .. item.model, -item.sampling.priority, member)
  else
    redis.call('ZADD', keys .. 'pool', item.sampling.priority, id)
    redis.call('ZADD', keys .. 'pool:' .. item.model, item.sampling.priority, id)
  end
  redis.call('ZADD', keys .. 'pending-age', item.sampledAt, id)
  redis.call('ZADD', keys .. 'pending-age:' .. item.model, item.sampledAt, id)
end
local function leavePool(prefix, id, item)
  local keys = prefix .. ':review:'
  local member = poolMember(item, id)
  for _, lane in ipairs({ 'by-priority', 'baseline' }) do
    redis.call('ZREM', keys .. lane, member)
    redis.call('ZREM', keys .. lane .. ':' .. item.model, member)
  end
  redis.call('ZREM', keys .. 'pool', id)
  redis.call('ZREM', keys .. 'pool:' .. item.model, id)
  redis.call('ZREM', keys .. 'pending-age', id)
  redis.call('ZREM', keys .. 'pending-age:' .. item.model, id)
  forgetEmptyModel(prefix, item.model)
end
`;

/**
 * Lua: a leased item back to pending, in its lane again (enterPool), its lease (and any stale
 * verdict marker) gone, kept for ever again (a restored item had an expiry). Returns the state's
 * JSON. Shared by expiry, by a reviewer giving an item back and by restore.
 */
export const returnToPool = `
local function returnToPool(prefix, id, item, state)
  state.status = 'pending'
  state.leasedBy = nil
  state.leaseExpiresAt = nil
  state.closing = nil
  state.undoing = nil
  local encoded = saveState(prefix, id, state)
  redis.call('PERSIST', prefix .. ':review:item:' .. id)
  redis.call('ZREM', prefix .. ':review:expiring', id)
  redis.call('ZREM', prefix .. ':review:leases', id)
  enterPool(prefix, id, item, state)
  return encoded
end
`;

/**
 * Lua: whether a verdict is being kept on the item (`closingLive`: a `closing` marker younger
 * than the closing timeout), or an undo of its verdict is (`undoLive`: an `undoing` marker, the
 * same timeout; see undo-script.ts). An older marker is a request that died between its begin and
 * its finish: it no longer blocks.
 */
export const closingLive = `
local function closingLive(state, now, closingStaleMs)
  return state.closing ~= nil and state.closing.at + closingStaleMs > now
end
local function undoLive(state, now, closingStaleMs)
  return state.undoing ~= nil and state.undoing.at + closingStaleMs > now
end
`;

/**
 * Lua: every lease that ran out back to the pool (returnToPool), unless a verdict on its item is
 * being kept: such an item stays leased until its marker times out (the begin script moved its
 * expiry there; a marker that outlived it moves it again). Reads as many items as there are
 * expired leases.
 */
export const reclaimExpired = `
local function reclaimExpired(prefix, now, closingStaleMs)
  local leases = prefix .. ':review:leases'
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', leases, '-inf', now)) do
    local item, state = loadItem(prefix, id)
    if item and state.status == 'leased' and closingLive(state, now, closingStaleMs) then
      redis.call('ZADD', leases, state.closing.at + closingStaleMs, id)
    elseif item and state.status == 'leased' then
      returnToPool(prefix, id, item, state)
    else
      redis.call('ZREM', leases, id)
    end
  end
end
`;

/**
 * Lua: stores the state of an item just closed (reviewed or set aside) without its lease, and
 * takes it out of the leases; returns the state's JSON. The item is kept for `retentionMs` when
 * that is above 0: only closed items expire, one still waiting for a reviewer is kept however
 * old. review.json next to the explanation is the lasting record; this bounds Redis, whose
 * noeviction policy would otherwise end in refused writes for the whole pipeline. The fixed part
 * is given its expiry first, so the state never expires before it (a fixed part read without its
 * state counts as expired). Its expiry is entered in the expiry index (see expiringIndex), so
 * the listing index forgets it once it is gone.
 */
export const storeClosed = `
local function storeClosed(prefix, id, state, retentionMs)
  state.leasedBy = nil
  state.leaseExpiresAt = nil
  state.closing = nil
  state.undoing = nil
  local encoded = cjson.encode(state)
  local stateKey = prefix .. ':review:state:' .. id
  if retentionMs > 0 then
    redis.call('PEXPIRE', prefix .. ':review:item:' .. id, retentionMs)
    redis.call('SET', stateKey, encoded, 'PX', retentionMs)
    redis.call('ZADD', prefix .. ':review:expiring', serverMs() + retentionMs, id)
  else
    redis.call('SET', stateKey, encoded)
    redis.call('ZREM', prefix .. ':review:expiring', id)
  end
  redis.call('ZREM', prefix .. ':review:leases', id)
  return encoded
end
`;

/** The Lua functions above, in the order they need each other. */
export const itemLua = `${itemStore}${expiringIndex}${closingLive}${leaseTo}${poolLanes}${returnToPool}${reclaimExpired}${storeClosed}`;
