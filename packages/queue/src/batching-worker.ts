import { DelayedError, type Job, UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { DeferJobError } from './errors/defer-job-error.ts';
import { type JobDefinition, defaultQueuePrefix } from './job-catalog.ts';
import { formatFailedReason, jobInvalidCode, parseFailedReason, summariseIssues, toJobFailureError } from './job-failure.ts';
import { type BatchReport, MicroBatcher, type ProcessBatch } from './micro-batcher.ts';

/** What `processBatch` sees of a job: validated data, and the attempt it is on. */
export interface BatchJob<Data> {
  /** The BullMQ job id (for explain jobs, the inference id). */
  readonly id: string;
  readonly data: Data;
  /** 1 on the first try. */
  readonly attempt: number;
  readonly maxAttempts: number;
  /** Epoch ms when the job was added. */
  readonly addedAt: number;
  /**
   * An earlier run of this job got somewhere: it failed an attempt, or its worker stalled and the
   * job was taken over. Its side effects may be done already, in part or in full.
   */
  readonly rerun: boolean;
}

export interface JobFinishedEvent {
  readonly jobId: string;
  /**
   * `retried`: this attempt failed and BullMQ will try again after the backoff. `deferred`: handed
   * back to the queue for another worker (DeferJobError), no attempt counted.
   */
  readonly outcome: 'completed' | 'failed' | 'retried' | 'deferred';
  /** The failure's (or deferral's) stable code; absent on completed. */
  readonly code?: string;
}

/** Observation points for metrics and logs; the queue package does not depend on telemetry. */
export interface BatchingWorkerHooks {
  readonly onBatchStart?: (size: number) => void;
  readonly onBatchEnd?: (report: BatchReport) => void;
  readonly onJobFinished?: (event: JobFinishedEvent) => void;
}

export interface BatchingWorkerOptions<Data, Result> {
  /** The catalog entry: queue name and schema. */
  readonly job: JobDefinition<Data>;
  /** A worker connection (`createWorkerConnection`): BullMQ duplicates it; the caller closes it. */
  readonly connection: Redis;
  /** BullMQ key prefix; must match the producers'. */
  readonly prefix?: string;
  readonly maxBatch: number;
  readonly maxWaitMs: number;
  /**
   * Jobs held at once: the batches in flight plus the next one filling. Defaults to (maxConcurrentBatches + 1) × maxBatch;
   * more only adds jobs that wait in this process while other workers could run them.
   */
  readonly concurrency?: number;
  /** Batches in flight at once (see MicroBatcher); the default concurrency grows with it. */
  readonly maxConcurrentBatches?: number;
  /**
   * How long a job's lock lasts (ms, default 30 000). BullMQ renews the locks of every held job —
   * running or waiting for a batch — on a timer every lockDuration / 2. Renewal needs the event
   * loop, so ONE synchronous stretch (an engine call that blocks the loop) must stay well below
   * lockDuration / 2, or the lock lapses, the job is taken as stalled and runs again elsewhere
   * (harmless: the worker's writes are idempotent by key, but it wastes the work). The whole batch
   * may take longer than lockDuration as long as it yields between such stretches.
   */
  readonly lockDuration?: number;
  /** How often (ms) this worker looks for stalled jobs of dead workers (BullMQ default 30 000). */
  readonly stalledInterval?: number;
  /**
   * How often a job may be found stalled (its worker died or its lock lapsed) and be run again
   * before BullMQ fails it with JOB_STALLED (default 3; BullMQ's own default is 1). Writes are
   * idempotent by key, so running a job again is safe; failing it would drop an accepted record.
   */
  readonly maxStalledCount?: number;
  /** Stored on jobs as the worker that processed them. */
  readonly name?: string;
  readonly processBatch: ProcessBatch<BatchJob<Data>, Result>;
  /** Errors of the worker and its connections, lost locks, and hook failures. */
  readonly onError: (error: Error) => void;
  readonly hooks?: BatchingWorkerHooks;
}

export interface BatchingWorker {
  /** Resolves once the worker's connections are ready (handy in tests). */
  waitUntilReady(): Promise<void>;
  /**
   * Stops fetching, sends what is pending at once (no maxWaitMs wait), waits for the running
   * batch and every job taken to be completed or failed, then closes the BullMQ worker and the
   * connections it made. Safe to call twice.
   */
  close(): Promise<void>;
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/**
 * A BullMQ Worker that processes jobs in batches. BullMQ's open-source Worker hands out jobs one
 * at a time, so the worker runs with concurrency ≈ 2 × maxBatch and each job's processor parks
 * the job in a MicroBatcher; the job's promise settles when its batch has its outcome. Retries,
 * backoff and stalled-job recovery stay BullMQ's.
 */
export function createBatchingWorker<Data, Result>(options: BatchingWorkerOptions<Data, Result>): BatchingWorker {
  const { job: definition, hooks = {}, onError } = options;
  const reportHookError = (error: unknown) => onError(new Error(`a batching-worker hook threw: ${asError(error).message}`, { cause: error }));
  const batcher = new MicroBatcher<BatchJob<Data>, Result>({
    maxBatch: options.maxBatch,
    maxWaitMs: options.maxWaitMs,
    processBatch: options.processBatch,
    ...(options.maxConcurrentBatches === undefined ? {} : { maxConcurrentBatches: options.maxConcurrentBatches }),
    ...(hooks.onBatchStart ? { onBatchStart: hooks.onBatchStart } : {}),
    ...(hooks.onBatchEnd ? { onBatchEnd: hooks.onBatchEnd } : {}),
    onHookError: reportHookError,
  });

  const finished = (event: JobFinishedEvent) => {
    try {
      hooks.onJobFinished?.(event);
    } catch (error) {
      reportHookError(error);
    }
  };

  const processor = async (job: Job<Data, Result>, token?: string): Promise<Result> => {
    // Validated again on receipt: the producer may run another version, or Redis may hold jobs
    // written by hand. A bad payload cannot get better, so it fails without retries.
    const parsed = definition.schema.safeParse(job.data as unknown);
    if (!parsed.success) throw new UnrecoverableError(formatFailedReason(jobInvalidCode, summariseIssues(parsed.error)));
    try {
      return await batcher.submit({
        id: job.id ?? '',
        data: parsed.data,
        attempt: job.attemptsMade + 1,
        maxAttempts: job.opts.attempts ?? 1,
        addedAt: job.timestamp,
        rerun: job.attemptsMade > 0 || job.stalledCounter > 0,
      });
    } catch (error) {
      if (!(error instanceof DeferJobError)) throw toJobFailureError(error);
      // moveToDelayed counts no attempt; DelayedError tells BullMQ the job has been moved.
      await job.moveToDelayed(Date.now() + error.delayMs, token);
      finished({ jobId: job.id ?? '', outcome: 'deferred', code: error.code });
      throw new DelayedError();
    }
  };

  const worker = new Worker<Data, Result>(definition.queueName, processor, {
    connection: options.connection,
    prefix: options.prefix ?? defaultQueuePrefix,
    // Enough jobs held for every batch in flight plus the one filling.
    concurrency: options.concurrency ?? ((options.maxConcurrentBatches ?? 1) + 1) * options.maxBatch,
    lockDuration: options.lockDuration ?? 30_000,
    ...(options.stalledInterval === undefined ? {} : { stalledInterval: options.stalledInterval }),
    maxStalledCount: options.maxStalledCount ?? 3,
    ...(options.name === undefined ? {} : { name: options.name }),
  });

  worker.on('error', onError);
  worker.on('lockRenewalFailed', (jobIds) =>
    onError(new Error(`could not renew the lock of ${jobIds.length} job(s) (${jobIds.slice(0, 5).join(', ')}): they may run again elsewhere`)),
  );
  worker.on('completed', (job) => finished({ jobId: job.id ?? '', outcome: 'completed' }));
  worker.on('failed', (job, error) => {
    if (job === undefined) return; // a stalled job failed by the stalled checker: not one this worker ran
    const retried = error.name !== 'UnrecoverableError' && job.attemptsMade < (job.opts.attempts ?? 1);
    finished({ jobId: job.id ?? '', outcome: retried ? 'retried' : 'failed', code: parseFailedReason(job.failedReason).code });
  });

  let closing: Promise<void> | undefined;
  return {
    waitUntilReady: () => worker.waitUntilReady(),
    close() {
      closing ??= (async () => {
        // Order matters: drain first so nothing held waits maxWaitMs; Worker.close() stops
        // fetching at once and resolves only after every held job has settled (which needs the
        // batcher), then closes the connections the worker made.
        batcher.drain();
        await worker.close();
        await batcher.close();
      })();
      return closing;
    },
  };
}
