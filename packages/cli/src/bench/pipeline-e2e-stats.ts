import type { CompletedJob } from './pipeline-job-results.ts';
import { median, percentile } from './sample-statistics.ts';

export interface Percentiles {
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
}

export function percentiles(values: readonly number[]): Percentiles {
  return { p50: percentile(values, 50), p95: percentile(values, 95), p99: percentile(values, 99), max: percentile(values, 100) };
}

export interface SteadyRate {
  /** The window: from the (fromCompletion)-th stored manifest to when the queue ran dry. */
  readonly fromCompletion: number;
  /** The window's edges, epoch ms: that manifest's storedAt, and when the queue was seen empty. */
  readonly from: number;
  readonly to: number;
  readonly completions: number;
  readonly seconds: number;
  readonly explanationsPerSecond: number;
}

export interface E2eRates {
  /** First POST → last manifest stored. */
  readonly seconds: number;
  readonly explanationsPerSecond: number;
  readonly steady: SteadyRate | undefined;
}

/**
 * The end-to-end rate, and the steady rate: manifests stored between the completion of each
 * process's first batch and the moment the queue ran dry. The first batches pay what a warmed-up
 * worker no longer pays (the worker warms up with one image, not a full batch); after the queue
 * runs dry the processes drain what they hold and fall idle one by one. Engine-only throughput
 * has neither, so this is the like-for-like figure. Undefined when the window holds too few
 * completions (fewer than four batches per process) to mean anything.
 */
export function e2eRates(jobs: readonly CompletedJob[], startedAt: number, processes: number, batch: number, queueEmptyAt: number | undefined): E2eRates {
  const stored = jobs.map((j) => j.storedAt).sort((a, b) => a - b);
  const last = stored[stored.length - 1] ?? startedAt;
  const seconds = (last - startedAt) / 1000;
  const edge = processes * batch;
  let steady: SteadyRate | undefined;
  const from = stored[edge - 1];
  if (from !== undefined && queueEmptyAt !== undefined && queueEmptyAt > from) {
    const completions = stored.filter((t) => t > from && t <= queueEmptyAt).length;
    const windowSeconds = (queueEmptyAt - from) / 1000;
    if (completions >= 4 * edge) steady = { fromCompletion: edge, from, to: queueEmptyAt, completions, seconds: windowSeconds, explanationsPerSecond: completions / windowSeconds };
  }
  return { seconds, explanationsPerSecond: seconds > 0 ? stored.length / seconds : 0, steady };
}

export interface E2eLatency {
  /** Where the figures come from: the completed jobs' return values as BullMQ keeps them. */
  readonly source: 'bullmq-returnvalue';
  /** acceptedAt → storedAt per job, ms. */
  readonly endToEndMs: Percentiles;
  /**
   * processedOn (a worker took the job from the queue) → storedAt, ms: processing plus the wait in
   * the worker's own prefetched batches; the rest of the end-to-end latency is queue wait.
   */
  readonly inWorkerMs: Percentiles | undefined;
}

export function e2eLatency(jobs: readonly CompletedJob[]): E2eLatency {
  const inWorker = jobs.flatMap((j) => (j.processedOn === undefined ? [] : [j.storedAt - j.processedOn]));
  return {
    source: 'bullmq-returnvalue',
    endToEndMs: percentiles(jobs.map((j) => j.storedAt - j.acceptedAt)),
    inWorkerMs: inWorker.length > 0 ? percentiles(inWorker) : undefined,
  };
}

export interface WorkerStages {
  readonly batches: number;
  readonly meanBatchSize: number;
  /** Median seconds per batch in each stage, as the workers timed them (decode runs beside other batches' engine time). */
  readonly medianSeconds: Readonly<Record<'decode' | 'engine' | 'render' | 'upload', number>>;
  /**
   * The workers' main-thread CPU during engine calls, per image, where every batch reported it:
   * compared with engine-only CPU per image, it says whether the engine itself ran slower in the
   * pipeline or only waited for the core longer.
   */
  readonly engineCpuMsPerImage: number | undefined;
}

/** What the workers' batches spent their time on, from the batch leaders' return values. */
export function workerStages(jobs: readonly CompletedJob[]): WorkerStages | undefined {
  const batches = jobs.flatMap((j) => (j.batch ? [j.batch] : []));
  if (batches.length === 0) return undefined;
  const stage = (name: keyof WorkerStages['medianSeconds']) => median(batches.map((b) => b.stageSeconds[name]));
  return {
    batches: batches.length,
    meanBatchSize: batches.reduce((sum, b) => sum + b.size, 0) / batches.length,
    medianSeconds: { decode: stage('decode'), engine: stage('engine'), render: stage('render'), upload: stage('upload') },
    engineCpuMsPerImage: batches.every((b) => b.engineCpuSeconds !== undefined)
      ? (batches.reduce((sum, b) => sum + (b.engineCpuSeconds ?? 0), 0) * 1000) / batches.reduce((sum, b) => sum + b.size, 0)
      : undefined,
  };
}
