import { type BatchFigures, type ExplainJobResult, batchFiguresSchema, camMethodSchema, explainJobResultSchema, explainJobSchema, jobFailureCodes } from '@gradcam/contracts';
import { parseFailedReason } from '@gradcam/queue';
import { type Metrics, pipelineMetrics, stages } from '@gradcam/telemetry';

type PipelineMetrics = Metrics<typeof pipelineMetrics>;

/**
 * The families this recorder counts from the event stream: every process starts them at 0 (a
 * restart replays its gap from the cursor), where the scrape-time totals read from Redis do not.
 */
export const eventStreamMetricNames: ReadonlySet<string> = new Set(
  (['e2eLatency', 'explanations', 'jobsFailed', 'imagesExplained', 'batchSize', 'stageDuration', 'eventsUnreadable'] as const).map((key) => pipelineMetrics[key].name),
);

const explanationOutcomes = ['completed', 'failed'] as const;

/**
 * What the counters take from a job result, and all the exporter requires of one: a worker of
 * another version (a rolling upgrade) whose result lacks or changed a field the exporter does not
 * use (the per-batch figures come as their own event) is still counted.
 */
const countedResultSchema = explainJobResultSchema.pick({ model: true, methods: true, explanations: true, acceptedAt: true, storedAt: true });
export type CountedResult = Pick<ExplainJobResult, 'model' | 'methods' | 'explanations' | 'acceptedAt' | 'storedAt'>;

/**
 * Turns the queue's event stream into pipeline-wide metrics: each completed job carries its
 * model, methods and timings (see ExplainJobResult), and each worker publishes every micro-batch's
 * figures (see BatchFigures), so one exporter sees what every worker did without scraping them all.
 */
export class PipelineRecorder {
  /** Models whose series are exported at 0 already (see `models`). */
  private readonly modelsSeen = new Set<string>();

  private readonly metrics: PipelineMetrics;

  constructor(metrics: PipelineMetrics) {
    this.metrics = metrics;
    // Born at 0, so the first failures of each code count: increase() and rate() take a series'
    // first sample as their start, and a counter created by its first failure would hide that
    // failure from the failure panels, GradcamExplainFailureRatioHigh and GradcamNothingExplained.
    // Every stable code is known (jobFailureCodes); one outside it (an errno a library error
    // carried) is born at its first failure, and shown to Prometheus at 0 once (SeriesTaken in
    // counter-reset.ts). The stages are a fixed set too.
    for (const code of jobFailureCodes) metrics.jobsFailed.inc({ code }, 0);
    for (const stage of stages) metrics.stageDuration.zero({ stage });
  }

  /**
   * The models the pipeline takes records for (the capture counts ingest keeps in Redis, read at
   * every scrape): each one's images explained, end-to-end latency and explanations are exported
   * at 0 from the first scrape that knows it, before its first job completes. Otherwise the first
   * jobs of a model since the exporter started (a whole quiet run, or the catch-up after a restart)
   * would be the series' first sample, which rate() and increase() do not count.
   */
  models(models: Iterable<string>): void {
    const { metrics } = this;
    for (const model of models) {
      if (this.modelsSeen.has(model)) continue;
      this.modelsSeen.add(model);
      metrics.imagesExplained.inc({ model }, 0);
      metrics.e2eLatency.zero({ model });
      for (const method of camMethodSchema.options) for (const outcome of explanationOutcomes) metrics.explanations.inc({ model, method, outcome }, 0);
    }
  }

  /** A completed job: counted unless its result lacks what the counters need (then undefined). */
  completed(returnvalue: unknown): CountedResult | undefined {
    const raw = typeof returnvalue === 'string' ? safeJson(returnvalue) : returnvalue;
    const parsed = countedResultSchema.safeParse(raw);
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
   * counted in explanations in the unit of `completed`: each method (once) × each class asked for
   * (distinct, as the engine explains them). `data` is the job's data as BullMQ kept it, so it is
   * parsed: a JOB_INVALID failure is exactly a job whose data fails the schema, and a job already
   * removed has none; either is counted as a failure only.
   *
   * A top-k job counts k per method: the engine explains min(k, classes of the model), which the
   * exporter cannot know, so a k above the model's classes counts more failed explanations than a
   * completed job of the same request would have (the metric's help text says so).
   */
  failed(failedReason: string | undefined, data: unknown): void {
    const { code } = parseFailedReason(failedReason);
    this.metrics.jobsFailed.inc({ code });
    const parsed = explainJobSchema.safeParse(data);
    if (!parsed.success) return;
    const job = parsed.data;
    const { methods = ['gradcam'], classes, topK } = job.explain;
    const perMethod = classes === undefined ? (topK ?? 1) : new Set(classes).size;
    for (const method of new Set(methods)) this.metrics.explanations.inc({ model: job.model.name, method, outcome: 'failed' }, perMethod);
  }

  /** An event of the stream read past without being counted (see startEventStream): what it held is missing from the counters above. */
  unreadable(): void {
    this.metrics.eventsUnreadable.inc();
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
