import type { StorageConfig } from '@gradcam/config';
import type { BlobStore } from './blob-store.ts';
import { FsBlobStore } from './fs-blob-store.ts';
import { S3BlobStore, type S3BlobStoreOptions } from './s3-blob-store.ts';

/** How long an S3 store waits before it calls the endpoint unavailable: a service's own choice. */
export type S3Timeouts = Pick<S3BlobStoreOptions, 'maxAttempts' | 'connectionTimeoutMs' | 'socketTimeoutMs'>;

/**
 * For a service answering a client that waits with its own timeout (ingest's producers, review's
 * page, a readiness probe): a store that accepts connections but never answers must be a 503
 * within about 2 s per storage call, not after the defaults' 5 s of silence × 3 attempts (15 s, past
 * a producer's timeout or a Kubernetes probe's). 1 s of silence is long for S3 on a healthy
 * connection, and the timeout is on silence, not on the whole call, so a large transfer that keeps
 * moving is not cut off. Workers keep the defaults: nobody waits on them, and they retry jobs with
 * backoff anyway.
 */
export const interactiveS3Timeouts: S3Timeouts = { connectionTimeoutMs: 1_000, socketTimeoutMs: 1_000, maxAttempts: 2 };

/**
 * The store a deployment configured: S3 when a bucket is set, else the embedded local one.
 * `s3Timeouts` overrides the S3 store's defaults (5 s of silence × 3 attempts), for a service that
 * must answer its own clients sooner (interactiveS3Timeouts); its `onWarning` sends the S3 store's warnings to the
 * service's log instead of `process.emitWarning`.
 */
export function createBlobStore(config: StorageConfig, s3Timeouts: S3Timeouts & Pick<S3BlobStoreOptions, 'onWarning'> = {}): FsBlobStore | S3BlobStore {
  if (config.kind === 's3') {
    return new S3BlobStore({
      ...s3Timeouts,
      bucket: config.bucket,
      region: config.region,
      endpoint: config.endpoint,
      publicEndpoint: config.publicEndpoint,
      accessKeyId: config.accessKeyId,
      secretAccessKey: config.secretAccessKey,
      forcePathStyle: config.forcePathStyle,
    });
  }
  return new FsBlobStore({ rootDir: config.dir, publicBaseUrl: config.publicBaseUrl, signingSecret: config.signingSecret, fsync: config.fsync });
}

export type { BlobStore };
