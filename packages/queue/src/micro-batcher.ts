import { performance } from 'node:perf_hooks';
import { BatchFailedError } from './errors/batch-failed-error.ts';

/** One outcome per item, in order: a result, or an Error that fails that item alone. */
export type BatchOutcome<Result> = Result | Error;
export type ProcessBatch<Item, Result> = (items: readonly Item[]) => Promise<readonly BatchOutcome<Result>[]>;

export interface BatchReport {
  readonly size: number;
  readonly durationSeconds: number;
  /** Items whose outcome was an Error (every item when processBatch threw). */
  readonly failed: number;
  /** What processBatch threw, when it did. */
  readonly error?: unknown;
}

export interface MicroBatcherOptions<Item, Result> {
  /** At most this many items per processBatch call. */
  readonly maxBatch: number;
  /** A partial batch is sent once its first item has waited this long. */
  readonly maxWaitMs: number;
  readonly processBatch: ProcessBatch<Item, Result>;
  /**
   * Batches processed at once (default 1). With 2, a worker decodes and uploads one batch while
   * the engine runs the other; processBatch then serialises the engine itself.
   */
  readonly maxConcurrentBatches?: number;
  readonly onBatchStart?: (size: number) => void;
  readonly onBatchEnd?: (report: BatchReport) => void;
  /** Receives errors thrown by the hooks above (a metrics bug must not fail jobs). */
  readonly onHookError?: (error: unknown) => void;
}

interface Entry<Item, Result> {
  readonly item: Item;
  readonly arrivedAt: number;
  readonly resolve: (result: Result) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Collects items submitted one by one into batches of up to `maxBatch`, or whatever arrived
 * within `maxWaitMs` of the first, and runs `processBatch` for one batch at a time (or
 * `maxConcurrentBatches`) while the next batch fills. Each `submit` settles with its own
 * item's outcome. Knows nothing about queues: the batching worker feeds it BullMQ jobs.
 */
export class MicroBatcher<Item, Result> {
  readonly #options: MicroBatcherOptions<Item, Result>;
  #pending: Entry<Item, Result>[] = [];
  #running = 0;
  readonly #maxConcurrent: number;
  #timer: NodeJS.Timeout | undefined;
  #timerFired = false;
  /** The first this-many pending items were flushed: they go as soon as a slot is free. */
  #flushed = 0;
  #draining = false;
  #closed = false;
  #closing: Promise<void> | undefined;
  #idleWaiters: (() => void)[] = [];

  constructor(options: MicroBatcherOptions<Item, Result>) {
    if (!Number.isInteger(options.maxBatch) || options.maxBatch < 1) throw new RangeError(`maxBatch must be a positive integer, got ${options.maxBatch}`);
    if (!Number.isFinite(options.maxWaitMs) || options.maxWaitMs < 0) throw new RangeError(`maxWaitMs must be a finite number ≥ 0, got ${options.maxWaitMs}`);
    const maxConcurrent = options.maxConcurrentBatches ?? 1;
    if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1) throw new RangeError(`maxConcurrentBatches must be a positive integer, got ${maxConcurrent}`);
    this.#maxConcurrent = maxConcurrent;
    this.#options = options;
  }

  /** Items waiting for a batch (not counting the batch being processed). */
  get pending(): number {
    return this.#pending.length;
  }

