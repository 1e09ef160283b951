// The filesystem store's bound on each call: a hung NFS or FUSE call must fail the request, as a
// silent S3 endpoint does, instead of holding it (and its caller, and close()) for ever.
import { FsCallError } from './fs-call-error.ts';

/** How long one filesystem request may go unanswered by default (`requestTimeoutMs`). */
export const defaultRequestTimeoutMs = 30_000;

/**
 * A call that gave no answer within `timeoutMs`, as an errno error: ETIMEDOUT, which the store
 * reports as transient STORAGE_UNAVAILABLE naming the operation and key (fsError).
 */
export function missedDeadline(step: string, timeoutMs: number, detail = ''): FsCallError {
  return new FsCallError(`no answer from the filesystem within ${timeoutMs} ms (${step})${detail}`, 'ETIMEDOUT', step);
}

/**
 * `call` (an fs/promises call), or ETIMEDOUT once `timeoutMs` pass without an answer. The call
 * itself cannot be cancelled: it holds one of libuv's threads until it returns, and what it
 * returns then goes to `onLate` (a handle to close, a file to remove).
 */
export function withDeadline<T>(call: Promise<T>, timeoutMs: number, step: string, onLate?: (value: T) => unknown): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let late = false;
    const timer = setTimeout(() => {
      late = true;
      reject(missedDeadline(step, timeoutMs));
    }, timeoutMs);
    call.then(
      (value) => {
        clearTimeout(timer);
        if (!late) resolve(value);
        else if (onLate) Promise.resolve(onLate(value)).catch(() => {});
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
