import type { FastifyInstance } from 'fastify';

export interface OperationalRoutes {
  /** Throws when a dependency (Redis, storage) cannot be reached. */
  readonly checkReady?: () => Promise<void>;
  /** Prometheus exposition of the process's registry. */
  readonly scrape: () => Promise<{ contentType: string; body: string }>;
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
  app.get('/metrics', async (_request, reply) => {
    const { contentType, body } = await routes.scrape();
    return reply.header('content-type', contentType).send(body);
  });
}
