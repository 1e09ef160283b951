import { closingLive, storeClosed } from './lease-script.ts';

/**
 * A verdict is kept in three steps: this script marks the item as closing (atomically, while
 * the reviewer holds its lease), the review service appends the verdict to review.json under the
 * marker's token, then `finishVerdictScript` closes the item for that token. The marker is what
 * makes the steps one: a second verdict cannot begin while it is live, the lease script does not
 * hand the item to anyone else even if the lease runs out meanwhile, and a retry of the same
 * verdict gets the same token back, so it writes the same review.json entry and closes the item
 * once.
 *
 * ARGV: prefix, id, reviewer, verdict, comment ('' = none), now (ms), token (for a new marker),
 * closing timeout (ms; an older marker no longer blocks).
 * Returns { 'begun', item JSON with its marker } or { 'done', item JSON } (this very verdict was
 * kept already: a retry after the answer was lost), or an error reply: NOT_FOUND, NOT_LEASED,
 * IN_PROGRESS (another verdict on the item is being kept).
 */
export const beginVerdictScript = `${closingLive}
local prefix, id, reviewer, verdict, comment, now, token, closingStaleMs = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6]), ARGV[7], tonumber(ARGV[8])
local key = prefix .. ':review:item:' .. id
local raw = redis.call('GET', key)
if not raw then return redis.error_reply('NOT_FOUND') end
local item = cjson.decode(raw)
local function same(v)
  return v.reviewer == reviewer and v.verdict == verdict and (v.comment or '') == comment
end
if item.status == 'reviewed' then
  if item.verdictId and same(item) then return { 'done', raw } end
  return redis.error_reply('NOT_LEASED')
end
if item.status == 'leased' and item.closing and item.closing.reviewer == reviewer and same(item.closing) then
  return { 'begun', raw }
end
if item.status == 'leased' and closingLive(item, now, closingStaleMs) then return redis.error_reply('IN_PROGRESS') end
if item.status ~= 'leased' or item.leasedBy ~= reviewer or item.leaseExpiresAt < now then
  return redis.error_reply('NOT_LEASED')
end
item.closing = { token = token, reviewer = reviewer, verdict = verdict, at = now }
if comment ~= '' then item.closing.comment = comment end
local encoded = cjson.encode(item)
redis.call('SET', key, encoded)
-- The lease script leaves the item alone until the marker times out, however short the lease.
redis.call('ZADD', prefix .. ':review:leases', math.max(item.leaseExpiresAt, now + closingStaleMs), id)
return { 'begun', encoded }
`;

/**
 * Closes the item with the verdict its marker holds, for the marker's token only: the request
 * that began the verdict (or its retry) closes it even if the lease ran out meanwhile, and no
 * other can. The verdict takes effect at the marker's time.
 *
 * ARGV: prefix, id, token, retention (ms; 0 keeps the closed item for ever)
 * Returns { 'closed', item JSON } (closed now), { 'done', item JSON } (closed already by this
 * token: a retry), or an error reply: NOT_FOUND, NOT_LEASED (the marker is gone: it timed out and
 * the item went back to the pool or to another verdict).
 */
export const finishVerdictScript = `${storeClosed}
local prefix, id, token, retentionMs = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local key = prefix .. ':review:item:' .. id
local raw = redis.call('GET', key)
if not raw then return redis.error_reply('NOT_FOUND') end
local item = cjson.decode(raw)
if item.status == 'reviewed' and item.verdictId == token then return { 'done', raw } end
local closing = item.closing
if item.status ~= 'leased' or not closing or closing.token ~= token then return redis.error_reply('NOT_LEASED') end
item.status = 'reviewed'
item.verdict = closing.verdict
item.reviewer = closing.reviewer
item.reviewedAt = closing.at
item.comment = closing.comment
item.verdictId = token
local encoded = storeClosed(prefix, id, item, retentionMs)
redis.call('HINCRBY', prefix .. ':review:verdicts', item.model .. '|' .. item.predictedClass .. '|' .. item.verdict, 1)
return { 'closed', encoded }
`;
