import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { trackAllowedMethods } from './allowed-methods.ts';
import { setAnswerHeaders } from './answer-headers.ts';
import { ApiError, sendApiError } from './api-error.ts';
import { registerBodyRefusals } from './body-refusals.ts';
import { registerBoundedJsonParser } from './bounded-json-parser.ts';
import { type ClientErrorAnswered, createClientErrorHandler } from './client-error-answer.ts';
import { frameworkErrorHandler } from './framework-errors.ts';
import { type ServerTimeouts, serverTimeouts } from './server-timeouts.ts';
import { closeOnUnreadBody } from './unread-body.ts';

/** Node's default headersTimeout: the headers of a request must arrive within a minute. */
const nodeHeadersTimeoutMs = 60_000;

/** Fastify's own default body limit, kept by the services that take no request bodies. */
export const defaultBodyLimit = 1024 * 1024;

export interface ServiceServerLimits {
  /** The largest request body in bytes (default defaultBodyLimit, 1 MiB). */
  readonly bodyLimit?: number;
  /** The server's timeouts: serverTimeouts(bodyLimit) unless given (tests give short ones). */
  readonly timeouts?: ServerTimeouts | undefined;
  /**
   * Told the status (400, 408, 431) of each request Node refused or cut and the clientErrorHandler
   * answered: no hook runs for these, so a service that counts its answers in onResponse counts
   * these here.
   */
  readonly onClientError?: ClientErrorAnswered | undefined;
}

/**
 * Fastify options every service passes (`Fastify({ ...serviceServerOptions({ bodyLimit }), … })`):
 *
 * - the body limit, and server timeouts scaled to it (see serverTimeouts): without them a client
 *   trickling a body holds its connection, and the process's close(), for ever;
 * - `return503OnClosing: false`: while the app closes, Fastify's own 503 (`{"error": "Service
 *   Unavailable"}`, no code, no Retry-After) would answer before any hook runs; off,
 *   `registerServiceDefaults` answers instead;
 * - request ids that are random UUIDs: a 500 names its request's id to the client and the log
 *   files the error under it (internalError), and Fastify's own (`req-1`, `req-2`, …) start over
 *   with every process and restart;
 * - a `clientErrorHandler` answering what Node's HTTP parser refuses (headers too large, a garbage
 *   request line, a bad Content-Length) or cuts (requestTimeout) in the services' error shape;
 * - `frameworkErrors` answering what Fastify's router refuses (a path that is not valid
 *   percent-encoding: 400 `URL_MALFORMED`) in that shape too, where the exporter and the worker's
 *   status server answered Fastify's own `{"error":"Bad Request","code":"FST_ERR_BAD_URL",…}`; a
 *   service with path parameters passes its own after these options (frameworkErrorHandler).
 */
export function serviceServerOptions(limits: ServiceServerLimits = {}) {
  const bodyLimit = limits.bodyLimit ?? defaultBodyLimit;
  const { requestTimeout, connectionTimeout, checkIntervalMs } = limits.timeouts ?? serverTimeouts(bodyLimit);
  return {
    return503OnClosing: false,
    genReqId: () => randomUUID(),
    clientErrorHandler: createClientErrorHandler(limits.onClientError),
    frameworkErrors: frameworkErrorHandler(),
    bodyLimit,
    requestTimeout,
    connectionTimeout,
    http: {
      // An HTTP/1.1 request without Host reaches registerServiceDefaults, which answers it in the
      // error shape: Node's own answer to it is a bare 400, no body, nothing saying why.
      requireHostHeader: false,
      // Never above requestTimeout: where it is, Node swaps the two, and a request whose headers
      // have arrived would get headersTimeout (60 s) for its body instead of a shorter requestTimeout.
      headersTimeout: Math.min(nodeHeadersTimeoutMs, requestTimeout),
      ...(checkIntervalMs !== undefined && { connectionsCheckingInterval: checkIntervalMs }),
    },
  };
}

/** Seconds: another process (or this one restarted) takes the request at once. */
const shuttingDownRetryAfter = 1;

