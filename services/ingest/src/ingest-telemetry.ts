import { type MetricsResponse, type Registry, createMetrics, ingestMetrics, metricsResponse } from '@gradcam/telemetry';
import type { RecordOutcome } from './accept-records.ts';
import type { IngestTelemetry } from './app.ts';

/** `scrape` replaces this registry's own exposition (a cluster worker answers for the whole cluster). */
export function createIngestTelemetry(registry: Registry, scrape?: () => Promise<MetricsResponse>): IngestTelemetry {
  const metrics = createMetrics(registry, ingestMetrics);
  return {
    request(route, status, seconds) {
      metrics.httpRequests.inc({ route, status: String(status) });
      metrics.httpDuration.observe({ route }, seconds);
    },
    records(outcomes: readonly RecordOutcome[]) {
      const counts = { accepted: 0, duplicate: 0, rejected: 0 };
      for (const outcome of outcomes) counts['error' in outcome ? 'rejected' : outcome.duplicate ? 'duplicate' : 'accepted']++;
      for (const [result, count] of Object.entries(counts)) if (count > 0) metrics.records.inc({ outcome: result }, count);
    },
    invalidRecords(count) {
      if (count > 0) metrics.records.inc({ outcome: 'rejected' }, count);
    },
    captured(model, explain, reason) {
      metrics.captureDecisions.inc({ model, decision: explain ? 'explain' : 'skip', reason });
    },
    scrape: scrape ?? (() => metricsResponse(registry)),
  };
}
