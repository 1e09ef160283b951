import { z } from 'zod';
import { captureDecisionSchema } from './capture-decision.ts';
import { inferenceIdSchema } from './ids.ts';
import { camMethodSchema } from './manifest.ts';
import { explainRequestSchema, modelNameSchema, modelVersionSchema, s3UriSchema } from './inference-record.ts';

/** The BullMQ queue that carries explain jobs; the job id is the inference id. */
export const explainQueueName = 'explain';

/**
 * What ingest saw of the image when it accepted the record, so that the worker explains those very
 * bytes and not an object written under the key since: their size, and the store's ETag of a
 * referenced object (BlobHead.etag) or the sha256 of an inline upload. Jobs and prediction.json
 * written before these existed have none, and are not checked.
 */
const imageIdentityShape = {
  bytes: z.number().int().nonnegative().optional(),
  etag: z.string().min(1).optional(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
};

/**
 * The code a job fails with, at once, when its image is not the one ingest accepted (replaced
 * under its key since): no retry can explain the image the prediction was made on.
 */
export const imageChangedCode = 'IMAGE_CHANGED';

/**
 * The codes a job fails with when its image itself is unusable: missing, empty, not an image,
 * too large. An operator who fixes such an image under its key and retries the job by name
 * (`gradcam jobs retry --code …`) means the worker to read other bytes than ingest accepted, so
 * the retry drops the identity ingest recorded. A list, not a prefix: a new code is added here on
 * purpose (the worker's job-failure.test.ts does not compile until each new imaging code is
 * declared blaming the image or not). IMAGE_CHANGED is not one: its image was usable and was replaced, which is
 * what the identity is there to catch.
 */
export const imageFailureCodes = ['STORAGE_NOT_FOUND', 'STORAGE_TOO_LARGE', 'IMAGE_EMPTY', 'IMAGE_TOO_LARGE', 'IMAGE_TOO_MANY_PIXELS', 'IMAGE_UNSUPPORTED_FORMAT', 'IMAGE_CORRUPT'] as const;

/** Whether a job that failed with `code` failed on its image itself (imageFailureCodes). */
export function failedOnItsImage(code: string): boolean {
  return (imageFailureCodes as readonly string[]).includes(code);
}

/** Where the worker reads the image, our own stored copy (inline uploads) or the caller's object, and what identifies it. */
export const jobImageSchema = z.union([z.object({ key: z.string().min(1), ...imageIdentityShape }), z.object({ uri: s3UriSchema, ...imageIdentityShape })]);

export const explainJobSchema = z
  .object({
    inferenceId: inferenceIdSchema,
    model: z.object({ name: modelNameSchema, version: modelVersionSchema }),
    /** The inference's storage folder (see `inferenceFolder`), ending in '/'. */
    folder: z.string().min(1).endsWith('/'),
    image: jobImageSchema,
    explain: explainRequestSchema,
    /** Epoch ms when ingest accepted the record: the start of the end-to-end latency. */
    acceptedAt: z.number().int().positive(),
    capture: captureDecisionSchema,
    /**
     * The accepted record's fingerprint (ingest's recordFingerprint), so that the index entry a
     * worker writes for the job (indexEntryOfJob: ingest's commit failed) refuses the id sent
     * again with other content as ingest's own would. Absent from jobs queued before it was kept.
     */
    fingerprint: z.string().optional(),
  })
  // The worker writes into `folder` and resumes from a manifest found there: a job naming another
  // inference's folder would be explained over that one's. inferenceFolder ends in the id's own folder.
  .refine((job) => job.folder === `${job.inferenceId}/` || job.folder.endsWith(`/${job.inferenceId}/`), {
    message: 'must be the inference\'s own folder, ending in "/<inferenceId>/"',
    path: ['folder'],
  });
export type ExplainJob = z.infer<typeof explainJobSchema>;

/** Seconds a micro-batch spent in each stage (decode, engine, render, upload). */
export const stageSecondsSchema = z.object({ decode: z.number().nonnegative(), engine: z.number().nonnegative(), render: z.number().nonnegative(), upload: z.number().nonnegative() });

/**
 * What a completed job returns (kept on the BullMQ job): where the manifest is, and the figures
 * the metrics exporter turns into pipeline-wide histograms from the queue's event stream.
 */
export const explainJobResultSchema = z.object({
  manifestKey: z.string(),
  model: z.string(),
  methods: z.array(camMethodSchema),
  explanations: z.number().int().nonnegative(),
  /** Epoch ms: accepted by ingest, and manifest stored by the worker. */
  acceptedAt: z.number().int(),
  storedAt: z.number().int(),
  /**
   * Images the job's micro-batch sent through the engine, all its calls together (rounds and
   * model groups are calls of their own): the batch that stageSeconds and engineCpuSeconds cover.
   * 0 when every job of it was resumed from an earlier run's manifest.
   */
  batchSize: z.number().int().nonnegative(),
  /** True on one job per batch, so per-batch figures are counted once. */
  batchLeader: z.boolean(),
  /** Seconds spent by the job's batch in each stage. */
  stageSeconds: stageSecondsSchema,
  /**
   * CPU seconds of the worker's main thread while the batch's engine calls ran (Linux only): the
   * engine stage's wall time also counts the time other threads and processes held the core. On
   * a GPU it includes what the event loop did while the engine awaited the device.
   */
  engineCpuSeconds: z.number().nonnegative().optional(),
});
export type ExplainJobResult = z.infer<typeof explainJobResultSchema>;

/**
 * What a worker publishes on the explain queue's event stream after each micro-batch (event
 * `batchFiguresEvent`, this as JSON in its `figures` field). The exporter turns it into
 * gradcam_batch_size and gradcam_stage_duration_seconds: job results cannot carry them for a batch
 * in which no job completed, nor one sample per engine call.
 */
export const batchFiguresSchema = z.object({
  /** Images per engine call of the micro-batch, in call order; empty when none reached the engine. */
  engineCalls: z.array(z.number().int().positive()).readonly(),
  stageSeconds: stageSecondsSchema,
});
export type BatchFigures = z.infer<typeof batchFiguresSchema>;
export const batchFiguresEvent = 'gradcam:batch-figures';
