import { clientErrorStatuses } from '@gradcam/http-service';
import { type MetricsResponse, type Registry, createMetrics, ingestMetrics, metricsResponse } from '@gradcam/telemetry';
import type { RecordOutcome } from './accept-records.ts';
import type { IngestTelemetry } from './app.ts';
import { unmatchedRoute } from './unmatched-route.ts';

/**
 * The route label of the requests Node's HTTP server refused or cut before Fastify routed them
 * (malformed, headers too large, past requestTimeout): no URL path, so it names no route.
 */
export const clientErrorRoute = '(client-error)';

/**
 * A record's outcome as gradcam_ingest_records_total counts it. `id_reused` (409 ID_REUSED: another
 * record under an id accepted before) is apart from `rejected`: it says a producer's ids are not
 * unique, which no fix of the record itself mends.
 */
const recordOutcomes = ['accepted', 'duplicate', 'id_reused', 'rejected'] as const;

function outcomeOf(outcome: RecordOutcome): (typeof recordOutcomes)[number] {
  if ('error' in outcome) return outcome.error.code === 'ID_REUSED' ? 'id_reused' : 'rejected';
  return outcome.duplicate ? 'duplicate' : 'accepted';
}

/** `scrape` replaces this registry's own exposition (a cluster worker answers for the whole cluster). */
export function createIngestTelemetry(registry: Registry, scrape?: () => Promise<MetricsResponse>): IngestTelemetry {
  const metrics = createMetrics(registry, ingestMetrics);
  // At 0 from the start: rate() takes a series' first sample as its start, so an outcome born with
  // its first record (the first duplicate, the first rejected record) would not show at all.
  for (const outcome of recordOutcomes) metrics.records.inc({ outcome }, 0);
  metrics.erasures.inc(0);
  // What Node's HTTP server answers itself, before any route: at 0 from the start as well. No
  // duration: the request never reached the app, and a 408 would only repeat requestTimeout.
  for (const status of clientErrorStatuses) metrics.httpRequests.inc({ route: clientErrorRoute, status: String(status) }, 0);
  // The 404 of a path no route takes, and the 405 of a path asked with a method none of its routes
  // takes, at 0 as well, with their duration: a scanner's or a misspelt client's first request is
  // then an increase (it was the first sample of a series born at 1).
  for (const status of ['404', '405']) metrics.httpRequests.inc({ route: unmatchedRoute, status }, 0);
  metrics.httpDuration.zero({ route: unmatchedRoute });
  const routes = new Set<string>();
  return {
    // Registered before any request; a route registered twice (a GET's HEAD) is not zeroed again.
    route(route, statuses) {
      if (routes.has(route)) return;
      routes.add(route);
      for (const status of statuses) metrics.httpRequests.inc({ route, status: String(status) }, 0);
      metrics.httpDuration.zero({ route });
    },
    request(route, status, seconds) {
      metrics.httpRequests.inc({ route, status: String(status) });
      metrics.httpDuration.observe({ route }, seconds);
    },
    clientError(status) {
      metrics.httpRequests.inc({ route: clientErrorRoute, status: String(status) });
    },
    records(outcomes: readonly RecordOutcome[]) {
      const counts = { accepted: 0, duplicate: 0, id_reused: 0, rejected: 0 };
      for (const outcome of outcomes) counts[outcomeOf(outcome)]++;
      for (const [result, count] of Object.entries(counts)) if (count > 0) metrics.records.inc({ outcome: result }, count);
    },
    invalidRecords(count) {
      if (count > 0) metrics.records.inc({ outcome: 'rejected' }, count);
    },
    captured(model, explain, reason) {
      metrics.captureDecisions.inc({ model, decision: explain ? 'explain' : 'skip', reason });
    },
    erased() {
      metrics.erasures.inc();
    },
    scrape: scrape ?? (() => metricsResponse(registry)),
  };
}
