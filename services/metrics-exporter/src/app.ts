import { type Registry, metricsResponse } from '@gradcam/telemetry';
import Fastify, { type FastifyInstance } from 'fastify';

export interface ExporterAppDeps {
  readonly registry: Registry;
  /** Refreshes the scrape-time gauges; when it fails the scrape still answers with the rest. */
  readonly collect: () => Promise<void>;
  readonly onCollectError: (error: unknown) => void;
}

export function createApp(deps: ExporterAppDeps): FastifyInstance {
  const app = Fastify({ logger: false });
  app.get('/metrics', async (_request, reply) => {
    try {
      await deps.collect();
    } catch (error) {
      deps.onCollectError(error);
    }
    const { contentType, body } = await metricsResponse(deps.registry);
    return reply.header('content-type', contentType).send(body);
  });
  app.get('/healthz', async () => ({ status: 'ok' }));
  return app;
}
