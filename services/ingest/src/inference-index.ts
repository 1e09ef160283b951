import { type ExplainJob, type IndexEntry, captureDecisionField, explainJobSchema, indexEntryOfJob, indexEntrySchema, redisKeys } from '@gradcam/contracts';
import { redisCall } from '@gradcam/queue';
import type { Redis } from 'ioredis';

/**
 * What a claim found: the id is now ours, was accepted before, or another request is accepting it.
 * A claimed id may already have its explain job, from an earlier attempt that queued it but failed
 * before recording the id (503 ACCEPT_INCOMPLETE, or an enqueue that reached Redis but failed):
 * the job keeps its folder, version and acceptedAt (a second add of its id is ignored), so the
 * retry must record the same ones. `enqueueFailed`: an earlier attempt's enqueue of the id failed
 * (see markEnqueueFailed), so the job may be stored but not queued (see removeStrandedJobs in
 * @gradcam/queue); no other job is.
 */
export type ClaimResult =
  | { readonly state: 'claimed'; readonly job?: ExplainJob; readonly enqueueFailed?: true }
  | { readonly state: 'accepted'; readonly entry: IndexEntry }
  | { readonly state: 'in-progress' };

/** How long a claim holds an id when its holder neither commits nor releases it (it crashed). */
export const defaultClaimTtlMs = 60_000;

// An entry is JSON (starts with "{"); a claim is this prefix and its holder's token.
const claimPrefix = 'claim:';

// Redis does not undo a script that fails partway, so these scripts read (and fail, on a key of the
// wrong type) before their first write: a claim that failed after claiming some ids held them for
// a minute, answered 409; a commit that failed after writing its entries left the ids recorded
// though the answer (503 ACCEPT_INCOMPLETE) said they were not, and their capture decisions were
// never counted (a retry was a duplicate).

// KEYS: inference keys, then the explain-job keys of the same ids. ARGV: claim value, claim TTL
// (ms), the inference keys' prefix, the enqueue-failed keys' prefix (an id's enqueue-failed key is
// its inference key under the other prefix). Per id, three values: '' when claimed now, else the
// value found; then, when claimed, the data of its explain job if one exists, else ''; then, for
// a job found, '1' when its id is marked enqueue-failed, else '' (looked up only where a job was
// found: claiming a new id, or finding an entry, costs what it did). ('' rather than nil: a nil
// would end the array Redis returns.)
const claimScript = `
local n = #KEYS / 2
local found = {}
for i = 1, n do
  local value = redis.call('GET', KEYS[i])
  found[3 * i - 1] = ''
  found[3 * i] = ''
  if value then
    found[3 * i - 2] = value
  else
    found[3 * i - 2] = ''
    local data = redis.call('HGET', KEYS[n + i], 'data')
    if data then
      found[3 * i - 1] = data
      if redis.call('EXISTS', ARGV[4] .. string.sub(KEYS[i], #ARGV[3] + 1)) == 1 then found[3 * i] = '1' end
    end
  end
end
for i = 1, n do
  if found[3 * i - 2] == '' then redis.call('SET', KEYS[i], ARGV[1], 'PX', ARGV[2]) end
end
return found`;

