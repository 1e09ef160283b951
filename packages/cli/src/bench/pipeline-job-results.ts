import { setTimeout as sleep } from 'node:timers/promises';
import { explainJobResultSchema, explainQueueName, redisKeys } from '@gradcam/contracts';
import { Redis } from 'ioredis';

/**
 * A client for the benchmark's few reads that fails rather than waits: no reconnects and no
 * offline queue, so a command on a lost connection rejects at once. Resolves once connected;
 * close it with disconnect() (safe twice).
 */
export async function connectRedis(url: string): Promise<Redis> {
  const redis = new Redis(url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
  // connect() and every command reject with the error; this only keeps ioredis from logging it too.
  redis.on('error', () => {});
  try {
    await redis.connect();
  } catch (error) {
    redis.disconnect();
    throw error;
  }
  return redis;
}

/** BullMQ's keys for the explain queue: `<prefix>:<queue>:completed|failed` sets, `<prefix>:<queue>:<id>` hashes. */
function queueKeys(prefix: string) {
  const base = `${prefix}:${explainQueueName}`;
  return { wait: `${base}:wait`, completed: `${base}:completed`, failed: `${base}:failed`, job: redisKeys(prefix).explainJob };
}

/** One reply of a pipeline's exec(): [error, result]; an error reply counts as nothing. */
type PipelineReply = [error: Error | null, result: unknown];

const count = (reply: PipelineReply | undefined): number => (reply && !reply[0] && typeof reply[1] === 'number' ? reply[1] : 0);

export interface JobsFinished {
  readonly completed: number;
  readonly failed: number;
  /**
   * Epoch ms of the first poll that found no job waiting: from then on the workers only drain
   * what they hold, and processes fall idle one by one. Undefined if the queue was never seen empty.
   */
  readonly queueEmptyAt: number | undefined;
}

/**
 * Waits until `expected` jobs have completed or failed for good, polling BullMQ's counts (three
 * commands per poll, however many jobs). Call it once every job has been added. Throws when
 * nothing finishes for `stallTimeoutMs`.
 */
export async function waitForJobs(
  redis: Redis,
  prefix: string,
  expected: number,
  stallTimeoutMs: number,
  onProgress: (finished: number) => void,
): Promise<JobsFinished> {
  const keys = queueKeys(prefix);
  let last = -1;
  let lastChange = Date.now();
  let queueEmptyAt: number | undefined;
  for (;;) {
    const replies = (await redis.pipeline().llen(keys.wait).zcard(keys.completed).zcard(keys.failed).exec()) ?? [];
    const [waiting, completed, failed] = [count(replies[0]), count(replies[1]), count(replies[2])];
    if (waiting === 0) queueEmptyAt ??= Date.now();
    const finished = completed + failed;
    if (finished !== last) {
      last = finished;
      lastChange = Date.now();
      onProgress(finished);
    }
    if (finished >= expected) return { completed, failed, queueEmptyAt };
    if (Date.now() - lastChange > stallTimeoutMs) {
      throw new Error(`${expected - finished} of ${expected} jobs did not finish: nothing completed for ${stallTimeoutMs / 1000} s`);
    }
    await sleep(100);
  }
}

export interface CompletedJob {
  readonly id: string;
  /** Epoch ms from the job's return value: accepted by ingest, manifest stored by the worker. */
  readonly acceptedAt: number;
  readonly storedAt: number;
  /** Epoch ms BullMQ recorded when a worker took the job (its last attempt). */
  readonly processedOn: number | undefined;
  /** On one job per batch (the leader): the batch's size and seconds per worker stage. */
  readonly batch?: {
    readonly size: number;
    readonly stageSeconds: Readonly<Record<'decode' | 'engine' | 'render' | 'upload', number>>;
    readonly engineCpuSeconds: number | undefined;
  };
}

export interface JobResults {
  readonly completed: readonly CompletedJob[];
  /** Failure code (the failedReason's `CODE:` head) → count. */
  readonly failures: Readonly<Record<string, number>>;
  /** Ids with neither a valid return value nor a failure (e.g. trimmed, or still retrying). */
  readonly unaccounted: number;
}

/** Reads each job's return value (and failure) from its BullMQ hash, 500 ids per round trip. */
export async function readJobResults(redis: Redis, prefix: string, ids: readonly string[]): Promise<JobResults> {
  const keys = queueKeys(prefix);
  const completed: CompletedJob[] = [];
  const failures: Record<string, number> = {};
  let unaccounted = 0;
  for (let at = 0; at < ids.length; at += 500) {
    const chunk = ids.slice(at, at + 500);
    const pipeline = redis.pipeline();
    for (const id of chunk) pipeline.hmget(keys.job(id), 'returnvalue', 'processedOn', 'failedReason', 'finishedOn');
    const replies = (await pipeline.exec()) ?? [];
    chunk.forEach((id, i) => {
      const [error, fields] = replies[i] ?? [null, undefined];
      const [returnvalue, processedOn, failedReason, finishedOn] = !error && Array.isArray(fields) ? (fields as (string | null)[]) : [];
      const parsed = typeof returnvalue === 'string' ? explainJobResultSchema.safeParse(JSON.parse(returnvalue)) : undefined;
      if (parsed?.success) {
        const { acceptedAt, storedAt, batchLeader, batchSize, stageSeconds, engineCpuSeconds } = parsed.data;
        completed.push({
          id,
          acceptedAt,
          storedAt,
          processedOn: typeof processedOn === 'string' ? Number(processedOn) : undefined,
          ...(batchLeader && { batch: { size: batchSize, stageSeconds, engineCpuSeconds } }),
        });
      } else if (typeof failedReason === 'string' && typeof finishedOn === 'string') {
        const code = /^([A-Z0-9_]+):/.exec(failedReason)?.[1] ?? 'UNKNOWN';
        failures[code] = (failures[code] ?? 0) + 1;
      } else {
        unaccounted++;
      }
    });
  }
  return { completed, failures, unaccounted };
}
