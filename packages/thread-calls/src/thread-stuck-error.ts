/**
 * A call whose thread gave no answer within `timeoutMs`: the thread is taken to be stuck (a
 * blocked system call, an endless loop), so every call it had fails with this error and the
 * next call starts a new thread. `missed` is true for the call whose deadline passed, false for
 * the others the thread had in flight, given up with it.
 */
export class ThreadStuckError extends Error {
  override readonly name = 'ThreadStuckError';

  constructor(
    readonly timeoutMs: number,
    readonly missed: boolean,
  ) {
    super(missed ? `no answer from the thread within ${timeoutMs} ms` : `given up with its thread, which gave another call no answer within ${timeoutMs} ms`);
  }
}
