/**
 * A private redis-server exited while it started, for a reason other than its port being taken
 * (a corrupt append-only file, a data folder it cannot write, a bad argument). The message is one
 * line: Redis's own last words and the data folder, which is usually where the fix lies.
 */
export class RedisServerStartError extends Error {
  readonly code = 'REDIS_SERVER_START_FAILED';
  readonly dir: string;
  /** Redis's last log line, its timestamp prefix removed; undefined when it wrote nothing. */
  readonly reason: string | undefined;
  readonly exit: string;

  constructor(
    dir: string,
    reason: string | undefined,
    exit: string,
  ) {
    super(`redis-server exited at start (${exit}, data folder ${dir}): ${reason ?? 'no output'}`);
    this.dir = dir;
    this.reason = reason;
    this.exit = exit;
    this.name = 'RedisServerStartError';
  }
}
