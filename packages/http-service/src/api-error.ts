import type { FastifyReply } from 'fastify';

/** An error answered to the client: a stable code, an HTTP status and one actionable sentence. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: unknown;
  /** Seconds, for 429 and 503 answers. */
  readonly retryAfter: number | undefined;

  constructor(
    status: number,
    code: string,
    message: string,
    details?: unknown,
    retryAfter?: number,
  ) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
    this.retryAfter = retryAfter;
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
 * will not cure. The client gets a fixed sentence (`what`, never the error's own words) and the
 * request's id, also as `details.requestId`: the error's message may name files, keys, hosts or
 * credentials, so it goes only to the service's log, under that id (see reportedApiError).
 */
export function internalError(requestId: string, what = 'an unexpected error occurred'): ApiError {
  return new ApiError(500, 'INTERNAL', `${what}; the service's log has the details under request id ${requestId}`, { requestId });
}

/**
 * The 401 for a request without a known bearer token, saying which scheme it takes (RFC 9110
 * §15.5.2 requires WWW-Authenticate on a 401): a client that sent Basic, or an HTTP library that
 * answers a challenge, learns it is Bearer. A browser prompts only for Basic or Digest, so a page's
 * fetch sees the 401 as it is. `message` says which token to send.
 */
export function unauthorized(reply: FastifyReply, message: string): ApiError {
  void reply.header('www-authenticate', 'Bearer realm="gradcam"');
  return new ApiError(401, 'UNAUTHORIZED', message);
}

/**
 * The 503 for a dependency that cannot answer now (Redis, storage): `code`, and `sentence` (which
 * names the dependency and says what to do), never the error's own words (they name hosts, ports
 * and paths: the cause goes to the service's log, see logServerErrors), and the request id.
 */
export function dependencyUnavailable(code: string, sentence: string, requestId: string, retryAfter = 5): ApiError {
  return new ApiError(503, code, `${sentence} (request id ${requestId})`, { requestId }, retryAfter);
}

/** What a service's log is told of an error it answered 5xx: the error, the id of the request the answer names, and the answer. */
export type ServerErrorReport = (error: unknown, requestId: string, answer: ApiError) => void;

/** Tells `report` of each answer that is a 5xx: something an operator must look at (see logServerErrors). */
export function reportedApiError(answer: ApiError, error: unknown, requestId: string, report: ServerErrorReport | undefined): ApiError {
  if (answer.status >= 500) report?.(error, requestId, answer);
  return answer;
}

/** Whether `answer` kept its cause from the client (internalError, dependencyUnavailable): the log has to tell it. */
export function withheldCause(answer: ApiError): boolean {
  return (answer.details as { requestId?: unknown } | undefined)?.requestId !== undefined;
}
