import cluster from 'node:cluster';
import { type IngestConfig, exitOnConfigError } from '@gradcam/config';
import { logServerErrors } from '@gradcam/http-service';
import { closeConnection, createExplainQueue, createProducerConnection } from '@gradcam/queue';
import { type Logger, clusterScrape, createRegistry, createThrottledErrorLog, tellWhenAnsweringAgain } from '@gradcam/telemetry';
import { notReadyLine, storageAtStart, storageUnusableLine } from '@gradcam/storage';
import { createIngestStore } from './ingest-store.ts';
import { createIngestApp } from './wire-ingest.ts';

/** The start-up line, from the one process or the cluster's primary once every worker listens. */
export function listeningLine(config: IngestConfig, processes = 1): string {
  const across = processes > 1 ? ` with ${processes} processes` : '';
  return `ingest listening on http://${config.host}:${config.port}${across} (storage: ${config.storage.kind}, capture: ${config.capturePolicy.text})`;
}

/** Logged at start when storage answers a missing object with 403 (S3 without s3:ListBucket). */
export const missingKeysWarning =
  'storage answers 403, not 404, for an object that is not there (S3 credentials without s3:ListBucket): ' +
  'a record referencing a missing image is answered 500 INTERNAL instead of 422 IMAGE_NOT_FOUND, and the status of an id whose job record expired 500 instead of failed; grant s3:ListBucket on the bucket';

/** One ingest HTTP process: clients → app → listen; SIGTERM drains open requests and closes. */
export async function serveIngest(config: IngestConfig, log: Logger): Promise<void> {
  // A Redis outage repeats its errors many times a second (each reconnect, told by the connection
  // and again by the queue): the first of a kind at once, then a count a minute while it lasts.
  const errors = createThrottledErrorLog((message) => log.warn(`redis connection error: ${message}`));
  const onError = (error: Error) => errors.report(error);
  const redis = createProducerConnection(config.redisUrl, {
    onError,
    name: 'gradcam-ingest',
    // A Redis Cluster node: one line naming REDIS_URL, exit 78.
    onClusterNode: (error) => exitOnConfigError('ingest', error),
    onClusterCheckSkipped: (reason) => log.info(`REDIS_URL not checked for Redis Cluster: ${reason}`),
  });
  // Its end, once (the count of what came since is told at the end of its minute).
  tellWhenAnsweringAgain(redis, () => log.info('Redis answers again'));
  const queue = createExplainQueue({ connection: redis, prefix: config.queuePrefix, onError });
  const store = createIngestStore(config.storage, (message) => log.warn(message));
  const registry = createRegistry({ defaultMetrics: true });

  const app = await createIngestApp({
    redis,
    queue,
    store,
    registry,
    // In a cluster a scrape lands on any one process: it answers for all of them.
    ...(cluster.isWorker && { scrape: clusterScrape(registry) }),
    queuePrefix: config.queuePrefix,
    storagePrefix: config.storage.prefix,
    bucket: config.storage.kind === 's3' ? config.storage.bucket : 'local',
    referencePrefixes: config.referencePrefixes,
    policy: config.capturePolicy,
    apiTokens: config.apiTokens,
    eraseTokens: config.eraseTokens,
    maxBodyBytes: config.maxBodyBytes,
    maxQueueDepth: config.maxQueueDepth,
    presignSeconds: config.presignSeconds,
    ...(config.storage.kind === 'local' && { signingSecret: config.storage.signingSecret }),
    onServerError: logServerErrors(log),
    // A storage failure names the setting to fix (S3_BUCKET, S3_ENDPOINT, GRADCAM_STORAGE_DIR…).
    onNotReady: (error) => log.warn({ err: error }, notReadyLine(config.storage, error)),
    // One line per erasure: the id, how many objects went and which erase token asked (its
    // fingerprint, as in the erasure record: the log alone then answers "who erased it"), never
    // the image, its URI or the token.
    onErased: (erasure, erasedBy) => log.info({ inferenceId: erasure.id, objects: erasure.objects, events: erasure.events, referencedImageKept: erasure.keptReferencedImage !== undefined, erasedBy }, 'inference erased'),
  });
  // A cluster worker's listen() is shared through the primary, which owns the socket.
  await app.listen({ port: config.port, host: config.host });
  if (!cluster.isWorker) {
    log.info(listeningLine(config));
  }
  // Once per deployment start (the first process of a cluster): S3 credentials that may not
  // s3:ListBucket pass /readyz, but AWS then answers 403 for an object that is not there.
  if (!cluster.isWorker || cluster.worker?.id === 1) {
    // A store that cannot be used is told at start too, naming the setting to fix: nothing need poll /readyz.
    void storageAtStart(store, config.storage.prefix).then((found) => {
      if (!found.usable) log.error(`${storageUnusableLine(config.storage, found.error)}; /readyz answers 503 until it can be`);
      else if (found.missingKeysRefused) log.warn(missingKeysWarning);
    });
  }

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info(`${signal}: draining requests`);
    await app.close();
    await queue.close();
    await closeConnection(redis);
    await store.close();
    errors.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
}