// KEYS: inference keys…, their explain-job keys…, then the capture-decisions hash. ARGV: claim
// value, entry TTL (s), then per inference key its entry, its decision field, and its folder as
// the job's JSON spells it. An entry replaces this holder's claim (or a claim that expired with
// nobody else's in its place) and only then is its decision counted. Where the id's job exists
// and names another folder, the entry takes the job's folder and acceptedAt: the job is what the
// worker acts on. (Two attempts whose claims both outlived a storage stall: the first queued its
// job, the second, holding the id now, records.) The folder is a plain substring test first, so
// the usual case decodes no JSON. Per id: 0 not recorded, 1 recorded as given, 2 with the job's.
const commitScript = `
-- Whether HINCRBY takes the count and adds to it: Redis's integer rule ('0', or an optional '-'
-- and digits without a leading zero, within a signed 64-bit integer), and a sum within 2^63-1.
-- A 19-digit count is compared in two halves, each exact (Lua's numbers are doubles).
local function countTakes(count, add)
  if count == '0' then return true end
  local digits = string.match(count, '^%-?([1-9]%d*)$')
  if not digits or #digits > 19 then return false end
  if #digits < 19 then return true end
  local high, low = tonumber(string.sub(digits, 1, 10)), tonumber(string.sub(digits, 11))
  local lowest = string.sub(count, 1, 1) == '-' and 854775808 or 854775807 - add
  return high < 9223372036 or (high == 9223372036 and low <= lowest)
end
local decisions = KEYS[#KEYS]
local n = (#KEYS - 1) / 2
local kind = redis.call('TYPE', decisions)['ok']
if kind ~= 'none' and kind ~= 'hash' then
  return redis.error_reply('WRONGTYPE the capture-decisions key holds a ' .. kind .. ', not a hash')
end
local recorded, entries, counts = {}, {}, {}
for i = 1, n do
  local value = redis.call('GET', KEYS[i])
  if value == false or value == ARGV[1] then
    local entry = ARGV[3 * i]
    recorded[i] = 1
    local data = redis.call('HGET', KEYS[n + i], 'data')
    if data and not string.find(data, ARGV[3 * i + 2], 1, true) then
      local job, parsed = cjson.decode(data), cjson.decode(entry)
      if type(job.folder) == 'string' and job.folder ~= parsed.folder then
        parsed.folder = job.folder
        parsed.acceptedAt = job.acceptedAt
        entry = cjson.encode(parsed)
        recorded[i] = 2
      end
    end
    entries[i] = entry
    local field = ARGV[3 * i + 1]
    counts[field] = (counts[field] or 0) + 1
  else
    recorded[i] = 0
  end
end
for field, add in pairs(counts) do
  local count = redis.call('HGET', decisions, field)
  if count and not countTakes(count, add) then
    return redis.error_reply('ERR the capture-decisions count ' .. field .. ' is not an integer HINCRBY can add ' .. add .. ' to')
  end
end
for field, count in pairs(counts) do redis.call('HINCRBY', decisions, field, count) end
for i = 1, n do
  if recorded[i] ~= 0 then redis.call('SET', KEYS[i], entries[i], 'EX', ARGV[2]) end
end
return recorded`;

// KEYS: enqueue-failed keys. ARGV: their TTL (s).
const markScript = `
for _, key in ipairs(KEYS) do redis.call('SET', key, '1', 'EX', ARGV[1]) end
return 0`;

// KEYS: inference keys. ARGV: claim value. Only this holder's claims are removed.
const releaseScript = `
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then redis.call('DEL', key) end
end
return 0`;

/**
 * The idempotency record of each inference, in Redis next to the queue. Accepting an id claims it
 * first (a short-lived claim, before anything is stored), so of two concurrent submissions of one
 * id exactly one goes on; the claim becomes the entry once prediction.json and the job exist, and
 * the capture decision is counted in the same step, so once per id. A holder that fails releases
 * its claim; one that dies leaves it to expire. Entries expire with the retention period.
 * Redis failures reject with QueueUnavailableError (the caller answers 503).
 */
export class InferenceIndex {
  private readonly keys: ReturnType<typeof redisKeys>;

  constructor(
    private readonly redis: Redis,
    prefix: string,
    private readonly ttlSeconds: number,
    private readonly claimTtlMs = defaultClaimTtlMs,
  ) {
    this.keys = redisKeys(prefix);
  }

  /**
   * The entry of an accepted id; undefined when unknown. Without an entry (none yet, or only a
   * claim) the id's explain job stands for it: an attempt answered 503 ACCEPT_INCOMPLETE queued
   * the job but recorded nothing, and its client may never retry. (Once the job's explanation is
   * stored, the worker records the entry: a completed job is removed in time.)
   */
  async get(id: string): Promise<IndexEntry | undefined> {
    const [value, job] = await redisCall('could not read the inference record', async () => {
      const found = await this.redis.get(this.keys.inference(id));
      return found !== null && !found.startsWith(claimPrefix) ? [found, null] : [null, await this.redis.hget(this.keys.explainJob(id), 'data')];
    });
    if (value !== null) return parseEntry(value);
    const parsed = job === null ? {} : parseJob(job);
    return parsed.job && indexEntryOfJob(parsed.job);
  }

