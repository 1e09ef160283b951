import { itemLua } from './item-lua.ts';

/*
 * A verdict is taken back in three steps, as a verdict is kept: `beginUndoScript` checks the undo
 * and marks the reviewed item as being undone (atomically), the review service appends the
 * retraction to review.json, then `finishUndoScript` applies the undo for the marker's token only.
 * The marker (`undoing`: token, decision time, when set) is what makes the review.json write safe:
 * it is a read-modify-write of the whole file, and while the marker is live no other undo of the
 * item begins (IN_PROGRESS), so no other request writes the file meanwhile (a verdict needs the
 * item leased, which it is not until the undo is applied). A marker older than the closing timeout
 * no longer blocks (its request died), as a verdict's does: that timeout is far longer than a
 * storage put can take, so a stalled write cannot land after its marker stopped blocking.
 */

/**
 * Checks an undo and, unless only checking, marks the item as being undone. Only the reviewer who
 * gave the verdict, only while the item is still reviewed with that very verdict, only within the
 * undo window, measured from the verdict's time (`reviewedAt`) to the undo's decision time (the
 * caller's: the review service decides once, writes the retraction with that time, and the undo
 * is applied whatever the write took), and only while no other undo of it is being saved.
 *
 * `resume`: review.json holds this verdict's retraction already (a retry after a Redis failure,
 * whose write landed): there is nothing left to write, so a live marker is not a refusal; a fresh
 * marker replaces it, and the request it belonged to can no longer apply the undo (this one does).
 *
 * The same command run twice (ioredis sends a command whose reply a dropped connection lost once
 * more after it reconnects) finds the marker it set the first time, with its token: it answers
 * that marker instead of refusing it as IN_PROGRESS (which left the undo blocked by its own
 * marker for the closing timeout).
 *
 * ARGV: prefix, id, reviewer, verdictId ('' = whatever the item holds), decision time (ms), now
 * (ms), undo window (ms), closing timeout (ms; an older marker no longer blocks), token (for the
 * new marker), mode ('begin', 'resume', or 'check': the same refusals, nothing changed).
 * Returns { fixed JSON, state JSON } (check) or { fixed JSON, state JSON with its marker, token,
 * decision time, marker time } (begin, resume); or an error reply: NOT_FOUND, NOT_REVIEWED (not
 * reviewed, or no longer with that verdict), NOT_YOURS (another reviewer's verdict), UNDO_EXPIRED
 * (the window has passed, or a verdict kept before verdicts had ids, which nothing could name in a
 * retraction), IN_PROGRESS (another undo of it is being saved).
 */
export const beginUndoScript = `${itemLua}
local prefix, id, reviewer, verdictId, decidedAt, now, windowMs, closingStaleMs, token, mode = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8]), ARGV[9], ARGV[10]
local item, state = loadItem(prefix, id)
if not item then return redis.error_reply('NOT_FOUND') end
local fixed = redis.call('GET', prefix .. ':review:item:' .. id)
local undoing = state.undoing
-- This very request again (a resend after a lost reply): the marker it set.
if mode ~= 'check' and state.status == 'reviewed' and undoing and undoing.token == token then
  return { fixed, cjson.encode(state), token, undoing.decidedAt, undoing.at }
end
if state.status ~= 'reviewed' or (verdictId ~= '' and state.verdictId ~= verdictId) then return redis.error_reply('NOT_REVIEWED') end
if state.reviewer ~= reviewer then return redis.error_reply('NOT_YOURS') end
if not state.verdictId or not state.reviewedAt or state.reviewedAt + windowMs < decidedAt then return redis.error_reply('UNDO_EXPIRED') end
if mode ~= 'resume' and undoLive(state, now, closingStaleMs) then return redis.error_reply('IN_PROGRESS') end
if mode == 'check' then return { fixed, cjson.encode(state) } end
state.undoing = { token = token, decidedAt = decidedAt, at = now }
-- Still reviewed: its retention stays until the undo is applied.
return { fixed, saveStateKeepingExpiry(prefix, id, state), token, decidedAt, now }
`;

/**
 * Applies the undo begun under `token`: the reviewed item goes back to its reviewer, leased
 * afresh, its verdict fields and marker gone, kept for ever again (a closed item had an expiry).
 * One live lease per reviewer: the item the reviewer was handed after the verdict (the page leases
 * the next one at once) goes back to the pool, unless a verdict on it is being kept. The undo is
 * counted in `{prefix}:review:undos` (model|class|verdict, like `:verdicts`): the verdict count
 * never goes down (it is a counter), kept verdicts are verdicts less undos.
 *
 * The undo's token is kept as the item's `applied`: the same command run again (a resend after a
 * lost reply) answers the item as it stands, as the first run did, instead of NOT_REVIEWED for
 * the undo it applied itself.
 *
 * ARGV: prefix, id, reviewer, token, now (ms), lease (ms), closing timeout (ms)
 * Returns { fixed JSON, state JSON } leased again, or an error reply: NOT_FOUND, NOT_REVIEWED
 * (undone already, or never reviewed), NOT_YOURS, UNDO_INTERRUPTED (the item no longer holds this
 * token's marker: a retry took over, or the marker went stale and another undo began).
 */
export const finishUndoScript = `${itemLua}
local prefix, id, reviewer, token, now, leaseMs, closingStaleMs = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local item, state = loadItem(prefix, id)
if not item then return redis.error_reply('NOT_FOUND') end
local fixed = redis.call('GET', prefix .. ':review:item:' .. id)
if state.applied == token then return { fixed, cjson.encode(state) } end
if state.status ~= 'reviewed' then return redis.error_reply('NOT_REVIEWED') end
if state.reviewer ~= reviewer then return redis.error_reply('NOT_YOURS') end
if not state.undoing or state.undoing.token ~= token then return redis.error_reply('UNDO_INTERRUPTED') end
redis.call('HINCRBY', prefix .. ':review:undos', item.model .. '|' .. item.predictedClass .. '|' .. state.verdict, 1)
local held = prefix .. ':review:leased-by:' .. reviewer
for _, heldId in ipairs(redis.call('ZRANGE', held, 0, -1)) do
  local other, otherState = loadItem(prefix, heldId)
  if heldId ~= id and other and otherState.status == 'leased' and otherState.leasedBy == reviewer and not closingLive(otherState, now, closingStaleMs) then
    returnToPool(prefix, heldId, other, otherState)
    redis.call('ZREM', held, heldId)
  end
end
state.verdict = nil
state.reviewer = nil
state.reviewedAt = nil
state.comment = nil
state.shown = nil
state.verdictId = nil
state.closing = nil
state.undoing = nil
state.applied = token
redis.call('PERSIST', prefix .. ':review:item:' .. id)
redis.call('ZREM', prefix .. ':review:expiring', id)
return { fixed, leaseTo(prefix, id, state, reviewer, now, leaseMs) }
`;

/**
 * Clears the undo marker of `token` (its review.json write failed: nothing was retracted), so the
 * reviewer may try again at once instead of after the closing timeout. Any other marker, or none,
 * is left alone. ARGV: prefix, id, token. Returns 1 when cleared, 0 otherwise.
 */
export const cancelUndoScript = `${itemLua}
local prefix, id, token = ARGV[1], ARGV[2], ARGV[3]
local item, state = loadItem(prefix, id)
if not (item and state.undoing and state.undoing.token == token) then return 0 end
state.undoing = nil
saveStateKeepingExpiry(prefix, id, state)
return 1
`;
