import { itemLua } from './item-lua.ts';

/**
 * A verdict is kept in three steps: this script marks the item as closing (atomically, while
 * the reviewer holds its lease), the review service appends the verdict to review.json under the
 * marker's token, then `finishVerdictScript` closes the item for that token. The marker is what
 * makes the steps one and the review.json write exclusive (it is a read-modify-write of the whole
 * file): while it is live no other verdict begins, not even the same verdict sent again
 * (IN_PROGRESS; a retry that wrote while the first request's put was stalled could have that put
 * land after a later write, an undo's retraction, and erase it), and the lease script does not
 * hand the item to anyone else even if the lease runs out meanwhile. A failed write clears it
 * (`cancelVerdictScript`); a marker older than the closing timeout (its request died) no longer
 * blocks, and the same verdict then takes it over with its token, so a retry finds the entry the
 * dead request may have written instead of adding a second one.
 *
 * `resume` (a token): the caller found that token's entry in review.json already (a retry after a
 * Redis failure, whose write landed): there is nothing left to write, so that token's marker,
 * live or not, is answered as begun instead of refused, and the item is closed with it.
 *
 * The same command run twice (ioredis sends a command whose reply a dropped connection lost once
 * more after it reconnects; the first run's marker is then live) answers `begun` with the marker
 * it set the first time: the marker remembers the request's token as `request` (its `token`, the
 * verdict's id, is a dead request's when a stale marker was taken over). Refused as IN_PROGRESS,
 * the request would give up while its own marker held the item for the closing timeout, and its
 * verdict would be written nowhere.
 *
 * ARGV: prefix, id, reviewer, verdict, comment ('' = none), now (ms), token (the request's: the
 * new marker's unless one is taken over), closing timeout (ms; an older marker no longer blocks),
 * resume token ('' = none), the method and class index of the explanation shown ('' = not said).
 * The explanation shown is not part of "the same verdict" (reviewer, verdict, comment): a retry
 * from a page that switched heatmaps meanwhile is the same verdict, and the marker keeps the first
 * request's (a stale marker taken over keeps its own, which its entry may hold).
 * Returns { 'begun', fixed JSON, state JSON with its marker }, { 'done', fixed JSON, state
 * JSON } (this very verdict was kept already: a retry after the answer was lost), { 'judged',
 * fixed JSON, state JSON } (this reviewer's verdict on the item was kept already, and this one
 * differs from it in verdict or comment: nothing changes), or an error reply: NOT_FOUND,
 * NOT_LEASED, IN_PROGRESS (a verdict on the item, this one or another, is being kept).
 */
export const beginVerdictScript = `${itemLua}
local prefix, id, reviewer, verdict, comment, now, request, closingStaleMs, resume, shownMethod, shownClass = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6]), ARGV[7], tonumber(ARGV[8]), ARGV[9], ARGV[10] or '', tonumber(ARGV[11] or '')
local item, state = loadItem(prefix, id)
if not item then return redis.error_reply('NOT_FOUND') end
local fixed = redis.call('GET', prefix .. ':review:item:' .. id)
local function same(v)
  return v.reviewer == reviewer and v.verdict == verdict and (v.comment or '') == comment
end
if state.status == 'reviewed' then
  if state.verdictId and same(state) then return { 'done', fixed, cjson.encode(state) } end
  -- Judged by this reviewer already, otherwise: not a lease that ran out, so said apart.
  if state.reviewer == reviewer then return { 'judged', fixed, cjson.encode(state) } end
  return redis.error_reply('NOT_LEASED')
end
local closing = state.closing
local ours = state.status == 'leased' and closing and closing.reviewer == reviewer and same(closing)
-- This very request again (a resend after a lost reply): the marker it set.
if ours and closing.request == request then return { 'begun', fixed, cjson.encode(state) } end
if ours and resume ~= '' and closing.token == resume then return { 'begun', fixed, cjson.encode(state) } end
if state.status == 'leased' and closingLive(state, now, closingStaleMs) then return redis.error_reply('IN_PROGRESS') end
if state.status ~= 'leased' or state.leasedBy ~= reviewer or state.leaseExpiresAt < now then
  return redis.error_reply('NOT_LEASED')
end
-- A stale marker of this very verdict: its request died, perhaps after writing its entry.
local token = request
local shown = nil
if shownMethod ~= '' and shownClass then shown = { method = shownMethod, classIndex = shownClass } end
-- Taken over, the dead request's explanation shown stands, as its entry (if written) has it.
if ours then token, shown = closing.token, closing.shown end
state.closing = { token = token, request = request, reviewer = reviewer, verdict = verdict, at = now, shown = shown }
if comment ~= '' then state.closing.comment = comment end
local encoded = saveState(prefix, id, state)
-- The lease script leaves the item alone until the marker times out, however short the lease.
redis.call('ZADD', prefix .. ':review:leases', math.max(state.leaseExpiresAt, now + closingStaleMs), id)
return { 'begun', fixed, encoded }
`;

