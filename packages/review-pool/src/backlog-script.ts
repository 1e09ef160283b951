import { itemLua } from './item-lua.ts';

/**
 * Lua: one model's pending items by age, `{prefix}:review:pending-age:{model}` (id → sampledAt),
 * which enterPool and leavePool (item-lua.ts) keep beside the pending index of all models. The
 * model's backlog reads its oldest item there, in O(log N). It read the pending index of all
 * models from its oldest until an item of that model instead, so with the other models' items
 * older, Redis was blocked for a scan of every one of them (345 ms for 200,000), on each poll of
 * every open review page that asks for one model.
 *
 * `modelSets(prefix, model)`: the model's pool sets and indexes by name. `modelPending(sets)`: how
 * many items wait in its pool (both lanes and the old pool). `waitsInModelPool(sets, id,
 * sampledAt)`: whether an entry of its index is still in one of them. An id of the model's old
 * pool counts only with its entry in the pending index of all models: the sort step drops an item
 * whose stored part is not JSON from that index and from `:pool`, but not from the model's sets
 * (it cannot read the model), and such an id, indexed before the sort, was the model's oldest
 * pending item for ever (the indexing step below applies the same rule to the old pool).
 * `modelIndexHead(sets)`: the index's oldest entry still pending ({ id, sampledAt } as ZRANGE
 * WITHSCORES answers it), or nil; the
 * entries before it that are in none of the model's sets (a version before the index leased them)
 * are taken out first, 100 per call at most. `modelIndexAgrees(sets, pending, head)`: whether the
 * index holds as many entries as the model's pool holds items, with a valid head when any: when
 * it does not, it was written (in part) before the index, and the caller indexes the model.
 * `modelIndexDue(sets, intervalMs)`: whether the model's last full indexing (`:indexed:{model}`,
 * epoch ms by Redis's clock, serverMs) is `intervalMs` old, or as far ahead (a clock stepped back
 * must not put it off for ever). Redis's clock, not the callers': stamped and compared by replicas
 * whose clocks disagree by an interval, every look found it due, and the model was indexed again
 * each minute (when the `:indexing` claim ran out), by turns. Counts that agree do not make
 * an index whole: a replica of a version before the index that leases one item of the model while
 * a worker of that version adds another leaves one entry too many and one too few, and nothing
 * but a full indexing finds them. A model never indexed (its pool written by this version, or by
 * one whose index this version trusts) starts its interval at the first look that finds items in
 * its pool; a model with none is never due, and gets no stamp (an empty index of an empty pool is
 * whole; `forgetEmptyModel`, item-lua.ts, deletes the stamp when the pool empties).
 */
export const modelPoolLua = `
local function modelSets(prefix, model)
  local keys = prefix .. ':review:'
  return {
    age = keys .. 'pending-age', modelAge = keys .. 'pending-age:' .. model, indexed = keys .. 'indexed:' .. model,
    byPriority = keys .. 'by-priority:' .. model, baseline = keys .. 'baseline:' .. model, old = keys .. 'pool:' .. model,
  }
end
local function modelPending(sets)
  return redis.call('ZCARD', sets.byPriority) + redis.call('ZCARD', sets.baseline) + redis.call('ZCARD', sets.old)
end
local function waitsInModelPool(sets, id, sampledAt)
  local member = poolMember({ sampledAt = sampledAt }, id)
  if redis.call('ZSCORE', sets.byPriority, member) or redis.call('ZSCORE', sets.baseline, member) then return true end
  return redis.call('ZSCORE', sets.old, id) ~= false and redis.call('ZSCORE', sets.age, id) ~= false
end
local function modelIndexHead(sets)
  for _ = 1, 100 do
    local head = redis.call('ZRANGE', sets.modelAge, 0, 0, 'WITHSCORES')
    if not head[1] or waitsInModelPool(sets, head[1], tonumber(head[2])) then return head[1] and head end
    redis.call('ZREM', sets.modelAge, head[1])
  end
  return nil
end
local function modelIndexAgrees(sets, pending, head)
  return redis.call('ZCARD', sets.modelAge) == pending and (pending == 0 or head ~= nil)
end
local function modelIndexDue(sets, intervalMs)
  if modelPending(sets) == 0 then return false end
  local at = tonumber(redis.call('GET', sets.indexed))
  local now = serverMs()
  if not at then
    redis.call('SET', sets.indexed, now)
    return false
  end
  return math.abs(now - at) >= intervalMs
end
`;

