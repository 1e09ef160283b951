import { inUniformDraw } from '@gradcam/sampling';
import { itemLua, type PoolLane } from './item-lua.ts';

/**
 * The order the pool hands items out in, and why (the README's "Serving order" says it for
 * operators and auditors).
 *
 * Two lanes. The uniform baseline, every item the policy's `rate=` term draws (by id hash, so the
 * pool tells it from the recorded policy and the id, whichever term the decision names), waits in
 * its own lane and is served oldest first: the baseline items reviewed are then all those sampled
 * up to some time, a uniform sample still, however far reviewers are behind. Served by priority,
 * as every item was, a backlog kept the low-priority ones from reviewers for good, and statistics
 * over the reviewed baseline were biased toward what the budget finds suspicious. Every other item
 * waits in the priority lane: highest priority first, equal priorities oldest first (by sampledAt,
 * then id). Priorities tie exactly where the suspicion saturates (all the map's mass on its border,
 * one hot cell, a flat map) or the top two classes tie; Redis breaks ties by member, and with the
 * id as member (client-chosen, not in time order) a flood of priority-1 items kept the oldest of
 * them waiting for ever, and the oldest-pending-age alert then fired with no way out.
 *
 * The share: every `baselineEvery`th lease (4 by default) of a source (one model's leases, or the
 * leases of any model: each counted on its own) tries the baseline lane first, the others the
 * priority lane first; a lane with nothing for the reviewer gives its turn to the other, so no
 * reviewer waits while anything is pending. What is counted is the source's leases since the
 * baseline last served one, so a baseline turn the reviewer asking cannot take (they skipped its
 * items) stays for the next lease: counted as turns of a plain count, it was lost, and a reviewer
 * who skipped the baseline and kept landing on its turns kept it from everyone. The baseline is
 * never starved (at least every 4th lease while it has items for the reviewers asking) and never
 * takes more than its turn from the budget's items (3 leases between two of its own while those
 * have items for the reviewers asking). A fixed turn, not a rule on the baseline's age:
 * an age rule hands every lease to the baseline once its backlog is old, and a share of arrivals
 * needs a window to count them in; a count of leases needs neither, and an auditor can check it.
 */
export const defaultBaselineEvery = 4;

/** An item's lane: the baseline when the `rate=` term of its recorded policy draws its id. */
export const laneOf = (id: string, policy: unknown): PoolLane => (typeof policy === 'string' && inUniformDraw(policy, id) ? 'baseline' : 'priority');

/** An item's lane, from its fixed part as stored. */
export function laneOfStored(id: string, fixed: string | null | undefined): PoolLane {
  try {
    return laneOf(id, (JSON.parse(fixed ?? 'null') as { sampling?: { policy?: unknown } } | null)?.sampling?.policy);
  } catch {
    return 'priority'; // not JSON: the sort script leaves it out of the pool (see sortOldPoolScript)
  }
}

/** How many items of the old pool one sort step moves into the lanes. */
export const sortBatch = 500;

/**
 * Moves items of the pool as it was kept before the lanes (`{prefix}:review:pool` and its model's
 * set, id → priority) into their lanes, each with the lane the caller found for it (laneOfStored),
 * which is written into its state so that it returns to the same lane after a lease. An id no
 * longer in the old pool is passed over (another replica sorted it), so replicas may sort at once.
 * An item that is not pending leaves the old pool only (the lease script would have taken it out);
 * one whose fixed part is not JSON leaves the pool and the pending indexes (a lease that reached it
 * failed before, for every reviewer; a listing still reports it as invalid): its model unknown, the
 * sets of every model in `:skips` (one field per model ever added), O(models) for each such item.
 * ARGV: prefix, then id, lane pairs. Returns how many items it moved.
 */
export const sortOldPoolScript = `${itemLua}
local prefix = ARGV[1]
local old = prefix .. ':review:pool'
local moved = 0
for i = 2, #ARGV - 1, 2 do
  local id, lane = ARGV[i], ARGV[i + 1]
  if redis.call('ZSCORE', old, id) then
    redis.call('ZREM', old, id)
    local ok, item, state = pcall(loadItem, prefix, id)
    if not ok then
      -- Its model cannot be read: it leaves the sets of every model the pool knows (add creates a
      -- :skips field for each, the version before the lanes too), or a model whose older items
      -- still wait would count it as pending, its index agreeing with its old pool by count.
      redis.call('ZREM', prefix .. ':review:pending-age', id)
      for _, model in ipairs(redis.call('HKEYS', prefix .. ':review:skips')) do
        redis.call('ZREM', old .. ':' .. model, id)
        redis.call('ZREM', prefix .. ':review:pending-age:' .. model, id)
      end
    elseif item then
      redis.call('ZREM', old .. ':' .. item.model, id)
      if state.status == 'pending' then
        state.lane = lane
        saveState(prefix, id, state)
        enterPool(prefix, id, item, state)
        moved = moved + 1
      end
    end
  end
end
return moved
`;
