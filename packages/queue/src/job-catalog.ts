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
}

export type RetryAndRetentionOptions = Pick<DefaultJobOptions, 'attempts' | 'backoff' | 'removeOnComplete' | 'removeOnFail'>;

/** BullMQ key prefix used when none is configured; producers and workers must agree on it. */
export const defaultQueuePrefix = 'gradcam';

const hour = 3600;
const day = 24 * hour;

export const explainJob: JobDefinition<ExplainJob> = {
  queueName: explainQueueName,
  jobName: 'explain',
  schema: explainJobSchema,
  jobId: (data) => data.inferenceId,
  options: {
    // Transient faults (S3, Redis, a worker restart) get 5 tries over ~15 s: 1 s, 2 s, 4 s, 8 s.
    attempts: 5,
    backoff: { type: 'exponential', delay: 1_000 },
    // Completed jobs answer status queries and, while kept, make a resubmitted id a no-op.
    // The manifest in storage stays the durable record after they are trimmed.
    removeOnComplete: { age: 3 * day, count: 50_000 },
    // Failed jobs are the dead-letter record (reason, stack, attempts): kept by age only, so a
    // burst of failures cannot push out the evidence of an older one.
    removeOnFail: { age: 30 * day },
  },
};