/** How many entries one step of indexing a model reads. */
export const indexBatch = 500;

/**
 * One step of indexing a model's pending items by age (see modelPoolLua), for a pool written
 * before that index: by a version without it, or by one still running during a rolling upgrade
 * (its adds and returns do not enter the index, its leases do not leave it); and, whatever the
 * pool, once its last full indexing is old (modelIndexDue). Each step reads `indexBatch` entries
 * of one set, so Redis is never blocked for long: `by-priority`, `baseline` and `pool` (the
 * model's lanes and its old pool) enter theirs in the index, with the sampledAt of the pending
 * index of all models (a lane's member counts one before 1970 as 1970); `check` takes out of the
 * index the entries in none of them. An id in the model's old pool that the pending index lacks
 * has left the pool already: the sort step drops an item whose stored part is not JSON from
 * `:pool` and the pending index but cannot know its model, so it leaves the model's set here,
 * instead of being counted as waiting for ever. Entering an entry twice, or one another step
 * entered, changes nothing, so callers may index at once.
 *
 * A step starts just after the entry the step before read last, found by its score and member
 * (`rankAfter`), not at a rank: the steps of one pass run as separate scripts, and a lease between
 * two of them took the head of the set and moved every rank after it down by one, so the next
 * step, reading from the rank it was told, passed over one entry (one item of 600 left out of the
 * index, or a stale entry left in it). An entry left or entered meanwhile moves nothing now.
 * `rankAfter` enters the entry for the length of one ZRANK when it has left the set (leased, or
 * taken out by the check): within the script, so nobody else ever sees it.
 * ARGV: prefix, model, set, then the score and member of the entry the step before read last
 * (both '' for the first step). Returns that pair for the next step, or -1 when the set is read.
 */
export const indexModelStepScript = `${itemLua}${modelPoolLua}
local prefix, model, set, afterScore, afterMember = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local sets = modelSets(prefix, model)
local source = ({ ['by-priority'] = sets.byPriority, baseline = sets.baseline, pool = sets.old, check = sets.modelAge })[set]
local function rankAfter(key, score, member)
  if redis.call('ZADD', key, 'NX', score, member) == 0 then return redis.call('ZRANK', key, member) + 1 end
  local rank = redis.call('ZRANK', key, member)
  redis.call('ZREM', key, member)
  return rank
end
local first = 0
if afterMember ~= '' then first = rankAfter(source, afterScore, afterMember) end
local last = first + ${indexBatch - 1}
if set == 'check' then
  local entries = redis.call('ZRANGE', source, first, last, 'WITHSCORES')
  if #entries == 0 then return -1 end
  local gone = {}
  for i = 1, #entries, 2 do
    if not waitsInModelPool(sets, entries[i], tonumber(entries[i + 1])) then gone[#gone + 1] = entries[i] end
  end
  if #gone > 0 then redis.call('ZREM', sets.modelAge, unpack(gone)) end
  return { entries[#entries], entries[#entries - 1] }
end
local members = redis.call('ZRANGE', source, first, last)
if #members == 0 then return -1 end
-- Read before the step may take it out of the old pool below.
local resume = { redis.call('ZSCORE', source, members[#members]), members[#members] }
local ids = members
if source ~= sets.old then
  ids = {}
  -- A lane's member is '{sampledAt, 16 digits}:{id}' (poolMember).
  for i, member in ipairs(members) do ids[i] = string.sub(member, 18) end
end
local ats = redis.call('ZMSCORE', sets.age, unpack(ids))
local entries, gone = {}, {}
for i, id in ipairs(ids) do
  local at = ats[i]
  if not at and source ~= sets.old then at = tonumber(string.sub(members[i], 1, 16)) end
  if at then
    entries[#entries + 1] = at
    entries[#entries + 1] = id
  else
    gone[#gone + 1] = id
  end
end
if #entries > 0 then redis.call('ZADD', sets.modelAge, unpack(entries)) end
if #gone > 0 then redis.call('ZREM', sets.old, unpack(gone)) end
return resume
`;

/**
 * The end of a pass of indexing a model: `:indexed:{model}` holds when the pass began (ARGV:
 * prefix, model, that time in epoch ms by Redis's clock), unless the model holds nothing (its pool
 * emptied meanwhile, or the pass took the last stale entries out of an empty pool's index): then
 * the stamp goes (forgetEmptyModel, item-lua.ts), as when the pool empties.
 */
