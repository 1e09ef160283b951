import { fork } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { childEnvironment, loadConfigOrExit, readWorkerConfig, workerMetricsPort } from '@gradcam/config';
import { ProcessSupervisor, exitWithSupervisor } from '@gradcam/process-supervisor';
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
    // Each engine process stops itself after shutdownTimeoutMs; this is for one that cannot.
    killAfterMs: config.shutdownTimeoutMs + 10_000,
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
  // Each engine process has its own port: the first one gets the configured port (with 0, each
  // takes a free one, which the log line below gives).
  const server = await startStatusServer({ host: config.host, port: workerMetricsPort(config.metricsPort, index), registry, ready: () => worker !== undefined });
  const address = server.server.address() as AddressInfo;
  log.info(`status server (/metrics, /healthz, /readyz) on ${address.address}:${address.port}`);
  let stopping = false;
  const shutdown = async (reason: string) => {
    if (stopping) return;
    stopping = true;
    log.info(`${reason}: finishing the current batch`);
    // close() waits for the batch in flight and for Redis, which may be down or never answer.
    // Past the deadline the process exits anyway: a batch still running (Redis gone, storage
    // silent, or a healthy batch longer than a lock) loses its locks one lock duration later at
    // most, and BullMQ's stalled-job check (any worker, this one once restarted included) moves
    // its jobs back to waiting. So exiting loses no accepted job, and the rewrite is idempotent
    // (keys are fixed per inference).
    const deadline = setTimeout(() => {
      log.error(`${reason}: not closed after ${config.shutdownTimeoutMs} ms (Redis or storage not answering?); exiting, unfinished jobs return to the queue when their locks lapse`);
      process.exit(1);
    }, config.shutdownTimeoutMs);
    deadline.unref();
    await worker?.close();
    await store.close();
    await server.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
  // Forked by the supervisor: should it die (even by SIGKILL), stop too rather than run on under
  // init, taking jobs nobody supervises and holding the output pipes of whoever ran it.
  exitWithSupervisor(() => void shutdown('supervisor gone'));
  try {
    worker = await startWorkerProcess({ config, store, telemetry: createWorkerTelemetry(registry), log: { info: (m) => log.info(m), error: (m) => log.error(m) }, name });
    log.info(`worker ${index} ready: batches of up to ${config.batchSize}, ${config.batchWaitMs} ms wait, ${worker.backend} backend`);
  } catch (error) {
    log.fatal({ err: error }, 'worker failed to start');
    process.exit(1);
  }
}
