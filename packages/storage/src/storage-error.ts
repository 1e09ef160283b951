/**
 * Stable reasons a storage call fails. Callers branch on these, never on SDK or errno text:
 * NOT_FOUND is an answer ("no such object": not written yet), TOO_LARGE and INVALID_KEY are bad
 * input (fail the job at once), ACCESS_DENIED and BUCKET_NOT_FOUND (S3: the configured bucket
 * does not exist, so no object can be there or be written) are deployment mistakes, never
 * transient, retried like outages by callers that wait for a fix, UNAVAILABLE is the store being
 * down or slow (retry with backoff when `transient`). LENGTH_MISMATCH: a streamed body ended at
 * another length than the `contentLength` promised (a truncated upload must never become an
 * object). CHANGED: a get's `ifMatch` names another version of the object than the one there now
 * (it was replaced since it was looked at).
 */
export type StorageErrorCode =
  | 'STORAGE_NOT_FOUND'
  | 'STORAGE_BUCKET_NOT_FOUND'
  | 'STORAGE_TOO_LARGE'
  | 'STORAGE_INVALID_KEY'
  | 'STORAGE_ACCESS_DENIED'
  | 'STORAGE_UNAVAILABLE'
  | 'STORAGE_LENGTH_MISMATCH'
  | 'STORAGE_CHANGED';

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

/** A get whose `ifMatch` is not the object's ETag now. */
export function changed(key: string, expected: string, found: string): StorageError {
  return new StorageError('STORAGE_CHANGED', `${key} has changed: its ETag is ${found}, not ${expected}`, { key });
}

export function isStorageError(error: unknown, code?: StorageErrorCode): error is StorageError {
  return error instanceof StorageError && (code === undefined || error.code === code);
}
