import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError, sendApiError } from './api-error.ts';
import { registerBodyRefusals } from './body-refusals.ts';
import { registerBoundedJsonParser } from './bounded-json-parser.ts';
import { clientErrorHandler } from './client-error-answer.ts';
import { type ServerTimeouts, serverTimeouts } from './server-timeouts.ts';

/** Node's default headersTimeout: the headers of a request must arrive within a minute. */
const nodeHeadersTimeoutMs = 60_000;

/** Fastify's own default body limit, kept by the services that take no request bodies. */
export const defaultBodyLimit = 1024 * 1024;

export interface ServiceServerLimits {
  /** The largest request body in bytes (default defaultBodyLimit, 1 MiB). */
  readonly bodyLimit?: number;
  /** The server's timeouts: serverTimeouts(bodyLimit) unless given (tests give short ones). */
  readonly timeouts?: ServerTimeouts | undefined;
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
 *   request line, a bad Content-Length) or cuts (requestTimeout) in the services' error shape.
 */
export function serviceServerOptions(limits: ServiceServerLimits = {}) {
  const bodyLimit = limits.bodyLimit ?? defaultBodyLimit;
  const { requestTimeout, connectionTimeout, checkIntervalMs } = limits.timeouts ?? serverTimeouts(bodyLimit);
  return {
    return503OnClosing: false,
    genReqId: () => randomUUID(),
    clientErrorHandler,
    bodyLimit,
    requestTimeout,
    connectionTimeout,
    http: {
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
 * services' error shape (not Fastify's own), and every answer carries
 * `X-Content-Type-Options: nosniff` so a browser never guesses a type (a stored blob, a CSV
 * export) into something it would run. Call it on the root instance, before `ready()`.
 *
 * From `close()` on (SIGTERM), every answer says `Connection: close`, so a keep-alive client's
 * next request opens a new connection (to another process), and a request that still reaches
 * this one on a kept-alive connection is 503 `SHUTTING_DOWN` with `Retry-After`, in the error
 * shape. The latter needs `serviceServerOptions`.
 *
 * An answer sent before the request's body arrived whole says `Connection: close`, so that Node
 * reads no more of it (unreadBodyCloses); an unknown route is 404 before any of its body is read.
 *
 * A JSON body is parsed only when its structure is bounded (registerBoundedJsonParser): parsing
 * holds the event loop. A body of a type no parser takes, or a compressed one, is 415 in the
 * error shape before it is read (registerBodyRefusals).
 */
export function registerServiceDefaults(app: FastifyInstance): void {
  registerBoundedJsonParser(app);
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onRequest', async (_request, reply) => {
    void reply.header('x-content-type-options', 'nosniff');
    if (closing) return sendApiError(reply, new ApiError(503, 'SHUTTING_DOWN', 'this process is shutting down; retry on a new connection', undefined, shuttingDownRetryAfter));
    return undefined;
  });
  // Every answer from close() on, those of requests that began before it too: Node closes only the
  // connections idle when close() began, and would keep a busy one open for the client's next request.
  // And every answer sent before the request's body arrived whole (see unreadBodyCloses).
  app.addHook('onSend', async (request, reply) => {
    // HTTP/2 has no Connection header (its session is closed as a whole).
    if ((closing || unreadBodyCloses(request)) && request.raw.httpVersionMajor < 2) void reply.header('connection', 'close');
  });
  // Before the body is read, as that has no bearing on the answer: Fastify would otherwise read a
  // JSON body to an unknown route first, answering 413 or 400 for it.
  app.addHook('preParsing', async (request, reply, payload) => {
    if (request.is404) void sendApiError(reply, routeNotFound(request));
    return payload;
  });
  app.setNotFoundHandler(async (request, reply) => sendApiError(reply, routeNotFound(request)));
  registerBodyRefusals(app);
}

function routeNotFound(request: FastifyRequest): ApiError {
  // The path only, never the query: it may hold a presigned URL's signature.
  const path = request.url.split('?')[0] ?? '';
  return new ApiError(404, 'ROUTE_NOT_FOUND', `no route ${request.method} ${path}; see the service's README for its routes`);
}

/**
 * The most of a body that no route read a kept-alive connection reads and drops after the answer:
 * a small JSON body whose packets arrive just after an early answer (a 401, a 404) costs less to
 * read than a new connection costs the client.
 */
const unreadBodyDrainBytes = 64 * 1024;

/**
 * Whether an answer must close its connection because the request's body has not arrived whole:
 * to keep the connection, Node reads and throws away the rest of the body, however large (a chunked
 * body need never end: a client streamed 2.6 GB in 3 s into a 404) and however slowly it comes, and
 * a closing process waits for it. So an answer sent before the body was read (a 404, a 401 or 403
 * on onRequest, a 429 before a multipart upload is read, /healthz with a body) says `Connection:
 * close`, and Node closes the connection once the answer is out, reading no further. A body that
 * arrived whole keeps the connection, as does the rest of one of declared length up to
 * unreadBodyDrainBytes, or up to the body limit when the route itself chose to read and drop it
 * (ingest does so for a refused multipart upload of a signed-in client): both are bounded.
 */
function unreadBodyCloses(request: FastifyRequest): boolean {
  const { raw } = request;
  if (raw.complete) return false;
  const length = raw.headers['content-length'];
  if (length === undefined || raw.headers['transfer-encoding'] !== undefined) return true;
  const drainedByRoute = raw.readableFlowing === true;
  return !(Number(length) <= (drainedByRoute ? request.routeOptions.bodyLimit : unreadBodyDrainBytes));
}
