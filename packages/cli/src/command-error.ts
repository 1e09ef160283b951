/** A command that could not do its job for a reason outside the call (a service gone): one line, exit status 1. */
export class CommandError extends Error {
  override readonly name = 'CommandError';
}
