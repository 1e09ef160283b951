import type { Queue } from 'bullmq';
import { queueCall } from './queue-availability.ts';

// KEYS: the queue's event stream. ARGV: the start (exclusive as '(id', or '-'), the last entry to
// scan ('' at the first chunk: the newest entry now), how many entries to scan, then the job ids
// (distinct). Each chunk is scanned and its entries deleted in one script: an entry trimmed
// meanwhile is never counted as deleted. BullMQ writes the id in its own field `jobId` of every job
// event (added, waiting, active, progress, completed with the job's result, failed with its
// reason, retries-exhausted, removed, duplicated…); an entry repeating the field is read by
// QueueEvents as its last value, so each value is looked at (an entry naming two of the ids is
// counted for the first value found). Returns the entries deleted, scanned, the last scanned, the
// newest to scan, and the deletions per id in ARGV's order. The ids are looked up in a Lua table:
// a chunk costs about the same for one id as for a thousand.
const purgeChunkScript = `
local through = ARGV[2]
local ids = #ARGV - 3
local counts = {}
for i = 1, ids do counts[i] = 0 end
if through == '' then
  local newest = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)[1]
  if not newest then return { 0, 0, '', '', counts } end
  through = newest[1]
end
local wanted = {}
for i = 1, ids do wanted[ARGV[i + 3]] = i end
local entries = redis.call('XRANGE', KEYS[1], ARGV[1], through, 'COUNT', tonumber(ARGV[3]))
local doomed = {}
for _, entry in ipairs(entries) do
  local fields = entry[2]
  for i = 1, #fields - 1, 2 do
    local at = fields[i] == 'jobId' and wanted[fields[i + 1]]
    if at then
      doomed[#doomed + 1] = entry[1]
      counts[at] = counts[at] + 1
      break
    end
  end
end
if #doomed > 0 then redis.call('XDEL', KEYS[1], unpack(doomed)) end
local last = entries[#entries]
return { #doomed, #entries, last and last[1] or '', through, counts }`;

/** The script's name on a client (BullMQ's defineCommand: EVALSHA, the script loaded once). */
const command = 'gradcamPurgeJobsEvents';
const defined = new WeakSet<object>();

/** Entries scanned per script: each runs about a millisecond on Redis, so other clients wait at most that. */
export const purgeChunkEntries = 1_000;

/**
 * Deletes every entry of the queue's event stream (`{prefix}:{queue}:events`) that names job `id`
 * in its `jobId` field, and says how many. The stream keeps a job's events after the job is gone
 * (until trimmed: `explainJob.eventStreamLength`), the result of a completed one (`returnvalue`)
 * and the reason of a failed one (`failedReason`) included. Meant for an erasure, after the job's
 * removal so that its `removed` event goes too; idempotent (a second call finds nothing).
 *
 * The stream is scanned from its oldest entry to its newest when the call began, `chunk` entries
 * per script: a full stream of 100,000 entries is about 100 round trips. Entries added meanwhile
 * are not scanned (a removed job writes no more events). Stream entries are only ever deleted
 * (XDEL), so a reader of the stream past them (the metrics exporter) does not count them, and one
 * positioned on one of them reads on after it. Many ids purged at once share one scan:
 * purgeJobsEvents, and JobEventsPurger for concurrent requests.
 */
export async function purgeJobEvents(queue: Queue, id: string, chunk = purgeChunkEntries): Promise<number> {
  return (await purgeJobsEvents(queue, [id], chunk)).get(id) ?? 0;
}

/**
 * purgeJobEvents for several ids in one scan of the stream: the entries whose `jobId` is any of
 * them go, and each id's count is in the map (every id given is in it, 0 where none). The scan
 * costs what one id's does; `ids` travel in each script's ARGV, so callers bound them (JobEventsPurger:
 * 1,000 a scan). Rejects QUEUE_UNAVAILABLE as a whole: entries deleted by chunks before the
 * failure stay deleted, and a second call finds the rest.
 */
export async function purgeJobsEvents(queue: Queue, ids: Iterable<string>, chunk = purgeChunkEntries): Promise<ReadonlyMap<string, number>> {
  const distinct = [...new Set(ids)];
  const deleted = new Map(distinct.map((id) => [id, 0]));
  if (distinct.length === 0) return deleted;
  const key = queue.toKey('events');
  return queueCall(queue, "could not delete the job's events from the queue's event stream", async () => {
    const client = await queue.getBackend().client;
    if (!defined.has(client)) {
      client.defineCommand(command, { numberOfKeys: 1, lua: purgeChunkScript });
      defined.add(client);
    }
    for (let after = '-', through = ''; ; ) {
      const [, scanned, last, newest, counts] = (await client.runCommand(command, [key, after, through, chunk, ...distinct])) as [number, number, string, string, number[]];
      for (const [at, id] of distinct.entries()) deleted.set(id, (deleted.get(id) ?? 0) + (counts[at] ?? 0));
      if (scanned < chunk || last === newest || last === '') return deleted;
      after = `(${last}`;
      through = newest;
    }
  });
}
