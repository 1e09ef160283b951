// How the filesystem store's failures become StorageErrors: errno codes to stable codes, and the
// step of a put that failed (from the I/O threads or the streamed path) to an invalid key.
import { FsCallError } from './fs-call-error.ts';
import { StorageError } from './storage-error.ts';

// ETIMEDOUT: also the store's own deadline on a call (fs-deadline.ts).
const transientCodes = new Set(['EMFILE', 'ENFILE', 'EBUSY', 'EAGAIN', 'ENOSPC', 'EINTR', 'ETIMEDOUT']);

export function errnoOf(error: unknown): string | undefined {
  return error instanceof Error && 'code' in error && typeof error.code === 'string' ? error.code : undefined;
}

export function isMissing(error: unknown): boolean {
  const code = errnoOf(error);
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR';
}

/** Names the step of a put that failed, as the I/O thread does, for invalidKeyCause. */
export function asFsCallError(error: unknown, step: string): unknown {
  return error instanceof Error && errnoOf(error) ? new FsCallError(error.message, errnoOf(error), step) : error;
}

/** A put whose key cannot exist on disk beside the objects already there. */
export function invalidKeyCause(error: unknown, key: string): StorageError | undefined {
  if (!(error instanceof FsCallError)) return undefined;
  // A key whose folder is an object here ('a/b' stored, then 'a/b/c') cannot exist on disk.
  if (error.step === 'mkdir' && (error.code === 'ENOTDIR' || error.code === 'EEXIST')) {
    return new StorageError('STORAGE_INVALID_KEY', `key ${key} runs through an existing object`, { key, cause: error });
  }
  if (error.step === 'rename' && (error.code === 'EISDIR' || error.code === 'ENOTEMPTY' || error.code === 'EEXIST')) {
    return new StorageError('STORAGE_INVALID_KEY', `key ${key} is the folder of other objects`, { key, cause: error });
  }
  return undefined;
}

/** The call and path(s) Node ends an fs error's message with: `, open '/srv/…'`, rename's `'…' -> '…'`. */
const callPaths = /, (\w+) '.*'$/s;

/**
 * An fs error's message without the absolute path(s) Node ends it with, as `ENOENT: no such file
 * or directory, open`: a StorageError's message reaches clients (a job failed for a referenced
 * image that is gone is answered in ingest's status with it), and the path tells them where the
 * store lives on the server. The message names the object by its key; the error kept as `cause`
 * still has the path, which logs print.
 */
function withoutPaths(message: string): string {
  return message.replace(callPaths, ', $1');
}

export function fsError(error: unknown, key: string, action: string): StorageError {
  if (error instanceof StorageError) return error;
  const code = errnoOf(error) ?? 'unknown error';
  const message = `filesystem ${action} ${key}: ${error instanceof Error ? withoutPaths(error.message) : String(error)}`;
  if (isMissing(error)) {
    // A put makes every folder its key needs, so a missing one is never "no such object": deletes
    // kept removing its folder through all its tries (or a folder became a file meanwhile).
    if (action === 'put') return new StorageError('STORAGE_UNAVAILABLE', message, { key, cause: error, transient: true });
    return new StorageError('STORAGE_NOT_FOUND', message, { key, cause: error });
  }
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    return new StorageError('STORAGE_ACCESS_DENIED', message, { key, cause: error });
  }
  if (code === 'ENAMETOOLONG') return new StorageError('STORAGE_INVALID_KEY', message, { key, cause: error });
  return new StorageError('STORAGE_UNAVAILABLE', message, { key, cause: error, transient: transientCodes.has(code) });
}
