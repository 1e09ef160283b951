/**
 * Every metric the pipeline exports, defined once: names follow Prometheus conventions
 * (`gradcam_` prefix, base units in the name, `_total` on counters) and labels are of low
 * cardinality only — never an inference id. Dashboards and alert rules are checked against
 * this catalog in tests, so a renamed metric cannot silently break them.
 */

/** Request latency buckets from 5 ms to 10 min. */
const latencyBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
/**
 * Ingest → stored manifest: the same, on to 2 h. A backlog drains for hours, and a job that waits
 * 40 min must not read as "over 10 min" (quantiles past the top finite bucket all read as it).
 */
const e2eLatencyBuckets = [...latencyBuckets, 1800, 3600, 7200];
/**
 * Engine and storage stages per batch: 1 ms to 10 min. A Score-CAM batch on CPU can take minutes (64
 * masked forward passes per image by default), and with a top bucket of 1 min its p95 would read 1 min.
 */
const stageBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
/** Images per engine call, up to GRADCAM_BATCH_SIZE's maximum (256). */
const batchSizeBuckets = [1, 2, 4, 8, 16, 32, 64, 128, 256];

interface MetricBase<Label extends string> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly Label[];
}
/** `Label` keeps the label names as literal types, so `createMetrics` can type `.labels()`. */
export interface CounterDefinition<Label extends string = string> extends MetricBase<Label> {
  readonly type: 'counter';
}
export interface GaugeDefinition<Label extends string = string> extends MetricBase<Label> {
  readonly type: 'gauge';
}
export interface HistogramDefinition<Label extends string = string> extends MetricBase<Label> {
  readonly type: 'histogram';
  readonly buckets: readonly number[];
}
export type MetricDefinition<Label extends string = string> = CounterDefinition<Label> | GaugeDefinition<Label> | HistogramDefinition<Label>;

const counter = <Label extends string = never>(name: string, help: string, labelNames: readonly Label[] = []): CounterDefinition<Label> => ({
  type: 'counter',
  name,
  help,
  labelNames,
});
const gauge = <Label extends string = never>(name: string, help: string, labelNames: readonly Label[] = []): GaugeDefinition<Label> => ({
  type: 'gauge',
  name,
  help,
  labelNames,
});
const histogram = <Label extends string = never>(
  name: string,
  help: string,
  buckets: readonly number[],
  labelNames: readonly Label[] = [],
): HistogramDefinition<Label> => ({
  type: 'histogram',
  name,
  help,
  labelNames,
  buckets,
});

/** Per ingest process (`services/ingest` /metrics). */
export const ingestMetrics = {
  httpRequests: counter('gradcam_ingest_http_requests_total', 'HTTP requests answered by ingest, by route and status code.', ['route', 'status']),
  httpDuration: histogram('gradcam_ingest_http_request_duration_seconds', 'Time to answer an ingest HTTP request.', latencyBuckets, ['route']),
  records: counter('gradcam_ingest_records_total', 'Inference records by outcome: accepted, duplicate, id_reused (409 ID_REUSED: another record under an id accepted before) or rejected.', ['outcome']),
  captureDecisions: counter(
    'gradcam_ingest_capture_decisions_total',
    'Capture-sampling decisions made by this ingest process, by model, decision and reason.',
    ['model', 'decision', 'reason'],
  ),
  erasures: counter('gradcam_ingest_erasures_total', 'Inferences erased on request (DELETE /v1/inferences/{id}: their job, review item, stored objects and record) by this ingest process.'),
} as const;

