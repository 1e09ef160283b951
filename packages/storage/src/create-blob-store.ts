import type { StorageConfig } from '@gradcam/config';
import type { BlobStore } from './blob-store.ts';
import { FsBlobStore } from './fs-blob-store.ts';
import { S3BlobStore } from './s3-blob-store.ts';

/** The store a deployment configured: S3 when a bucket is set, else the embedded local one. */
export function createBlobStore(config: StorageConfig): FsBlobStore | S3BlobStore {
  if (config.kind === 's3') {
    return new S3BlobStore({
      bucket: config.bucket,
      region: config.region,
      endpoint: config.endpoint,
      accessKeyId: config.accessKeyId,
      secretAccessKey: config.secretAccessKey,
      forcePathStyle: config.forcePathStyle,
    });
  }
  return new FsBlobStore({ rootDir: config.dir, publicBaseUrl: config.publicBaseUrl, signingSecret: config.signingSecret, fsync: config.fsync });
}

export type { BlobStore };
