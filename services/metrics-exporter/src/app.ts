import { type Registry, metricsResponse } from '@gradcam/telemetry';
import { isPrometheusScrape, registerOperationalRoutes, registerServiceDefaults, serviceServerOptions } from '@gradcam/http-service';
import Fastify, { type FastifyInstance } from 'fastify';
import { SeriesTaken } from './counter-reset.ts';

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
   * in every process, and Prometheus is shown each of their series at 0 until it has taken one
   * answer so (see SeriesTaken).
   */
  readonly eventCounters: ReadonlySet<string>;
}

export function createApp(deps: ExporterAppDeps): FastifyInstance {
  const app = Fastify({ ...serviceServerOptions(), logger: false });
  /**
   * Which event-stream series Prometheus has taken an answer of: until it has, each of its scrapes
   * shows that series at 0 (a series born since the last answer, or every one after a start), so
   * rate() and increase() count its first events, and a restart's replayed gap as a reset rather
   * than a rise. The events are read and counted as ever: a curl (no Prometheus scrape header)
   * shows them at once, and nothing is held while no Prometheus scrapes.
   */
  const seriesTaken = new SeriesTaken(deps.eventCounters);
  registerServiceDefaults(app);
  registerOperationalRoutes(app, {
    scrape: async (headers, answer) => {
      try {
        await deps.collect();
      } catch (error) {
        deps.onCollectError(error);
      }
      if (!isPrometheusScrape(headers)) return metricsResponse(deps.registry);
      // Right before the render: nothing is counted between the two (the render reads no Redis).
      const scraped = deps.scraping();
      const response = await metricsResponse(deps.registry);
      const shown = seriesTaken.answer(response.body);
      void answer.delivered.then((delivered) => {
        if (!delivered) return;
        shown.taken();
        // The cursor says how far the counts have reached Prometheus. An answer with every series
        // at 0 (the first after a start, the replayed gap held back) carries none: moving it would
        // lose the gap to a restart before the next answer. One with series at their values
        // carries theirs: not moving it would count them twice after such a restart. A series
        // born since the last answer and held at 0 in it is then not replayed: its events up to
        // this answer are lost to a restart before the next one (as every new series' were before).
        if (shown.held === 0 || shown.atValue > 0) scraped();
      });
      return { ...response, body: shown.body };
    },
  });
  return app;
}
