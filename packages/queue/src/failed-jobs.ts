import { failedOnItsImage } from '@gradcam/contracts';
import { Job, type Queue, QueueKeys } from 'bullmq';
import type { Redis } from 'ioredis';
import { defaultQueuePrefix, explainJob } from './job-catalog.ts';
import { jobStalledCode, parseFailedReason } from './job-failure.ts';

/** One job of the failed set (the dead-letter record), as `gradcam jobs` shows it. */
export interface FailedJob {
  readonly id: string;
  readonly code: string;
  /** The failure's message, cut to a line's worth. */
  readonly message: string;
  /** When it failed for good (epoch ms; the failed set's score). */
  readonly failedAt: number;
  readonly attemptsMade: number;
  readonly maxAttempts: number;
  /**
   * It used every attempt: a fault that outlasted the retries (storage, Redis, a crash), which a
   * retry may get past. A job failed at once (bad input: an undecodable image, a model nobody
   * serves) used fewer and would fail the same way again.
   */
  readonly exhausted: boolean;
}

export interface FindFailedJobsOptions {
  /** A connection the caller owns. */
  readonly connection: Redis;
  /** BullMQ key prefix; must match the producers'. */
  readonly prefix?: string;
  /** Only jobs that failed at or after this time (epoch ms). */
  readonly since?: number;
  /** Only these ids (looked up one by one, not scanned); ids not in the failed set are left out. */
  readonly ids?: readonly string[];
  /** Failed-set entries read per Redis call (default 1 000). */
  readonly chunk?: number;
}

const messageLength = 200;

/**
 * The failed explain jobs, oldest failure first, read a chunk at a time so that Redis serves other
 * clients between chunks (the set holds up to maxFailedJobsKept). The walk resumes after the last
 * entry read (score and id), so jobs failing or being trimmed meanwhile shift nothing.
 */
export async function findFailedJobs(options: FindFailedJobsOptions): Promise<FailedJob[]> {
  const { connection } = options;
  const chunk = options.chunk ?? 1_000;
  if (!Number.isInteger(chunk) || chunk < 1) throw new RangeError(`chunk must be a positive integer, got ${chunk}`);
  const keys = new QueueKeys(options.prefix ?? defaultQueuePrefix);
  const failedKey = keys.toKey(explainJob.queueName, 'failed');
  const jobKey = (id: string) => keys.toKey(explainJob.queueName, id);
  const since = options.since ?? Number.NEGATIVE_INFINITY;

  const describe = async (entries: readonly (readonly [string, number])[]): Promise<FailedJob[]> => {
    const pipeline = connection.pipeline();
    for (const [id] of entries) pipeline.hmget(jobKey(id), 'failedReason', 'atm', 'opts');
    const replies = (await pipeline.exec()) ?? [];
    return entries.flatMap(([id, failedAt], at) => {
      const [error, fields] = replies[at] ?? [];
      if (error) throw error;
      const [reason = null, atm = null, opts = null] = fields as (string | null)[];
      // Trimmed between the two reads: no longer a failed job.
      if (reason === null && atm === null && opts === null) return [];
      const { code, message } = parseFailedReason(reason ?? undefined);
      const attemptsMade = Number(atm ?? 0);
      const maxAttempts = maxAttemptsOf(opts);
      return [{ id, code, message: message.length > messageLength ? `${message.slice(0, messageLength)}…` : message, failedAt, attemptsMade, maxAttempts, exhausted: attemptsMade >= maxAttempts }];
    });
  };

  if (options.ids !== undefined) {
    const found: FailedJob[] = [];
    for (let start = 0; start < options.ids.length; start += chunk) {
      const ids = [...new Set(options.ids.slice(start, start + chunk))];
      const pipeline = connection.pipeline();
      for (const id of ids) pipeline.zscore(failedKey, id);
      const scores = (await pipeline.exec()) ?? [];
      const entries = ids.flatMap((id, at): [string, number][] => {
        const [error, score] = scores[at] ?? [];
        if (error) throw error;
        return score === null || score === undefined || Number(score) < since ? [] : [[id, Number(score)]];
      });
      found.push(...(await describe(entries)));
    }
    return found.sort((a, b) => a.failedAt - b.failedAt || (a.id < b.id ? -1 : 1));
  }

  const found: FailedJob[] = [];
  let min = since;
  // Ids already read at the score the next chunk starts from (ties sort by id within a score).
  let seenAtMin = new Set<string>();
  for (;;) {
    const limit = chunk + seenAtMin.size;
    const flat = await connection.zrangebyscore(failedKey, Number.isFinite(min) ? min : '-inf', '+inf', 'WITHSCORES', 'LIMIT', 0, limit);
    const read: [string, number][] = [];
    for (let i = 0; i < flat.length; i += 2) read.push([flat[i] as string, Number(flat[i + 1])]);
    found.push(...(await describe(read.filter(([id, score]) => !(score === min && seenAtMin.has(id))))));
    if (read.length < limit) return found;
    const last = (read.at(-1) as [string, number])[1];
    const atLast = new Set(read.filter(([, score]) => score === last).map(([id]) => id));
    if (last === min) for (const id of seenAtMin) atLast.add(id);
    min = last;
    seenAtMin = atLast;
  }
}

/** The job's `attempts` option as BullMQ stored it (the catalog's when unreadable). */
function maxAttemptsOf(opts: string | null): number {
  try {
    const attempts = (JSON.parse(opts ?? '{}') as { attempts?: unknown }).attempts;
    if (typeof attempts === 'number' && Number.isInteger(attempts) && attempts > 0) return attempts;
  } catch {
    // Fall through to the catalog's setting.
  }
  return explainJob.options.attempts ?? 1;
}

