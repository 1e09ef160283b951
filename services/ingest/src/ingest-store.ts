import type { StorageConfig } from '@gradcam/config';
import { type S3Timeouts, createBlobStore } from '@gradcam/storage';

/**
 * Ingest answers a client that is waiting (with its own timeout): a store that accepts connections
 * but never answers must be a 503 STORAGE_UNAVAILABLE within about 2 s per storage call, not after
 * the S3 store's default 5 s of silence × 3 attempts (15 s; an inline record's two puts would take
 * the client's whole timeout). 1 s of silence is long for S3 on a healthy connection, and the
 * timeout is on silence, not on the whole call, so a large upload that keeps moving is not cut off.
 * Workers keep the defaults: nobody waits on them, and they retry jobs with backoff anyway.
 */
export const ingestS3Timeouts: S3Timeouts = { connectionTimeoutMs: 1_000, socketTimeoutMs: 1_000, maxAttempts: 2 };

/** The configured store, with ingest's timeouts when it is S3; `onWarning` gets the store's warnings. */
export const createIngestStore = (config: StorageConfig, onWarning?: (message: string) => void) =>
  createBlobStore(config, { ...ingestS3Timeouts, ...(onWarning && { onWarning }) });
