import { verdictSchema } from '@gradcam/contracts';
import { itemLua } from './item-lua.ts';

/** Every verdict, as a Lua list: `{'supports', …}`. */
const verdictsLua = `{ ${verdictSchema.options.map((verdict) => `'${verdict}'`).join(', ')} }`;

/**
 * Adds a new item: SET NX of its fixed part, then (only if it was new) its state, its place in
 * its lane of the pool (all models and its model's) and the pending index (enterPool, item-lua.ts),
 * and the listing index.
 *
 * The model's broken and skip counts are created at 0 (HINCRBY 0 leaves an existing count as it
 * is): Prometheus' increase() takes a series' first sample as its start, so a count born at 1
 * by the model's first broken item would never fire GradcamReviewItemsBroken for it. So is the
 * count of each verdict on the model's items of the item's predicted class (`model|class|verdict`),
 * which the exporter republishes as gradcam_review_verdicts_total: a class's first verdict of each
 * kind was never counted in the verdicts per hour (with a model of many classes, most verdicts);
 * and the count of each verdict undone (gradcam_review_undos_total, kept = verdicts − undos), whose
 * first undo on a class was likewise never counted. Only for the classes items are added for, not
 * every class of the model (which the pool does not know).
 *
 * It also takes a few expired closed items out of the listing index (`dropExpired`, see
 * item-lua.ts): workers add all day, so the index stays bounded even while nobody reviews or
 * lists. Those keys, and the pool's, are built from the prefix (single Redis, as every script here).
 *
 * KEYS: item, state, index, broken counts, skip counts, verdict counts, undo counts. ARGV: fixed JSON, state
 * JSON (its `lane` set), priority, sampledAt, id (numbers as JavaScript writes them: Redis reads
 * every digit), model, prefix, lane, predicted class.
 * Returns 1 when added, 0 when the id was already there.
 */
export const addScript = `${itemLua}
dropExpired(ARGV[7])
if not redis.call('SET', KEYS[1], ARGV[1], 'NX') then return 0 end
redis.call('SET', KEYS[2], ARGV[2])
local sampledAt = tonumber(ARGV[4])
enterPool(ARGV[7], ARGV[5], { sampledAt = sampledAt, model = ARGV[6], sampling = { priority = tonumber(ARGV[3]) } }, { lane = ARGV[8] })
redis.call('ZADD', KEYS[3], sampledAt, ARGV[5])
redis.call('HINCRBY', KEYS[4], ARGV[6], 0)
redis.call('HINCRBY', KEYS[5], ARGV[6], 0)
for _, verdict in ipairs(${verdictsLua}) do
  local field = ARGV[6] .. '|' .. ARGV[9] .. '|' .. verdict
  redis.call('HINCRBY', KEYS[6], field, 0)
  redis.call('HINCRBY', KEYS[7], field, 0)
end
return 1
`;

/**
 * Atomically: return expired leases to the pool; answer the reviewer's own live lease if they
 * hold one (whatever model this call asks for); else take the next pending item in the serving
 * order (of one model, or of all) that the reviewer has not skipped, and lease it to them. One
 * script, so two reviewers can never receive the same item, and one reviewer holds at most one
 * live lease. Keys are derived from the prefix inside the script (single Redis, not Cluster:
 * the pipeline's keys share one prefix anyway).
 *
 * The serving order (pool-order.ts): a new lease of a source (the model asked for, or any: a hash
 * field of :lease-count each, the leases since the baseline last served one) takes the oldest item
 * of the uniform baseline first once `baselineEvery` - 1 leases have gone by since the baseline's
 * last, every other one the highest priority first (equal priorities oldest first); when that lane
 * holds nothing for this reviewer, the other one. Only a lease handed out counts.
 *
 * While the old pool (id → priority, from before the lanes) holds items and `sortFirst` is '1',
 * nothing is leased: the answer is 'SORT', and the caller sorts them into the lanes (it needs the
 * sampling package to tell an item's lane) and asks again with `sortFirst` '0'.
 *
 * Skips older than the skip memory are forgotten first. Of the first (skips + 1) items of a lane
 * at least one is not skipped, so a lease reads at most twice that many: its cost grows with the
 * reviewer's remembered skips, never with the pool.
 *
 * An item whose verdict is being kept stays leased even when its lease ran out (the verdict
 * began in time; the begin script moved its expiry to the marker's timeout), until the marker
 * is older than the closing timeout: then it goes back to the pool like any expired lease.
 *
 * Expired closed items leave the listing index a few at a time first (`dropExpired`, item-lua.ts).
 *
 * ARGV: prefix, now (ms), lease ms, reviewer, model ('' = any; for a new lease only), skip
 * memory (ms), closing timeout (ms), baselineEvery (≥ 1), sortFirst ('1' or '0').
 * Returns { fixed JSON, state JSON } of the item leased (or held), nil when nothing is pending
 * for this reviewer, or 'SORT'.
 */
