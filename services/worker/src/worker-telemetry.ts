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

export function createWorkerTelemetry(registry: Registry): WorkerTelemetry {
  const metrics = createMetrics(registry, workerMetrics);
  return {
    backend: (backend, model) => metrics.backendInfo.set({ backend, model }, 1),
    batch({ engineCalls, stageSeconds }) {
      for (const images of engineCalls) metrics.batchSize.observe(images);
      for (const stage of stages) metrics.stageDuration.observe({ stage }, stageSeconds[stage]);
    },
    job: (outcome) => metrics.jobs.inc({ outcome }),
  };
}