export const stampIndexedScript = `${itemLua}
local indexed = ARGV[1] .. ':review:indexed:' .. ARGV[2]
redis.call('SET', indexed, ARGV[3])
forgetEmptyModel(ARGV[1], ARGV[2])
return 1
`;

/** The sets indexModelStepScript reads, in the order a pass reads them. */
export const indexPassSets = ['by-priority', 'baseline', 'pool', 'check'] as const;

/**
 * The backlog, read in one step: pending items are those in the pool (both lanes, and the old pool
 * until a lease has sorted it) plus those whose lease ran out (they go back to the pool at the next
 * lease call, but wait for a reviewer already), unless a verdict on them is being kept. Reads as
 * many items as there are expired leases.
 *
 * With a model: its own sets; the live leases read one by one for their model (about one per
 * active reviewer); its oldest pending item read from its own pending index (modelPoolLua), whatever
 * the other models hold. Entries at its head that are in none of the model's sets (a version before
 * the index leased them) are taken out first, 100 per call at most. When the index and the model's
 * pool disagree (another count: written before the index), or its last full indexing is
 * `reindexIntervalMs` old (modelIndexDue), and `indexFirst` is '1', the answer is 'INDEX': the
 * caller indexes the model in steps (indexModelStepScript) and asks again with '0'.
 * Then the index is read as it is: its oldest valid entry, or the baseline lane's oldest item when
 * older (that lane is ordered by age itself, so its oldest is exact).
 * ARGV: prefix, now (ms), closing timeout (ms), model ('' = all), indexFirst ('1' or '0'),
 * reindexIntervalMs.
 * Returns { pending, leased, oldest pending sampledAt (false = none) }, or 'INDEX'.
 */
export const backlogScript = `${itemLua}${modelPoolLua}
local prefix, now, closingStaleMs, model, indexFirst = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4] or '', ARGV[5] or '0'
local reindexIntervalMs = tonumber(ARGV[6])
local leases = prefix .. ':review:leases'
local pending, leased, oldest
if model == '' then
  local keys = prefix .. ':review:'
  pending = redis.call('ZCARD', keys .. 'by-priority') + redis.call('ZCARD', keys .. 'baseline') + redis.call('ZCARD', keys .. 'pool')
  leased = redis.call('ZCOUNT', leases, '(' .. now, '+inf')
  oldest = redis.call('ZRANGE', keys .. 'pending-age', 0, 0, 'WITHSCORES')[2]
  oldest = oldest and tonumber(oldest)
else
  local sets = modelSets(prefix, model)
  pending = modelPending(sets)
  if pending > 0 then
    local head = modelIndexHead(sets)
    if indexFirst == '1' and not (modelIndexAgrees(sets, pending, head) and not modelIndexDue(sets, reindexIntervalMs)) then return 'INDEX' end
    oldest = head and tonumber(head[2])
    local firstBaseline = redis.call('ZRANGE', sets.baseline, 0, 0, 'WITHSCORES')[2]
    if firstBaseline and (not oldest or tonumber(firstBaseline) < oldest) then oldest = tonumber(firstBaseline) end
  end
  leased = 0
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', leases, '(' .. now, '+inf')) do
    local item = loadItem(prefix, id)
    if item and item.model == model then leased = leased + 1 end
  end
end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', leases, '-inf', now)) do
  local item, state = loadItem(prefix, id)
  if item and state.status == 'leased' and (model == '' or item.model == model) then
    if closingLive(state, now, closingStaleMs) then
      leased = leased + 1
    else
      pending = pending + 1
      if not oldest or item.sampledAt < oldest then oldest = item.sampledAt end
    end
  end
end
return { pending, leased, oldest or false }
`;

/**
 * Whether a model's pending index (modelPoolLua) can serve a pending listing of that model: it
 * agrees with the model's pool (stale entries at its head taken out first, as the backlog does).
 * With `reindexIntervalMs`, also that its last full indexing is not that old (modelIndexDue): 'DUE'
 * when it agrees but is. ARGV: prefix, model, reindexIntervalMs ('' = not asked).
 * Returns 1, 0 or 'DUE'.
 */
export const modelIndexAgreesScript = `${itemLua}${modelPoolLua}
local sets = modelSets(ARGV[1], ARGV[2])
local pending = modelPending(sets)
if not modelIndexAgrees(sets, pending, modelIndexHead(sets)) then return 0 end
if ARGV[3] ~= '' and modelIndexDue(sets, tonumber(ARGV[3])) then return 'DUE' end
return 1
`;
