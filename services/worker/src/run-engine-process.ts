import { ConfigError, type WorkerConfig, configErrorExitCode, exitOnConfigError } from '@gradcam/config';
import { announceReady, exitWithSupervisor, reportNotReady } from '@gradcam/process-supervisor';
import { createBlobStore, storageNotReadyReason } from '@gradcam/storage';
import { createLogger, createRegistry, reportMetricsToParent, workerProcessLabel } from '@gradcam/telemetry';
import { type EngineCall, engineCallOverdueExitCode, overdueEngineCallMessage } from './engine-call-deadline.ts';
import { engineShutdown } from './engine-shutdown.ts';
import { memoryCeilingExitCode, memoryCeilingMessage, watchMemoryCeiling } from './memory-ceiling.ts';
import { failsEveryStart } from './start-failure.ts';
import { createWorkerTelemetry } from './worker-telemetry.ts';
import { type RunningWorker, startWorkerProcess } from './worker-process.ts';

/**
 * Engine process `index`, forked by the replica's supervisor: loads the models and consumes the
 * queue until SIGTERM. It listens on no port: it reports its metrics and its readiness (then a
 * heartbeat) to the supervisor over the IPC channel, and the supervisor serves the replica's one
 * status server.
 */
export async function runEngineProcess(config: WorkerConfig, index: number): Promise<void> {
  const name = `gradcam-worker-${process.pid}`;
  const log = createLogger({ name: `worker-${index}`, level: config.logLevel });
  // The `worker` label keeps this process's series apart in the supervisor's sum.
  const registry = createRegistry({ defaultMetrics: true, defaultLabels: { [workerProcessLabel]: String(index) } });
  reportMetricsToParent(registry);
  const store = createBlobStore(config.storage, { onWarning: (message) => log.warn(message) });
  let worker: RunningWorker | undefined;
  /** Drains and exits `exitCode` (0 for a stop that was asked for; see engineShutdown). */
  const shutdown = engineShutdown({
    timeoutMs: config.shutdownTimeoutMs,
    drain: async () => {
      await worker?.close();
      await store.close();
    },
    exit: (code) => process.exit(code),
    log: { info: (m) => log.info(m), error: (m) => log.error(m) },
    beforeOverdueExit: () => worker?.flushLogs(),
  });
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
  // Should the supervisor die (even by SIGKILL), stop too rather than run on under init, taking
  // jobs nobody supervises and holding the output pipes of whoever ran it. This replaces
  // main.ts's exit-at-once watch: from here on there may be a batch to finish.
  exitWithSupervisor(() => void shutdown('supervisor gone'));
  // A hung engine call holds the engine lock for ever, so no batch could finish and a draining
  // shutdown would only wait for its deadline: exit at once. The jobs of every batch this process
  // holds then come back as stalled (suspects, each run alone), and the supervisor starts a fresh
  // process with a fresh GPU context.
  const onEngineCallOverdue = (call: EngineCall) => {
    log.fatal({ images: call.images, model: call.model, methods: call.methods, timeoutSeconds: config.engineCallTimeoutMs / 1000 }, overdueEngineCallMessage(call, config.engineCallTimeoutMs));
    worker?.flushLogs();
    process.exit(engineCallOverdueExitCode);
  };
  const notReady = notReadyReasons();
  try {
    worker = await startWorkerProcess({
      config,
      store,
      telemetry: createWorkerTelemetry(registry),
      log: { info: (m) => log.info(m), warn: (m) => log.warn(m), error: (m) => log.error(m) },
      name,
      onEngineCallOverdue,
      // The supervisor's /readyz names storage or Redis while it is out (this process is then not
      // ready); a report sent while starting holds from the announcement on.
      onStorageChange: (outage) => notReady.set('storage', outage === undefined ? undefined : storageNotReadyReason(outage)),
      onRedisChange: (available) => notReady.set('redis', available ? undefined : 'redis: unavailable'),
    });
    // A channel closed by now (its 'disconnect' event perhaps not yet emitted) is a supervisor
    // gone while the models loaded: drain instead of announcing to nobody.
    if (!announceReady()) return void shutdown('supervisor gone');
    // The resident memory warmed up: what GRADCAM_ENGINE_MAX_RSS_MB must leave room above.
    const residentMb = Math.round(process.memoryUsage.rss() / (1024 * 1024));
    log.info(`worker ${index} ready: batches of up to ${config.batchSize}, ${config.batchWaitMs} ms wait, ${worker.backend} backend, ${residentMb} MB resident`);
    // Past its ceiling the process drains like a stopping one and exits for a fresh one: its
    // memory would never come back down (see engineMaxRssBytes).
    watchMemoryCeiling(config.engineMaxRssBytes, (rssBytes) => {
      log.warn(memoryCeilingMessage(rssBytes, config.engineMaxRssBytes));
      void shutdown('memory ceiling', memoryCeilingExitCode);
    });
  } catch (error) {
    // REDIS_URL a Redis Cluster node: the one line of a configuration error, and the supervisor gives up.
    if (error instanceof ConfigError) exitOnConfigError('worker', error);
    log.fatal({ err: error }, 'worker failed to start');
    process.exit(failsEveryStart(error) ? configErrorExitCode : 1);
  }
}

/** What keeps this process from taking jobs, per dependency, told to the supervisor as one reason on each change. */
function notReadyReasons(): { set(dependency: 'storage' | 'redis', reason: string | undefined): void } {
  const reasons = new Map<string, string>();
  return {
    set(dependency, reason) {
      if (reasons.get(dependency) === reason) return;
      if (reason === undefined) reasons.delete(dependency);
      else reasons.set(dependency, reason);
      reportNotReady(reasons.size === 0 ? undefined : [...reasons.values()].join('; '));
    },
  };
}
