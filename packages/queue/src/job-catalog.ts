import { type ExplainJob, explainJobSchema, explainQueueName } from '@gradcam/contracts';
import type { DefaultJobOptions } from 'bullmq';
import type { z } from 'zod';

/**
 * The one place that decides how each kind of job is queued: its queue, schema, id and retry
 * and retention settings. Producers and workers both read it, so they cannot disagree.
 */
export interface JobDefinition<Data> {
  readonly queueName: string;
  /** BullMQ job name (shown in dashboards such as Bull Board). */
  readonly jobName: string;
  /** Producers validate with it before adding; the worker validates again on receipt. */
  readonly schema: z.ZodType<Data>;
  /** The job id: BullMQ ignores an add whose id already exists, which makes enqueueing idempotent. */
  readonly jobId: (data: Data) => string;
  readonly options: Readonly<RetryAndRetentionOptions>;
  /**
   * Entries BullMQ keeps in the queue's event stream (`streams.events.maxLen`, trimmed
   * approximately). Every BullMQ `Queue` writes its own setting into the queue's meta hash when it
   * starts, and the last one written is what every script trims to, so each Queue made on this
   * queue, and each custom event published on its stream, must be given this one.
   */
  readonly eventStreamLength: number;
}

export type RetryAndRetentionOptions = Pick<DefaultJobOptions, 'attempts' | 'backoff' | 'removeOnComplete' | 'removeOnFail'>;

/** BullMQ key prefix used when none is configured; producers and workers must agree on it. */
export const defaultQueuePrefix = 'gradcam';

const hour = 3600;
const day = 24 * hour;

/**
 * The most failed explain jobs kept (the newest; older ones are removed as new ones fail). Each
 * costs Redis 2.7 KB failed at once, 5.1 KB after its 5 attempts (reason, a stack per attempt,
 * data; `npm run bench:failed-jobs`), so at most 270–510 MB: a burst of permanent failures (a
 * fleet started with the wrong model version) must not fill a Redis that runs with `noeviction`,
 * where a full Redis refuses ingest's adds (503). Size Redis for it.
 */
export const maxFailedJobsKept = 100_000;

export const explainJob: JobDefinition<ExplainJob> = {
  queueName: explainQueueName,
  jobName: 'explain',
  schema: explainJobSchema,
  jobId: (data) => data.inferenceId,
  options: {
    // A job's own transient faults (a storage call that failed while storage answers others, an
    // image sharp ran out of memory on, a bug) get 5 tries over ~15 s: 1 s, 2 s, 4 s, 8 s. Outages
    // use none: the worker hands back the jobs a storage outage fails, no attempt counted, and stops
    // fetching until storage answers; a Redis outage or a worker restart is a stall, not an attempt.
    attempts: 5,
    backoff: { type: 'exponential', delay: 1_000 },
    // Completed jobs answer status queries and, while kept, make a resubmitted id a no-op.
    // The manifest in storage stays the durable record after they are trimmed.
    removeOnComplete: { age: 3 * day, count: 50_000 },
    // Failed jobs are the dead-letter record (reason, stack, attempts): kept 30 days, but never
    // more than maxFailedJobsKept, so a burst of failures bounds Redis memory. A burst bigger than
    // that pushes out the evidence of older failures; the failure metrics keep their counts.
    removeOnFail: { age: 30 * day, count: maxFailedJobsKept },
  },
  // The metrics exporter counts completions, failures and batch figures from this stream, and a
  // restarted exporter reads on from where it was: what was trimmed meanwhile is never counted.
  // A job writes about four events (added, waiting, active, completed), so BullMQ's default of
  // 10,000 held ~2,500 jobs, a couple of seconds at 1,000 jobs/s: an exporter restart under load
  // lost about one completion in eight. 100,000 events (~25,000 jobs) cost Redis ~30 MB (~290 bytes
  // an event, the completed ones carrying the job's result).
  eventStreamLength: 100_000,
};
