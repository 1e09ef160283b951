import { type DefaultJobOptions, Queue, QueueKeys } from 'bullmq';
import type { Redis } from 'ioredis';
import { type JobDefinition, defaultQueuePrefix } from './job-catalog.ts';

export interface TrimFailedJobsOptions<Data> {
  /** The catalog entry: its queue, and its `removeOnFail` count as the number of failed jobs kept. */
  readonly job: JobDefinition<Data>;
  /** A connection the caller owns (a worker connection waits for Redis instead of failing). */
  readonly connection: Redis;
  /** BullMQ key prefix; must match the producers'. */
  readonly prefix?: string;
  /** Failed jobs removed per Redis call (default 1 000: about 15 ms of Redis time). */
  readonly chunk?: number;
}

/** The count a `removeOnFail` setting keeps, if it keeps a bounded number of failed jobs. */
function keptCount(removeOnFail: DefaultJobOptions['removeOnFail']): number | undefined {
  if (typeof removeOnFail === 'number') return removeOnFail;
  if (typeof removeOnFail === 'object' && removeOnFail.count !== undefined) return removeOnFail.count;
  return undefined;
}

/**
 * Removes the oldest failed jobs beyond the job's `removeOnFail` count, a chunk per Redis call,
 * and returns how many it removed. Run it before consuming: BullMQ trims the failed set to that
 * count inside the first job failure it records, in ONE Lua call with no limit, and Redis serves
 * no other client meanwhile (~12 µs a job: a million failed jobs kept by age only, as before the
 * count was set, would freeze Redis for 10 s+, failing ingest's adds and delaying lock renewals).
 * After this runs, that call removes a job or so.
 *
 * When there is nothing to trim it costs one round trip. Workers starting together may all run
 * it: each chunk removes only jobs that finished before the newest job beyond the count did, so
 * they share the work and never remove a kept job. Only jobs that finished in the very millisecond
 * of that cutoff are taken by exact count, where two workers at once may remove a few too many.
 */
export async function trimFailedJobs<Data>(options: TrimFailedJobsOptions<Data>): Promise<number> {
  const { job: definition, connection } = options;
  const chunk = options.chunk ?? 1_000;
  if (!Number.isInteger(chunk) || chunk < 1) throw new RangeError(`chunk must be a positive integer, got ${chunk}`);
  const keep = keptCount(definition.options.removeOnFail);
  if (keep === undefined || keep < 1) return 0;
  const prefix = options.prefix ?? defaultQueuePrefix;
  const failedKey = new QueueKeys(prefix).toKey(definition.queueName, 'failed');

  /** The failed set's size and the score (finishedOn) of the newest job beyond `keep`, read together. */
  const readExcess = async (): Promise<{ excess: number; cutoff: number } | undefined> => {
    const replies = await connection
      .multi()
      .zcard(failedKey)
      .zrange(failedKey, -(keep + 1), -(keep + 1), 'WITHSCORES')
      .exec();
    const [[cardError, card] = [], [rangeError, range] = []] = replies ?? [];
    if (cardError) throw cardError;
    if (rangeError) throw rangeError;
    const score = (range as string[] | undefined)?.[1];
    const excess = (card as number) - keep;
    return excess > 0 && score !== undefined ? { excess, cutoff: Number(score) } : undefined;
  };

  let found = await readExcess();
  if (found === undefined) return 0;
  // Removal goes through BullMQ's own clean script, so a job's every key goes with it. The queue
  // only borrows the caller's connection; closing it leaves the connection open. It leaves the
  // queue's meta alone: a Queue writes its settings there, the event stream's length among them.
  const queue = new Queue(definition.queueName, { connection, prefix, skipMetasUpdate: true });
  // The queue forwards the connection's errors; the connection's own listener reports them already.
  queue.on('error', () => {});
  const backend = queue.getBackend();
  let trimmed = 0;
  try {
    while (found !== undefined) {
      // The oldest `chunk` jobs that finished before the cutoff: none of them is among the kept.
      let removed = (await backend.cleanJobsByState('failed', found.cutoff - 1, chunk)).length;
      // What is left beyond the count finished in the cutoff's millisecond: take exactly that many.
      if (removed === 0) removed = (await backend.cleanJobsByState('failed', found.cutoff, Math.min(found.excess, chunk))).length;
      if (removed === 0) break; // taken meanwhile by another worker or by BullMQ
      trimmed += removed;
      found = await readExcess();
    }
  } finally {
    await queue.close();
  }
  return trimmed;
}
