import type { BatchFigures } from '@gradcam/contracts';
import { type Registry, createMetrics, stages, workerMetrics } from '@gradcam/telemetry';
import type { JobFinishedEvent } from '@gradcam/queue';

/** What a worker process reports about itself (its own /metrics). */
export interface WorkerTelemetry {
  backend(backend: string, model: string): void;
  /** One micro-batch: a batch-size sample per engine call, the stage durations once. */
  batch(figures: BatchFigures): void;
  job(outcome: JobFinishedEvent['outcome']): void;
}

/** Every outcome a finished job can have; a Record, so a new one does not compile until it is here. */
const jobOutcomes = Object.keys({ completed: true, failed: true, retried: true, deferred: true } satisfies Record<JobFinishedEvent['outcome'], true>);

export function createWorkerTelemetry(registry: Registry): WorkerTelemetry {
  const metrics = createMetrics(registry, workerMetrics);
  // At 0 from the start: rate() takes a series' first sample as its start, so a series born with
  // the process's first completed jobs (or its first failure) would hide them from the panels.
  for (const outcome of jobOutcomes) metrics.jobs.inc({ outcome }, 0);
  for (const stage of stages) metrics.stageDuration.zero({ stage });
  return {
    backend: (backend, model) => metrics.backendInfo.set({ backend, model }, 1),
    batch({ engineCalls, stageSeconds }) {
      for (const images of engineCalls) metrics.batchSize.observe(images);
      for (const stage of stages) metrics.stageDuration.observe({ stage }, stageSeconds[stage]);
    },
    job: (outcome) => metrics.jobs.inc({ outcome }),
  };
}
