import type { BlobStore } from './blob-store.ts';
import { notAnObjectStoreName, unexplainedRefusal } from './s3-error-mapping.ts';
import { isStorageError, StorageError } from './storage-error.ts';

/**
 * The object readiness probes look at, under the deployment's prefix. The `~` keeps it out of the
 * pipeline's own names (model names are `[A-Za-z0-9_.-]`), so it can never be a model's folder.
 */
export const probeFileName = 'gradcam~readiness-probe.json';

const probeBody = Buffer.from(
  `${JSON.stringify({ purpose: 'gradcam services HEAD this object to check that they can use the store; deleting it is harmless (they write it again)' })}\n`,
);

/** The probe's key under `prefix` (GRADCAM_STORAGE_PREFIX, slashes trimmed; '' for none). */
export function probeKey(prefix = ''): string {
  const trimmed = prefix.replace(/^\/+|\/+$/g, '');
  return trimmed === '' ? probeFileName : `${trimmed}/${probeFileName}`;
}

export interface ProbeStoreOptions {
  /**
   * Write the probe every time, then HEAD it: for a caller whose own writes failed (a worker whose
   * jobs failed storing their explanations). A HEAD of a probe already there passes when only
   * writes fail: credentials without s3:PutObject, a full disk, a read-only mount.
   */
  readonly write?: boolean;
  /**
   * Also ask for evidence that the store is one: GET the probe back and compare its bytes with
   * those written (writing it again once when they differ: an older version's probe), and confirm
   * a missing bucket with a GET, whose answer names it (NoSuchBucket) where a HEAD's has no body.
   * A web server that is not S3 answers 200 to every HEAD and PUT, or a bodiless 404 to every HEAD
   * (HeadBucket included), so without this it passes, or reads as a missing bucket. A PUT or GET
   * answered 401, 403 or 404 with no S3 error in its body (a proxy's or web server's page, or
   * nothing) is not an S3 API's answer either, rather than bad credentials. Fails with
   * STORAGE_UNAVAILABLE whose cause is named 'NotAnObjectStore' (`s3FailureKind`: 'not-s3').
   * One GET more (two when the bucket is missing): for a check a person runs (`npm start`), not
   * for readiness probes.
   */
  readonly readBack?: boolean;
}

/**
 * Resolves when the store can be used: the bucket (or folder) exists and the credentials may read
 * and write under `prefix`. For readiness checks (ingest, review, worker) and `npm start`'s check
 * before it starts anything; rejects with the store's StorageError (BUCKET_NOT_FOUND,
 * ACCESS_DENIED, UNAVAILABLE…), which names what went wrong.
 *
 * It HEADs a probe object that exists, never a key that does not: on AWS a role without
 * s3:ListBucket gets 403, not 404, for a missing key, so "is a missing key missing" fails there
 * for ever. When the probe is not there yet (or the 403 may mean just that), it is written (a few
 * bytes, once per deployment and prefix) and HEADed again, so a role that may write but not read
 * (no s3:GetObject) is found too. Every service that probes writes to the store anyway. Each call
 * after the first costs one HEAD; write permission is checked only when the probe is written
 * (always, with `write`: a PUT and a HEAD). With `readBack`, a GET more: is it an object store?
 */
export async function probeStore(store: BlobStore, prefix = '', options: ProbeStoreOptions = {}): Promise<void> {
  const key = probeKey(prefix);
  if (options.readBack !== true) {
    await ensureProbe(store, key, options.write === true, false);
    return;
  }
  try {
    const written = await ensureProbe(store, key, options.write === true, true);
    await readProbeBack(store, key, written);
  } catch (error) {
    if (isStorageError(error, 'STORAGE_BUCKET_NOT_FOUND')) await confirmBucketMissing(store, key);
    throw error;
  }
}

/**
 * With `readBack`: a PUT's or GET's refusal that no S3 error explains is the answer of something
 * that is not an object store, not a refusal of the credentials.
 */
async function explained<T>(readBack: boolean, request: string, key: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    const status = readBack ? unexplainedRefusal(error) : undefined;
    if (status === undefined) throw error;
    throw notAnObjectStore(key, `a ${request} of ${key} was answered ${status} without an S3 error code (an S3 API names its reason, e.g. AccessDenied, in the body)`, error);
  }
}

