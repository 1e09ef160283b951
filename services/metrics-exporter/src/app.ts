import { type Registry, metricsResponse } from '@gradcam/telemetry';
import { isPrometheusScrape, registerOperationalRoutes, registerServiceDefaults, serviceServerOptions } from '@gradcam/http-service';
import Fastify, { type FastifyInstance } from 'fastify';

export interface ExporterAppDeps {
  readonly registry: Registry;
  /**
   * Refreshes the scrape-time gauges, each source on its own (a failed one is reported by
   * `gradcam_exporter_collect_success{source}`); should it throw anyway, the scrape still answers
   * with the rest.
   */
  readonly collect: () => Promise<void>;
  readonly onCollectError: (error: unknown) => void;
  /**
   * A Prometheus scrape is about to render: what is counted now reaches storage. Only those move
   * the event-stream cursor: a healthcheck or a curl of /metrics renders values nobody keeps, and
   * a restart resuming after them would lose what they saw.
   */
  readonly scraped: () => void;
}

export function createApp(deps: ExporterAppDeps): FastifyInstance {
  const app = Fastify({ ...serviceServerOptions(), logger: false });
  registerServiceDefaults(app);
  registerOperationalRoutes(app, {
    scrape: async (headers) => {
      try {
        await deps.collect();
      } catch (error) {
        deps.onCollectError(error);
      }
      if (isPrometheusScrape(headers)) deps.scraped();
      return metricsResponse(deps.registry);
    },
  });
  return app;
}
