import type { CapturePolicy } from '@gradcam/config';
import { redisKeys } from '@gradcam/contracts';
import { type ExplainQueue, queueJobCounts, workerCount } from '@gradcam/queue';
import type { Metrics, pipelineMetrics } from '@gradcam/telemetry';
import type { ReviewPool } from '@gradcam/review-pool';
import type { Redis } from 'ioredis';

type PipelineMetrics = Metrics<typeof pipelineMetrics>;

/**
 * Reads the queue's state at scrape time (job counts by state, connected workers) and the
 * capture-sampling counts ingest keeps in Redis, so the gauges are never older than the scrape.
 */
/** Republishes a Redis hash of `a|b|…` → count as a counter with those labels, in that order. */
function republish<Label extends string>(counter: { reset(): void; inc(labels: Partial<Record<Label, string>>, value: number): void }, labels: readonly Label[], hash: Record<string, string>) {
  counter.reset();
  for (const [field, value] of Object.entries(hash)) {
    const parts = field.split('|');
    counter.inc(Object.fromEntries(labels.map((label, i) => [label, parts[i] ?? ''])) as Partial<Record<Label, string>>, Number(value));
  }
}

export function createQueueStateCollector(deps: { queue: ExplainQueue; redis: Redis; prefix: string; policy: CapturePolicy; metrics: PipelineMetrics; reviews: ReviewPool }) {
  const { metrics } = deps;
  const keys = redisKeys(deps.prefix);
  metrics.captureRate.set(deps.policy.all ? 1 : deps.policy.rate);
  metrics.captureConfidenceThreshold.set(deps.policy.confidenceBelow);
  return async function collect(): Promise<void> {
    const now = Date.now();
    const [counts, workers, decisions, reviewDecisions, thresholds, backlog, verdicts, skips] = await Promise.all([
      queueJobCounts(deps.queue),
      workerCount(deps.queue).catch(() => undefined),
      deps.redis.hgetall(keys.captureDecisions),
      deps.redis.hgetall(keys.reviewDecisions),
      deps.redis.hgetall(keys.reviewThresholds),
      deps.reviews.backlog(now),
      deps.redis.hgetall(keys.reviewVerdicts),
      deps.redis.hgetall(keys.reviewSkips),
    ]);
    for (const [state, count] of Object.entries(counts)) metrics.queueJobs.set({ state }, count);
    if (workers !== undefined) metrics.workers.set(workers);
    // Ingest and the workers count in Redis across all their processes; the exporter
    // republishes the totals, so they survive restarts and are never summed twice.
    republish(metrics.captureDecisions, ['model', 'decision', 'reason'], decisions);
    republish(metrics.reviewSampled, ['model', 'decision', 'reason'], reviewDecisions);
    republish(metrics.reviewVerdicts, ['model', 'class', 'verdict'], verdicts);
    republish(metrics.reviewSkips, ['model'], skips);
    for (const [model, threshold] of Object.entries(thresholds)) metrics.reviewThreshold.set({ model }, Number(threshold));
    metrics.reviewBacklog.set({ state: 'pending' }, backlog.pending);
    metrics.reviewBacklog.set({ state: 'leased' }, backlog.leased);
    metrics.reviewBacklogAge.set(backlog.oldestPendingAt === undefined ? 0 : Math.max(0, (now - backlog.oldestPendingAt) / 1000));
  };
}