export const leaseScript = `${itemLua}
local prefix, now, leaseMs, reviewer, model, skipMemoryMs, closingStaleMs = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7])
local baselineEvery, sortFirst = tonumber(ARGV[8]), ARGV[9]
dropExpired(prefix)
reclaimExpired(prefix, now, closingStaleMs)
-- The reviewer's own live lease is answered again, whatever model this call asks for: asking
-- twice (a reload, a retried request, another tab with another filter) does not lease a second
-- item, so nobody can hoard the pool; a new filter applies from the next item. Not an item whose
-- verdict is being kept (the reviewer is done with it), but one whose marker went stale (its
-- request died): that one is still theirs to judge. It is renewed as it is answered: a page
-- reloading sends a release bound to the lease it held as it goes, which may land after the
-- reloaded page asked again; renewed, that release names a lease that no longer is.
local held = prefix .. ':review:leased-by:' .. reviewer
redis.call('ZREMRANGEBYSCORE', held, '-inf', now)
for _, heldId in ipairs(redis.call('ZRANGE', held, 0, -1)) do
  local item, state = loadItem(prefix, heldId)
  if not (item and state.status == 'leased' and state.leasedBy == reviewer) then
    redis.call('ZREM', held, heldId)
  elseif state.leaseExpiresAt > now and not closingLive(state, now, closingStaleMs) then
    return { redis.call('GET', prefix .. ':review:item:' .. heldId), leaseTo(prefix, heldId, state, reviewer, now, leaseMs) }
  end
end
if sortFirst == '1' and redis.call('EXISTS', prefix .. ':review:pool') == 1 then return 'SORT' end
local suffix = ''
if model ~= '' then suffix = ':' .. model end
local lanes = { prefix .. ':review:by-priority' .. suffix, prefix .. ':review:baseline' .. suffix }
local baselineLane = lanes[2]
-- Leases of this source since the baseline last served one: its turn comes once baselineEvery - 1
-- have gone by, and stays until it serves, so a turn the reviewer asking cannot take (they skipped
-- all the baseline's items) passes to the next lease instead of being lost.
local counts = prefix .. ':review:lease-count'
local since = tonumber(redis.call('HGET', counts, model) or '0')
if since + 1 >= baselineEvery then lanes = { lanes[2], lanes[1] } end
local skipped = prefix .. ':review:skipped:' .. reviewer
redis.call('ZREMRANGEBYSCORE', skipped, '-inf', now - skipMemoryMs)
local skips = redis.call('ZCARD', skipped)
local id, servedFrom
for _, lane in ipairs(lanes) do
  for _, member in ipairs(redis.call('ZRANGE', lane, 0, skips)) do
    -- The member is '{sampledAt, 16 digits}:{id}' (poolMember).
    local candidate = string.sub(member, 18)
    if not redis.call('ZSCORE', skipped, candidate) then
      id, servedFrom = candidate, lane
      break
    end
  end
  if id then break end
end
if not id then return nil end
if servedFrom == baselineLane then since = 0 else since = since + 1 end
redis.call('HSET', counts, model, since)
local item, state = loadItem(prefix, id)
leavePool(prefix, id, item)
local encoded = leaseTo(prefix, id, state, reviewer, now, leaseMs)
return { redis.call('GET', prefix .. ':review:item:' .. id), encoded }
`;

