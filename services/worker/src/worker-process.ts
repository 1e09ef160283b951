import type { WorkerConfig } from '@gradcam/config';
import type { ExplainJobResult } from '@gradcam/contracts';
import { type BatchJob, closeConnections, createBatchingWorker, createWorkerConnection, explainJob, maxFailedJobsKept, trimFailedJobs } from '@gradcam/queue';
import type { BlobStore } from '@gradcam/storage';
import type { ExplainJob } from '@gradcam/contracts';
import { createOverlayRenderer } from '@gradcam/imaging';
import { ReviewPool } from '@gradcam/review-pool';
import { createBatchFiguresPublisher } from './batch-figures-publisher.ts';
import { type EngineCall, createEngineCallDeadline } from './engine-call-deadline.ts';
import { createEngineLock } from './engine-lock.ts';
import { explainBatch } from './explain-batch.ts';
import { acceptedIds } from './accepted-ids.ts';
import { createReviewSampler } from './review-sampler.ts';
import { announceServedModels, heartbeatServedModels, isModelVersionLive, setUpEngine } from './served-models.ts';
import type { WorkerTelemetry } from './worker-telemetry.ts';

export interface WorkerProcessDeps {
  readonly config: WorkerConfig;
  readonly store: BlobStore;
  readonly telemetry: WorkerTelemetry;
  readonly log: { info(message: string): void; error(message: string): void };
  /** Distinguishes this process's jobs and connections (`CLIENT LIST`, job.processedBy). */
  readonly name: string;
  /**
   * An engine call still unsettled after `config.engineCallTimeoutMs`: the engine process logs it
   * and exits, leaving the call's jobs neither completed nor failed (see createEngineCallDeadline).
   */
  readonly onEngineCallOverdue: (call: EngineCall) => void;
}

export interface RunningWorker {
  readonly backend: string;
  readonly served: ReadonlyMap<string, string>;
  /** Stop fetching, finish and store the current batch, close connections. Safe twice. */
  close(): Promise<void>;
}

/**
 * One engine process: loads the models, announces them, then consumes explain jobs in
 * micro-batches until closed.
 */
export async function startWorkerProcess(deps: WorkerProcessDeps): Promise<RunningWorker> {
  const { config, telemetry, log } = deps;
  const engine = await setUpEngine(config.backend, config.models);
  const warmUpStarted = performance.now();
  const warmed = await engine.warmUp(config.batchSize);
  log.info(`warmed up batch sizes ${warmed.join(', ')} in ${((performance.now() - warmUpStarted) / 1000).toFixed(1)} s`);
  for (const [model, version] of engine.served) {
    telemetry.backend(engine.backend, model);
    log.info(`serving ${model}@${version} on the ${engine.backend} backend${engine.device === undefined ? '' : ` (${engine.device})`}`);
  }
  const onError = (error: Error) => log.error(error.message);
  const connection = createWorkerConnection(config.redisUrl, { onError, name: deps.name });
  // The worker connection queues commands until Redis answers, so a worker started before
  // Redis waits for it instead of failing.
  await announceServedModels(connection, config.queuePrefix, engine.served);
  const heartbeat = heartbeatServedModels(connection, config.queuePrefix, engine.served, onError);
  const servedElsewhere = isModelVersionLive(connection, config.queuePrefix);
  const engineLock = createEngineLock();
  const engineCallDeadline = createEngineCallDeadline(config.engineCallTimeoutMs, deps.onEngineCallOverdue);
  const overlays = createOverlayRenderer(config.renderThreads);
  log.info(`overlays rendered ${overlays.threads === 0 ? 'on the main thread' : `on ${overlays.threads} worker thread(s)`}`);
  const figures = createBatchFiguresPublisher(connection, config.queuePrefix, onError);
  const review = createReviewSampler({ policy: config.reviewPolicy, redis: connection, prefix: config.queuePrefix, pool: new ReviewPool(connection, config.queuePrefix) });
  const accepted = acceptedIds(connection, config.queuePrefix);

  // Before consuming: BullMQ would otherwise trim the failed jobs beyond the kept count in one call
  // at the first failure, blocking Redis for seconds. Not fatal: BullMQ's trim remains.
  try {
    const trimmed = await trimFailedJobs({ job: explainJob, connection, prefix: config.queuePrefix });
    if (trimmed > 0) log.info(`trimmed ${trimmed} failed jobs beyond the ${maxFailedJobsKept} kept, in chunks`);
  } catch (error) {
    log.error(`could not trim the failed jobs (the first failure recorded will, at once): ${error instanceof Error ? error.message : String(error)}`);
  }
  const worker = createBatchingWorker<ExplainJob, ExplainJobResult>({
    job: explainJob,
    connection,
    prefix: config.queuePrefix,
    maxBatch: config.batchSize,
    maxWaitMs: config.batchWaitMs,
    // Several batches in flight: while one holds the engine the others decode or upload, so
    // storage latency does not leave the engine idle.
    maxConcurrentBatches: config.batchesInFlight,
    stalledInterval: config.stalledIntervalMs,
    lockDuration: config.lockDurationMs,
    name: deps.name,
    onError,
    processBatch: async (jobs: readonly BatchJob<ExplainJob>[]) => {
      const context = { store: deps.store, models: engine.models, backend: engine.backend, engineLock, engineCallDeadline, review, acceptedIds: accepted, servedElsewhere, renderOverlay: overlays.render, overlayMaxSide: config.overlayMaxSide, maxBatchPixels: config.maxBatchPixels };
      const report = await explainBatch(context, jobs.map((j) => j.data), jobs.map((j) => j.rerun));
      // Every batch's figures, also when no job completed (job results carry none then).
      telemetry.batch(report);
      await figures.publish({ engineCalls: report.engineCalls, stageSeconds: report.stageSeconds });
      return report.outcomes;
    },
    hooks: { onJobFinished: (event) => telemetry.job(event.outcome) },
  });
  await worker.waitUntilReady();
  let closing: Promise<void> | undefined;
  return {
    backend: engine.backend,
    served: engine.served,
    close: () =>
      (closing ??= (async () => {
        await worker.close();
        heartbeat.stop();
        await overlays.close();
        review.close();
        await figures.close();
        await closeConnections(connection);
      })()),
  };
}
