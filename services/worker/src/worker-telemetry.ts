import type { BatchFigures } from '@gradcam/contracts';
import type { EngineMemory } from '@gradcam/engine';
import { type Registry, createMetrics, stages, workerMetrics } from '@gradcam/telemetry';
import type { JobFinishedEvent } from '@gradcam/queue';
import { storageOutageCodes } from './storage-watch.ts';

/** What a worker process reports about itself (its own /metrics). */
export interface WorkerTelemetry {
  backend(backend: string, model: string): void;
  /** One micro-batch: a batch-size sample per engine call, the stage durations once. */
  batch(figures: BatchFigures): void;
  /** What the engine holds after warm-up and after each micro-batch: its tensors, its WebAssembly heap on wasm. */
  engineMemory(memory: EngineMemory): void;
  job(outcome: JobFinishedEvent['outcome']): void;
  /** Why this process cannot use storage now (a StorageOutage's code), or undefined once it can. */
  storage(outageCode: string | undefined): void;
}

/** Every outcome a finished job can have; a Record, so a new one does not compile until it is here. */
const jobOutcomes = Object.keys({ completed: true, failed: true, retried: true, deferred: true } satisfies Record<JobFinishedEvent['outcome'], true>);

export function createWorkerTelemetry(registry: Registry): WorkerTelemetry {
  const metrics = createMetrics(registry, workerMetrics);
  // At 0 from the start: rate() takes a series' first sample as its start, so a series born with
  // the process's first completed jobs (or its first failure) would hide them from the panels.
  for (const outcome of jobOutcomes) metrics.jobs.inc({ outcome }, 0);
  for (const stage of stages) metrics.stageDuration.zero({ stage });
  const storage = (outageCode: string | undefined) => {
    for (const code of storageOutageCodes) metrics.storageProblem.set({ code }, code === outageCode ? 1 : 0);
  };
  // Every code at 0 from the start: an alert on the series sees a worker that can use storage.
  storage(undefined);
  return {
    backend: (backend, model) => metrics.backendInfo.set({ backend, model }, 1),
    batch({ engineCalls, stageSeconds }) {
      for (const images of engineCalls) metrics.batchSize.observe(images);
      for (const stage of stages) metrics.stageDuration.observe({ stage }, stageSeconds[stage]);
    },
    engineMemory({ tensors, wasmHeapBytes }) {
      metrics.engineTensors.set(tensors);
      if (wasmHeapBytes !== undefined) metrics.wasmMemory.set(wasmHeapBytes);
    },
    job: (outcome) => metrics.jobs.inc({ outcome }),
    storage,
  };
}