/**
 * Closes the item with the verdict its marker holds, for the marker's token only: the request
 * that began the verdict (or its retry) closes it even if the lease ran out meanwhile, and no
 * other can. The verdict takes effect at the marker's time.
 *
 * ARGV: prefix, id, token, retention (ms; 0 keeps the closed item for ever), request (a fresh
 * token of this call: the same command run again, a resend after a lost reply, answers 'closed'
 * again, since it closed the item; another request with the verdict's token answers 'done')
 * Returns { 'closed', fixed JSON, state JSON } (closed now), { 'done', fixed JSON, state JSON }
 * (closed already by this token: a retry), or an error reply: NOT_FOUND, NOT_LEASED (the marker
 * is gone: it timed out and the item went back to the pool or to another verdict).
 */
export const finishVerdictScript = `${itemLua}
local prefix, id, token, retentionMs, request = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]
local item, state = loadItem(prefix, id)
if not item then return redis.error_reply('NOT_FOUND') end
local fixed = redis.call('GET', prefix .. ':review:item:' .. id)
if state.status == 'reviewed' and state.verdictId == token then
  return { state.applied == request and 'closed' or 'done', fixed, cjson.encode(state) }
end
local closing = state.closing
if state.status ~= 'leased' or not closing or closing.token ~= token then return redis.error_reply('NOT_LEASED') end
state.status = 'reviewed'
state.verdict = closing.verdict
state.reviewer = closing.reviewer
state.reviewedAt = closing.at
state.comment = closing.comment
state.verdictId = token
-- Tied to the verdict it was sent with: a version before it (a rolling upgrade) undoes and closes
-- without clearing it, and the reader drops one whose verdictId is not the item's.
state.shown = nil
if closing.shown then state.shown = { method = closing.shown.method, classIndex = closing.shown.classIndex, verdictId = token } end
state.applied = request
local encoded = storeClosed(prefix, id, state, retentionMs)
redis.call('HINCRBY', prefix .. ':review:verdicts', item.model .. '|' .. item.predictedClass .. '|' .. state.verdict, 1)
return { 'closed', fixed, encoded }
`;

/**
 * Clears the verdict marker of `token` (its review.json write failed: nothing was written), so the
 * verdict can be sent again at once instead of after the closing timeout. The item stays leased
 * until its lease runs out, as before the verdict began. Any other marker, or none, is left alone.
 * `request` (optional): only the marker that request set, for the clear of a begin that failed on
 * Redis, which may be sent long after (on a reconnect): by then its marker may have gone stale and
 * been taken over, token and all, by the same verdict sent again, whose request is another.
 * ARGV: prefix, id, token, request ('' or none = any). Returns 1 when cleared, 0 otherwise.
 */
export const cancelVerdictScript = `${itemLua}
local prefix, id, token, request = ARGV[1], ARGV[2], ARGV[3], ARGV[4] or ''
local item, state = loadItem(prefix, id)
if not (item and state.status == 'leased' and state.closing and state.closing.token == token) then return 0 end
if request ~= '' and state.closing.request ~= request then return 0 end
state.closing = nil
saveState(prefix, id, state)
-- The begin script moved the lease's expiry to the marker's timeout; back to the lease's own.
redis.call('ZADD', prefix .. ':review:leases', state.leaseExpiresAt, id)
return 1
`;
