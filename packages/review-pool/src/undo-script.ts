import { itemLua } from './item-lua.ts';

/**
 * Takes back a verdict (the reviewer's slip): the reviewed item goes back to its reviewer, leased
 * afresh, its verdict fields gone, kept for ever again (a closed item had an expiry). Only the
 * reviewer who gave the verdict, only while the item is still reviewed with that very verdict,
 * and only within the undo window, measured from the verdict's time (`reviewedAt`) to the undo's
 * decision time. The decision time is the caller's: the review service decides once, writes the
 * retraction to review.json, then applies it with the same time, so a slow write (or a retry that
 * found its retraction already written) is not refused for time spent after the decision.
 *
 * One live lease per reviewer: the item the reviewer was handed after the verdict (the page leases
 * the next one at once) goes back to the pool, unless a verdict on it is being kept. The undo is
 * counted in `{prefix}:review:undos` (model|class|verdict, like `:verdicts`): the verdict count
 * never goes down (it is a counter), kept verdicts are verdicts less undos.
 *
 * ARGV: prefix, id, reviewer, verdictId ('' = whatever the item holds; set to apply only the undo
 * of that verdict), decision time (ms), now (ms), undo window (ms), lease (ms), closing timeout
 * (ms), apply ('1'; '0' checks only and changes nothing).
 * Returns { fixed JSON, state JSON }: the item as it was (a check) or leased again (applied); or an
 * error reply: NOT_FOUND, NOT_REVIEWED (not reviewed, or no longer with that verdict), NOT_YOURS
 * (another reviewer's verdict), UNDO_EXPIRED (the window has passed, or a verdict kept before
 * verdicts had ids, which nothing could name in a retraction).
 */
export const undoScript = `${itemLua}
local prefix, id, reviewer, verdictId, decidedAt, now, windowMs, leaseMs, closingStaleMs, apply = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9]), ARGV[10]
local item, state = loadItem(prefix, id)
if not item then return redis.error_reply('NOT_FOUND') end
if state.status ~= 'reviewed' or (verdictId ~= '' and state.verdictId ~= verdictId) then return redis.error_reply('NOT_REVIEWED') end
if state.reviewer ~= reviewer then return redis.error_reply('NOT_YOURS') end
if not state.verdictId or not state.reviewedAt or state.reviewedAt + windowMs < decidedAt then return redis.error_reply('UNDO_EXPIRED') end
local fixed = redis.call('GET', prefix .. ':review:item:' .. id)
if apply ~= '1' then return { fixed, cjson.encode(state) } end
redis.call('HINCRBY', prefix .. ':review:undos', item.model .. '|' .. item.predictedClass .. '|' .. state.verdict, 1)
local held = prefix .. ':review:leased-by:' .. reviewer
for _, heldId in ipairs(redis.call('ZRANGE', held, 0, -1)) do
  local other, otherState = loadItem(prefix, heldId)
  if heldId ~= id and other and otherState.status == 'leased' and otherState.leasedBy == reviewer and not closingLive(otherState, now, closingStaleMs) then
    returnToPool(prefix, heldId, other, otherState)
    redis.call('ZREM', held, heldId)
  end
end
state.status = 'leased'
state.leasedBy = reviewer
state.leaseExpiresAt = now + leaseMs
state.verdict = nil
state.reviewer = nil
state.reviewedAt = nil
state.comment = nil
state.verdictId = nil
state.closing = nil
redis.call('PERSIST', prefix .. ':review:item:' .. id)
local encoded = saveState(prefix, id, state)
redis.call('ZADD', prefix .. ':review:leases', now + leaseMs, id)
redis.call('ZADD', held, now + leaseMs, id)
redis.call('PEXPIRE', held, leaseMs)
return { fixed, encoded }
`;
