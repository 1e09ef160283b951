/** An error answered to the client: a stable code, an HTTP status and one actionable sentence. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
    /** Seconds, for 429 and 503 answers. */
    readonly retryAfter?: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export const unavailable = (what: string, cause: unknown) =>
  new ApiError(503, 'DEPENDENCY_UNAVAILABLE', `${what} is unavailable; nothing was accepted, retry later (${cause instanceof Error ? cause.message : String(cause)})`, undefined, 5);
