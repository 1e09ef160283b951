import { randomUUID } from 'node:crypto';
import { type ExplainJob, type IndexEntry, captureDecisionField, explainJobSchema, indexEntryOfJob, indexEntrySchema, redisKeys } from '@gradcam/contracts';
import { redisCall } from '@gradcam/queue';
import type { Redis } from 'ioredis';

/**
 * Where an accept attempt stores an id it has not recorded yet: written by its claim (the folder
 * the record's first copy resolves to now, see InferenceIndex.claim) or, where the attempt stores
 * elsewhere, by InferenceIndex.confirm with `pending`, before its first storage write and while
 * its claim holds; deleted when the id is recorded (commit) or erased (forget), or given back with
 * the claim of a record refused before anything was stored (release); else kept as long as an
 * entry. A folder depends on the
 * UTC day and the announced model version, so an attempt that stored the id and then recorded
 * nothing (its process killed, or answered 503 before its job was queued) would have its retry
 * choose another folder, leaving the first out of reach of erasure: the retry's claim reads this
 * instead (`pending`), and the retry stores into the same folder with the same version and
 * acceptedAt, as it does into an earlier attempt's job's folder.
 */
export interface PendingFolder {
  readonly folder: string;
  readonly model: string;
  readonly version: string;
  readonly acceptedAt: number;
  /** The key of the inline image the attempt writes (`input.<ext>`); none for an image by reference. */
  readonly image?: string;
}

/**
 * What a claim found: the id is now ours, was accepted before, or another request is accepting it.
 * A claimed id may already have its explain job, from an earlier attempt that queued it but failed
 * before recording the id (503 ACCEPT_INCOMPLETE, or an enqueue that reached Redis but failed):
 * the job keeps its folder, version and acceptedAt (a second add of its id is ignored), so the
 * retry must record the same ones. `enqueueFailed`: the id's enqueue-failed mark (see
 * markEnqueueFailed): an earlier attempt's enqueue of the id failed, so a job stored for it
 * (`withJob`, whether or not its data is a job this ingest made) may be in no state of the queue
 * (see removeStrandedJobs in @gradcam/queue); no other job is. The commit records a marked id only
 * for a request that vouches for that mark (see commit). `pending`: the folder an earlier attempt
 * that recorded nothing stored the id in (see PendingFolder).
 */
export type ClaimResult =
  | { readonly state: 'claimed'; readonly job?: ExplainJob; readonly enqueueFailed?: { readonly mark: string; readonly withJob: boolean }; readonly pending?: PendingFolder }
  | { readonly state: 'accepted'; readonly entry: IndexEntry }
  | { readonly state: 'in-progress' };

/**
 * What a commit did with an id: `recorded` it; found it `not-held` (another request's claim holds
 * it now: this holder's claim expired first); found it `accepted` already, with another attempt's
 * `entry` (this holder's claim expired, and that attempt recorded the id); or recorded nothing because the id's enqueue-failed mark is
 * not the one this request vouched for (`needs-check`: an attempt whose claim had lapsed failed an
 * add of the id since, and may have left a job in no state that this request's add was ignored
 * for). The caller checks the job under its claim, adds again, and commits vouching for `mark`.
 */
export type CommitResult =
  | { readonly state: 'recorded' }
  | { readonly state: 'not-held' }
  | { readonly state: 'accepted'; readonly entry: IndexEntry }
  | { readonly state: 'needs-check'; readonly mark: string };

/**
 * Whether a request still holds its claim on an id (see InferenceIndex.confirm): `held` (renewed
 * for a full claim TTL); `not-held`, another request's claim is on it; or `accepted` meanwhile,
 * with that attempt's `entry` (this request's claim lapsed, and another recorded the id).
 */
export type HoldResult = { readonly state: 'held' } | { readonly state: 'not-held' } | { readonly state: 'accepted'; readonly entry: IndexEntry };

/**
 * What the index holds for an id (see InferenceIndex.lookup): its entry (`known`, found by its
 * explain job where no entry was recorded yet); a claim (`claimed`: a request is accepting it
 * right now, its claim lapsing in `lapsesInMs` unless renewed); an attempt's pending folder alone
 * (`unrecorded`: an attempt stored the id there and neither recorded it nor queued its job, and no
 * claim stands); or nothing (`unknown`). A known id's pending folder comes with its entry (an
 * attempt answered 503 ACCEPT_INCOMPLETE, found by its job, wrote it).
 */
