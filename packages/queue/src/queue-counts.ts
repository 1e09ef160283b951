import type { Queue } from 'bullmq';
import { QueueUnavailableError } from './errors/queue-unavailable-error.ts';
import { queueCall } from './queue-availability.ts';

/** The BullMQ states the metrics exporter reports (label `state` of `gradcam_queue_jobs`). */
export const countedJobStates = ['waiting', 'prioritized', 'delayed', 'active', 'completed', 'failed', 'paused'] as const;
export type CountedJobState = (typeof countedJobStates)[number];
export type JobCounts = Readonly<Record<CountedJobState, number>>;

/**
 * Jobs ready to run that no worker has taken yet (waiting + prioritized): what ingest compares
 * with its backpressure limit (jobs held by a paused queue included). Retries waiting out their
 * backoff (delayed) are not counted: they were accepted long ago.
 */
export async function queueDepth(queue: Queue): Promise<number> {
  const counts = await queueCall(queue, 'could not read the queue depth', () => queue.getJobCounts('waiting', 'prioritized'));
  return (counts.waiting ?? 0) + (counts.prioritized ?? 0);
}

/**
 * Job counts by state, every state present (0 when empty). BullMQ 6 leaves a paused queue's jobs
 * in its waiting list and only flags the queue; they are reported as `paused` (waiting and
 * prioritized then read 0), as older BullMQ did, so a dashboard shows why nothing moves.
 */
export async function queueJobCounts(queue: Queue): Promise<JobCounts> {
  const [counts, paused] = await queueCall(queue, 'could not read job counts', () =>
    Promise.all([queue.getJobCounts('waiting', 'prioritized', 'delayed', 'active', 'completed', 'failed'), queue.isPaused()]),
  );
  const read = (state: CountedJobState) => counts[state] ?? 0;
  const ready = read('waiting') + read('prioritized');
  return {
    waiting: paused ? 0 : read('waiting'),
    prioritized: paused ? 0 : read('prioritized'),
    delayed: read('delayed'),
    active: read('active'),
    completed: read('completed'),
    failed: read('failed'),
    paused: paused ? ready : 0,
  };
}

/**
 * What BullMQ 6.7's getWorkers() answers, instead of rejecting, when Redis has no CLIENT command
 * (renamed away, as some managed Redis offerings do): a one-item placeholder list, which would
 * otherwise read as one worker connected (queue-getters.js, baseGetClients).
 */
const clientListUnsupportedName = 'GCP does not support client list';

/**
 * Workers connected to the queue, as Redis sees them: BullMQ names each worker's connection and
 * this reads CLIENT LIST. `undefined` when Redis will not list its clients — CLIENT renamed away,
 * or an ACL that denies it (NOPERM) — so the count is unknown, never a made-up 0 or 1. Rejects
 * (QUEUE_UNAVAILABLE) on any other failure, such as Redis being down.
 */
export async function workerCount(queue: Queue): Promise<number | undefined> {
  let workers: Array<{ [key: string]: string }>;
  try {
    workers = await queueCall(queue, 'could not list workers', () => queue.getWorkers());
  } catch (error) {
    if (error instanceof QueueUnavailableError && error.cause instanceof Error && /^NOPERM\b/.test(error.cause.message)) return undefined;
    throw error;
  }
  if (workers.length === 1 && workers[0]?.name === clientListUnsupportedName) return undefined;
  return workers.length;
}
