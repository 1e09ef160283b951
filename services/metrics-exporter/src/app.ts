import { type Registry, metricsResponse } from '@gradcam/telemetry';
import { isPrometheusScrape, registerOperationalRoutes, registerServiceDefaults, serviceServerOptions } from '@gradcam/http-service';
import Fastify, { type FastifyInstance } from 'fastify';
import { zeroFamilies } from './counter-reset.ts';

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
   * A Prometheus scrape is about to render: returns what to call once Prometheus has the answer,
   * which then takes what is counted now as stored (it moves the event-stream cursor). Only such
   * scrapes do: a healthcheck or a curl of /metrics renders values nobody keeps, nor does a scrape
   * Prometheus gave up on (its timeout passed while the sources were read), and a restart resuming
   * after what they saw would lose it.
   */
  readonly scraping: () => () => void;
  /**
   * The metric families counted from the event stream (`eventStreamMetricNames`): they start at 0
   * in every process, and Prometheus is shown them at 0 until it has taken one answer so.
   */
  readonly eventCounters: ReadonlySet<string>;
}

export function createApp(deps: ExporterAppDeps): FastifyInstance {
  const app = Fastify({ ...serviceServerOptions(), logger: false });
  /**
   * Prometheus has stored an answer with the event-stream counters at 0 from this process. Until
   * then each of its scrapes gets them at 0 (and moves no cursor: it covers no event), whatever
   * was counted meanwhile: a restarted exporter's replay of its gap can be counted before the first
   * scrape, at or above the last process's stored values, and rate() and increase() would take it
   * for a rise from them rather than a reset. The events are read and counted as ever, so a curl
   * shows them at once and nothing is held while no Prometheus scrapes.
   */
  let resetShown = false;
  registerServiceDefaults(app);
  registerOperationalRoutes(app, {
    scrape: async (headers, answer) => {
      try {
        await deps.collect();
      } catch (error) {
        deps.onCollectError(error);
      }
      if (!isPrometheusScrape(headers)) return metricsResponse(deps.registry);
      if (!resetShown) {
        const response = await metricsResponse(deps.registry);
        void answer.delivered.then((delivered) => {
          if (delivered) resetShown = true;
        });
        return { ...response, body: zeroFamilies(response.body, deps.eventCounters) };
      }
      // Right before the render: nothing is counted between the two (the render reads no Redis).
      const scraped = deps.scraping();
      const response = await metricsResponse(deps.registry);
      void answer.delivered.then((delivered) => {
        if (delivered) scraped();
      });
      return response;
    },
  });
  return app;
}
