import type { CapturePolicy } from '@gradcam/config';
import { redisKeys } from '@gradcam/contracts';
import { type ExplainQueue, queueJobCounts, workerCount } from '@gradcam/queue';
import type { Metrics, pipelineMetrics } from '@gradcam/telemetry';
import type { Redis } from 'ioredis';

type PipelineMetrics = Metrics<typeof pipelineMetrics>;

/**
 * Reads the queue's state at scrape time (job counts by state, connected workers) and the
 * capture-sampling counts ingest keeps in Redis, so the gauges are never older than the scrape.
 */
export function createQueueStateCollector(deps: { queue: ExplainQueue; redis: Redis; prefix: string; policy: CapturePolicy; metrics: PipelineMetrics }) {
  const { metrics } = deps;
  metrics.captureRate.set(deps.policy.all ? 1 : deps.policy.rate);
  metrics.captureConfidenceThreshold.set(deps.policy.confidenceBelow);
  return async function collect(): Promise<void> {
    const [counts, workers, decisions] = await Promise.all([
      queueJobCounts(deps.queue),
      workerCount(deps.queue).catch(() => undefined),
      deps.redis.hgetall(redisKeys(deps.prefix).captureDecisions),
    ]);
    for (const [state, count] of Object.entries(counts)) metrics.queueJobs.set({ state }, count);
    if (workers !== undefined) metrics.workers.set(workers);
    // Ingest counts in Redis across all its processes; the exporter republishes the totals.
    metrics.captureDecisions.reset();
    for (const [field, value] of Object.entries(decisions)) {
      const [model = '', decision = '', reason = ''] = field.split('|');
      metrics.captureDecisions.inc({ model, decision, reason }, Number(value));
    }
  };
}
