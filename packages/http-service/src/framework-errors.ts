import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { setAnswerHeaders } from './answer-headers.ts';
import { ApiError, sendApiError } from './api-error.ts';

export interface FrameworkErrorAnswers {
  /** The answer when a path parameter exceeds `routerOptions.maxParamLength` (default 414 `PARAM_TOO_LONG`). */
  readonly paramTooLong?: ApiError;
}

/**
 * Fastify's `frameworkErrors` option: the errors its router raises before any route, hook or
 * error handler runs (a path parameter over `routerOptions.maxParamLength`, a parameter that is
 * not valid percent-encoding), answered in the services' error shape instead of Fastify's own.
 * Hooks do not run for these, so the headers every answer carries (setAnswerHeaders) are set here.
 */
export function frameworkErrorHandler(answers: FrameworkErrorAnswers = {}) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void => {
    setAnswerHeaders(request, reply);
    void sendApiError(reply, toApiError(error, answers));
  };
}

function toApiError(error: FastifyError, answers: FrameworkErrorAnswers): ApiError {
  switch (error.code) {
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return answers.paramTooLong ?? new ApiError(414, 'PARAM_TOO_LONG', 'a path parameter is too long');
    case 'FST_ERR_BAD_URL':
      return new ApiError(400, 'URL_MALFORMED', 'the path is not valid percent-encoding');
    default:
      return new ApiError(500, 'INTERNAL', 'internal error');
  }
}

/**
 * The answer to an error Fastify raised about the request itself, in a route's error handler: a
 * body over `bodyLimit` is 413 `BODY_TOO_LARGE`, a Content-Type that is not even a media type 415
 * `MEDIA_TYPE_UNSUPPORTED` (as registerServiceDefaults answers one no parser takes), any other 4xx
 * (malformed JSON) 400-class `REQUEST_INVALID` with Fastify's reason. Undefined for anything else,
 * which the service answers itself. Every service uses the same codes for the same refusals.
 */
export function requestErrorAnswer(error: unknown, bodyLimit: number): ApiError | undefined {
  const { code, statusCode, message } = error as { code?: string; statusCode?: number; message?: string };
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new ApiError(413, 'BODY_TOO_LARGE', `the request body exceeds ${bodyLimit} bytes`);
  if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return new ApiError(415, 'MEDIA_TYPE_UNSUPPORTED', 'the Content-Type header is not a media type (type/subtype, such as application/json)');
  if (statusCode !== undefined && statusCode >= 400 && statusCode < 500) return new ApiError(statusCode, 'REQUEST_INVALID', message ?? 'invalid request');
  return undefined;
}
