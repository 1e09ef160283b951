import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * The headers every answer of every service carries, set in one place for the two ways an answer
 * leaves: registerServiceDefaults' onRequest hook, and frameworkErrorHandler, for which no hook
 * runs. `X-Content-Type-Options: nosniff`, so a browser never guesses a type (a stored blob, a CSV
 * export) into something it would run; `X-Request-Id`, the request's id, which a client can quote
 * for any answer (a 4xx it does not understand, a slow 202) and under which a 5xx is logged.
 */
export function setAnswerHeaders(request: FastifyRequest, reply: FastifyReply): void {
  void reply.header('x-content-type-options', 'nosniff');
  void reply.header('x-request-id', request.id);
}
