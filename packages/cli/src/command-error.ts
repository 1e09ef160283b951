/** A command that could not do its job for a reason outside the call (a service gone): one line, exit status 1. */
export class CommandError extends Error {
  override readonly name = 'CommandError';
  /** Stable, for `--json` output: `COMMAND_FAILED` unless the thrower names the cause. */
  constructor(
    message: string,
    readonly code: string = 'COMMAND_FAILED',
  ) {
    super(message);
  }
}