export type IndexLookup =
  | { readonly state: 'known'; readonly entry: IndexEntry; readonly pending?: PendingFolder }
  | { readonly state: 'claimed'; readonly lapsesInMs: number }
  | { readonly state: 'unrecorded'; readonly pending: PendingFolder }
  | { readonly state: 'unknown' };

/**
 * An id a request claimed, the acceptedAt it stores the id with, and the folder it is about to
 * store it in, to be written as the id's pending folder where the claim holds (see InferenceIndex.confirm).
 */
export interface HeldClaim {
  readonly id: string;
  readonly acceptedAt: number;
  readonly pending?: PendingFolder;
}

/** An id to record: its entry, and the enqueue-failed mark this request vouches for (see commit). */
export interface CommitEntry {
  readonly id: string;
  readonly entry: IndexEntry;
  readonly checkedMark?: string;
}

/** How long a claim holds an id when its holder neither commits nor releases it (it crashed). */
export const defaultClaimTtlMs = 60_000;

/** Releases kept for a reconnect at most (a request's claims each; see InferenceIndex.release). */
const maxUnsentReleases = 10_000;

// An entry is JSON (starts with "{"); a claim is this prefix and its holder's token.
const claimPrefix = 'claim:';

// Redis does not undo a script that fails partway, so these scripts read (and fail, on a key of the
// wrong type) before their first write: a claim that failed after claiming some ids held them for
// a minute, answered 409; a commit that failed after writing its entries left the ids recorded
// though the answer (503 ACCEPT_INCOMPLETE) said they were not, and their capture decisions were
// never counted (a retry was a duplicate).

// KEYS: inference keys, then the explain-job keys of the same ids, then their enqueue-failed keys,
// then their pending-folder keys. ARGV: claim value, claim TTL (ms), pending-folder TTL (s), this
// holder's mark in a pending folder's value, then per id the pending folder proposed ('' for
// none). Per id, four values: '' when claimed now, else the value found; then, when claimed, the
// data of its explain job if one exists, else ''; then, when claimed, the value of its
// enqueue-failed mark, else ''; then, when claimed, its pending folder as found, else ''. A
// claimed id's pending folder is then this holder's: one found is marked as its (the retry stores
// into it, and a lapsed earlier attempt must not take the id again: see confirmScript); else,
// where the id has no job, the one proposed is written. A new id costs a HGET and two GETs of keys
// that do not exist and a SET, in the one round trip. ('' rather than nil: a nil would end the
// array Redis returns.) An id holding this very claim is claimed again: the script ran before and
// its reply was lost with the connection, and ioredis sent it again on reconnecting (the pending
// folder it finds is then the one it wrote).
const claimScript = `
local n = #KEYS / 4
local found = {}
for i = 1, n do
  local value = redis.call('GET', KEYS[i])
  found[4 * i - 2] = ''
  found[4 * i - 1] = ''
  found[4 * i] = ''
  if value and value ~= ARGV[1] then
    found[4 * i - 3] = value
  else
    found[4 * i - 3] = ''
    found[4 * i - 2] = redis.call('HGET', KEYS[n + i], 'data') or ''
    found[4 * i - 1] = redis.call('GET', KEYS[2 * n + i]) or ''
    found[4 * i] = redis.call('GET', KEYS[3 * n + i]) or ''
  end
end
for i = 1, n do
  if found[4 * i - 3] == '' then
    redis.call('SET', KEYS[i], ARGV[1], 'PX', ARGV[2])
    local pending = found[4 * i]
    if pending ~= '' then
      if not string.find(pending, ARGV[4], 1, true) then
        redis.call('SET', KEYS[3 * n + i], (string.gsub(pending, '"holder":"[^"]*"', ARGV[4], 1)), 'EX', ARGV[3])
      end
    elseif found[4 * i - 2] == '' and ARGV[4 + i] ~= '' then
      redis.call('SET', KEYS[3 * n + i], ARGV[4 + i], 'EX', ARGV[3])
    end
  end
end
return found`;

