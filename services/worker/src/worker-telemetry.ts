import type { ExplainJobResult } from '@gradcam/contracts';
import { type Registry, createMetrics, stages, workerMetrics } from '@gradcam/telemetry';
import type { JobFinishedEvent } from '@gradcam/queue';

/** What a worker process reports about itself (its own /metrics). */
export interface WorkerTelemetry {
  backend(backend: string, model: string): void;
  batch(size: number, stageSeconds: ExplainJobResult['stageSeconds']): void;
  job(outcome: JobFinishedEvent['outcome']): void;
}

export function createWorkerTelemetry(registry: Registry): WorkerTelemetry {
  const metrics = createMetrics(registry, workerMetrics);
  return {
    backend: (backend, model) => metrics.backendInfo.set({ backend, model }, 1),
    batch(size, stageSeconds) {
      metrics.batchSize.observe(size);
      for (const stage of stages) metrics.stageDuration.observe({ stage }, stageSeconds[stage]);
    },
    job: (outcome) => metrics.jobs.inc({ outcome }),
  };
}