/**
 * Returns every lease that ran out to the pool (as the lease script does first), so that what a
 * listing or a read shows agrees with the backlog: an item whose lease ran out is pending, not
 * leased with an expiry in the past, from the moment it ran out rather than from the next lease.
 * Expired closed items leave the listing index a few at a time too (`dropExpired`).
 * ARGV: prefix, now (ms), closing timeout (ms). Returns nothing.
 */
export const reclaimScript = `${itemLua}
dropExpired(ARGV[1])
reclaimExpired(ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]))
`;

/**
 * Atomically gives a leased item back to the pool before its lease runs out (a reviewer who
 * stops, or skips it), so it does not wait for the expiry. Only the lease holder can, and only
 * while it holds. A skip is also remembered for the skip memory, so the lease script hands the
 * item to someone else; the memory key expires with its newest skip. The item's skippers
 * (`:review:skippers:{id}`, a set of reviewers, expiring with its newest skip) say whose memory
 * holds it, so that remove takes it out of each.
 * Not while the holder's verdict is being kept (it would be kept on an item back in the pool).
 * The call's token is kept as the item's `applied`: the same command run again (a resend after a
 * lost reply) answers the item as it stands, as the first run did, instead of NOT_LEASED for the
 * release it made itself, and counts no second skip.
 * A call bound to a lease (`lease`: the `leaseExpiresAt` its caller was handed) gives back that
 * lease only: once the item was renewed or leased again (a new `leaseExpiresAt`), it is refused
 * (LEASE_REPLACED, a NOT_LEASED to callers). A page that leaves sends its release as it goes, and
 * that request may land after another tab of the same reviewer took the item on anew: unbound, it
 * would put back in the pool an item that tab still shows.
 * ARGV: prefix, id, reviewer, now (ms), skip memory (ms; 0 = a plain release, nothing remembered), closing timeout (ms), token (fresh per call), lease (epoch ms; '' = any)
 * Returns { fixed JSON, state JSON }, pending again, or an error reply: NOT_FOUND, NOT_LEASED, LEASE_REPLACED, IN_PROGRESS.
 */
export const releaseScript = `${itemLua}
local prefix, id, reviewer, now, skipMemoryMs, closingStaleMs, token, lease = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7], ARGV[8] or ''
local item, state = loadItem(prefix, id)
if not item then return redis.error_reply('NOT_FOUND') end
if state.applied == token then return { redis.call('GET', prefix .. ':review:item:' .. id), cjson.encode(state) } end
if state.status == 'leased' and state.leasedBy == reviewer and closingLive(state, now, closingStaleMs) then
  return redis.error_reply('IN_PROGRESS')
end
if state.status ~= 'leased' or state.leasedBy ~= reviewer or state.leaseExpiresAt < now then
  return redis.error_reply('NOT_LEASED')
end
if lease ~= '' and tonumber(lease) ~= state.leaseExpiresAt then return redis.error_reply('LEASE_REPLACED') end
if skipMemoryMs > 0 then
  local skipped = prefix .. ':review:skipped:' .. reviewer
  redis.call('ZADD', skipped, now, id)
  redis.call('PEXPIRE', skipped, skipMemoryMs)
  -- Who remembers the id, for remove (an erasure): it finds each skipper's memory without a scan.
  local skippers = prefix .. ':review:skippers:' .. id
  redis.call('SADD', skippers, reviewer)
  redis.call('PEXPIRE', skippers, skipMemoryMs)
  redis.call('HINCRBY', prefix .. ':review:skips', item.model, 1)
end
-- No longer theirs: out of their own set now, not at their next lease (remove no longer knows the holder).
redis.call('ZREM', prefix .. ':review:leased-by:' .. reviewer, id)
state.applied = token
return { redis.call('GET', prefix .. ':review:item:' .. id), returnToPool(prefix, id, item, state) }
`;

