import type { JobState, Queue } from 'bullmq';
import { queueCall } from './queue-availability.ts';

export interface JobStatus {
  readonly state: JobState | 'unknown';
  /** Attempts finished so far (failed or completed). */
  readonly attempts: number;
  /** `CODE: message` once an attempt failed (see `parseFailedReason`). */
  readonly failedReason?: string;
}

/** BullMQ's view of one job; undefined when there is no such job (never added, or trimmed by retention). */
export async function jobStatus(queue: Queue, jobId: string): Promise<JobStatus | undefined> {
  return queueCall(queue, 'could not read the job', async () => {
    // State first, then the job's fields: a job moves forward, so fields read afterwards are at
    // least as new as the state (read the other way round, a job that failed in between would be
    // 'failed' without its failedReason). The one move back, an operator's retry (`gradcam jobs
    // retry`) between the two reads, also leaves 'failed' without a reason: read both again.
    for (let read = 1; ; read++) {
      const state = await queue.getJobState(jobId);
      if (state === 'unknown') return undefined;
      const job = await queue.getJob(jobId);
      if (job === undefined || job === null) return undefined;
      if (state === 'failed' && !job.failedReason && read < 3) continue;
      const base = { state, attempts: job.attemptsMade };
      return job.failedReason ? { ...base, failedReason: job.failedReason } : base;
    }
  });
}