// KEYS: inference keys…, their explain-job keys…, their enqueue-failed keys…, their
// pending-folder keys…, then the capture-decisions hash. ARGV: claim value, entry TTL (s), then per inference key its entry, its
// decision field, its folder as the job's JSON spells it, and the enqueue-failed mark the request
// vouches for ('' for none). An entry replaces this holder's claim (or a claim that expired with
// nobody else's in its place) and only then is its decision counted. An id whose enqueue-failed
// mark is set, and is not the one the request vouches for, is not recorded: an attempt's add of
// it failed after the request last looked (an attempt whose claim had lapsed, so never checked by
// this one), and its job may be a hash in no state that the request's own add was ignored for.
// A recorded id's mark is deleted: its job was checked or made under this claim; so is its pending
// folder: its entry finds the folder now (the attempt recording it stored into the pending folder
// its claim found, or pended its own). Where the id's
// job exists and names another folder, the entry takes the job's folder and acceptedAt: the job
// is what the worker acts on. (Two attempts whose claims both outlived a storage stall: the first
// queued its job, the second, holding the id now, records.) The folder is a plain substring test
// first, so the usual case decodes no JSON. An id already holding an entry was accepted: the
// very entry this commit would write is its own (the script ran before, its reply was lost with
// the connection, and ioredis sent it again), recorded as before, nothing written or counted
// again; any other entry is another attempt's (this one's claim lapsed), returned. Per id, two
// values: 0 not recorded (another's claim holds it), 1 recorded as given, 2 with the job's folder,
// 3 not recorded (needs a check), 4 accepted by another; then the mark found for 3, the entry
// found for 4, else ''.
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
local n = (#KEYS - 1) / 4
local kind = redis.call('TYPE', decisions)['ok']
if kind ~= 'none' and kind ~= 'hash' then
  return redis.error_reply('WRONGTYPE the capture-decisions key holds a ' .. kind .. ', not a hash')
end
-- The entry to write for id i, and its code: 1 as given, 2 with its job's folder and acceptedAt.
local function entryOf(i)
  local entry = ARGV[4 * i - 1]
  local data = redis.call('HGET', KEYS[n + i], 'data')
  if data and not string.find(data, ARGV[4 * i + 1], 1, true) then
    local job, parsed = cjson.decode(data), cjson.decode(entry)
    if type(job.folder) == 'string' and job.folder ~= parsed.folder then
      parsed.folder = job.folder
      parsed.acceptedAt = job.acceptedAt
      return cjson.encode(parsed), 2
    end
  end
  return entry, 1
end
local result, entries, marked, counts = {}, {}, {}, {}
for i = 1, n do
  local value = redis.call('GET', KEYS[i])
  result[2 * i] = ''
  if value == false or value == ARGV[1] then
    local mark = redis.call('GET', KEYS[2 * n + i])
    if mark and mark ~= ARGV[4 * i + 2] then
      result[2 * i - 1] = 3
      result[2 * i] = mark
    else
      marked[i] = mark
      entries[i], result[2 * i - 1] = entryOf(i)
      local field = ARGV[4 * i]
      counts[field] = (counts[field] or 0) + 1
    end
  elseif string.sub(value, 1, 1) == '{' then
    local entry, code = entryOf(i)
    if value == entry then
      result[2 * i - 1] = code
    else
      result[2 * i - 1] = 4
      result[2 * i] = value
    end
  else
    result[2 * i - 1] = 0
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
  if entries[i] then
    redis.call('SET', KEYS[i], entries[i], 'EX', ARGV[2])
    if marked[i] then redis.call('DEL', KEYS[2 * n + i]) end
    redis.call('DEL', KEYS[3 * n + i])
  end
end
return result`;

// KEYS: enqueue-failed keys. ARGV: their TTL (s), the mark's value.
const markScript = `
for _, key in ipairs(KEYS) do redis.call('SET', key, ARGV[2], 'EX', ARGV[1]) end
return 0`;

// KEYS: inference keys, then the explain-job keys of the same ids, then their pending-folder keys.
// ARGV: claim value, claim TTL (ms), pending-folder TTL (s), this holder's mark in a pending
// folder's value, then per id the acceptedAt this request stores it with and the pending folder
// to write ('' for none). Per id, '' when this holder holds it now (its claim renewed, or taken
// again where it lapsed and nobody else claimed the id: as the commit would record it), and its
// pending folder is written, else the value found (another's claim, or an entry). A lapsed id
// whose job was queued since by another attempt (one answered 503 ACCEPT_INCOMPLETE, which gave
// its claim back), or whose pending folder another attempt wrote since (it claimed the id after
// this one's claim lapsed, stored into that folder, and gave its claim back), is not taken again:
// that attempt's prediction.json is there, which this request, prepared before, would write its
// own over. It is answered as another's claim ('claim:'); the retry's claim finds the job or the
// folder. A job with this request's acceptedAt is the one it prepared from (an earlier attempt's)
// or added itself; but an attempt storing into an earlier one's pending folder takes its acceptedAt
// too, which its pending folder, written with its holder, tells apart.
const confirmScript = `
local n = #KEYS / 3
local function queuedByAnother(i)
  local data = redis.call('HGET', KEYS[n + i], 'data')
  if not data then return false end
  local ok, job = pcall(cjson.decode, data)
  return not (ok and type(job) == 'table' and job.acceptedAt == tonumber(ARGV[3 + 2 * i]))
end
local function pendedByAnother(i)
  local pending = redis.call('GET', KEYS[2 * n + i])
  return pending and not string.find(pending, ARGV[4], 1, true)
end
-- Every id read first, then written: a key of the wrong type fails the script before any write.
local found = {}
for i = 1, n do
  local value = redis.call('GET', KEYS[i])
  if value == ARGV[1] or (value == false and not queuedByAnother(i) and not pendedByAnother(i)) then
    found[i] = ''
  else
    found[i] = value or 'claim:'
  end
end
for i = 1, n do
  if found[i] == '' then
    redis.call('SET', KEYS[i], ARGV[1], 'PX', ARGV[2])
    if ARGV[4 + 2 * i] ~= '' then redis.call('SET', KEYS[2 * n + i], ARGV[4 + 2 * i], 'EX', ARGV[3]) end
  end
end
return found`;

// KEYS: inference keys, then pending-folder keys. ARGV: claim value, the number of inference keys,
// then per pending-folder key the value this holder's claim wrote there. Only this holder's claims
// are removed, and only pending folders still holding what its claim wrote.
const releaseScript = `
local n = tonumber(ARGV[2])
for i = 1, n do
  if redis.call('GET', KEYS[i]) == ARGV[1] then redis.call('DEL', KEYS[i]) end
end
for i = n + 1, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[2 + i - n] then redis.call('DEL', KEYS[i]) end
end
return 0`;

// KEYS: the inference key, its enqueue-failed key, its pending-folder key. An entry (JSON) is
// deleted, never a claim: that is another request accepting the id anew, which records its own
// entry. Returns 1 when an entry was deleted.
const forgetScript = `
local value = redis.call('GET', KEYS[1])
redis.call('DEL', KEYS[2], KEYS[3])
if value and string.sub(value, 1, 1) == '{' then return redis.call('DEL', KEYS[1]) end
return 0`;

// KEYS: the inference key, its explain-job key, its pending-folder key. ARGV: the claim prefix. A
// claim: 'claim' and its PTTL (ms); an entry: 'entry' and the entry; else 'job' and the job's data
// ('' for none); then the pending folder ('' for none). One script, so a claim that becomes an
// entry in between is read as one or the other, never missed.
const lookupScript = `
local value = redis.call('GET', KEYS[1])
if value and string.sub(value, 1, #ARGV[1]) == ARGV[1] then return {'claim', redis.call('PTTL', KEYS[1]), ''} end
local pending = redis.call('GET', KEYS[3]) or ''
if value then return {'entry', value, pending} end
return {'job', redis.call('HGET', KEYS[2], 'data') or '', pending}`;

// KEYS: the inference key. ARGV: the entry, its TTL (s), the claim prefix. Written where nothing
// is, or only a claim: see keep.
const keepScript = `
local value = redis.call('GET', KEYS[1])
if value and string.sub(value, 1, #ARGV[3]) ~= ARGV[3] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1`;

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
  /** Releases not sent for want of a connection. */
  private unsent: (() => Promise<unknown>)[] = [];

  private readonly redis: Redis;
  private readonly ttlSeconds: number;
  /** How long a claim holds an id unless renewed (see confirm). */
  readonly claimTtlMs: number;

  constructor(
    redis: Redis,
    prefix: string,
    ttlSeconds: number,
    claimTtlMs = defaultClaimTtlMs,
  ) {
    this.redis = redis;
    this.ttlSeconds = ttlSeconds;
    this.claimTtlMs = claimTtlMs;
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

  /**
   * Like get, but a claim is told, not skipped: `claimed` while a request is accepting the id (its
   * claim stands, with or without an earlier attempt's job), so that an erasure arriving then is
   * refused rather than told the id is unknown and then missed (the accept goes on to store it).
   */
  async lookup(id: string): Promise<IndexLookup> {
    const keys = [this.keys.inference(id), this.keys.explainJob(id), this.keys.pendingFolder(id)];
    const [kind, value, found] = (await redisCall('could not read the inference record', () => this.redis.eval(lookupScript, keys.length, ...keys, claimPrefix))) as [string, string | number, string];
    if (kind === 'claim') return { state: 'claimed', lapsesInMs: Math.max(Number(value), 0) };
    const pending = parsePending(found);
    const known = (entry: IndexEntry): IndexLookup => ({ state: 'known', entry, ...(pending && { pending }) });
    if (kind === 'entry') return known(parseEntry(String(value)));
    const job = value === '' ? undefined : parseJob(String(value)).job;
    if (job) return known(indexEntryOfJob(job));
    return pending ? { state: 'unrecorded', pending } : { state: 'unknown' };
  }

  /**
   * Claims each id not yet known for `holder` (distinct ids, one round trip), with the job an
   * earlier attempt left, the id's enqueue-failed mark and the folder an earlier attempt that
   * recorded nothing stored it in (`pending`, from then on this holder's). An id claimed with
   * neither has its `proposed` folder written as its pending folder, in the same script: the one
   * its record resolves to now, so that the request needs no other round trip before it stores.
   */
  async claim(holder: string, ids: readonly string[], proposed: ReadonlyMap<string, PendingFolder> = new Map()): Promise<ClaimResult[]> {
    if (ids.length === 0) return [];
    const values = ids.map((id) => {
      const pending = proposed.get(id);
      return pending ? pendingValue(pending, holder) : '';
    });
    const keys = [
      ...ids.map((id) => this.keys.inference(id)),
      ...ids.map((id) => this.keys.explainJob(id)),
      ...ids.map((id) => this.keys.enqueueFailed(id)),
      ...ids.map((id) => this.keys.pendingFolder(id)),
    ];
    const found = (await redisCall('could not claim the inference ids', () =>
      this.redis.eval(claimScript, keys.length, ...keys, claimPrefix + holder, this.claimTtlMs, this.ttlSeconds, holderMark(holder), ...values),
    )) as string[];
    return ids.map((_, i): ClaimResult => {
      const value = found[4 * i] as string;
      const job = found[4 * i + 1] as string;
      const mark = found[4 * i + 2] as string;
      // The one this claim proposed, found by the same script sent again (a lost reply), is no earlier attempt's.
      const raw = found[4 * i + 3] as string;
      const pending = raw === values[i] ? undefined : parsePending(raw);
      if (value === '') return { state: 'claimed', ...(job !== '' && parseJob(job)), ...(mark !== '' && { enqueueFailed: { mark, withJob: job !== '' } }), ...(pending && { pending }) };
      if (value.startsWith(claimPrefix)) return { state: 'in-progress' };
      return { state: 'accepted', entry: parseEntry(value) };
    });
  }

  /**
   * Turns `holder`'s claims into entries and counts their capture decisions, atomically (see
   * CommitResult). `checkedMark` vouches for the id's enqueue-failed mark of that value: this
   * request found no job with it at its claim, or checked the job under its claim since (removed
   * it if in no state) and then added its own. An id whose mark is set and not vouched for is not
   * recorded (`needs-check`); a recorded id's mark is deleted. An id whose explain job names
   * another folder than its entry is recorded with the job's folder (see commitScript). A recorded
   * id's pending folder is deleted.
   */
  async commit(holder: string, entries: readonly CommitEntry[]): Promise<CommitResult[]> {
    if (entries.length === 0) return [];
    const keys = [
      ...entries.map(({ id }) => this.keys.inference(id)),
      ...entries.map(({ id }) => this.keys.explainJob(id)),
      ...entries.map(({ id }) => this.keys.enqueueFailed(id)),
      ...entries.map(({ id }) => this.keys.pendingFolder(id)),
    ];
    const args = entries.flatMap(({ entry, checkedMark }) => [JSON.stringify(entry), captureDecisionField(entry.model, entry.explain, entry.reason), `"folder":${JSON.stringify(entry.folder)}`, checkedMark ?? '']);
    const result = (await redisCall('could not record the accepted inferences', () =>
      this.redis.eval(commitScript, keys.length + 1, ...keys, this.keys.captureDecisions, claimPrefix + holder, this.ttlSeconds, ...args),
    )) as (number | string)[];
    return entries.map((_, i): CommitResult => {
      const code = result[2 * i];
      if (code === 0) return { state: 'not-held' };
      if (code === 3) return { state: 'needs-check', mark: result[2 * i + 1] as string };
      if (code === 4) return { state: 'accepted', entry: parseEntry(result[2 * i + 1] as string) };
      return { state: 'recorded' };
    });
  }

  /**
   * Whether `holder` still holds its claims on `ids`, renewing each it holds for a full claim TTL.
   * Asked by a request whose claims may have lapsed (a storage stall) before it writes to the
   * id's folder or adds its job: a lapsed attempt must neither overwrite the prediction.json of
   * the attempt that holds or accepted the id since, nor add a job once that attempt's job
   * completed and was removed (a second explanation). An id nobody holds is claimed again, unless
   * another attempt queued its job or stored into its pending folder since (`not-held`; see
   * confirmScript): `acceptedAt` is the one this request stores the id with. A claim with
   * `pending` that holds has it written as the id's pending folder, for as long as an entry lives
   * (asked before the first storage write of an id stored elsewhere than its claim proposed; see
   * PendingFolder).
   */
  async confirm(holder: string, claims: readonly HeldClaim[]): Promise<HoldResult[]> {
    if (claims.length === 0) return [];
    const keys = [...claims.map(({ id }) => this.keys.inference(id)), ...claims.map(({ id }) => this.keys.explainJob(id)), ...claims.map(({ id }) => this.keys.pendingFolder(id))];
    const args = claims.flatMap(({ acceptedAt, pending }) => [acceptedAt, pending ? pendingValue(pending, holder) : '']);
    const found = (await redisCall('could not confirm the inference claims', () =>
      this.redis.eval(confirmScript, keys.length, ...keys, claimPrefix + holder, this.claimTtlMs, this.ttlSeconds, holderMark(holder), ...args),
    )) as string[];
    return found.map((value): HoldResult => {
      if (value === '') return { state: 'held' };
      if (value.startsWith(claimPrefix)) return { state: 'not-held' };
      return { state: 'accepted', entry: parseEntry(value) };
    });
  }

  /**
   * Marks ids whose enqueue failed: BullMQ's add may have stored a job and failed before queuing
   * it, and a later claim of such an id reports the mark, so only those jobs are checked
   * (removeStrandedJobs). Each call marks with a value of its own, so a request that vouched for
   * an earlier mark learns at its commit of a failure since. Deleted when the id is recorded;
   * else kept as long as an entry: the stored job does not expire by itself.
   */
  async markEnqueueFailed(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    const keys = ids.map((id) => this.keys.enqueueFailed(id));
    await redisCall('could not mark the ids of a failed enqueue', () => this.redis.eval(markScript, keys.length, ...keys, this.ttlSeconds, randomUUID()));
  }

  /**
   * Deletes the id's entry, its enqueue-failed mark and its pending folder: the last step of
   * erasing it (see erase-inference.ts), after which it is unknown, as if never accepted. A claim
   * on it is left alone (another request accepting the id anew, or the erasure's own, which it
   * releases). True when an entry was deleted.
   */
  async forget(id: string): Promise<boolean> {
    const keys = [this.keys.inference(id), this.keys.enqueueFailed(id), this.keys.pendingFolder(id)];
    return (await redisCall('could not delete the inference record', () => this.redis.eval(forgetScript, keys.length, ...keys))) === 1;
  }

  /**
   * Records `entry` for `id` unless an entry is there. For an id known only by its job (an attempt
   * answered 503 ACCEPT_INCOMPLETE), whose job is about to be removed: an erasure that fails after
   * that still finds the id by this entry, so that its retry finishes it rather than answering 404
   * with the folder still stored. It replaces a claim: one on an id with a job is its client's
   * retry of that accept, which would otherwise stand in the entry's place (get skips a claim),
   * and, failing too (the same storage outage), give it back and leave nothing finding the id. The
   * retry then sees the id accepted (confirm, commit) and answers it as a duplicate, as it would
   * have once the first attempt recorded it.
   */
  async keep(id: string, entry: IndexEntry): Promise<void> {
    await redisCall('could not record the inference', () => this.redis.eval(keepScript, 1, this.keys.inference(id), JSON.stringify(entry), this.ttlSeconds, claimPrefix));
  }

  /** The key and value that say `holder` holds its claim on `id`, for a check made under the claim. */
  claimOf(holder: string, id: string): { key: string; value: string } {
    return { key: this.keys.inference(id), value: claimPrefix + holder };
  }

  /**
   * Gives up `holder`'s claims on ids it did not accept, so a retry need not wait for them to
   * expire. Asked after Redis failed, it may fail too: a release that failed while the connection
   * was down, or that went down with it, is sent again once the connection is next ready, else a
   * retry after a Redis blip was refused 409 for the rest of the minute. (ioredis sends a command
   * that was in flight again only when its next connection attempt connects: a refused one, Redis
   * or the network down, flushes it, maxRetriesPerRequest being 1.) One that timed out on a
   * connection still up needs nothing more: Redis runs it in order after the request's earlier
   * commands (a claim it ran late included). `proposed`: the pending folders the claim wrote for ids
   * of records refused before anything of theirs was stored, deleted with the claim (where they
   * still hold what the claim wrote: not one an earlier attempt wrote, nor one written since).
   */
  async release(holder: string, ids: readonly string[], proposed: ReadonlyMap<string, PendingFolder> = new Map()): Promise<void> {
    if (ids.length === 0) return;
    const dropped = ids.filter((id) => proposed.has(id));
    const keys = [...ids.map((id) => this.keys.inference(id)), ...dropped.map((id) => this.keys.pendingFolder(id))];
    const values = dropped.map((id) => pendingValue(proposed.get(id) as PendingFolder, holder));
    const send = () => redisCall('could not release the inference ids', () => this.redis.eval(releaseScript, keys.length, ...keys, claimPrefix + holder, ids.length, ...values));
    const wasReady = this.redis.status === 'ready';
    try {
      await send();
    } catch (error) {
      if (!wasReady || this.redis.status !== 'ready') this.sendWhenReady(send);
      throw error;
    }
  }

  /**
   * Sends `release` once the connection is next ready, however long that takes: the claim it gives
   * back may be one the request sent when the connection dropped, which ioredis sends again on
   * that 'ready' (before it emits the event, so the release runs after it), holding the id for a
   * full TTL from then. A release removes only its own holder's claim, so a late one is harmless.
   * One listener for all of them (an outage fails many requests at once); at most
   * `maxUnsentReleases` wait, the rest are left to expire.
   */
  private sendWhenReady(release: () => Promise<unknown>): void {
    if (this.unsent.length >= maxUnsentReleases) return;
    this.unsent.push(release);
    if (this.unsent.length > 1) return;
    this.redis.once('ready', () => {
      for (const send of this.unsent.splice(0)) send().catch(() => undefined);
    });
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

/** How a pending folder's value names the holder that wrote it or took it on (see claimScript, confirmScript). */
const holderMark = (holder: string) => `"holder":${JSON.stringify(holder)}`;

/** A pending folder's value as written for `holder` (the same string each time: release compares it). */
const pendingValue = (pending: PendingFolder, holder: string) =>
  JSON.stringify({ folder: pending.folder, model: pending.model, version: pending.version, acceptedAt: pending.acceptedAt, ...(pending.image !== undefined && { image: pending.image }), holder });

/** A pending folder as confirm writes it; undefined for '' (none) or a value this ingest did not write. */
function parsePending(value: string): PendingFolder | undefined {
  if (value === '') return undefined;
  try {
    const { folder, model, version, acceptedAt, image } = JSON.parse(value) as Record<string, unknown>;
    if (typeof folder !== 'string' || typeof model !== 'string' || typeof version !== 'string' || typeof acceptedAt !== 'number') return undefined;
    return { folder, model, version, acceptedAt, ...(typeof image === 'string' && { image }) };
  } catch {
    return undefined;
  }
}
