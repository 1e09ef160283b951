import type { ExplainJob, ExplainJobResult } from '@gradcam/contracts';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { JobInvalidError } from './errors/job-invalid-error.ts';
import { type RetryAndRetentionOptions, defaultQueuePrefix, explainJob } from './job-catalog.ts';
import { summariseIssues } from './job-failure.ts';
import { queueCall } from './queue-availability.ts';

export type ExplainQueue = Queue<ExplainJob, ExplainJobResult>;

export interface ExplainQueueOptions {
  /** A producer connection (`createProducerConnection`); the caller owns and closes it. */
  readonly connection: Redis;
  /** BullMQ key prefix; `defaultQueuePrefix` when omitted. Workers must use the same. */
  readonly prefix?: string;
  /** Errors the queue emits (BullMQ forwards its connection's errors here too). */
  readonly onError: (error: Error) => void;
  /** Overrides of the catalog's retry/retention settings, for tests that cannot wait for backoff. */
  readonly jobOptions?: Partial<RetryAndRetentionOptions>;
}

/**
 * The largest addBulk sent at once; bigger lists are split. BullMQ sends an addBulk as a plain
 * pipeline of add scripts, not a transaction (MULTI): each add runs on its own, so when one fails
 * the adds before and after it may have landed (and a split list's earlier chunks have).
 */
const maxBulk = 1000;

export function createExplainQueue(options: ExplainQueueOptions): ExplainQueue {
  const queue: ExplainQueue = new Queue(explainJob.queueName, {
    connection: options.connection,
    prefix: options.prefix ?? defaultQueuePrefix,
    // Defaults rather than per-add options, so a direct `queue.add` gets the catalog's settings too.
    defaultJobOptions: { ...explainJob.options, ...options.jobOptions },
    streams: { events: { maxLen: explainJob.eventStreamLength } },
  });
  queue.on('error', options.onError);
  return queue;
}

/**
 * Validates every job, then adds them all with `jobId = inferenceId`. Nothing is added when one
 * job is invalid (JobInvalidError, code JOB_INVALID). Re-adding an id that is still in the queue
 * (any state, until retention trims it) is ignored by BullMQ, so retried submissions never make
 * a second job. Redis trouble rejects at once with QueueUnavailableError (QUEUE_UNAVAILABLE); the
 * add is not all or nothing then: some jobs may be queued, and one whose add script failed partway
 * may be stored but in no state (see removeStrandedJobs). Returns the job ids, in order.
 */
export async function enqueueExplainJobs(queue: ExplainQueue, jobs: readonly ExplainJob[]): Promise<readonly string[]> {
  const entries = jobs.map((job, index) => {
    const parsed = explainJob.schema.safeParse(job);
    if (!parsed.success) throw new JobInvalidError(index, summariseIssues(parsed.error));
    const jobId = explainJob.jobId(parsed.data);
    return { name: explainJob.jobName, data: parsed.data, opts: { jobId } };
  });
  if (entries.length === 0) return [];
  await queueCall(queue, 'could not add explain jobs', async () => {
    if (entries.length === 1) {
      const [entry] = entries as [(typeof entries)[number]];
      await queue.add(entry.name, entry.data, entry.opts);
      return;
    }
    for (let start = 0; start < entries.length; start += maxBulk) await queue.addBulk(entries.slice(start, start + maxBulk));
  });
  return entries.map((entry) => entry.opts.jobId);
}
