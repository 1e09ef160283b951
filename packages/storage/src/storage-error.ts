/**
 * Stable reasons a storage call fails. Callers branch on these, never on SDK or errno text:
 * NOT_FOUND is an answer ("no such object": not written yet), TOO_LARGE and INVALID_KEY are bad
 * input (fail the job at once), ACCESS_DENIED and BUCKET_NOT_FOUND (S3: the configured bucket
 * does not exist, so no object can be there or be written) are deployment mistakes, never
 * transient, retried like outages by callers that wait for a fix, UNAVAILABLE is the store being
 * down or slow (retry with backoff when `transient`). LENGTH_MISMATCH: a streamed body ended at
 * another length than the `contentLength` promised (a truncated upload must never become an
 * object).
 */
export type StorageErrorCode =
  | 'STORAGE_NOT_FOUND'
  | 'STORAGE_BUCKET_NOT_FOUND'
  | 'STORAGE_TOO_LARGE'
  | 'STORAGE_INVALID_KEY'
  | 'STORAGE_ACCESS_DENIED'
  | 'STORAGE_UNAVAILABLE'
  | 'STORAGE_LENGTH_MISMATCH';

export interface StorageErrorOptions {
  /** Retrying the same call later may succeed (network errors, 5xx, throttling, timeouts). */
  readonly transient?: boolean;
  readonly key?: string | undefined;
  readonly cause?: unknown;
}

/**
 * The only error a `BlobStore` lets out. The SDK or filesystem error is kept as `cause` for logs.
 */
export class StorageError extends Error {
  readonly code: StorageErrorCode;
  readonly transient: boolean;
  readonly key: string | undefined;

  constructor(code: StorageErrorCode, message: string, options: StorageErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'StorageError';
    this.code = code;
    this.transient = options.transient ?? false;
    this.key = options.key;
  }
}

export function isStorageError(error: unknown, code?: StorageErrorCode): error is StorageError {
  return error instanceof StorageError && (code === undefined || error.code === code);
}
