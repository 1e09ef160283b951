import { pipeline, type Readable, Transform } from 'node:stream';
import { StorageError } from './storage-error.ts';

function mismatch(key: string, expected: number, got: string): StorageError {
  return new StorageError('STORAGE_LENGTH_MISMATCH', `body for ${key} was ${got} bytes, contentLength said ${expected}`, { key });
}

/**
 * Passes a stream through, failing it with STORAGE_LENGTH_MISMATCH when it delivers more or
 * fewer bytes than promised: a client that disconnects mid-upload ends its stream early, and
 * that must fail the put instead of storing a truncated object.
 */
export function lengthChecked(source: Readable, expected: number, key: string): Readable {
  let seen = 0;
  const checker = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      seen += chunk.length;
      if (seen > expected) callback(mismatch(key, expected, `more than ${expected}`));
      else callback(null, chunk);
    },
    flush(callback) {
      callback(seen === expected ? null : mismatch(key, expected, String(seen)));
    },
  });
  // pipeline forwards a source error to `checker` (whose reader sees it) and destroys both on
  // failure; the callback only keeps the error from being reported twice.
  pipeline(source, checker, () => {});
  return checker;
}
