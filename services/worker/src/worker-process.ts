import { type WorkerConfig, exitOnConfigError } from '@gradcam/config';
import type { ExplainJobResult } from '@gradcam/contracts';
import {
  type BatchJob,
  type BatchingWorker,
  DeferJobError,
  closeConnections,
  createBatchingWorker,
  createWorkerConnection,
  explainJob,
  maxFailedJobsKept,
  refuseClusterNode,
  trimFailedJobs,
} from '@gradcam/queue';
import { type BlobStore, storageProblemLine } from '@gradcam/storage';
import type { ExplainJob } from '@gradcam/contracts';
import { engineMemory } from '@gradcam/engine';
import { createOverlayRenderer } from '@gradcam/imaging';
import { ReviewPool } from '@gradcam/review-pool';
import { createThrottledErrorLog } from '@gradcam/telemetry';
import { createBatchFiguresPublisher } from './batch-figures-publisher.ts';
import { type EngineCall, createEngineCallDeadline } from './engine-call-deadline.ts';
import { createEngineLock } from './engine-lock.ts';
import { explainBatch } from './explain-batch.ts';
import { acceptedIds } from './accepted-ids.ts';
import { createJobOutcomeLog } from './job-outcome-log.ts';
import { checkMemoryCeilingAtStart } from './memory-ceiling.ts';
import { beatModelWeights, weightsConflictMessage } from './model-weights-beat.ts';
import { createReviewSampler } from './review-sampler.ts';
import { announceServedModels, heartbeatServedModels, isModelVersionLive, setUpEngine } from './served-models.ts';
import { type StorageOutage, StorageWatch, handBackStorageFailures, probeStorage } from './storage-watch.ts';
import type { WorkerTelemetry } from './worker-telemetry.ts';

export interface WorkerProcessDeps {
  readonly config: WorkerConfig;
  readonly store: BlobStore;
  readonly telemetry: WorkerTelemetry;
  readonly log: { info(message: string): void; warn(message: string): void; error(message: string): void };
  /** Distinguishes this process's jobs and connections (`CLIENT LIST`, job.processedBy). */
  readonly name: string;
  /**
   * An engine call still unsettled after `config.engineCallTimeoutMs`: the engine process logs it
   * and exits, leaving the call's jobs neither completed nor failed (see createEngineCallDeadline).
   */
  readonly onEngineCallOverdue: (call: EngineCall) => void;
  /**
   * Storage went out (the outage) or answers again (undefined); first called, when storage is out
   * at the start, before startWorkerProcess resolves. The engine process tells its supervisor, whose
   * /readyz then names storage.
   */
  readonly onStorageChange?: (outage: StorageOutage | undefined) => void;
  /** Redis stopped answering (false: its connection closed) or answers again (true); told on a change only. */
  readonly onRedisChange?: (available: boolean) => void;
  /** While storage is out, how often it is probed again; also how long a job handed back for it waits (default 5 s). */
  readonly storageProbeEveryMs?: number;
}

export interface RunningWorker {
  readonly backend: string;
  readonly served: ReadonlyMap<string, string>;
  /** Stop fetching, finish and store the current batch, close connections. Safe twice. */
  close(): Promise<void>;
  /** Before a hard exit (a shutdown past its deadline, a hung engine call): tells the log what its summary lines still hold. */
  flushLogs(): void;
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
  telemetry.engineMemory(engineMemory());
  // Before the first job: a ceiling this process is over already would drain it at once, for ever.
  const tightCeiling = checkMemoryCeilingAtStart(config.engineMaxRssBytes, process.memoryUsage.rss());
  if (tightCeiling !== undefined) log.warn(tightCeiling);
  for (const [model, version] of engine.served) {
    telemetry.backend(engine.backend, model);
    log.info(`serving ${model}@${version} on the ${engine.backend} backend${engine.device === undefined ? '' : ` (${engine.device})`}`);
  }
  // Connection and queue errors come by the hundred in an outage (each reconnect of each
  // connection, a lost lock per job held): the first of a kind at once, then a count a minute.
  const errors = createThrottledErrorLog((message) => log.error(message));
  const onError = (error: Error) => errors.report(error);
  // A Redis Cluster node met on a reconnect: one line naming REDIS_URL, exit 78.
  const connection = createWorkerConnection(config.redisUrl, { onError, name: deps.name, onClusterNode: (error) => exitOnConfigError('worker', error) });
  // Told on a change only: the connection's first 'ready' is no news, a reconnect's is.
  let redisAvailable = true;
  const redisChanged = (available: boolean) => {
    if (available === redisAvailable) return;
    redisAvailable = available;
    deps.onRedisChange?.(available);
  };
  connection.on('close', () => redisChanged(false));
  connection.on('ready', () => redisChanged(true));
  // The worker connection queues commands until Redis answers, so a worker started before
  // Redis waits for it instead of failing. A Redis Cluster node is refused (a ConfigError naming
  // REDIS_URL) before any key is touched: its MOVED or CLUSTERDOWN would otherwise come first.
  const skipped = await refuseClusterNode(connection, config.redisUrl);
  if (skipped !== undefined) log.info(`REDIS_URL not checked for Redis Cluster: ${skipped}`);
  await announceServedModels(connection, config.queuePrefix, engine.served);
  const heartbeat = heartbeatServedModels(connection, config.queuePrefix, engine.served, onError);
  // Which weights stand behind each version: another live worker's other weights under one of this
  // worker's versions is logged (an error, once), and the worker serves on.
  const servedWeights = [...engine.served].flatMap(([model, version]) => {
    const weightsSha256 = engine.models.get(model)?.explainer.model.weightsSha256;
    return weightsSha256 === undefined ? [] : [{ model, version, weightsSha256 }];
  });
  const weightsBeat = beatModelWeights(connection, config.queuePrefix, servedWeights, { onConflict: (conflict) => log.error(weightsConflictMessage(conflict)), onError });
  const servedElsewhere = isModelVersionLive(connection, config.queuePrefix);
  const engineLock = createEngineLock();
  const engineCallDeadline = createEngineCallDeadline(config.engineCallTimeoutMs, deps.onEngineCallOverdue);
  const overlays = createOverlayRenderer(config.renderThreads);
  log.info(`overlays rendered ${overlays.threads === 0 ? 'on the main thread' : `on ${overlays.threads} worker thread(s)`}`);
  const figures = createBatchFiguresPublisher(connection, config.queuePrefix, onError);
  const review = createReviewSampler({ policy: config.reviewPolicy, redis: connection, prefix: config.queuePrefix, pool: new ReviewPool(connection, config.queuePrefix) });
  const accepted = acceptedIds(connection, config.queuePrefix);