  /** Claims each id not yet known for `holder` (distinct ids, one round trip), with the job an earlier attempt left. */
  async claim(holder: string, ids: readonly string[]): Promise<ClaimResult[]> {
    if (ids.length === 0) return [];
    const keys = [...ids.map((id) => this.keys.inference(id)), ...ids.map((id) => this.keys.explainJob(id))];
    const args = [claimPrefix + holder, this.claimTtlMs, this.keys.inference(''), this.keys.enqueueFailed('')];
    const found = (await redisCall('could not claim the inference ids', () => this.redis.eval(claimScript, keys.length, ...keys, ...args))) as string[];
    return ids.map((_, i): ClaimResult => {
      const value = found[3 * i] as string;
      const job = found[3 * i + 1] as string;
      if (value === '') return job === '' ? { state: 'claimed' } : { state: 'claimed', ...parseJob(job), ...(found[3 * i + 2] === '1' && { enqueueFailed: true }) };
      if (value.startsWith(claimPrefix)) return { state: 'in-progress' };
      return { state: 'accepted', entry: parseEntry(value) };
    });
  }

  /**
   * Turns `holder`'s claims into entries and counts their capture decisions, atomically. Per
   * entry: false when another request holds the id now (this holder's claim expired first), in
   * which case nothing was recorded or counted for it. An id whose explain job names another
   * folder than its entry is recorded with the job's folder (see commitScript).
   */
  async commit(holder: string, entries: readonly { id: string; entry: IndexEntry }[]): Promise<boolean[]> {
    if (entries.length === 0) return [];
    const keys = [...entries.map(({ id }) => this.keys.inference(id)), ...entries.map(({ id }) => this.keys.explainJob(id))];
    const args = entries.flatMap(({ entry }) => [JSON.stringify(entry), captureDecisionField(entry.model, entry.explain, entry.reason), `"folder":${JSON.stringify(entry.folder)}`]);
    const recorded = (await redisCall('could not record the accepted inferences', () =>
      this.redis.eval(commitScript, keys.length + 1, ...keys, this.keys.captureDecisions, claimPrefix + holder, this.ttlSeconds, ...args),
    )) as number[];
    return recorded.map((r) => r !== 0);
  }

  /**
   * Marks ids whose enqueue failed: BullMQ's add may have stored a job and failed before queuing
   * it, and a later claim of such an id says `enqueueFailed`, so only those jobs are checked
   * (removeStrandedJobs). Kept as long as an entry: the stored job does not expire by itself.
   */
  async markEnqueueFailed(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    const keys = ids.map((id) => this.keys.enqueueFailed(id));
    await redisCall('could not mark the ids of a failed enqueue', () => this.redis.eval(markScript, keys.length, ...keys, this.ttlSeconds));
  }

  /** The key and value that say `holder` holds its claim on `id`, for a check made under the claim. */
  claimOf(holder: string, id: string): { key: string; value: string } {
    return { key: this.keys.inference(id), value: claimPrefix + holder };
  }

  /** Gives up `holder`'s claims on ids it did not accept, so a retry need not wait for them to expire. */
  async release(holder: string, ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    const keys = ids.map((id) => this.keys.inference(id));
    await redisCall('could not release the inference ids', () => this.redis.eval(releaseScript, keys.length, ...keys, claimPrefix + holder));
  }

}

/** A job's data as BullMQ stores it; one that fails the schema is no job this ingest made (left out). */
function parseJob(data: string): { job?: ExplainJob } {
  try {
    const parsed = explainJobSchema.safeParse(JSON.parse(data));
    return parsed.success ? { job: parsed.data } : {};
  } catch {
    return {};
  }
}

function parseEntry(value: string): IndexEntry {
  return indexEntrySchema.parse(JSON.parse(value));
}
