import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { childEnvironment, loadConfigOrExit, readWorkerConfig } from '@gradcam/config';
import { ProcessSupervisor } from '@gradcam/process-supervisor';
import { createBlobStore } from '@gradcam/storage';
import { createLogger, createRegistry } from '@gradcam/telemetry';
import { startStatusServer } from './status-server.ts';
import { createWorkerTelemetry } from './worker-telemetry.ts';
import { type RunningWorker, startWorkerProcess } from './worker-process.ts';

// Composition root. With GRADCAM_WORKER_PROCESSES > 1 this process only supervises: it forks
// itself once per engine process, passing the process index as the argument.
const config = loadConfigOrExit(readWorkerConfig, 'worker');
const indexArgument = process.argv[2];

if (config.processes > 1 && indexArgument === undefined) {
  const log = createLogger({ name: 'worker-supervisor', level: config.logLevel });
  const script = fileURLToPath(import.meta.url);
  const supervisor = new ProcessSupervisor({
    processes: config.processes,
    label: 'worker process',
    log: (m) => log.info(m),
    // sharp and the filesystem share libuv's pool (4 threads by default): with several batches
    // in flight, uploads would queue behind decoding and rendering.
    spawn: (index) => fork(script, [String(index)], { stdio: 'inherit', env: childEnvironment({ UV_THREADPOOL_SIZE: '16' }) }),
  });
  supervisor.start();
  supervisor.stopOnSignals();
} else {
  const index = Number(indexArgument ?? 0);
  const name = `gradcam-worker-${process.pid}`;
  const log = createLogger({ name: `worker-${index}`, level: config.logLevel });
  const registry = createRegistry({ defaultMetrics: true, defaultLabels: { worker: String(index) } });
  const store = createBlobStore(config.storage);
  let worker: RunningWorker | undefined;
  // Each engine process has its own port: the first one gets the configured port.
  const server = await startStatusServer({ host: config.host, port: config.metricsPort + index, registry, ready: () => worker !== undefined });
  const shutdown = async (signal: string) => {
    log.info(`${signal}: finishing the current batch`);
    await worker?.close();
    await store.close();
    await server.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
  try {
    worker = await startWorkerProcess({ config, store, telemetry: createWorkerTelemetry(registry), log: { info: (m) => log.info(m), error: (m) => log.error(m) }, name });
    log.info(`worker ${index} ready: batches of up to ${config.batchSize}, ${config.batchWaitMs} ms wait, ${worker.backend} backend`);
  } catch (error) {
    log.fatal({ err: error }, 'worker failed to start');
    process.exit(1);
  }
}
