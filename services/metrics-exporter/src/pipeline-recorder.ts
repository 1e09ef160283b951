import { type BatchFigures, type ExplainJob, type ExplainJobResult, batchFiguresSchema, explainJobResultSchema } from '@gradcam/contracts';
import { parseFailedReason } from '@gradcam/queue';
import { type Metrics, type pipelineMetrics, stages } from '@gradcam/telemetry';

type PipelineMetrics = Metrics<typeof pipelineMetrics>;

/**
 * Turns the queue's event stream into pipeline-wide metrics: each completed job carries its
 * model, methods and timings (see ExplainJobResult), and each worker publishes every micro-batch's
 * figures (see BatchFigures), so one exporter sees what every worker did without scraping them all.
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
    return result;
  }

  /**
   * A job that failed for good (BullMQ emits `failed` only once retries are exhausted or skipped),
   * counted in explanations in the unit of `completed`: each method (once) × each class asked for.
   */
  failed(failedReason: string, job: Pick<ExplainJob, 'model' | 'explain'> | undefined): void {
    const { code } = parseFailedReason(failedReason);
    this.metrics.jobsFailed.inc({ code });
    if (!job) return;
    const { methods = ['gradcam'], classes, topK } = job.explain;
    const perMethod = classes?.length ?? topK ?? 1;
    for (const method of new Set(methods)) this.metrics.explanations.inc({ model: job.model.name, method, outcome: 'failed' }, perMethod);
  }

  /** One worker micro-batch (`batchFiguresEvent`): a batch-size sample per engine call, the stages once. */
  batch(event: unknown): BatchFigures | undefined {
    const raw = (event as { figures?: unknown } | undefined)?.figures;
    // Parsed like every cross-process document: the exporter reads what any worker version wrote, and takes nothing half-formed.
    const parsed = typeof raw === 'string' ? batchFiguresSchema.safeParse(safeJson(raw)) : undefined;
    const figures = parsed?.success ? parsed.data : undefined;
    if (!figures) return undefined;
    for (const images of figures.engineCalls) this.metrics.batchSize.observe(images);
    for (const stage of stages) this.metrics.stageDuration.observe({ stage }, figures.stageSeconds[stage]);
    return figures;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
