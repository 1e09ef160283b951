/** Why the local stack could not start, each a stable code; `gradcam up` prints the message as one line (exit 1). */
export type LocalStackErrorCode =
  /** Another `gradcam up` holds the state folder. */
  | 'STACK_RUNNING'
  /** The state folder was removed between its check and its lock (by another gradcam up refused on it). */
  | 'STATE_DIR_GONE'
  /** A port the stack needs is taken (by another stack or any other program). */
  | 'PORT_IN_USE'
  /** REDIS_URL is set but does not answer PING. */
  | 'REDIS_UNREACHABLE'
  /** S3 is configured but its endpoint, bucket or credentials cannot be used. */
  | 'STORAGE_UNUSABLE'
  /** A service neither became ready nor exited within the readiness timeout. */
  | 'SERVICE_NOT_READY';

export class LocalStackError extends Error {
  readonly code: LocalStackErrorCode;

  constructor(
    code: LocalStackErrorCode,
    message: string,
  ) {
    super(message);
    this.code = code;
    this.name = 'LocalStackError';
  }
}