/** Per worker process (`services/worker` /metrics). */
export const workerMetrics = {
  batchSize: histogram(
    'gradcam_worker_batch_size',
    'Images per engine call in this worker process (one sample per call: a micro-batch split into rounds or by model and methods makes several; jobs that failed before the engine are not in it).',
    batchSizeBuckets,
  ),
  stageDuration: histogram(
    'gradcam_worker_stage_duration_seconds',
    'Time per micro-batch in each stage: decode, engine (forward + backward + maps, not the wait for the engine), render, upload; also for batches in which no job completed.',
    stageBuckets,
    ['stage'],
  ),
  jobs: counter('gradcam_worker_jobs_total', 'Jobs finished by this worker process, by outcome (completed, failed, retried, deferred: handed back to the queue with no attempt counted, for a worker serving the model version it wants or while this one runs a job back from a stall alone).', ['outcome']),
  storageProblem: gauge(
    'gradcam_worker_storage_problem',
    "1 for the code of why this worker process cannot use storage, 0 for the others (all 0 while it can): its probe writes a small object and reads it back, and while that fails it takes no jobs. STORAGE_UNAVAILABLE (no answer, a timeout, a 5xx), STORAGE_BUCKET_NOT_FOUND, STORAGE_ACCESS_DENIED (credentials or bucket policy, refused writes included: the metrics exporter's read-only probe, gradcam_storage_up, cannot see those).",
    ['code'],
  ),
  backendInfo: gauge('gradcam_worker_backend_info', 'Always 1; labels name the TensorFlow.js backend and model this process runs.', ['backend', 'model']),
  engineTensors: gauge(
    'gradcam_worker_engine_tensors',
    'TensorFlow.js tensors alive in this engine process after its last micro-batch (tf.memory().numTensors; read at warm-up, then after each batch): flat from the first batch on, so a rise from batch to batch is a leak.',
  ),
  wasmMemory: gauge(
    'gradcam_worker_wasm_memory_bytes',
    "The wasm backend's WebAssembly memory in this engine process after its last micro-batch: it grows to fit the largest engine call (batch size, methods) and never shrinks; part of nodejs_external_memory_bytes. 0 on other backends.",
  ),
  // Counted by the supervising process, which outlives the engine processes it restarts; they
  // register it too (createWorkerTelemetry takes the whole group) but never count, so it has no
  // series of theirs.
  engineRestarts: counter(
    'gradcam_worker_engine_restarts_total',
    'Engine processes restarted by this worker replica\'s supervisor, by reason: crashed (exited unasked: non-zero, killed by a signal the supervisor did not send), engine_timeout (exited because an engine call ran past GRADCAM_ENGINE_TIMEOUT_SECONDS: a hung GPU or native op), unresponsive (SIGKILLed by its heartbeat watchdog: event loop blocked) or memory_ceiling (drained and exited once its resident memory passed GRADCAM_ENGINE_MAX_RSS_MB: a planned recycle). Each reason starts at 0. Every replica has a supervisor, one engine process or more; the series carry worker="supervisor".',
    ['reason'],
  ),
} as const;

/**
 * The label every series of a worker process carries (its registry's default label, not a catalog
 * label): the engine process's index, or `supervisor` for the supervisor's own process metrics. A
 * replica's one /metrics sums its processes' registries; this keeps their series apart.
 */
export const workerProcessLabel = 'worker';

