import { loadConfigOrExit, readExporterConfig } from '@gradcam/config';
import { type BatchFigures, batchFiguresEvent, explainQueueName } from '@gradcam/contracts';
import { closeConnections, createExplainQueue, createProducerConnection, createWorkerConnection } from '@gradcam/queue';
import { createLogger, createMetrics, createRegistry, pipelineMetrics } from '@gradcam/telemetry';
import { ReviewPool } from '@gradcam/review-pool';
import { QueueEvents, type QueueEventsListener } from 'bullmq';
import { createApp } from './app.ts';
import { PipelineRecorder } from './pipeline-recorder.ts';
import { createQueueStateCollector } from './queue-state-collector.ts';

// Composition root: the pipeline-wide view, from Redis alone.
const config = loadConfigOrExit(readExporterConfig, 'metrics-exporter');
const log = createLogger({ name: 'metrics-exporter', level: config.logLevel });
const onError = (error: Error) => log.warn({ err: error }, 'redis connection error');
const redis = createProducerConnection(config.redisUrl, { onError, name: 'gradcam-exporter' });
// QueueEvents blocks on XREAD, so it needs a connection that waits out reconnects.
const eventsConnection = createWorkerConnection(config.redisUrl, { onError, name: 'gradcam-exporter-events' });
const queue = createExplainQueue({ connection: redis, prefix: config.queuePrefix, onError });
const registry = createRegistry({ defaultMetrics: true });
const metrics = createMetrics(registry, pipelineMetrics);
const recorder = new PipelineRecorder(metrics);

const events = new QueueEvents(explainQueueName, { connection: eventsConnection, prefix: config.queuePrefix });
events.on('error', onError);
events.on('completed', ({ returnvalue }) => {
  if (!recorder.completed(returnvalue)) log.warn('a completed job returned no result the exporter understands');
});
// A custom event (published by workers after each micro-batch): QueueEvents emits it by name.
events.on<QueueEventsListener & Record<typeof batchFiguresEvent, (event: unknown) => void>>(batchFiguresEvent, (event: unknown) => {
  if (!recorder.batch(event)) log.warn('a worker published batch figures the exporter does not understand');
});
events.on('failed', ({ jobId, failedReason }) => {
  // The job's data is whatever was enqueued (recorder.failed parses it); and nothing here may
  // reject unhandled, which would end the exporter and blind every pipeline alert.
  void queue
    .getJob(jobId)
    .then(
      (job): unknown => job?.data,
      (error: unknown) => void log.warn({ err: error, jobId }, 'could not read a failed job; counted without its explanations'),
    )
    .then((data) => recorder.failed(failedReason, data))
    .catch((error: unknown) => log.error({ err: error, jobId }, 'could not count a failed job'));
});

const app = createApp({
  registry,
  collect: createQueueStateCollector({
    queue,
    redis,
    prefix: config.queuePrefix,
    policy: config.capturePolicy,
    metrics,
    reviews: new ReviewPool(redis, config.queuePrefix),
    onSourceError: (source, error) => log.warn({ err: error, source }, `could not read ${source} for this scrape; its metrics are left out`),
  }),
  onCollectError: (error) => log.warn({ err: error }, 'could not read the queue state'),
});
await app.listen({ port: config.port, host: config.host });
log.info(`metrics exporter on http://${config.host}:${config.port}/metrics`);

/**
 * The exporter holds no work to finish, but QueueEvents.close() waits for its blocking connection,
 * which with Redis gone never comes back: past this deadline it exits anyway, rather than keep
 * `gradcam up` (or a rollout) waiting for ever.
 */
const shutdownDeadlineMs = 5_000;
let stopping = false;
const shutdown = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  setTimeout(() => {
    log.warn(`${signal}: Redis connections not closed after ${shutdownDeadlineMs} ms (Redis gone?); exiting`);
    process.exit(1);
  }, shutdownDeadlineMs).unref();
  await app.close();
  await events.close();
  await queue.close();
  await closeConnections(redis, eventsConnection);
  process.exit(0);
};
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
