import { loadConfigOrExit, readIngestConfig } from '@gradcam/config';
import { closeConnection, createExplainQueue, createProducerConnection } from '@gradcam/queue';
import { createBlobStore } from '@gradcam/storage';
import { createLogger, createRegistry } from '@gradcam/telemetry';
import { createIngestApp } from './wire-ingest.ts';

// Composition root: config → clients → app → listen; SIGTERM drains and closes.
const config = loadConfigOrExit(readIngestConfig, 'ingest');
const log = createLogger({ name: 'ingest', level: config.logLevel });
const onError = (error: Error) => log.warn({ err: error }, 'redis connection error');
const redis = createProducerConnection(config.redisUrl, { onError, name: 'gradcam-ingest' });
const queue = createExplainQueue({ connection: redis, prefix: config.queuePrefix, onError });
const store = createBlobStore(config.storage);

const app = await createIngestApp({
  redis,
  queue,
  store,
  registry: createRegistry({ defaultMetrics: true }),
  queuePrefix: config.queuePrefix,
  storagePrefix: config.storage.prefix,
  bucket: config.storage.kind === 's3' ? config.storage.bucket : 'local',
  policy: config.capturePolicy,
  apiTokens: config.apiTokens,
  maxBodyBytes: config.maxBodyBytes,
  maxQueueDepth: config.maxQueueDepth,
  presignSeconds: config.presignSeconds,
  ...(config.storage.kind === 'local' && { signingSecret: config.storage.signingSecret }),
});
await app.listen({ port: config.port, host: config.host });
log.info(`ingest listening on http://${config.host}:${config.port} (storage: ${config.storage.kind}, capture: ${config.capturePolicy.text})`);

let stopping = false;
const shutdown = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  log.info(`${signal}: draining requests`);
  await app.close();
  await queue.close();
  await closeConnection(redis);
  await store.close();
  process.exit(0);
};
process.once('SIGTERM', () => void shutdown('SIGTERM'));
process.once('SIGINT', () => void shutdown('SIGINT'));
