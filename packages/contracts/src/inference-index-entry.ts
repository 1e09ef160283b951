import { z } from 'zod';
import { captureReasonSchema } from './capture-decision.ts';
import type { ExplainJob } from './explain-job.ts';

/**
 * What the pipeline remembers per accepted inference id (`redisKeys.inference`): enough to answer
 * a status query and refuse a replay. Ingest writes it when it accepts a record; a worker writes
 * it for an explained job whose ingest could not (503 ACCEPT_INCOMPLETE: queued, not recorded).
 */
export const indexEntrySchema = z.object({
  folder: z.string(),
  model: z.string(),
  explain: z.boolean(),
  reason: captureReasonSchema,
  acceptedAt: z.number(),
  /**
   * What the accepted record said (ingest's recordFingerprint), so that its id sent again with
   * other content is refused rather than answered as a duplicate. Absent from entries written
   * before ingest kept it, and from those a worker writes for a job queued before jobs carried it
   * (indexEntryOfJob copies the job's): their ids answer any record as a duplicate, as every id
   * did before.
   */
  fingerprint: z.string().optional(),
});
export type IndexEntry = z.infer<typeof indexEntrySchema>;

/** How long an entry lives: an id is refused as a replay, and its status answered, for 30 days. */
export const indexEntryTtlSeconds = 30 * 24 * 3600;

/** The entry an explain job stands for: ingest queues a job only for a record it sent to be explained. */
export function indexEntryOfJob(job: ExplainJob): IndexEntry {
  return { folder: job.folder, model: job.model.name, explain: true, reason: job.capture.reason, acceptedAt: job.acceptedAt, ...(job.fingerprint !== undefined && { fingerprint: job.fingerprint }) };
}
