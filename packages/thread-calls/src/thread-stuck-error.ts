/**
 * A call whose thread said nothing (no reply, no progress note) for `timeoutMs`: the thread is
 * taken to be stuck (a blocked system call, an endless loop), so every call it had fails with
 * this error and the next call starts a new thread. `missed` is true for the call it was stuck in
 * (its oldest), false for the others it had in flight, given up with it.
 */
export class ThreadStuckError extends Error {
  override readonly name = 'ThreadStuckError';

  readonly timeoutMs: number;
  readonly missed: boolean;

  constructor(
    timeoutMs: number,
    missed: boolean,
  ) {
    super(missed ? `no answer nor progress from the thread for ${timeoutMs} ms` : `given up with its thread, which was stuck in another call for ${timeoutMs} ms`);
    this.timeoutMs = timeoutMs;
    this.missed = missed;
  }
}
