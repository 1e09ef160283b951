import type { Queue } from 'bullmq';
import { queueCall } from './queue-availability.ts';

/** An id whose job may be stranded, and the key whose value says the caller still holds the id. */
export interface StrandedJobCandidate {
  readonly id: string;
  /** The caller's hold on the id (ingest: the id's inference key holding this request's claim). */
  readonly heldBy: { readonly key: string; readonly value: string };
}

/**
 * What removeStrandedJobs did with a candidate: `removed` its job, which was in no state; left a
 * job `in-state` (waiting, prioritized, delayed, active, waiting-children, completed or failed) or
 * `locked` alone; found it `absent` (no job); or looked at nothing, the hold being `not-held`.
 * After `not-held` or `locked` a job in no state may still be there, and an add of the id would be
 * ignored: the caller must not add the id and answer it queued (ingest answers it 409, and its
 * retry checks again under a hold of its own).
 */
export type StrandedJobCheck = 'removed' | 'in-state' | 'locked' | 'absent' | 'not-held';

// KEYS: the hold key, the job's key, then the state keys BullMQ's getStateV2 reads, in its order.
// ARGV: the hold's value, the job id. One id per call, so that the caller's other commands run
// between the scans: a list is read with LPOS, O(the id's position), the whole list for a job
// in none. A state key of another type (a list that is not one made the add fail) holds no
// job: it is passed over where getState would fail. A job in no state is deleted as BullMQ's
// removeJob deletes one (removeJobKeys: the hash and its sub-keys), and, as it does, not while
// locked. Explain jobs are added alone: no parent, children, deduplication id or repeat to
// update. No 'removed' event: nothing in the pipeline reads one, and the job was never queued.
const removeIfStrandedScript = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 'not-held' end
local job = KEYS[2]
if redis.call('EXISTS', job) == 0 then return 'absent' end
for i = 3, #KEYS do
  local kind = redis.call('TYPE', KEYS[i])['ok']
  if kind == 'zset' then
    if redis.call('ZSCORE', KEYS[i], ARGV[2]) then return 'in-state' end
  elseif kind == 'list' then
    if redis.call('LPOS', KEYS[i], ARGV[2]) then return 'in-state' end
  end
end
if redis.call('EXISTS', job .. ':lock') == 1 then return 'locked' end
redis.call('DEL', job, job .. ':logs', job .. ':dependencies', job .. ':processed', job .. ':failed', job .. ':unsuccessful')
return 'removed'`;

const stateKeys = ['completed', 'failed', 'delayed', 'prioritized', 'active', 'wait', 'paused', 'waiting-children'] as const;

/** The script's name on a client (BullMQ's defineCommand: EVALSHA, the script loaded once). */
const command = 'gradcamRemoveIfStranded';
const defined = new WeakSet<object>();

/** Scripts in flight at once: enough to hide the round trips, few enough that other clients' commands wait for at most this many scans. */
const maxInFlight = 4;

/**
 * Removes the job of each candidate id that is in no state of the queue, so that adding the id
 * again makes its job, and says per id what it did. BullMQ's add script stores the job's hash
 * before it pushes the id onto the wait list, and Redis does not undo a script that fails
 * partway (a key of the wrong type, a bug): the hash left behind makes every later add of the id
 * a no-op that queues nothing, so a retry answered "queued" was never explained.
 *
 * Each id is checked and removed in one script, and only while `heldBy.key` still holds
 * `heldBy.value`: a caller whose hold lapsed (ingest's claim expired during a storage stall) must
 * not remove a job another holder has since queued, nor one that completed. A check scans the
 * wait list (100,000 jobs: about half a millisecond): meant for ids whose earlier add failed, not
 * for every add. At most a few run at once; the first failure stops the rest and rejects
 * (QueueUnavailableError).
 */
export async function removeStrandedJobs(queue: Queue, candidates: readonly StrandedJobCandidate[]): Promise<StrandedJobCheck[]> {
  if (candidates.length === 0) return [];
  const states = stateKeys.map((state) => queue.toKey(state));
  return queueCall(queue, 'could not check the jobs of earlier attempts', async () => {
    const client = await queue.getBackend().client;
    if (!defined.has(client)) {
      client.defineCommand(command, { numberOfKeys: 2 + stateKeys.length, lua: removeIfStrandedScript });
      defined.add(client);
    }
    const checks: StrandedJobCheck[] = new Array(candidates.length);
    let next = 0;
    let failed = false;
    const lane = async () => {
      while (!failed && next < candidates.length) {
        const at = next++;
        const { id, heldBy } = candidates[at] as StrandedJobCandidate;
        try {
          checks[at] = (await client.runCommand(command, [heldBy.key, queue.toKey(id), ...states, heldBy.value, id])) as StrandedJobCheck;
        } catch (error) {
          failed = true;
          throw error;
        }
      }
    };
    const lanes = Array.from({ length: Math.min(maxInFlight, candidates.length) }, lane);
    const settled = await Promise.allSettled(lanes);
    const rejected = settled.find((lane) => lane.status === 'rejected');
    if (rejected) throw rejected.reason;
    return checks;
  });
}
