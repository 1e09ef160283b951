import { registerOperationalRoutes, registerServiceDefaults } from '@gradcam/http-service';
import { type Registry, metricsResponse } from '@gradcam/telemetry';
import Fastify, { type FastifyInstance } from 'fastify';

/**
 * The worker's own small HTTP surface, the same as every service's: /metrics for Prometheus,
 * /healthz (the process is alive) and /readyz (models loaded, consuming the queue).
 */
export async function startStatusServer(options: { host: string; port: number; registry: Registry; ready: () => boolean }): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
  registerServiceDefaults(app);
  registerOperationalRoutes(app, {
    checkReady: async () => {
      if (!options.ready()) throw new Error('loading models');
    },
    scrape: () => metricsResponse(options.registry),
  });
  await app.listen({ port: options.port, host: options.host });
  return app;
}
