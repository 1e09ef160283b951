import { type ExplainJob, type ExplainJobResult, explainJobResultSchema } from '@gradcam/contracts';
import { parseFailedReason } from '@gradcam/queue';
import { type BatchFigures, type Metrics, type pipelineMetrics, stages } from '@gradcam/telemetry';

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
    const figures = typeof raw === 'string' ? asBatchFigures(safeJson(raw)) : undefined;
    if (!figures) return undefined;
    for (const images of figures.engineCalls) this.metrics.batchSize.observe(images);
    for (const stage of stages) this.metrics.stageDuration.observe({ stage }, figures.stageSeconds[stage]);
    return figures;
  }
}

/** Checked by hand: the exporter reads what any worker version wrote, and takes nothing half-formed. */
function asBatchFigures(value: unknown): BatchFigures | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { engineCalls, stageSeconds } = value as { engineCalls?: unknown; stageSeconds?: unknown };
  if (!Array.isArray(engineCalls) || !engineCalls.every((n) => Number.isSafeInteger(n) && (n as number) > 0)) return undefined;
  if (typeof stageSeconds !== 'object' || stageSeconds === null) return undefined;
  const seconds = stageSeconds as Record<string, unknown>;
  if (!stages.every((stage) => typeof seconds[stage] === 'number' && Number.isFinite(seconds[stage]) && (seconds[stage] as number) >= 0)) return undefined;
  return { engineCalls: engineCalls as number[], stageSeconds: Object.fromEntries(stages.map((stage) => [stage, seconds[stage] as number])) as BatchFigures['stageSeconds'] };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
