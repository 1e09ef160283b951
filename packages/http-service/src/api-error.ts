import type { FastifyReply } from 'fastify';

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

/**
 * `{"error": {"code", "message", "retryAfter"?, "details"?}}`: the one error shape every service
 * answers with. `retryAfter` (seconds) repeats the Retry-After header in the body, where a batch's
 * per-record errors, which have no header of their own, can carry it too.
 */
export function apiErrorBody(error: ApiError) {
  return {
    error: {
      code: error.code,
      message: error.message,
      ...(error.retryAfter === undefined ? {} : { retryAfter: error.retryAfter }),
      ...(error.details === undefined ? {} : { details: error.details }),
    },
  };
}

export function sendApiError(reply: FastifyReply, error: ApiError): FastifyReply {
  if (error.retryAfter !== undefined) void reply.header('retry-after', String(error.retryAfter));
  return reply.code(error.status).send(apiErrorBody(error));
}

/**
 * The 500 for an error nobody planned for (a bug, a deployment problem): `INTERNAL`, which a retry
 * will not cure, with one bounded line for the client. A schema failure's message is a page of
 * JSON; the whole error belongs in the service's log.
 */
export function internalError(error: unknown, what = 'an unexpected error occurred'): ApiError {
  const reason = error instanceof Error ? error.message : String(error);
  const summary = reason.replace(/\s+/g, ' ').slice(0, 200);
  return new ApiError(500, 'INTERNAL', `${what} (${error instanceof Error ? error.name : typeof error}): ${summary}`);
}

/** Tells `report` of each answer that is a 5xx other than 503 (retry later): the ones an operator must look at. */
export function reportedApiError(answer: ApiError, error: unknown, report: ((error: unknown) => void) | undefined): ApiError {
  if (answer.status >= 500 && answer.status !== 503) report?.(error);
  return answer;
}
