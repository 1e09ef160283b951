import { type ExplainJobResult, explainJobResultSchema } from '@gradcam/contracts';
import { parseFailedReason } from '@gradcam/queue';
import { type Metrics, type pipelineMetrics, stages } from '@gradcam/telemetry';

type PipelineMetrics = Metrics<typeof pipelineMetrics>;

/**
 * Turns the queue's event stream into pipeline-wide metrics: each completed job carries its
 * model, methods, timings and batch figures (see ExplainJobResult), so one exporter sees what
 * every worker did without scraping them all.
 */
export class PipelineRecorder {
  constructor(private readonly metrics: PipelineMetrics) {}

  completed(returnvalue: unknown): ExplainJobResult | undefined {
    const raw = typeof returnvalue === 'string' ? safeJson(returnvalue) : returnvalue;
    const parsed = explainJobResultSchema.safeParse(raw);
    if (!parsed.success) return undefined;
    const result = parsed.data;
    const { metrics } = this;
    metrics.e2eLatency.observe({ model: result.model }, Math.max(0, (result.storedAt - result.acceptedAt) / 1000));
    metrics.imagesExplained.inc({ model: result.model });
    const perMethod = result.explanations / Math.max(1, result.methods.length);
    for (const method of result.methods) metrics.explanations.inc({ model: result.model, method, outcome: 'completed' }, perMethod);
    if (result.batchLeader) {
      metrics.batchSize.observe(result.batchSize);
      for (const stage of stages) metrics.stageDuration.observe({ stage }, result.stageSeconds[stage]);
    }
    return result;
  }

  /** A job that failed for good (BullMQ emits `failed` only once retries are exhausted or skipped). */
  failed(failedReason: string, job: { model: string; methods: readonly string[] } | undefined): void {
    const { code } = parseFailedReason(failedReason);
    this.metrics.jobsFailed.inc({ code });
    if (job) for (const method of job.methods) this.metrics.explanations.inc({ model: job.model, method, outcome: 'failed' });
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