/** Makes sure the probe is there and readable; true when this call wrote it. */
async function ensureProbe(store: BlobStore, key: string, write: boolean, readBack: boolean): Promise<boolean> {
  if (!write) {
    try {
      if ((await store.head(key)) !== undefined) return false;
    } catch (error) {
      // 403 on a missing key without ListBucket, or a real refusal: the put tells them apart.
      if (!isStorageError(error, 'STORAGE_ACCESS_DENIED')) throw error;
    }
  }
  await explained(readBack, 'PUT', key, () => store.put(key, probeBody, { contentType: 'application/json' }));
  try {
    // Undefined here (deleted a moment after the put, by a lifecycle rule or someone tidying up)
    // is no reason to call the store unusable: the put and the HEAD both worked.
    await store.head(key);
  } catch (error) {
    if (!isStorageError(error, 'STORAGE_ACCESS_DENIED')) throw error;
    throw new StorageError('STORAGE_ACCESS_DENIED', `wrote the readiness probe ${key} but may not read it back (${error.message}): the credentials need s3:GetObject as well as s3:PutObject`, { key, cause: error });
  }
  return true;
}

/** More than the probe ever is: a page a web server answers with is not read whole. */
const readBackLimit = 64 * 1024;

/** The probe's bytes as GET returns them, or what came instead, in words. */
async function readProbe(store: BlobStore, key: string): Promise<{ same: true } | { same: false; got: string }> {
  let body: Buffer;
  try {
    body = await explained(true, 'GET', key, () => store.get(key, { maxBytes: readBackLimit }));
  } catch (error) {
    if (isStorageError(error, 'STORAGE_NOT_FOUND')) return { same: false, got: 'not found, though a HEAD found it' };
    if (isStorageError(error, 'STORAGE_TOO_LARGE')) return { same: false, got: `over ${readBackLimit} bytes` };
    throw error;
  }
  if (body.equals(probeBody)) return { same: true };
  const start = body.subarray(0, 60).toString('utf8').replace(/\s+/g, ' ').trim();
  return { same: false, got: `${body.length} bytes (${JSON.stringify(start)}${body.length > 60 ? '…' : ''})` };
}

async function readProbeBack(store: BlobStore, key: string, written: boolean): Promise<void> {
  let read = await readProbe(store, key);
  if (!read.same && !written) {
    // Someone's (or an older version's) probe: write ours and read that.
    await explained(true, 'PUT', key, () => store.put(key, probeBody, { contentType: 'application/json' }));
    read = await readProbe(store, key);
  }
  if (read.same) return;
  throw notAnObjectStore(key, `the readiness probe ${key} (${probeBody.length} bytes) read back as ${read.got}`);
}

/**
 * After a HEAD (or a put) said the bucket is missing: a GET of the probe names a missing bucket
 * (NoSuchBucket) in its body. A 404 that does not name it, or an object, means the HEAD's bodiless
 * 404 came from something that is not an object store. Returns when the GET agrees, or cannot say
 * (it failed otherwise: the bucket-missing error stands).
 */
async function confirmBucketMissing(store: BlobStore, key: string): Promise<void> {
  try {
    await store.get(key, { maxBytes: readBackLimit });
  } catch (error) {
    if (isStorageError(error, 'STORAGE_NOT_FOUND')) {
      throw notAnObjectStore(key, `the bucket reads as missing (a bodiless 404), but a GET of ${key} answers 404 without saying NoSuchBucket`, error);
    }
    const status = unexplainedRefusal(error);
    if (status !== undefined) {
      throw notAnObjectStore(key, `the bucket reads as missing (a bodiless 404), but a GET of ${key} answers ${status} without an S3 error code`, error);
    }
    if (!isStorageError(error, 'STORAGE_TOO_LARGE')) return;
  }
  throw notAnObjectStore(key, `the bucket reads as missing (a bodiless 404), but a GET of ${key} returns an object`);
}

