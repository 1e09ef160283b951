import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ExplanationNotFiniteError } from '@gradcam/artifacts';
import type { JobFailureCode, imageChangedCode } from '@gradcam/contracts';
import { jobFailureCodes } from '@gradcam/contracts';
import type { EngineErrorCode } from '@gradcam/engine';
import type { ImagingErrorCode } from '@gradcam/imaging';
import type { batchFailedCode, jobFailedCode, jobInvalidCode, jobStalledCode } from '@gradcam/queue';
import type { StorageErrorCode } from '@gradcam/storage';
import { toJobFailure } from './job-failure.ts';

/**
 * The codes a job of this worker can fail with, by where they come from. The exporter exports
 * gradcam_jobs_failed_total at 0 for each code of @gradcam/contracts' jobFailureCodes, so that
 * the first failure of a code is an increase Prometheus sees: a code missing there would have its
 * first failures hidden from the failure panels and alerts.
 */
type WorkerFailureCode =
  | EngineErrorCode
  | ImagingErrorCode
  | StorageErrorCode
  | ExplanationNotFiniteError['code']
  | typeof jobInvalidCode
  | typeof batchFailedCode
  | typeof jobFailedCode
  | typeof jobStalledCode
  | typeof imageChangedCode
  | 'INTERNAL'
  | 'MODEL_NOT_SERVED'
  | 'MODEL_VERSION_MISMATCH';

// Does not compile while a code of those packages is missing from jobFailureCodes.
const everyCodeListed: Exclude<WorkerFailureCode, JobFailureCode> extends never ? true : Exclude<WorkerFailureCode, JobFailureCode> = true;

test('every code a job can fail with is in the list the metrics exporter exports at 0', () => {
  assert.equal(everyCodeListed, true);
  assert.equal(new Set(jobFailureCodes).size, jobFailureCodes.length, 'no code twice');
  for (const code of jobFailureCodes) assert.match(code, /^[A-Z][A-Z0-9_]+$/, 'a code toJobFailure keeps as it is');
  // An error with no code of its own fails its job as INTERNAL, which is listed.
  assert.ok((jobFailureCodes as readonly string[]).includes(toJobFailure(new Error('x'), 'explaining').code));
});
