import { createHash } from 'node:crypto';
import { type ExplainJob, imageChangedCode } from '@gradcam/contracts';
import { isStorageError } from '@gradcam/storage';
import { JobFailure } from './job-failure.ts';

// An explanation must be of the image the prediction was made on. Ingest records what identifies
// it when it accepts the record (its size, the store's ETag of a referenced object, the sha256 of
// an inline upload: see jobImageSchema); an object written under the key since is another image,
// and explaining it would put another image's evidence beside the prediction. No attempt can
// succeed, so the job fails at once (imageChangedCode). A job without these fields (queued before
// they existed) is not checked.

const remedy =
  'resubmit the record, with the image it was predicted on, under a new inference id (retrying this job, `gradcam jobs retry` included, checks against the image accepted and fails again)';

function imageChanged(what: string, cause?: unknown): JobFailure {
  return new JobFailure(imageChangedCode, `the image was replaced after ingest accepted the record (${what}); ${remedy}`, true, { cause });
}

const where = (job: ExplainJob) => ('key' in job.image ? job.image.key : job.image.uri);

/** Options for the read of the job's image: the store refuses a version other than the one ingest saw. */
export const readUnchanged = (job: ExplainJob): { ifMatch?: string } => (job.image.etag === undefined ? {} : { ifMatch: job.image.etag });

/** The read's error as IMAGE_CHANGED when the store refused it for its ETag; otherwise as it was. */
export function changedOr(error: unknown): unknown {
  return isStorageError(error, 'STORAGE_CHANGED') ? imageChanged(error.message, error) : error;
}

/** Fails IMAGE_CHANGED when the bytes read are not those accepted: another size, or another sha256. */
export function assertImageUnchanged(job: ExplainJob, bytes: Uint8Array): void {
  const { bytes: size, sha256 } = job.image;
  if (size !== undefined && bytes.byteLength !== size) throw imageChanged(`${where(job)} is ${bytes.byteLength} bytes where ${size} were accepted`);
  if (sha256 === undefined) return;
  const read = createHash('sha256').update(bytes).digest('hex');
  if (read !== sha256) throw imageChanged(`${where(job)} has sha256 ${read} where ${sha256} was accepted`);
}