/**
 * Atomically renews a lease for its holder: the item stays leased to them, until now + lease ms
 * (leaseTo: its state, the leases index and the reviewer's own set, as a new lease). Only while
 * the lease is theirs and live (an expired one may be in the pool already, or someone else's), and
 * not while their verdict on it is being kept (the lease's time no longer counts then). A new
 * `leaseExpiresAt`, always later than the one before (leaseTo), names the lease from now on: a
 * release bound to the one before is refused. The same command run again (a resend after a lost
 * reply) renews it once more, 1 ms later: the answer the caller gets names the lease that runs.
 * ARGV: prefix, id, reviewer, now (ms), lease ms, closing timeout (ms)
 * Returns { fixed JSON, state JSON }, or an error reply: NOT_FOUND, NOT_LEASED, IN_PROGRESS.
 */
export const renewScript = `${itemLua}
local prefix, id, reviewer, now, leaseMs, closingStaleMs = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local item, state = loadItem(prefix, id)
if not item then return redis.error_reply('NOT_FOUND') end
if state.status ~= 'leased' or state.leasedBy ~= reviewer then return redis.error_reply('NOT_LEASED') end
if closingLive(state, now, closingStaleMs) then return redis.error_reply('IN_PROGRESS') end
-- Expired at its own time, as reclaimExpired counts it (the item may be back in the pool already).
if state.leaseExpiresAt <= now then return redis.error_reply('NOT_LEASED') end
return { redis.call('GET', prefix .. ':review:item:' .. id), leaseTo(prefix, id, state, reviewer, now, leaseMs) }
`;

/**
 * Atomically sets a leased item aside as `broken` (its stored files cannot be shown): out of the
 * leases, never leased again (it is in no pool), still listed. Only the reviewer it is leased to
 * can, and not while a verdict on it is being kept. The same command run again (a resend after a
 * lost reply: the call's token is the item's `applied`) answers the item as it stands.
 * ARGV: prefix, id, reviewer, now (ms), reason, closing timeout (ms), retention (ms; 0 = for ever), token (fresh per call)
 * Returns { fixed JSON, state JSON }, or an error reply: NOT_FOUND, NOT_LEASED, IN_PROGRESS.
 */
export const setAsideScript = `${itemLua}
local prefix, id, reviewer, now, reason, closingStaleMs, retentionMs, token = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7]), ARGV[8]
local item, state = loadItem(prefix, id)
if not item then return redis.error_reply('NOT_FOUND') end
if state.applied == token then return { redis.call('GET', prefix .. ':review:item:' .. id), cjson.encode(state) } end
if state.status ~= 'leased' or state.leasedBy ~= reviewer then return redis.error_reply('NOT_LEASED') end
if closingLive(state, now, closingStaleMs) then return redis.error_reply('IN_PROGRESS') end
state.status = 'broken'
redis.call('HINCRBY', prefix .. ':review:broken', item.model, 1)
state.brokenReason = reason
state.brokenAt = now
state.applied = token
local fixed = redis.call('GET', prefix .. ':review:item:' .. id)
return { fixed, storeClosed(prefix, id, state, retentionMs) }
`;

/**
 * Atomically puts a broken item back in the pool, pending again, once an operator has repaired
 * its stored files: its reason goes, and it no longer expires (pending items never do). The
 * broken count stays: gradcam_review_broken_total counts set-asides, and only ever goes up.
 * The same command run again (a resend after a lost reply: the call's token is the item's
 * `applied`) answers the item as it stands instead of NOT_BROKEN.
 * ARGV: prefix, id, token (fresh per call)
 * Returns { fixed JSON, state JSON }, pending again, or an error reply: NOT_FOUND, NOT_BROKEN.
 */
export const restoreScript = `${itemLua}
local prefix, id, token = ARGV[1], ARGV[2], ARGV[3]
local item, state = loadItem(prefix, id)
if not item then return redis.error_reply('NOT_FOUND') end
if state.applied == token then return { redis.call('GET', prefix .. ':review:item:' .. id), cjson.encode(state) } end
if state.status ~= 'broken' then return redis.error_reply('NOT_BROKEN') end
state.brokenReason = nil
state.brokenAt = nil
state.applied = token
return { redis.call('GET', prefix .. ':review:item:' .. id), returnToPool(prefix, id, item, state) }
`;