  // Storage is probed before the first job is taken, and again whenever a job fails on storage.
  // While it is out the worker takes no job (a job would only fail), hands back those it holds
  // that have not started, and hands back the jobs of running batches that fail on it, none of
  // them counting an attempt; it probes every storageProbeEveryMs and fetches again once storage
  // answers. So an outage of any length fails no job, and BullMQ's attempts are left for faults
  // of the job's own (which the probe, answering, tells apart).
  const probeEveryMs = deps.storageProbeEveryMs ?? 5_000;
  let worker: BatchingWorker | undefined;
  const storage = new StorageWatch({
    probe: () => probeStorage(deps.store, config.storage.prefix),
    // One line naming the setting to fix, as npm start's check says it: a deployment without
    // npm start (compose, Kubernetes) is told which variable is wrong, not only the SDK's error.
    describe: (error) => storageProblemLine(config.storage, error),
    probeEveryMs,
    onChange: (outage, before) => {
      if (outage === undefined) {
        const outFor = before === undefined ? 0 : (performance.now() - before.since) / 1000;
        log.info(`storage answers again after ${outFor.toFixed(0)} s out: taking jobs again`);
        worker?.resume();
      } else {
        log.error(`storage cannot be used (${outage.code}: ${outage.message}): taking no jobs, and handing back the jobs held, without counting an attempt, until it answers; probing it every ${probeEveryMs / 1000} s`);
        worker?.pause(new DeferJobError(outage.code, `handed back: storage cannot be used (${outage.code})`, probeEveryMs));
      }
      telemetry.storage(outage?.code);
      deps.onStorageChange?.(outage);
    },
    onStillOut: (outage) => log.error(`storage still cannot be used after ${((performance.now() - outage.since) / 1000).toFixed(0)} s (${outage.code}: ${outage.message}); jobs wait in the queue`),
  });
  await storage.check();
  const outcomes = createJobOutcomeLog(log);

  // Before consuming: BullMQ would otherwise trim the failed jobs beyond the kept count in one call
  // at the first failure, blocking Redis for seconds. Not fatal: BullMQ's trim remains.
  try {
    const trimmed = await trimFailedJobs({ job: explainJob, connection, prefix: config.queuePrefix });
    if (trimmed > 0) log.info(`trimmed ${trimmed} failed jobs beyond the ${maxFailedJobsKept} kept, in chunks`);
  } catch (error) {
    log.error(`could not trim the failed jobs (the first failure recorded will, at once): ${error instanceof Error ? error.message : String(error)}`);
  }
  worker = createBatchingWorker<ExplainJob, ExplainJobResult>({
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
    // Read when it is created: storage may have come back while Redis was trimmed.
    paused: storage.outage !== undefined,
    onError,
    processBatch: async (jobs: readonly BatchJob<ExplainJob>[]) => {
      const context = { store: deps.store, models: engine.models, backend: engine.backend, ...(engine.backendDetails === undefined ? {} : { backendDetails: engine.backendDetails }), engineLock, engineCallDeadline, review, acceptedIds: accepted, servedElsewhere, renderOverlay: overlays.render, overlayMaxSide: config.overlayMaxSide, maxBatchPixels: config.maxBatchPixels };
      const report = await explainBatch(context, jobs.map((j) => j.data), jobs.map((j) => j.rerun));
      // Every batch's figures, also when no job completed (job results carry none then).
      telemetry.batch(report);
      telemetry.engineMemory(engineMemory());
      await figures.publish({ engineCalls: report.engineCalls, stageSeconds: report.stageSeconds });
      return handBackStorageFailures(storage, report.outcomes, probeEveryMs);
    },
    hooks: {
      onJobFinished: (event) => {
        telemetry.job(event.outcome);
        outcomes.record(event);
      },
    },
  });
  const running = worker;
  await worker.waitUntilReady();
  let closing: Promise<void> | undefined;
  return {
    backend: engine.backend,
    served: engine.served,
    close: () =>
      (closing ??= (async () => {
        storage.close();
        await running.close();
        outcomes.close();
        heartbeat.stop();
        weightsBeat.stop();
        await overlays.close();
        review.close();
        await figures.close();
        await closeConnections(connection);
        errors.close();
      })()),
    flushLogs: () => {
      outcomes.close();
      errors.close();
    },
  };
}
