/** A command that could not do its job for a reason outside the call (a service gone): one line, exit status 1. */
export class CommandError extends Error {
  override readonly name = 'CommandError';
  readonly code: string;

  /** Stable, for `--json` output: `COMMAND_FAILED` unless the thrower names the cause. */
  constructor(
    message: string,
    code: string = 'COMMAND_FAILED',
  ) {
    super(message);
    this.code = code;
  }
}
