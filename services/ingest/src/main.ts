import cluster from 'node:cluster';
import { exitOnConfigError, loadConfigOrExit, readIngestConfig } from '@gradcam/config';
import { createProducerConnection } from '@gradcam/queue';
import { ProcessSupervisor, forkClusterProcess } from '@gradcam/process-supervisor';
import { ChildProcessMetrics, createLogger } from '@gradcam/telemetry';
import { listeningLine, serveIngest } from './serve-ingest.ts';

// Composition root. With GRADCAM_INGEST_PROCESSES > 1 this process only supervises: the cluster
// workers it forks run the HTTP service on one shared port, and it aggregates their metrics.
const config = loadConfigOrExit(readIngestConfig, 'ingest');

if (config.processes > 1 && cluster.isPrimary) {
  const log = createLogger({ name: 'ingest-supervisor', level: config.logLevel });
  // A worker's /metrics asks this process for the sum of every worker's (clusterScrape).
  const metrics = new ChildProcessMetrics();
  const supervisor = new ProcessSupervisor({
    processes: config.processes,
    label: 'ingest process',
    log,
    spawn: () => metrics.track(forkClusterProcess()),
  });
  supervisor.start();
  // Each process refuses a Redis Cluster node (exit 78) and would be restarted for ever: the
  // primary asks too, and stops them all. Redis trouble is the processes' to log.
  createProducerConnection(config.redisUrl, {
    onError: () => {},
    name: 'gradcam-ingest-supervisor',
    onClusterNode: (error) => void supervisor.stop('SIGTERM').then(() => exitOnConfigError('ingest', error)),
  });
  let listening = 0;
  cluster.on('listening', () => {
    if (++listening !== config.processes) return;
    log.info(listeningLine(config, config.processes));
  });
  supervisor.stopOnSignals();
} else {
  const log = createLogger({ name: cluster.isWorker ? `ingest-${cluster.worker?.id ?? 0}` : 'ingest', level: config.logLevel });
  await serveIngest(config, log);
}
