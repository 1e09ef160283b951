import type { StorageConfig } from '@gradcam/config';
import { createBlobStore, interactiveS3Timeouts } from '@gradcam/storage';

/** The configured store, with interactive timeouts when it is S3 (a producer waits on each answer); `onWarning` gets the store's warnings. */
export const createIngestStore = (config: StorageConfig, onWarning?: (message: string) => void) =>
  createBlobStore(config, { ...interactiveS3Timeouts, ...(onWarning && { onWarning }) });
