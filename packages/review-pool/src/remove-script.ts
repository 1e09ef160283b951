import { itemLua } from './item-lua.ts';

/**
 * Atomically erases one item (an inference erased on request: GDPR art. 17, a withdrawn consent, a
 * takedown): its fixed part and state, its place in its lane and the pending indexes (all models'
 * and its model's, through leavePool, which also drops the model's `:indexed` stamp once its pool
 * is empty), its lease (`:leases` and its holder's `:leased-by:{reviewer}`, or its reviewer's for a
 * reviewed item), the listing index and the expiry index. Whatever its status: pending, leased, reviewed or set aside. Refused
 * (IN_PROGRESS) while a verdict or an undo on it is being kept: that request is rewriting
 * review.json next to the explanation, which the caller is about to delete, and would write it
 * again after; once the marker is finished, cancelled or stale, the removal goes ahead.
 *
 * The counts (`:verdicts`, `:undos`, `:skips`, `:broken`) only ever go up (Prometheus counters
 * are built on them) and name no item: they are kept. The id leaves the skip memory
 * (`:skipped:{reviewer}`) of every reviewer who skipped it, found through its skippers
 * (`:skippers:{id}`, written by each skip; one ZREM per skipper, bounded by the reviewers), which
 * go too; a skip made before the pool kept skippers stays until it expires (skipMemoryMs, 7 days).
 * The set of the reviewer who set it aside (`:leased-by:{reviewer}`; the item does not record
 * who) may keep the id until that set expires with the lease's own time.
 *
 * The id-keyed index entries are removed even when the item's keys are gone already (its retention
 * ran out), so a removal leaves no trace of the id in the pool's indexes; a second removal changes
 * nothing. A fixed part that is not JSON (never added by this pool) is deleted with its id-keyed
 * entries only: it was never in a lane.
 *
 * ARGV: prefix, id, now (ms), closing timeout (ms).
 * Returns 1 when the item was there (its keys deleted), 0 when there was none, or an error reply:
 * IN_PROGRESS.
 */
export const removeScript = `${itemLua}
local prefix, id, now, closingStaleMs = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local keys = prefix .. ':review:'
local ok, item, state = pcall(loadItem, prefix, id)
if ok and item then
  if closingLive(state, now, closingStaleMs) or undoLive(state, now, closingStaleMs) then return redis.error_reply('IN_PROGRESS') end
  leavePool(prefix, id, item)
  -- A closed item stays in its last holder's set until that set expires with the lease's time:
  -- the holder of a reviewed one is its reviewer.
  for _, holder in ipairs({ state.leasedBy or '', state.reviewer or '' }) do
    if holder ~= '' then redis.call('ZREM', keys .. 'leased-by:' .. holder, id) end
  end
end
local skippers = keys .. 'skippers:' .. id
for _, reviewer in ipairs(redis.call('SMEMBERS', skippers)) do redis.call('ZREM', keys .. 'skipped:' .. reviewer, id) end
redis.call('DEL', skippers)
redis.call('ZREM', keys .. 'leases', id)
redis.call('ZREM', keys .. 'index', id)
redis.call('ZREM', keys .. 'expiring', id)
redis.call('ZREM', keys .. 'pool', id)
redis.call('ZREM', keys .. 'pending-age', id)
return redis.call('DEL', keys .. 'item:' .. id, keys .. 'state:' .. id) > 0 and 1 or 0
`;
