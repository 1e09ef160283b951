import type { Queue } from 'bullmq';
import { queueCall } from './queue-availability.ts';

/**
 * Removes the job record of each id that is in no state of the queue (not waiting, prioritized,
 * delayed, active, completed or failed), so that adding the id again makes its job. BullMQ's add
 * script stores the job's hash before it pushes the id onto the wait list, and Redis does not undo
 * a script that fails partway (a key of the wrong type, a bug): the hash left behind makes every
 * later add of the id a no-op that queues nothing, so a retry answered "queued" was never
 * explained. Resolves the ids it found in no state.
 *
 * A state lookup per id (BullMQ's own, as a status query makes; a scan of the wait list at
 * worst): meant for the few ids whose earlier attempt left a job, not for every add. The caller
 * must hold the ids (ingest's claim), so that nobody adds them between the lookup and the removal.
 */
export async function removeStrandedJobs(queue: Queue, ids: readonly string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  return queueCall(queue, 'could not check the jobs of earlier attempts', async () => {
    const states = await Promise.all(ids.map((id) => queue.getJobState(id)));
    const stranded = ids.filter((_, i) => states[i] === 'unknown');
    await Promise.all(stranded.map((id) => queue.remove(id)));
    return stranded;
  });
}