function notAnObjectStore(key: string, detail: string, cause?: unknown): StorageError {
  const marker = new Error(`not an object store: ${detail}`, cause === undefined ? undefined : { cause });
  marker.name = notAnObjectStoreName;
  return new StorageError('STORAGE_UNAVAILABLE', `${detail}: not an object store`, { key, cause: marker });
}

/** A key under the prefix that is never written: what `missingKeysAnswered` asks about. */
const absentFileName = 'gradcam~never-written';

/**
 * Whether the store answers a key that does not exist as missing (true), or refuses to say
 * (false: on AWS, credentials without s3:ListBucket get 403 for it). Without it, every "is it
 * there?" of the pipeline (a referenced image, a manifest of an earlier run, review.json before
 * the first verdict) reads as STORAGE_ACCESS_DENIED. Call it once probeStore has passed: a 403
 * here then means no s3:ListBucket, not bad credentials.
 */
export async function missingKeysAnswered(store: BlobStore, prefix = ''): Promise<boolean> {
  const trimmed = prefix.replace(/^\/+|\/+$/g, '');
  try {
    await store.head(trimmed === '' ? absentFileName : `${trimmed}/${absentFileName}`);
    return true;
  } catch (error) {
    if (isStorageError(error, 'STORAGE_ACCESS_DENIED')) return false;
    throw error;
  }
}

/**
 * For a service's start: true when the store can be used (probeStore passes) but refuses to say
 * whether a key exists (missingKeysAnswered is false: on AWS, no s3:ListBucket), so the service
 * can warn once about what will fail. False otherwise, a store that cannot be used included:
 * /readyz reports that.
 */
export async function missingKeysRefused(store: BlobStore, prefix = ''): Promise<boolean> {
  try {
    await probeStore(store, prefix);
    return !(await missingKeysAnswered(store, prefix));
  } catch {
    return false;
  }
}

export interface ReadinessProbeOptions {
  /** How often a probe writes while writes succeed (60 s); between writes it only HEADs. */
  readonly writeEveryMs?: number;
  /** How soon after a failed write it writes again (5 s); until then it fails as that write did. */
  readonly retryWriteMs?: number;
}

/**
 * A /readyz storage check for a service that writes (ingest: prediction.json and inline images;
 * review: review.json): probeStore with a write at most once a minute per process, and a HEAD
 * otherwise. A HEAD alone passes on a probe left by an earlier write while writes fail
 * (credentials without s3:PutObject, a full disk, a read-only mount): the service stayed ready
 * while every request it took failed. A write on every call would let anyone who can reach the
 * unauthenticated /readyz make writes; bounded, a probe every second costs a PUT a minute.
 */
export function readinessProbe(store: BlobStore, prefix = '', options: ReadinessProbeOptions = {}): () => Promise<void> {
  const writeEveryMs = options.writeEveryMs ?? 60_000;
  const retryWriteMs = options.retryWriteMs ?? 5_000;
  let wroteAt = Number.NEGATIVE_INFINITY;
  let writeFailure: unknown;
  return async () => {
    const since = performance.now() - wroteAt;
    if (since < (writeFailure === undefined ? writeEveryMs : retryWriteMs)) {
      if (writeFailure !== undefined) throw writeFailure;
      return probeStore(store, prefix);
    }
    wroteAt = performance.now();
    try {
      await probeStore(store, prefix, { write: true });
      writeFailure = undefined;
    } catch (error) {
      writeFailure = error;
      throw error;
    }
  };
}

/** What a service's start found: a store it cannot use (the probe's error), or one it can. */
export type StorageAtStart = { readonly usable: false; readonly error: unknown } | { readonly usable: true; readonly missingKeysRefused: boolean };

/**
 * For a service's start (ingest, review): probeStore, and when it passes, whether the store answers
 * a missing key as missing (see missingKeysRefused). A store that cannot be used is told at start
 * (storageUnusableLine names the setting to fix), not only when something polls /readyz.
 */
export async function storageAtStart(store: BlobStore, prefix = ''): Promise<StorageAtStart> {
  try {
    await probeStore(store, prefix);
  } catch (error) {
    return { usable: false, error };
  }
  try {
    return { usable: true, missingKeysRefused: !(await missingKeysAnswered(store, prefix)) };
  } catch {
    return { usable: true, missingKeysRefused: false };
  }
}
