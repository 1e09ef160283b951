import { exitOnConfigError, loadConfigOrExit, readReviewConfig } from '@gradcam/config';
import { checkDependency, logServerErrors } from '@gradcam/http-service';
import { closeConnection, createProducerConnection } from '@gradcam/queue';
import { ReviewPool } from '@gradcam/review-pool';
import { createBlobStore, interactiveS3Timeouts, notReadyLine, readinessProbe, storageAtStart, storageNotReadyReason, storageUnusableLine } from '@gradcam/storage';
import { createLogger, createRegistry, createThrottledErrorLog, tellWhenAnsweringAgain } from '@gradcam/telemetry';
import { createApp } from './app.ts';
import { ReviewDesk } from './review-desk.ts';
import { createReviewTelemetry } from './review-telemetry.ts';

// Composition root: config → clients → app → listen; SIGTERM closes.
const config = loadConfigOrExit(readReviewConfig, 'review');
const log = createLogger({ name: 'review', level: config.logLevel });
// A Redis outage repeats its errors several times a second (each reconnect): the first of a kind
// at once, then a count a minute while it lasts.
const errors = createThrottledErrorLog((message) => log.warn(`redis connection error: ${message}`));
const redis = createProducerConnection(config.redisUrl, {
  onError: (error) => errors.report(error),
  name: 'gradcam-review',
  // A Redis Cluster node: one line naming REDIS_URL, exit 78.
  onClusterNode: (error) => exitOnConfigError('review', error),
  onClusterCheckSkipped: (reason) => log.info(`REDIS_URL not checked for Redis Cluster: ${reason}`),
});
// Its end, once (the count of what came since is told at the end of its minute).
tellWhenAnsweringAgain(redis, () => log.info('Redis answers again'));
// A reviewer's page and /readyz wait on each storage call: a silent S3 is a 503 in about 2 s, not 15.
const store = createBlobStore(config.storage, { ...interactiveS3Timeouts, onWarning: (message) => log.warn(message) });
const pool = new ReviewPool(redis, config.queuePrefix, {
  retentionMs: config.retentionDays * 24 * 3600 * 1000,
  onInvalidItem: (inferenceId, problem) => log.warn({ inferenceId, problem }, 'review item skipped in a listing: it fails its schema'),
});
// With Redis down a scrape is answered without the pool's models: /readyz and the requests say so.
const telemetry = createReviewTelemetry(createRegistry({ defaultMetrics: true }), { models: () => pool.models() });

const desk = new ReviewDesk({
  pool,
  store,
  leaseMs: config.leaseSeconds * 1000,
  undoMs: config.undoSeconds * 1000,
  presignSeconds: config.presignSeconds,
  onBrokenItem: (item, reason) => log.warn({ inferenceId: item.inferenceId, folder: item.folder, reason }, 'review item set aside as broken: its stored files cannot be shown'),
  onVerdict: (item) => telemetry.verdict(item),
  // review.json keeps the retraction; the log line lets an operator follow undos as they happen.
  onUndo: (reviewed) => log.info({ inferenceId: reviewed.inferenceId, reviewer: reviewed.reviewer, verdict: reviewed.verdict, verdictId: reviewed.verdictId }, 'verdict taken back by its reviewer'),
});
const storageReady = readinessProbe(store, config.storage.prefix);
const app = createApp({
  desk,
  pool,
  reviewers: config.reviewers,
  checkReady: async () => {
    await checkDependency('redis', () => redis.ping());
    // Review writes review.json: the probe is written once a minute, so credentials that may read
    // but not write make it not ready (see readinessProbe; no s3:ListBucket needed).
    // The reason says what is wrong (bucket not found, access denied), as the worker's does.
    await checkDependency('storage', storageReady, storageNotReadyReason);
  },
  // A storage failure names the setting to fix (S3_BUCKET, S3_ENDPOINT, GRADCAM_STORAGE_DIR…).
  onNotReady: (error) => log.warn({ err: error }, notReadyLine(config.storage, error)),
  onResponse: (route, status) => telemetry.request(route, status),
  scrape: () => telemetry.scrape(),
  onServerError: logServerErrors(log),
});
await app.listen({ port: config.port, host: config.host });
log.info(`review service on http://${config.host}:${config.port}/ (${config.reviewers.size} reviewer token${config.reviewers.size === 1 ? '' : 's'}, leases of ${config.leaseSeconds} s)`);
// S3 credentials that may not s3:ListBucket pass /readyz, but AWS then answers 403 for an object
// that is not there: reading an item's review.json before its first verdict is one.
// A store that cannot be used is told at start too, naming the setting to fix: nothing need poll /readyz.
void storageAtStart(store, config.storage.prefix).then((found) => {
  if (!found.usable) {
    log.error(`${storageUnusableLine(config.storage, found.error)}; /readyz answers 503 until it can be`);
    return;
  }
  if (!found.missingKeysRefused) return;
  log.warn(
    'storage answers 403, not 404, for an object that is not there (S3 credentials without s3:ListBucket): ' +
      'no first verdict on an item can be saved (its review.json is read first), and an item with a missing file is answered 500 instead of being set aside as broken; grant s3:ListBucket on the bucket',
  );
});

/**
 * How long SIGTERM waits for the service to close before it exits anyway. Requests under way
 * finish (a verdict is a few Redis and storage calls), but a client still sending its request
 * holds app.close() up to the request timeout (61 s), and one reading an export slowly longer:
 * past this deadline the process exits rather than keep `gradcam up` (or a rollout) waiting.
 */
const shutdownDeadlineMs = 10_000;
const shutdown = async (signal: string) => {
  setTimeout(() => {
    errors.close();
    log.warn(`${signal}: not closed after ${shutdownDeadlineMs} ms (a client still holding a request, or Redis or storage gone?); exiting`);
    process.exit(1);
  }, shutdownDeadlineMs).unref();
  await app.close();
  // Marker clears still waiting for Redis are dropped: their markers time out (60 s) instead.
  pool.close();
  await closeConnection(redis);
  await store.close();
  errors.close();
  process.exit(0);
};
process.once('SIGTERM', () => void shutdown('SIGTERM'));
process.once('SIGINT', () => void shutdown('SIGINT'));