  submit(item: Item): Promise<Result> {
    if (this.#closed) return Promise.reject(new Error('the micro-batcher is closed'));
    return new Promise<Result>((resolve, reject) => {
      this.#pending.push({ item, arrivedAt: performance.now(), resolve, reject });
      this.#schedule();
    });
  }

  /**
   * From now on a batch is sent as soon as the previous one is done, without waiting for
   * `maxWaitMs`: shutdown wants pending work finished promptly, not batched well.
   */
  drain(): void {
    this.#draining = true;
    this.#schedule();
  }

  /**
   * Sends the items pending now without waiting for `maxWaitMs`, in batches of up to `maxBatch`,
   * as soon as a batch slot is free. Items submitted later wait as usual, unless they fit in the
   * last of those batches. For a caller that knows no batch-mates can come, such as a worker
   * running one job alone.
   */
  flush(): void {
    this.#flushed = this.#pending.length;
    this.#schedule();
  }

  /**
   * Takes every item still waiting for a batch out of the batcher and rejects it with `reason`;
   * items of running batches are not touched. Returns how many were taken out.
   */
  evict(reason: unknown): number {
    const evicted = this.#pending;
    this.#pending = [];
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerFired = false;
    this.#flushed = 0;
    for (const entry of evicted) entry.reject(reason);
    if (this.#running === 0) this.#notifyIdle();
    return evicted.length;
  }

  /** Resolves when nothing is pending and no batch is running. */
  onIdle(): Promise<void> {
    if (this.#running === 0 && this.#pending.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Drains, waits for every submitted item to settle, then refuses new items. Safe to call twice. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.drain();
      await this.onIdle();
      this.#closed = true;
    })();
    return this.#closing;
  }

  #schedule(): void {
    // A running batch calls #schedule again when it ends, so a full house can simply return.
    while (this.#running < this.#maxConcurrent) {
      const head = this.#pending[0];
      if (head === undefined) {
        if (this.#running === 0) this.#notifyIdle();
        return;
      }
      const { maxBatch, maxWaitMs } = this.#options;
      const waited = performance.now() - head.arrivedAt;
      if (!(this.#draining || this.#timerFired || this.#flushed > 0 || this.#pending.length >= maxBatch || waited >= maxWaitMs)) {
        // Armed only while a slot is free, for the current head; the head cannot change until a batch starts.
        this.#timer ??= setTimeout(() => {
          this.#timer = undefined;
          this.#timerFired = true;
          this.#schedule();
        }, maxWaitMs - waited);
        return;
      }
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#timerFired = false;
      // Counted before processBatch runs, so nothing it triggers can exceed the limit.
      this.#running++;
      const batch = this.#pending.splice(0, maxBatch);
      this.#flushed = Math.max(0, this.#flushed - batch.length);
      void this.#run(batch);
    }
  }

  /** Never rejects: every failure is routed to the items' promises. */
  async #run(batch: readonly Entry<Item, Result>[]): Promise<void> {
    const started = performance.now();
    this.#hook(() => this.#options.onBatchStart?.(batch.length));
    let failed = 0;
    let threw = false;
    let batchError: unknown;
    try {
      // Through a promise so a synchronous throw is caught like a rejection.
      const outcomes = await Promise.resolve().then(() => this.#options.processBatch(batch.map((entry) => entry.item)));
      if (!Array.isArray(outcomes) || outcomes.length !== batch.length) {
        throw new BatchFailedError(`processBatch returned ${Array.isArray(outcomes) ? outcomes.length : typeof outcomes} outcomes for ${batch.length} items`);
      }
      batch.forEach((entry, index) => {
        const outcome = outcomes[index] as BatchOutcome<Result>;
        if (outcome instanceof Error) {
          failed++;
          entry.reject(outcome);
        } else {
          entry.resolve(outcome);
        }
      });
    } catch (error) {
      threw = true;
      batchError = error;
      failed = batch.length;
      const rejection = error instanceof BatchFailedError ? error : new BatchFailedError(`processBatch threw: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
      for (const entry of batch) entry.reject(rejection);
    }
    const durationSeconds = (performance.now() - started) / 1000;
    const report: BatchReport = !threw ? { size: batch.length, durationSeconds, failed } : { size: batch.length, durationSeconds, failed, error: batchError };
    this.#hook(() => this.#options.onBatchEnd?.(report));
    this.#running--;
    this.#schedule();
  }

  #notifyIdle(): void {
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  #hook(call: () => void): void {
    try {
      call();
    } catch (error) {
      this.#options.onHookError?.(error);
    }
  }
}
