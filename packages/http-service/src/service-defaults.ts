import type { FastifyInstance } from 'fastify';
import { ApiError, sendApiError } from './api-error.ts';

/**
 * What every service answers whatever the route: an unknown route is 404 `ROUTE_NOT_FOUND` in the
 * services' error shape (not Fastify's own), and every answer carries
 * `X-Content-Type-Options: nosniff` so a browser never guesses a type (a stored blob, a CSV
 * export) into something it would run. Call it on the root instance, before `ready()`.
 */
export function registerServiceDefaults(app: FastifyInstance): void {
  app.addHook('onRequest', async (_request, reply) => {
    void reply.header('x-content-type-options', 'nosniff');
  });
  app.setNotFoundHandler(async (request, reply) => {
    // The path only, never the query: it may hold a presigned URL's signature.
    const path = request.url.split('?')[0] ?? '';
    return sendApiError(reply, new ApiError(404, 'ROUTE_NOT_FOUND', `no route ${request.method} ${path}; see the service's README for its routes`));
  });
}
