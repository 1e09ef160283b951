import { DelayedError, type Job, UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { DeferJobError } from './errors/defer-job-error.ts';
import { type JobDefinition, defaultQueuePrefix } from './job-catalog.ts';
import { formatFailedReason, isolatingSuspectCode, jobInvalidCode, parseFailedReason, summariseIssues, toJobFailureError } from './job-failure.ts';
import { LockRenewer } from './lock-renewer.ts';
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
   * back to the queue for another worker, no attempt counted: by a DeferJobError, or (code
   * ISOLATING_SUSPECT) because this worker is running a job that came back from a stall alone.
   */
  readonly outcome: 'completed' | 'failed' | 'retried' | 'deferred';
  /** The failure's (or deferral's) stable code; absent on completed. */
  readonly code?: string;
  /** On failed and retried: the attempts made so far, this one included, and the most the job gets. */
  readonly attempts?: { readonly made: number; readonly max: number };
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
   * How long a job's lock lasts (ms, default 30 000). The worker renews the locks of every held job —
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
   * A job back from a stall runs alone (see createBatchingWorker), so a job that kills its worker
   * collects these stalls by itself and the jobs held beside it when it did are not failed with it.
   */
  readonly maxStalledCount?: number;
  /** Stored on jobs as the worker that processed them. */
  readonly name?: string;
  /** Start without fetching, as after pause(), until resume() (a dependency known down at start). */
  readonly paused?: boolean;
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
  /**
   * Stops fetching jobs until resume(); the batches running go on. With `handBack`, every job held
   * that has not started (waiting for a batch, or fetched meanwhile) is handed back to the queue
   * with it (no attempt counted), as is any job a fetch already under way brings: for a worker that
   * knows its jobs cannot run now (storage is down). A second pause only changes the hand-back.
   */
  pause(handBack?: DeferJobError): void;
  /** Fetches again after pause(), or starts a worker created paused. */
  resume(): void;
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/**
 * A BullMQ Worker that processes jobs in batches. BullMQ's open-source Worker hands out jobs one
 * at a time, so the worker runs with concurrency ≈ 2 × maxBatch and each job's processor parks
 * the job in a MicroBatcher; the job's promise settles when its batch has its outcome. Retries,
 * backoff and stalled-job recovery stay BullMQ's; lock renewal is this worker's (LockRenewer).
 *
 * Suspects run alone. A job whose worker died while holding it (OOM, a native crash) or lost its
 * lock comes back with a stalled count ≥ 1, and so do all the jobs that worker held beside it. If
 * the job itself killed the worker, running it among others again would kill them again, until
 * every one of them fails JOB_STALLED. So a job back from a stall is a suspect: the worker stops
 * fetching, hands every other job it holds that has not started back to the queue (no attempt or
 * stall counted), waits for its running batches to end, and runs the suspect as a batch of one
 * while it holds nothing else; jobs that arrive meanwhile (a fetch already under way) are handed
 * back too. If the suspect kills the worker again, only the suspect collects the stall.
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

  // Enough jobs held for every batch in flight plus the one filling.
  const concurrency = options.concurrency ?? ((options.maxConcurrentBatches ?? 1) + 1) * options.maxBatch;
  const lockDuration = options.lockDuration ?? 30_000;
  const locks = new LockRenewer({ lockDuration, extendLocks: (jobIds, tokens, duration) => worker.extendJobLocks(jobIds, tokens, duration), onError });

  // Suspect isolation (see above). `held` counts the jobs inside the processor, hand-backs
  // included until Redis has taken them back.
  let held = 0;
  let suspect: string | undefined; // the id of the job running alone, while it does
  let wakeIsolation: (() => void) | undefined;
  /** Set by pause(handBack): what a job that is taken while paused is handed back with. */
  let pausedWith: DeferJobError | undefined;
  const handBack = (suspectId: string) =>
    new DeferJobError(isolatingSuspectCode, `handed back: job ${suspectId} came back from a stall and runs alone in this worker`, 0);

  const runAlone = async (item: BatchJob<Data>): Promise<Result> => {
    suspect = item.id;
    // Fetching stops while any job is held: BullMQ fetches only below its concurrency.
    worker.concurrency = 1;
    try {
      batcher.evict(handBack(item.id));
      while (held > 1) await new Promise<void>((resolve) => (wakeIsolation = resolve));
      wakeIsolation = undefined;
      // The processors of the last batch have returned; BullMQ sends their completions on the
      // next microtasks. Let those commands go out before the suspect may kill the process.
      await new Promise((resolve) => setImmediate(resolve));
      // A batch of one at once: no batch-mate can come while the suspect is held (this worker
      // fetches nothing meanwhile), so waiting maxWaitMs for them would only idle the worker.
      const result = batcher.submit(item);
      batcher.flush();
      return await result;
    } finally {
      suspect = undefined;
      worker.concurrency = concurrency;
    }
  };

  const processor = async (job: Job<Data, Result>, token?: string): Promise<Result> => {
    const jobId = job.id ?? '';
    held++;
    if (token !== undefined) locks.track(jobId, token);
    try {
      // Validated again on receipt: the producer may run another version, or Redis may hold jobs
      // written by hand. A bad payload cannot get better, so it fails without retries.
      const parsed = definition.schema.safeParse(job.data as unknown);
      if (!parsed.success) throw new UnrecoverableError(formatFailedReason(jobInvalidCode, summariseIssues(parsed.error)));
      const item: BatchJob<Data> = {
        id: jobId,
        data: parsed.data,
        attempt: job.attemptsMade + 1,
        maxAttempts: job.opts.attempts ?? 1,
        addedAt: job.timestamp,
        rerun: job.attemptsMade > 0 || job.stalledCounter > 0,
      };
      try {
        if (pausedWith !== undefined) throw pausedWith;
        if (suspect !== undefined) throw handBack(suspect);
        if (job.stalledCounter >= 1) return await runAlone(item);
        return await batcher.submit(item);
      } catch (error) {
        if (!(error instanceof DeferJobError)) throw toJobFailureError(error);
        // moveToDelayed counts no attempt; DelayedError tells BullMQ the job has been moved.
        await job.moveToDelayed(Date.now() + error.delayMs, token);
        finished({ jobId, outcome: 'deferred', code: error.code });
        throw new DelayedError();
      }
    } finally {
      if (token !== undefined) locks.untrack(jobId, token);
      held--;
      if (held <= 1) wakeIsolation?.();
    }
  };

  const worker = new Worker<Data, Result>(definition.queueName, processor, {
    connection: options.connection,
    prefix: options.prefix ?? defaultQueuePrefix,
    concurrency,
    lockDuration,
    // BullMQ's lock manager tracks held jobs by id only and loses the renewal of a job's second
    // copy when the first ends; LockRenewer tracks id and token.
    skipLockRenewal: true,
    ...(options.stalledInterval === undefined ? {} : { stalledInterval: options.stalledInterval }),
    maxStalledCount: options.maxStalledCount ?? 3,
    ...(options.name === undefined ? {} : { name: options.name }),
    // Created paused: not run until resume() (BullMQ's resume() runs a worker that never ran).
    autorun: options.paused !== true,
  });
  locks.start();

  worker.on('error', onError);
  worker.on('completed', (job) => finished({ jobId: job.id ?? '', outcome: 'completed' }));
  worker.on('failed', (job, error) => {
    if (job === undefined) return; // a stalled job failed by the stalled checker: not one this worker ran
    const max = job.opts.attempts ?? 1;
    const retried = error.name !== 'UnrecoverableError' && job.attemptsMade < max;
    finished({ jobId: job.id ?? '', outcome: retried ? 'retried' : 'failed', code: parseFailedReason(job.failedReason).code, attempts: { made: job.attemptsMade, max } });
  });

  let closing: Promise<void> | undefined;
  return {
    waitUntilReady: () => worker.waitUntilReady(),
    pause(handBackWith) {
      pausedWith = handBackWith;
      if (handBackWith !== undefined) batcher.evict(handBackWith);
      // Without waiting for the jobs held: they are the batches running, which end by themselves.
      worker.pause(true).catch(onError);
    },
    resume() {
      pausedWith = undefined;
      // BullMQ's resume() reports its own failures as 'error' events.
      if (closing === undefined) void worker.resume();
    },
    close() {
      closing ??= (async () => {
        // Order matters: drain first so nothing held waits maxWaitMs; Worker.close() stops
        // fetching at once and resolves only after every held job has settled (which needs the
        // batcher), then closes the connections the worker made.
        batcher.drain();
        try {
          await worker.close();
        } finally {
          // Even when close() fails: the renewal timer would keep the process alive.
          locks.stop();
          await batcher.close();
        }
      })();
      return closing;
    },
  };
}
