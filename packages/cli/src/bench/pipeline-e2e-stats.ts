import type { CompletedJob } from './pipeline-job-results.ts';
import { percentile } from './sample-statistics.ts';

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
  /** Completions counted (the n-th to the m-th, by storedAt). */
  readonly fromCompletion: number;
  readonly toCompletion: number;
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
 * The end-to-end rate, and the rate between the completion of each process's first batch and
 * the start of the drain. The first batches pay what a warmed-up worker no longer pays (the
 * worker warms with one image, not a full batch) and the last ones run while other processes sit
 * idle with an empty queue; engine-only throughput has neither, so this is the like-for-like
 * figure. Undefined when too few records pass for such a window to mean anything.
 */
export function e2eRates(jobs: readonly CompletedJob[], startedAt: number, processes: number, batch: number): E2eRates {
  const stored = jobs.map((j) => j.storedAt).sort((a, b) => a - b);
  const last = stored[stored.length - 1] ?? startedAt;
  const seconds = (last - startedAt) / 1000;
  const edge = processes * batch;
  let steady: SteadyRate | undefined;
  if (stored.length >= 4 * edge) {
    const from = stored[edge - 1] as number;
    const to = stored[stored.length - edge - 1] as number;
    const windowSeconds = (to - from) / 1000;
    if (windowSeconds > 0) {
      steady = {
        fromCompletion: edge,
        toCompletion: stored.length - edge,
        seconds: windowSeconds,
        explanationsPerSecond: (stored.length - 2 * edge) / windowSeconds,
      };
    }
  }
  return { seconds, explanationsPerSecond: seconds > 0 ? stored.length / seconds : 0, steady };
}

export interface E2eLatency {
  /** Where the figures come from: the completed jobs' return values as BullMQ keeps them. */
  readonly source: 'bullmq-returnvalue';
  /** acceptedAt → storedAt per job, ms. */
  readonly endToEndMs: Percentiles;
  /** processedOn (a worker took the job) → storedAt, ms: the part of the latency that is not queueing. */
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
