import { fork } from 'node:child_process';
import { type WorkerConfig, childEnvironment } from '@gradcam/config';
import { ProcessSupervisor } from '@gradcam/process-supervisor';
import { ChildProcessMetrics, createLogger, createRegistry, workerProcessLabel } from '@gradcam/telemetry';
import type { FastifyInstance } from 'fastify';
import { listeningOn, startStatusServer } from './status-server.ts';

/**
 * The supervising process of a replica with several engine processes: forks `script` once per
 * process (the index as its argument), restarts any that die, and serves the replica's one
 * status server on GRADCAM_WORKER_METRICS_PORT. /metrics is the sum of the engine processes'
 * registries, read over the fork IPC channel (each keeps its `worker` label, so their series stay
 * apart; a process that exited stays counted at its last report); /readyz is 200 once every engine
 * process has announced it is ready; /healthz is this process alive.
 */
export async function superviseEngineProcesses(config: WorkerConfig, script: string): Promise<void> {
  const log = createLogger({ name: 'worker-supervisor', level: config.logLevel });
  // Its own process_* and nodejs_* series are in the sum too, as worker="supervisor": its memory
  // and CPU are the replica's as much as the engines' are.
  const metrics = new ChildProcessMetrics({ own: createRegistry({ defaultMetrics: true, defaultLabels: { [workerProcessLabel]: 'supervisor' } }) });
  const supervisor = new ProcessSupervisor({
    processes: config.processes,
    label: 'worker process',
    log: (m) => log.info(m),
    // Each engine process stops itself after shutdownTimeoutMs; this is for one that cannot.
    killAfterMs: config.shutdownTimeoutMs + 10_000,
    // sharp and the filesystem share libuv's pool (4 threads by default): with several batches
    // in flight, uploads would queue behind decoding and rendering.
    spawn: (index) => metrics.track(fork(script, [String(index)], { stdio: 'inherit', env: childEnvironment({ UV_THREADPOOL_SIZE: '16' }) })),
  });
  let server: FastifyInstance;
  try {
    // Before any engine starts: a port in use stops the replica here, not after the models load.
    server = await startStatusServer({
      host: config.host,
      port: config.metricsPort,
      scrape: () => metrics.scrape(),
      notReady: () => {
        const { ready, processes } = supervisor.readiness();
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
