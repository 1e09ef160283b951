import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyInstance } from 'fastify';

export interface OperationalRoutes {
  /** Throws when a dependency (Redis, storage) cannot be reached. */
  readonly checkReady?: () => Promise<void>;
  /** Prometheus exposition of the process's registry; `headers` tell who asks (see isPrometheusScrape). */
  readonly scrape: (headers: IncomingHttpHeaders) => Promise<{ contentType: string; body: string }>;
}

/**
 * What every HTTP service answers to operators: /healthz (the process is up), /readyz (its
 * dependencies answer; 503 with the reason otherwise) and /metrics.
 */
export function registerOperationalRoutes(app: FastifyInstance, routes: OperationalRoutes): void {
  app.get('/healthz', async () => ({ status: 'ok' }));
  const { checkReady } = routes;
  if (checkReady) {
    app.get('/readyz', async (_request, reply) => {
      try {
        await checkReady();
        return { status: 'ready' };
      } catch (error) {
        return reply.code(503).send({ status: 'not-ready', reason: error instanceof Error ? error.message : String(error) });
      }
    });
  }
  app.get('/metrics', async (request, reply) => {
    const { contentType, body } = await routes.scrape(request.headers);
    return reply.header('content-type', contentType).send(body);
  });
}

/**
 * Whether a /metrics request is a scrape whose values will be stored: Prometheus (and the agents
 * built on its scrape code) sends its scrape timeout in this header on every scrape; a person's
 * curl, a container healthcheck or a browser does not.
 */
export function isPrometheusScrape(headers: IncomingHttpHeaders): boolean {
  return headers['x-prometheus-scrape-timeout-seconds'] !== undefined;
}
