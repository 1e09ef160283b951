import type { Readable } from 'node:stream';
import type { PresignOptions } from './served-content-type.ts';

export interface PutOptions {
  readonly contentType: string;
  /**
   * Bytes in the body. For a stream it is a promise the stream must keep: one that ends short or
   * runs long fails with STORAGE_LENGTH_MISMATCH and nothing is stored.
   */
  readonly contentLength?: number | undefined;
}

export interface GetOptions {
  /**
   * Refuse (STORAGE_TOO_LARGE) an object larger than this instead of reading it into memory. A
   * number from 0 up (Infinity: no limit); NaN or a negative one is a RangeError, not "no limit".
   */
  readonly maxBytes?: number | undefined;
  /**
   * The `etag` a `head` gave: an object that has another one now (replaced since) is not read but
   * refused with STORAGE_CHANGED, so a caller never takes other bytes for the ones it looked at.
   */
  readonly ifMatch?: string | undefined;
}

/** `maxBytes` must be a limit: NaN compares false with everything, so it would read anything. */
export function assertMaxBytes(maxBytes: number | undefined): void {
  if (maxBytes === undefined) return;
  if (typeof maxBytes !== 'number' || Number.isNaN(maxBytes) || maxBytes < 0) {
    throw new RangeError(`maxBytes must be a number from 0 up (or undefined for no limit), got ${String(maxBytes)}`);
  }
}

export interface BlobHead {
  readonly bytes: number;
  readonly contentType: string;
  /**
   * What tells this version of the object from any other written under its key (S3's ETag; the
   * filesystem store's sha256 and size of the contents, so a copy of its folder or the same bytes
   * put again keep it): opaque, compared whole, changed by a put of other bytes. Absent when the
   * store gives none.
   */
  readonly etag?: string | undefined;
}

/**
 * Blobs by key: what the ingest service and the workers need from S3, and no more. Keys are
 * S3-style relative paths ('a/b/c.json'); every method validates them (STORAGE_INVALID_KEY).
 * Every failure is a `StorageError`. A `put` is all-or-nothing: a reader sees the previous
 * object or the new one, never part of one, so "explanation.json exists" means "complete".
 */
export interface BlobStore {
  /**
   * How many operations are worth having in flight at once; more only wait inside the store.
   * Callers with many objects to move keep about this many going.
   */
  readonly parallelism: number;
  put(key: string, body: Uint8Array | Readable, options: PutOptions): Promise<void>;
  /** The whole object; STORAGE_NOT_FOUND when there is none. */
  get(key: string, options?: GetOptions): Promise<Buffer>;
  /** Size and content type, or undefined when there is no object. */
  head(key: string): Promise<BlobHead | undefined>;
  exists(key: string): Promise<boolean>;
  /**
   * Every key starting with `prefix`, each once, fetched page by page. S3 and the filesystem
   * store give lexicographic (UTF-8 byte) order; s3rver puts 'a/…' before 'a.json'.
   */
  list(prefix: string): AsyncIterable<string>;
  /** Removes the object; removing one that is not there is not an error (as in S3). */
  delete(key: string): Promise<void>;
  /**
   * A URL anyone holding it can GET the object from until it expires. With `options` its answer
   * says that Content-Type and Content-Disposition whatever the object was stored with (signed
   * into the URL: changed, it is refused); without, the stored type (S3) or the key's extension's
   * (the filesystem store, allow-listed).
   */
  presignGet(key: string, expiresInSeconds: number, options?: PresignOptions): Promise<string>;
  /** Releases connections; safe to call twice. Any later call fails with STORAGE_UNAVAILABLE. */
  close(): Promise<void>;
}

/** `list` collected into an array, for callers that know the listing is small. */
export async function listAll(store: BlobStore, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const key of store.list(prefix)) keys.push(key);
  return keys;
}

/** S3 refuses presigned URLs valid for longer than 7 days; the filesystem store follows suit. */
export const maxPresignSeconds = 7 * 24 * 3600;

/**
 * When links presigned from now on for `expiresInSeconds` stop working, at the earliest: both
 * stores sign from the current second (S3's X-Amz-Date, the local store's `expires`), so taken
 * before the signing it is never later than any of them. Temporary S3 credentials (an instance
 * profile, IRSA, AWS_SESSION_TOKEN) can end a link sooner, when they expire.
 */
export function presignedUntil(expiresInSeconds: number, now = Date.now()): Date {
  return new Date((Math.floor(now / 1000) + expiresInSeconds) * 1000);
}

export function assertPresignExpiry(expiresInSeconds: number): void {
  if (!Number.isInteger(expiresInSeconds) || expiresInSeconds < 1 || expiresInSeconds > maxPresignSeconds) {
    throw new RangeError(`expiresInSeconds must be an integer from 1 to ${maxPresignSeconds}, got ${expiresInSeconds}`);
  }
}