export interface RetryFailedJobsResult {
  /** Put back in the queue, with their attempts counted from zero. */
  readonly retried: readonly string[];
  /** No longer in the failed set when their turn came (retried by someone else, trimmed, removed). */
  readonly notFailed: readonly string[];
}

export interface RetryFailedJobsOptions {
  /** Retries at once (default 8). */
  readonly concurrency?: number;
  /** Stops taking further ids (those under way finish); what was done so far is returned. */
  readonly signal?: AbortSignal;
  /** After each job: how many were retried or found no longer failed so far. */
  readonly onProgress?: (done: number) => void;
}

/** BullMQ's reprocessJob answers: the job is gone (-1), or not in the failed set (-3). */
const notFailedCodes = new Set([-1, -3]);

// KEYS: the failed set, the job's hash. ARGV: the job id. Run just before BullMQ's retry, and only
// while the job is still failed: job.retry keeps the job's stall count and its stack traces. A
// kept stall count makes the retried job a suspect that runs alone, and one at the limit fails
// again at its first stall; the traces (one per failed attempt) would grow with every retry. A job
// that failed for stalling (it killed or hung its workers) keeps a count of 1: it runs alone, with
// its takeovers left, so it cannot take batch-mates down with it.
const prepareRetryScript = `
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
local reason = redis.call('HGET', KEYS[2], 'failedReason') or ''
redis.call('HDEL', KEYS[2], 'stacktrace')
if string.find(reason, '^${jobStalledCode}:') or string.find(reason, 'stalled more than allowable limit', 1, true) then
  redis.call('HSET', KEYS[2], 'stc', 1)
else
  redis.call('HDEL', KEYS[2], 'stc')
end
return 1`;
const prepareRetryCommand = 'gradcamPrepareRetry';
const defined = new WeakSet<object>();

/**
 * Puts failed jobs back at the end of the wait list with fresh attempts, as BullMQ's
 * `job.retry('failed')` does: a job still in the failed set moves atomically, so two operators
 * retrying at once retry each job once. Its stall count and stack traces are cleared first (a job
 * that failed for stalling keeps a count of 1: it runs alone). The job keeps its data and its
 * review-sampling decision (one that failed on its image itself loses the image identity ingest
 * recorded: see acceptImageAsItIsNow); a worker explains it again from its stored image, and its writes are
 * idempotent by key, so a job whose explanation an earlier attempt had already stored is
 * rewritten, not duplicated. The first Redis failure stops the rest and rejects with a
 * RetryFailedJobsError that says what was done before it.
 */
export async function retryFailedJobs(queue: Queue, ids: readonly string[], options: RetryFailedJobsOptions = {}): Promise<RetryFailedJobsResult> {
  const retried: string[] = [];
  const notFailed: string[] = [];
  const client = await queue.getBackend().client;
  if (!defined.has(client)) {
    client.defineCommand(prepareRetryCommand, { numberOfKeys: 2, lua: prepareRetryScript });
    defined.add(client);
  }
  const failedKey = queue.toKey('failed');
  let next = 0;
  let failed = false;
  const lane = async () => {
    while (!failed && options.signal?.aborted !== true && next < ids.length) {
      const id = ids[next++] as string;
      try {
        const prepared = await client.runCommand(prepareRetryCommand, [failedKey, queue.toKey(id), id]);
        const job = prepared === 1 ? await Job.fromId(queue, id) : undefined;
        if (job === undefined) notFailed.push(id);
        else {
          await acceptImageAsItIsNow(job);
          await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
          retried.push(id);
        }
      } catch (error) {
        if (!notFailedCodes.has((error as { code?: unknown }).code as number)) {
          failed = true;
          throw error;
        }
        notFailed.push(id);
      }
      options.onProgress?.(retried.length + notFailed.length);
    }
  };
  const lanes = await Promise.allSettled(Array.from({ length: Math.min(options.concurrency ?? 8, ids.length) }, lane));
  const rejected = lanes.find((lane) => lane.status === 'rejected');
  if (rejected) throw new RetryFailedJobsError({ retried, notFailed }, rejected.reason);
  return { retried, notFailed };
}

/**
 * A job that failed on its image itself (missing, not an image, too large) is retried because the
 * image under its key was fixed: the identity ingest recorded (size, ETag, sha256) is that of the
 * broken image, and would fail the fixed one IMAGE_CHANGED. So it goes; the manifest still records
 * the sha256 of the bytes explained.
 */
async function acceptImageAsItIsNow(job: Job): Promise<void> {
  if (!failedOnItsImage(parseFailedReason(job.failedReason).code)) return;
  const data = job.data as { image?: Record<string, unknown> } | undefined;
  if (data?.image === undefined) return;
  const { bytes, etag, sha256, ...image } = data.image;
  if (bytes === undefined && etag === undefined && sha256 === undefined) return;
  await job.updateData({ ...data, image });
}

/** A retry stopped by a Redis failure: `done` is what it did before (run it again for the rest: moved jobs are no longer failed). */
export class RetryFailedJobsError extends Error {
  readonly code = 'QUEUE_UNAVAILABLE';
  readonly done: RetryFailedJobsResult;

  constructor(
    done: RetryFailedJobsResult,
    cause: unknown,
  ) {
    super(`retried ${done.retried.length} jobs, then: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.done = done;
    this.name = 'RetryFailedJobsError';
  }
}
