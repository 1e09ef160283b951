import { fork } from 'node:child_process';
import { type WorkerConfig, configErrorExitCode } from '@gradcam/config';
import { type ProcessExit, ProcessSupervisor, type RestartReason, restartReasons } from '@gradcam/process-supervisor';
import { ChildProcessMetrics, type Registry, createLogger, createMetrics, createRegistry, workerMetrics, workerProcessLabel } from '@gradcam/telemetry';
import type { FastifyInstance } from 'fastify';
import { listeningOn, startStatusServer } from './status-server.ts';
import { engineCallOverdueExitCode } from './engine-call-deadline.ts';
import { memoryCeilingExitCode } from './memory-ceiling.ts';

/**
 * The engine processes' environment: this process's, with libuv's pool at 16 threads unless the
 * operator chose a size. sharp (decode, model input, overlays) and the filesystem share that pool,
 * 4 threads by default: with batches in flight, uploads would queue behind decoding and
 * rendering. Only a supervisor can size it for its children: libuv reads the variable at the
 * pool's first use, which in an ES-module process comes while its modules load, before main.ts
 * runs (one reason even a single engine process runs under a supervisor).
 */
export function engineEnvironment(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { ...env, UV_THREADPOOL_SIZE: env.UV_THREADPOOL_SIZE ?? '16' };
}

/**
 * Why an engine process was restarted: the supervisor's reasons; a crash that was an engine call
 * past its deadline; and an exit after draining at GRADCAM_ENGINE_MAX_RSS_MB, a planned recycle.
 */
type EngineRestartReason = RestartReason | 'engine_timeout' | 'memory_ceiling';
const engineRestartReasons: readonly EngineRestartReason[] = [...restartReasons, 'engine_timeout', 'memory_ceiling'];
const reasonByExitCode = new Map<number, EngineRestartReason>([
  [engineCallOverdueExitCode, 'engine_timeout'],
  [memoryCeilingExitCode, 'memory_ceiling'],
]);

/**
 * The replica's count of engine-process restarts, in the supervisor's own registry (it outlives the
 * processes it restarts), every reason at 0 from the start: increase() only sees a restart that
 * raises an existing series, so the first one would otherwise go uncounted. An engine process
 * whose engine call overran GRADCAM_ENGINE_TIMEOUT_SECONDS exits with its own code, counted apart
 * (a GPU that hangs, rather than a process that crashed), and so does one that drained at its
 * memory ceiling (a recycle, which alerts only when it comes too often).
 */
function engineRestartCounter(registry: Registry): (reason: RestartReason, exit: ProcessExit) => void {
  const { engineRestarts } = createMetrics(registry, { engineRestarts: workerMetrics.engineRestarts });
  for (const reason of engineRestartReasons) engineRestarts.inc({ reason }, 0);
  return (reason, exit) => engineRestarts.inc({ reason: (reason === 'crashed' && exit.code !== null && reasonByExitCode.get(exit.code)) || reason });
}

/**
 * The supervising process of a replica, however many engine processes it has: forks `script`
 * once per process (the index as its argument), restarts any that die, and serves the replica's
 * one status server on GRADCAM_WORKER_METRICS_PORT. /metrics is the sum of the engine processes'
 * registries, read over the fork IPC channel (each keeps its `worker` label, so their series stay
 * apart; a process that exited stays counted at its last report), and of its own (worker="supervisor":
 * its process metrics, and the engine restarts by reason); /readyz is 200 once every engine
 * process has announced it is ready, until SIGTERM, and 503 with the reason an engine process
 * gives while it cannot take jobs (`storage: unavailable`: see StorageWatch); /healthz is this process alive. It exits
 * when its engine processes are gone: after SIGTERM or SIGINT (1 if any failed to drain; a
 * second signal meanwhile is logged and ignored, see stopOnSignals), or when one keeps failing to
 * start (1).
 */
export async function superviseEngineProcesses(config: WorkerConfig, script: string): Promise<void> {
  const log = createLogger({ name: 'worker-supervisor', level: config.logLevel });
  // Its own process_* and nodejs_* series are in the sum too, as worker="supervisor": its memory
  // and CPU are the replica's as much as the engines' are.
  const own = createRegistry({ defaultMetrics: true, defaultLabels: { [workerProcessLabel]: 'supervisor' } });
  const metrics = new ChildProcessMetrics({ own });
  const countRestart = engineRestartCounter(own);
  const supervisor = new ProcessSupervisor({
    processes: config.processes,
    label: 'worker process',
    log,
    // Each engine process stops itself after shutdownTimeoutMs; this is for one that cannot.
    killAfterMs: config.shutdownTimeoutMs + 10_000,
    // Each engine process announces itself once its models are loaded and it consumes the queue.
    // One that exits before that with the configuration exit code (an unknown model, a bad target
    // layer: see failsEveryStart) ends the replica at once, where its orchestrator sees it; one
    // that keeps exiting before that for another reason (a GPU that fails to start), after 5 tries.
    announcesReady: true,
    givesUpOnStartupExitCode: configErrorExitCode,
    // A ready engine process whose event loop stays blocked (a synchronous native op that never
    // returns) is killed and restarted: its jobs have gone to other workers by then, and it would
    // otherwise live on serving nothing.
    heartbeatTimeoutMs: config.heartbeatTimeoutMs,
    // gradcam_worker_engine_restarts_total: a replica that restarts its engines for ever (a GPU
    // that hangs every call) still looks alive and ready between restarts; this is what alerts.
    onRestart: (_index, reason, exit) => countRestart(reason, exit),
    spawn: (index) => metrics.track(fork(script, [String(index), String(process.pid)], { stdio: 'inherit', env: engineEnvironment() })),
  });
  let server: FastifyInstance;
  try {
    // Before any engine starts: a port in use stops the replica here, not after the models load.
    server = await startStatusServer({
      host: config.host,
      port: config.metricsPort,
      scrape: (waitMs) => metrics.scrape(waitMs),
      notReady: () => {
        const { ready, processes, stopping, notReady } = supervisor.readiness();
        // Stopping: the engine processes drain and take no more jobs.
        if (stopping) return 'stopping';
        // What keeps started engine processes from taking jobs ('storage: unavailable'), each once.
        if (notReady.length > 0) return [...new Set(notReady)].join('; ');
        return ready === processes ? undefined : `${ready} of ${processes} engine processes ready`;
      },
    });
  } catch (error) {
    log.fatal({ err: error }, 'the status server did not start');
    process.exit(1);
  }
  log.info(listeningOn(server));
  supervisor.start();
  // The status server goes with the process: stopOnSignals exits once the engines are gone.
  supervisor.stopOnSignals();
}
