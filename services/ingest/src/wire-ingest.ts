import { indexEntryTtlSeconds } from '@gradcam/contracts';
import type { CapturePolicy } from '@gradcam/config';
import { type ServerErrorReport, type ServerTimeouts, checkDependency } from '@gradcam/http-service';
import { type ExplainQueue, JobEventsPurger, enqueueExplainJobs, jobStatus, purgeJobsEvents, queueDepth, redisCall, removeStrandedJobs } from '@gradcam/queue';
import { ReviewPool, ReviewPoolError } from '@gradcam/review-pool';
import { type BlobStore, FsBlobStore, readinessProbe, storageNotReadyReason, verifyBlobLink } from '@gradcam/storage';
import type { MetricsResponse, Registry } from '@gradcam/telemetry';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { createApp } from './app.ts';
import type { Erasure } from './erase-inference.ts';
import { InferenceIndex } from './inference-index.ts';
import { createIngestTelemetry } from './ingest-telemetry.ts';
import { servedModels } from './served-models.ts';

export interface IngestWiring {
  readonly redis: Redis;
  readonly queue: ExplainQueue;
  readonly store: BlobStore;
  readonly registry: Registry;
  /** What `/metrics` answers when not this registry alone (see clusterScrape). */
  readonly scrape?: () => Promise<MetricsResponse>;
  readonly queuePrefix: string;
  readonly storagePrefix: string;
  /** The bucket `s3://` references must name (`local` for the filesystem store). */
  readonly bucket: string;
  /** GRADCAM_REFERENCE_PREFIXES: the key prefixes references must start with; none, anywhere in the bucket. */
  readonly referencePrefixes?: readonly string[];
  readonly policy: CapturePolicy;
  readonly apiTokens: readonly string[];
  /** GRADCAM_ERASE_TOKENS (IngestAppDeps.eraseTokens): none, erasure disabled. */
  readonly eraseTokens?: readonly string[];
  readonly maxBodyBytes: number;
  readonly maxQueueDepth: number;
  /** The server's timeouts: serverTimeouts(maxBodyBytes) unless given (tests give short ones). */
  readonly timeouts?: ServerTimeouts;
  readonly presignSeconds: number;
  /** For the filesystem store's presigned URLs, served at /v1/blobs/…. */
  readonly signingSecret?: string;
  /** How long an accepted id is remembered (idempotency and status). */
  readonly indexTtlSeconds?: number;
  readonly servedModelsCacheMs?: number;
  /** Told of every failure answered 5xx, with the request id the answer names: the client sees a fixed line, the logs get the whole error. */
  readonly onServerError?: ServerErrorReport;
  /** Told why /readyz answered 503 (the dependency's whole error): the answer names only the dependency. */
  readonly onNotReady?: (error: unknown) => void;
  /** Told of each inference erased (DELETE /v1/inferences/{id}) and the erase token's fingerprint: main.ts logs one line of it. */
  readonly onErased?: (erasure: Erasure, erasedBy: string) => void;
}

/** Builds the ingest app on its clients: the one wiring used by main.ts and by the tests. */
export function createIngestApp(wiring: IngestWiring): Promise<FastifyInstance> {
  const { redis, queue, store } = wiring;
  const index = new InferenceIndex(redis, wiring.queuePrefix, wiring.indexTtlSeconds ?? indexEntryTtlSeconds);
  const signingSecret = wiring.signingSecret;
  const storageReady = readinessProbe(store, wiring.storagePrefix);
  // Only its remove is used: nothing here begins a verdict, so nothing waits for the connection (no close needed).
  const reviews = new ReviewPool(redis, wiring.queuePrefix);
  const jobState = (id: string) => jobStatus(queue, id);
  // One per app: concurrent erasures (a GDPR batch) share scans of the event stream, one at a time.
  const eventsPurger = new JobEventsPurger((ids) => purgeJobsEvents(queue, ids));
  return createApp({
    accept: {
      store,
      index,
      enqueue: async (jobs) => void (await enqueueExplainJobs(queue, jobs)),
      removeStrandedJobs: (ids) => removeStrandedJobs(queue, ids),
      servedModels: servedModels(redis, wiring.queuePrefix, wiring.servedModelsCacheMs),
      policy: wiring.policy,
      storagePrefix: wiring.storagePrefix,
      references: { bucket: wiring.bucket, prefixes: wiring.referencePrefixes ?? [] },
      ...(wiring.onServerError && { onServerError: wiring.onServerError }),
    },
    status: {
      index,
      jobState,
      readJson: async (key) => JSON.parse((await store.get(key)).toString('utf8')) as unknown,
      exists: (key) => store.exists(key),
      presign: (key, served) => store.presignGet(key, wiring.presignSeconds, served),
      presignSeconds: wiring.presignSeconds,
    },
    erase: {
      index,
      jobState,
      // BullMQ's remove refuses (0) a job a worker holds the lock of: it is being explained.
      removeJob: async (id) => ((await redisCall('could not remove the job', () => queue.remove(id))) === 1 ? 'removed' : 'locked'),
      removeReviewItem: async (id) => {
        try {
          return (await reviews.remove(id)) ? 'removed' : 'absent';
        } catch (error) {
          if (error instanceof ReviewPoolError && error.code === 'REVIEW_VERDICT_IN_PROGRESS') return 'busy';
          throw error;
        }
      },
      purgeJobEvents: (id) => eventsPurger.purge(id),
      store,
      storagePrefix: wiring.storagePrefix,
    },
    onErased: wiring.onErased,
    apiTokens: wiring.apiTokens,
    eraseTokens: wiring.eraseTokens,
    maxBodyBytes: wiring.maxBodyBytes,
    maxQueueDepth: wiring.maxQueueDepth,
    ...(wiring.timeouts && { timeouts: wiring.timeouts }),
    queueDepth: () => queueDepth(queue),
    checkReady: async () => {
      await checkDependency('redis', () => redis.ping());
      // A probe object under the prefix that exists, never a key that does not: without
      // s3:ListBucket, AWS answers HEAD of a missing key with 403, never ready. Written once a
      // minute, so credentials that may read but not write make ingest not ready.
      // The reason says what is wrong (bucket not found, access denied), as the worker's does.
      await checkDependency('storage', storageReady, storageNotReadyReason);
    },
    onNotReady: wiring.onNotReady,
    telemetry: createIngestTelemetry(wiring.registry, wiring.scrape),
    ...(store instanceof FsBlobStore &&
      signingSecret !== undefined && {
        blobs: {
          async read(key: string, query: unknown) {
            const link = verifyBlobLink(key, query, signingSecret);
            if (link === undefined) return undefined;
            return store.readForServing(key, link.served);
          },
        },
      }),
  });
}
