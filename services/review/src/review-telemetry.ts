import type { ReviewItem } from '@gradcam/contracts';
import { type MetricsResponse, type Registry, createMetrics, metricsResponse, reviewMetrics } from '@gradcam/telemetry';

/** What the review service measures (its process's registry, `/metrics`). */
export interface ReviewTelemetry {
  /** A request answered (the app's onResponse). */
  request(route: string, status: number): void;
  /** A verdict kept: how long its item waited from being sampled. */
  verdict(item: ReviewItem): void;
  /** The registry's exposition, with every model of the pool's time to review in it (see createReviewTelemetry). */
  scrape(): Promise<MetricsResponse>;
}

export interface ReviewTelemetryOptions {
  /** The models the pool holds items of (`ReviewPool.models`), read at each scrape. */
  readonly models: () => Promise<readonly string[]>;
  /** Told when they could not be read: the scrape is answered all the same. */
  readonly onModelsError?: (error: unknown) => void;
}

/**
 * Each model's gradcam_review_time_to_review_seconds is exported at 0 from the first scrape that
 * finds an item of it in the pool, before its first verdict: rate() takes a series' first sample as
 * its start, so a series born with the process's first verdict on a model would hide that verdict
 * from the time-to-review panel. Every replica does so, as a verdict lands on whichever replica
 * the reviewer's request reaches. A series is never zeroed again once it exists (a verdict first,
 * on a model added since the last scrape, keeps its count).
 */
export function createReviewTelemetry(registry: Registry, options: ReviewTelemetryOptions): ReviewTelemetry {
  const metrics = createMetrics(registry, reviewMetrics);
  const modelsExported = new Set<string>();
  return {
    request: (route, status) => metrics.httpRequests.inc({ route, status: String(status) }),
    verdict(item) {
      modelsExported.add(item.model);
      metrics.timeToReview.observe({ model: item.model }, Math.max(0, ((item.reviewedAt ?? Date.now()) - item.sampledAt) / 1000));
    },
    async scrape() {
      try {
        for (const model of await options.models()) {
          if (modelsExported.has(model)) continue;
          modelsExported.add(model);
          metrics.timeToReview.zero({ model });
        }
      } catch (error) {
        options.onModelsError?.(error);
      }
      return metricsResponse(registry);
    },
  };
}
