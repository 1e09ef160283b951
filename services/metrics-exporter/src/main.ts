import { type ConfigError, exitOnConfigError, loadConfigOrExit, readExporterConfig } from '@gradcam/config';
import { redisKeys } from '@gradcam/contracts';
import { closeConnections, createExplainQueue, createProducerConnection, createWorkerConnection, explainJob } from '@gradcam/queue';
import { createLogger, createMetrics, createRegistry, createThrottledErrorLog, pipelineMetrics, tellWhenAnsweringAgain } from '@gradcam/telemetry';
import { ReviewPool } from '@gradcam/review-pool';
import { isStorageError, storageUnusableLine } from '@gradcam/storage';
import { createApp } from './app.ts';
import { startEventStream } from './event-stream.ts';
import { keepEventStreamLength, streamLengthCheckMs } from './event-stream-length.ts';
import { ExporterPresence } from './exporter-presence.ts';
import { PipelineRecorder, eventStreamMetricNames } from './pipeline-recorder.ts';
import { createQueueStateCollector } from './queue-state-collector.ts';
import { StorageHealth, createProbedStore } from './storage-health.ts';

// Composition root: the pipeline-wide view, from Redis and a read-only probe of the store.
const config = loadConfigOrExit(readExporterConfig, 'metrics-exporter');
const log = createLogger({ name: 'metrics-exporter', level: config.logLevel });
// A Redis outage repeats its errors many times a second (each reconnect of each connection, each
// source's read at each scrape): the first of a kind at once, then a count a minute while it lasts.
const errors = createThrottledErrorLog((message) => log.warn(message));
const onError = (error: Error) => errors.report(error);
const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));
// A Redis Cluster node: one line naming REDIS_URL, exit 78 (both connections ask, the first ready
// answers; a check the ACL refuses is told by the producer connection only).
const onClusterNode = (error: ConfigError) => exitOnConfigError('metrics-exporter', error);
const onClusterCheckSkipped = (reason: string) => log.info(`REDIS_URL not checked for Redis Cluster: ${reason}`);
const redis = createProducerConnection(config.redisUrl, { onError, name: 'gradcam-exporter', onClusterNode, onClusterCheckSkipped });
// Its end, once (the count of what came since is told at the end of its minute).
tellWhenAnsweringAgain(redis, () => log.info('Redis answers again'));
// QueueEvents blocks on XREAD, so it needs a connection that waits out reconnects.
const eventsConnection = createWorkerConnection(config.redisUrl, { onError, name: 'gradcam-exporter-events', onClusterNode });
const queue = createExplainQueue({ connection: redis, prefix: config.queuePrefix, onError });
const registry = createRegistry({ defaultMetrics: true });
const metrics = createMetrics(registry, pipelineMetrics);
const recorder = new PipelineRecorder(metrics);

// Read from where the previous exporter's last scrape left off (see EventsCursor), not from '$':
// what completes or fails while the exporter restarts is counted too.
const eventStream = startEventStream({ connection: eventsConnection, redis, queue, prefix: config.queuePrefix, recorder, log, onError });
// One exporter per queue: a second counts every event again and moves the same resume cursor.
const presence = new ExporterPresence({
  redis,
  key: redisKeys(config.queuePrefix).exporterInstances,
  onError,
  onChange: (others, all) => {
    if (others.length === 0) return log.info('this is the only metrics exporter on the queue again');
    log.error(
      { others },
      `${all} metrics exporters run on this queue (GRADCAM_QUEUE_PREFIX ${config.queuePrefix}): each counts every event of its stream, so a sum() over them doubles the pipeline counters, and they move one resume cursor, so a restarted one loses what happened while it restarted. Run one per queue`,
    );
  },
});
presence.start();
// The stream must hold a restart's worth of events; anything making a Queue on it may shorten it.
const streamLength = setInterval(
  () =>
    void keepEventStreamLength({
      redis,
      metaKey: queue.toKey('meta'),
      length: explainJob.eventStreamLength,
      onError,
      onRaised: (was) =>
        log.warn(
          `the queue's event stream was set to keep ${was} events (by a BullMQ Queue made without the pipeline's setting, a dashboard or a script, or by the first job added after Redis lost its data); set back to ${explainJob.eventStreamLength}, so that a restart of the exporter counts its whole gap`,
        ),
    }),
  streamLengthCheckMs,
);
streamLength.unref();
const collectQueueState = createQueueStateCollector({
  queue,
  eventStream,
  presence,
  redis,
  prefix: config.queuePrefix,
  policy: config.capturePolicy,
  metrics,
  reviews: new ReviewPool(redis, config.queuePrefix),
  onSourceError: (source, error) => errors.report(new Error(`could not read ${source} for this scrape; its metrics are left out: ${messageOf(error)}`)),
  onModels: (models) => recorder.models(models),
});

// Whether the store the services use can be used (gradcam_storage_up), with no traffic needed: a
// read-only HEAD of their readiness probe at most every 10 s, given up on within the scrape.
const store = createProbedStore(config.storage, (message) => log.warn(message));
const storageHealth = new StorageHealth({
  store,
  prefix: config.storage.prefix,
  metrics,
  onChange: (error) => {
    if (error === undefined) return log.info('storage can be used again');
    // A missing probe names no setting storageProblemLine knows: its own message says what to check.
    log.warn(isStorageError(error, 'STORAGE_NOT_FOUND') ? `storage cannot be used (STORAGE_NOT_FOUND): ${error.message}` : storageUnusableLine(config.storage, error));
  },
});

const app = createApp({
  registry,
  collect: async () => {
    await Promise.all([collectQueueState(), storageHealth.refresh()]);
  },
  onCollectError: (error) => errors.report(new Error(`could not read the queue state: ${messageOf(error)}`)),
  // The registry renders right after: every event counted by now is in this scrape.
  scraping: () => eventStream.scraping(),
  eventCounters: eventStreamMetricNames,
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
    errors.close();
    log.warn(`${signal}: Redis connections not closed after ${shutdownDeadlineMs} ms (Redis gone?); exiting`);
    process.exit(1);
  }, shutdownDeadlineMs).unref();
  clearInterval(streamLength);
  await app.close();
  await eventStream.close();
  await presence.close();
  await queue.close();
  await closeConnections(redis, eventsConnection);
  await store.close();
  errors.close();
  process.exit(0);
};
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
