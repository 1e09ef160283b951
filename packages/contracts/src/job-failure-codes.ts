/**
 * Every stable code an explain job can fail for good with: the queue's own (a job whose data fails
 * its schema, a batch or job that threw without a code, a job stalled too often), the worker's, and
 * those of the engine, imaging, storage and artifacts packages whose errors reach a job. A failed
 * job keeps its code on its failed reason, and the metrics exporter counts it in
 * gradcam_jobs_failed_total{code}.
 *
 * The exporter exports every one of them at 0 from its start: increase() and rate() take a series'
 * first sample as their start, so a series born with its first failure would hide that failure
 * from the failure panels and alerts. The worker's job-failure-codes.test.ts does not compile
 * while a code of those packages is missing here. A code outside the list (an errno a library
 * error carried) is born at its first failure; the exporter shows a series born so to Prometheus at
 * 0 in the first answer Prometheus takes of it, so its first failures count too.
 */
export const jobFailureCodes = [
  // @gradcam/queue (job-failure.ts)
  'JOB_INVALID',
  'BATCH_FAILED',
  'JOB_FAILED',
  'JOB_STALLED',
  // the worker
  'INTERNAL',
  'IMAGE_CHANGED',
  'MODEL_NOT_SERVED',
  'MODEL_VERSION_MISMATCH',
  // @gradcam/engine
  'BACKEND_UNAVAILABLE',
  'MODEL_NOT_FOUND',
  'MODEL_INVALID',
  'MODEL_NAME_INVALID',
  'TARGET_LAYER_NOT_FOUND',
  'TARGET_LAYER_INVALID',
  'METHOD_UNKNOWN',
  'CLASS_OUT_OF_RANGE',
  'INPUT_INVALID',
  // @gradcam/imaging
  'IMAGE_EMPTY',
  'IMAGE_TOO_LARGE',
  'IMAGE_TOO_MANY_PIXELS',
  'IMAGE_UNSUPPORTED_FORMAT',
  'IMAGE_CORRUPT',
  'IMAGING_OUT_OF_MEMORY',
  // @gradcam/storage
  'STORAGE_NOT_FOUND',
  'STORAGE_BUCKET_NOT_FOUND',
  'STORAGE_TOO_LARGE',
  'STORAGE_INVALID_KEY',
  'STORAGE_ACCESS_DENIED',
  'STORAGE_UNAVAILABLE',
  'STORAGE_LENGTH_MISMATCH',
  'STORAGE_CHANGED',
  // @gradcam/artifacts
  'EXPLANATION_NOT_FINITE',
] as const;
export type JobFailureCode = (typeof jobFailureCodes)[number];