/** Pipeline-wide, from the metrics exporter (`services/metrics-exporter` /metrics). */
export const pipelineMetrics = {
  queueJobs: gauge(
    'gradcam_queue_jobs',
    'Explain jobs by BullMQ state: waiting, prioritized, delayed (retries waiting out their backoff), active, completed and failed (the jobs BullMQ still keeps, not totals: see gradcam_images_explained_total and gradcam_jobs_failed_total), paused (the waiting and prioritized jobs of a paused queue, which then read 0).',
    ['state'],
  ),
  workers: gauge('gradcam_workers', 'Worker connections registered on the explain queue; no sample while the count is unknown (see gradcam_workers_known).'),
  workersKnown: gauge(
    'gradcam_workers_known',
    '1 when Redis lists its clients, so gradcam_workers is the worker count; 0 when it will not (CLIENT renamed away, or an ACL without CLIENT LIST): the count is unknown and not exported.',
  ),
  modelWeightsVariants: gauge(
    'gradcam_model_weights_variants',
    'Distinct model weights (sha256 of topology, weight specs and weights) that live workers serve this model version with: 1 normally; above 1, explanations of one version come from different models (a rollout under an unchanged version, a model folder edited in place). Only versions whose workers announce their weights, heard from in the last 35 s.',
    ['model', 'version'],
  ),
  collectSuccess: gauge(
    'gradcam_exporter_collect_success',
    '1 when the last scrape read this source of scrape-time gauges (queue, workers, capture, review_sampling, review_backlog, review_verdicts, redis_memory, event_stream, exporters, model_weights); 0 when the read failed and its gauges are not exported.',
    ['source'],
  ),
  exporterInstances: gauge(
    'gradcam_exporter_instances',
    "Metrics exporters running on this queue (heard from in the last 30 s), this one included. Run one: each reads the whole event stream, so two double the pipeline counters in a sum() over them, and they move one shared resume cursor, so a restarted one loses the events of its own restart.",
  ),
  eventsLag: gauge(
    'gradcam_exporter_events_lag_seconds',
    "Age of the oldest event in the queue's event stream that the exporter has not read yet (0 when it has read them all; events the capped stream trimmed unread count from the last one it read): the counters and histograms from the stream (images explained, explanations, failures, e2e latency, batch sizes, stages) miss what happened since. Growing: the exporter cannot read the stream (an ACL without XREAD) or keep up with it.",
  ),
  eventsUnreadable: counter(
    'gradcam_exporter_events_unreadable_total',
    "Events of the queue's event stream the exporter read past without counting them, each logged with its stream id: a completed event whose returnvalue or a progress event whose data is not JSON (written by something other than BullMQ, a bug, another BullMQ version), or a job result or batch figures it does not understand (a worker of another version). The counters and histograms from the stream miss what they held.",
  ),
  redisMemoryUsed: gauge('gradcam_redis_memory_used_bytes', "Memory Redis has allocated (INFO memory's used_memory)."),
  redisMemoryMax: gauge(
    'gradcam_redis_memory_max_bytes',
    "Redis's maxmemory (0: no limit). With maxmemory-policy noeviction, as the pipeline needs, every write fails once used reaches it: ingest answers 503 and workers cannot complete jobs.",
  ),
  storageUp: gauge(
    'gradcam_storage_up',
    "1 when the metrics exporter's last probe of the store (S3, or the local store) found it usable: a read-only HEAD of the readiness probe object the services write under GRADCAM_STORAGE_PREFIX, at most every 10 s, given up on after 3 s; 0 when it could not (gradcam_storage_problem says why). Present from the first scrape, also with no traffic: the services' /readyz says the same, but only to whoever polls it.",
  ),
  storageProblem: gauge(
    'gradcam_storage_problem',
    "1 for the code of why the last storage probe failed, 0 for the others (all 0 while gradcam_storage_up is 1): STORAGE_UNAVAILABLE (no answer, a timeout, a 5xx, a folder that cannot be read), STORAGE_BUCKET_NOT_FOUND, STORAGE_ACCESS_DENIED (credentials or bucket policy), STORAGE_NOT_FOUND (the readiness probe object is missing: no service has written it where the exporter looks, so S3_BUCKET, GRADCAM_STORAGE_PREFIX or GRADCAM_STORAGE_DIR differ from the services', or none has started).",
    ['code'],
  ),
  storageProbeDuration: gauge(
    'gradcam_storage_probe_duration_seconds',
    'How long the last storage probe took (the deadline, 3 s, when it gave no answer by then).',
  ),
  e2eLatency: histogram(
    'gradcam_e2e_latency_seconds',
    'From ingest accepting a record to its explanation manifest being stored.',
    e2eLatencyBuckets,
    ['model'],
  ),
  explanations: counter(
    'gradcam_explanations_total',
    'Explanations (image × method × distinct class) by model, method and outcome. A failed top-k job counts k classes per method; a completed one counts min(k, the model’s classes).',
    ['model', 'method', 'outcome'],
  ),
  jobsFailed: counter('gradcam_jobs_failed_total', 'Explain jobs that failed for good, by error code.', ['code']),
  imagesExplained: counter('gradcam_images_explained_total', 'Images whose explanation manifest was stored; rate() gives the throughput.', ['model']),
  batchSize: histogram(
    'gradcam_batch_size',
    'Images per engine call, across all workers (one sample per call, from the figures each worker publishes after a micro-batch).',
    batchSizeBuckets,
  ),
  stageDuration: histogram(
    'gradcam_stage_duration_seconds',
    'Time per micro-batch in each stage (decode, engine, render, upload), across all workers; also for batches in which no job completed.',
    stageBuckets,
    ['stage'],
  ),
  captureDecisions: counter(
    'gradcam_capture_decisions_total',
    'Capture-sampling decisions across all ingest processes, by model, decision and reason (counted in Redis by ingest).',
    ['model', 'decision', 'reason'],
  ),
  captureRate: gauge('gradcam_capture_rate', "Capture rate (0–1; 1 for the policy all) of the exporter's own GRADCAM_CAPTURE_POLICY, which must be ingest's: the exporter cannot read the policy ingest applies."),
  captureConfidenceThreshold: gauge(
    'gradcam_capture_confidence_threshold',
    "Records whose top score is below this are always explained (0 = off), from the exporter's own GRADCAM_CAPTURE_POLICY, which must be ingest's.",
  ),
  reviewThreshold: gauge('gradcam_review_threshold', 'Priority threshold of the reviewer-sampling budget policy, by model (0–1): the one a worker placed from its own traffic, in force once it is past its first events; only for a model a worker recorded one for in the last hour.', ['model']),
  reviewSampled: counter(
    'gradcam_review_sampled_total',
    'Reviewer-sampling decisions by model, decision (review or skip) and reason (counted in Redis by workers).',
    ['model', 'decision', 'reason'],
  ),
  reviewBacklog: gauge('gradcam_review_backlog', 'Explanations waiting for review (pending) or being reviewed (leased).', ['state']),
  reviewBacklogAge: gauge('gradcam_review_backlog_oldest_age_seconds', 'Age of the oldest explanation waiting for review (0 when none).'),
  reviewVerdicts: counter('gradcam_review_verdicts_total', 'Review verdicts by model, predicted class and verdict.', ['model', 'class', 'verdict']),
  // A counter of its own rather than a decrement of gradcam_review_verdicts_total: a counter that
  // goes down reads as a reset to Prometheus (rate() would jump). Kept verdicts = verdicts − undos.
  reviewUndos: counter(
    'gradcam_review_undos_total',
    'Verdicts taken back by their reviewer within the undo window, by model, predicted class and the verdict undone (each is still counted in gradcam_review_verdicts_total).',
    ['model', 'class', 'verdict'],
  ),
  reviewSkips: counter('gradcam_review_skips_total', 'Items a reviewer skipped (could not judge; handed to other reviewers), by model.', ['model']),
  reviewBroken: counter(
    'gradcam_review_broken_total',
    'Review items set aside as broken, by model: their prediction.json or explanation.json was missing or invalid when a reviewer was to be shown them.',
    ['model'],
  ),
} as const;

/** Per review-service process (`services/review` /metrics). */
export const reviewMetrics = {
  httpRequests: counter('gradcam_review_http_requests_total', 'HTTP requests answered by the review service, by route and status code.', ['route', 'status']),
  timeToReview: histogram(
    'gradcam_review_time_to_review_seconds',
    'From an explanation being sampled for review to its verdict (each verdict given, one later undone included: see gradcam_review_undos_total).',
    [60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86_400, 3 * 86_400, 7 * 86_400],
    ['model'],
  ),
} as const;

export const metricCatalog: readonly MetricDefinition[] = [
  ...Object.values(ingestMetrics),
  ...Object.values(workerMetrics),
  ...Object.values(pipelineMetrics),
  ...Object.values(reviewMetrics),
];

/** Stage names used in the stage-duration histograms and in job results. */
export const stages = ['decode', 'engine', 'render', 'upload'] as const;
export type Stage = (typeof stages)[number];