/**
 * What every service answers whatever the route: an unknown route is 404 `ROUTE_NOT_FOUND` in the
 * services' error shape (not Fastify's own), a path a route declared after this call takes under
 * other methods 405 `METHOD_NOT_ALLOWED` with `Allow`, and every answer carries
 * `X-Content-Type-Options: nosniff` so a browser never guesses a type (a stored blob, a CSV
 * export) into something it would run, and `X-Request-Id`. Call it on the root instance, before `ready()`.
 *
 * From `close()` on (SIGTERM), every answer says `Connection: close`, so a keep-alive client's
 * next request opens a new connection (to another process), and a request that still reaches
 * this one on a kept-alive connection is 503 `SHUTTING_DOWN` with `Retry-After`, in the error
 * shape. The latter needs `serviceServerOptions`.
 *
 * An HTTP/1.1 request without a Host header is 400 `REQUEST_MALFORMED` saying so, with
 * `Connection: close`, before any other hook (serviceServerOptions turns Node's own bare 400 off).
 *
 * An answer sent before the request's body arrived whole says `Connection: close`, and no more of
 * the body is read (closeOnUnreadBody); an unknown route is 404 (or 405) before any of its body is read.
 *
 * A JSON body is parsed only when its structure is bounded (registerBoundedJsonParser): parsing
 * holds the event loop. A body of a type no parser takes, or a compressed one, is 415 in the
 * error shape before it is read (registerBodyRefusals).
 */
export function registerServiceDefaults(app: FastifyInstance): void {
  const allowedMethods = trackAllowedMethods(app);
  const routeNotFound = (request: FastifyRequest, reply: FastifyReply) => sendApiError(reply, noRoute(request, reply, allowedMethods));
  registerBoundedJsonParser(app);
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onRequest', async (request, reply) => {
    setAnswerHeaders(request, reply);
    if (request.raw.httpVersion === '1.1' && request.headers.host === undefined) {
      void reply.header('connection', 'close');
      return sendApiError(reply, new ApiError(400, 'REQUEST_MALFORMED', 'the request is not valid HTTP/1.1: it has no Host header (RFC 9112 §3.2); send "Host: <host>:<port>", the address it is sent to'));
    }
    if (closing) return sendApiError(reply, new ApiError(503, 'SHUTTING_DOWN', 'this process is shutting down; retry on a new connection', undefined, shuttingDownRetryAfter));
    return undefined;
  });
  // Every answer from close() on, those of requests that began before it too: Node closes only the
  // connections idle when close() began, and would keep a busy one open for the client's next request.
  // And every answer sent before the request's body arrived whole (closeOnUnreadBody).
  app.addHook('onSend', async (request, reply) => {
    // HTTP/2 has no Connection header (its session is closed as a whole).
    if (request.raw.httpVersionMajor >= 2) return;
    if (closeOnUnreadBody(request) || closing) void reply.header('connection', 'close');
  });
  // Before the body is read, as that has no bearing on the answer: Fastify would otherwise read a
  // JSON body to an unknown route first, answering 413 or 400 for it.
  // Returning the reply stops the request even if an async onSend hook delays the answer.
  app.addHook('preParsing', async (request, reply, payload) => {
    if (!request.is404) return payload;
    void routeNotFound(request, reply);
    return reply;
  });
  app.setNotFoundHandler(async (request, reply) => routeNotFound(request, reply));
  registerBodyRefusals(app);
}

/**
 * 404 ROUTE_NOT_FOUND for a path no route takes; 405 METHOD_NOT_ALLOWED, with `Allow`, for a path a
 * route takes under other methods (a client that sent PUT, or HEAD where a route has no HEAD, learns
 * the path is right and what to send instead).
 */
function noRoute(request: FastifyRequest, reply: FastifyReply, allowedMethods: (path: string) => string[]): ApiError {
  // The path only, never the query: it may hold a presigned URL's signature.
  const path = request.url.split('?')[0] ?? '';
  const allowed = allowedMethods(path);
  if (allowed.length > 0) {
    void reply.header('allow', allowed.join(', '));
    return new ApiError(405, 'METHOD_NOT_ALLOWED', `${path} does not take ${request.method}; it takes ${allowed.join(', ')}`);
  }
  return new ApiError(404, 'ROUTE_NOT_FOUND', `no route ${request.method} ${path}; see the service's README for its routes`);
}
