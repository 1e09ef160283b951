import { randomUUID } from 'node:crypto';
import { type ErasureRecord, type PredictionDocument, erasureRecordKey, keyIn, predictionDocumentSchema, predictionFileName } from '@gradcam/contracts';
import { ApiError } from '@gradcam/http-service';
import { type BlobStore, forEachConcurrent, listAll } from '@gradcam/storage';
import type { ClaimResult, InferenceIndex } from './inference-index.ts';
import type { StatusDeps } from './inference-status.ts';

export interface EraseDeps {
  readonly index: InferenceIndex;
  readonly jobState: StatusDeps['jobState'];
  /** BullMQ's remove of the id's job, whatever its state: `locked` when a worker holds it (nothing removed). */
  readonly removeJob: (id: string) => Promise<'removed' | 'locked'>;
  /** The id's review-pool item and its index entries: `busy` while a verdict on it is being kept (nothing removed). */
  readonly removeReviewItem: (id: string) => Promise<'removed' | 'absent' | 'busy'>;
  /** Deletes the entries of the queue's event stream that name the id's job (purgeJobEvents): how many. */
  readonly purgeJobEvents: (id: string) => Promise<number>;
  readonly store: BlobStore;
  /** The deployment's storage prefix: erasure records go under `{prefix}/_erasures/` (erasureRecordKey). */
  readonly storagePrefix: string;
  /** Now, for erasedAt (tests give their own). */
  readonly now?: () => Date;
}

/** What DELETE /v1/inferences/{id} answers. */
export interface Erasure {
  readonly id: string;
  readonly erased: true;
  /** Objects deleted from the inference's folder by this request (a retry counts only what was left). */
  readonly objects: number;
  /**
   * Entries of the queue's event stream naming the id's job (its result, its failure's reason, and
   * the bare id of each step) deleted by this request (a retry counts only what was left).
   */
  readonly events: number;
  /** The image the record referenced (`s3://…`, the client's own object): not deleted. */
  readonly keptReferencedImage?: string;
}

/** Seconds a client waits before retrying an erasure refused while a worker explains the inference. */
export const explainingRetryAfterSeconds = 5;

/**
 * Seconds a client waits before retrying an erasure refused while a request accepts the id: an
 * accept holds its claim for the moments it takes to store the prediction and queue the job (the
 * same wait POST's 409 asks for). A claim left by an ingest process that stopped mid-accept holds
 * the id until it lapses (defaultClaimTtlMs, a minute): the message says how long at most.
 */
export const acceptingRetryAfterSeconds = 1;

const accepting = (id: string, lapsesInMs: number) =>
  new ApiError(
    409,
    'INFERENCE_IN_PROGRESS',
    `"${id}" is being accepted by another request right now; nothing was erased, retry to erase it once it is stored (a claim left by a stopped ingest process lapses within ${Math.max(1, Math.ceil(lapsesInMs / 1000))} s)`,
    undefined,
    acceptingRetryAfterSeconds,
  );

const notFound = (id: string) =>
  new ApiError(404, 'INFERENCE_NOT_FOUND', `no inference "${id}" is known: never accepted, its record expired, or erased already`);

/**
 * Erases one inference on request (GDPR art. 17, a withdrawn consent, a takedown): its job, its
 * review item, every object in its folder, its job's entries in the queue's event stream, and last
 * its index entry. Each step is idempotent and
 * the entry, which is what finds the inference, goes last, so a request that fails part-way (503)
 * leaves the id known and a retry finishes the erasure; once the entry is gone the id answers 404
 * INFERENCE_NOT_FOUND, here as on GET. prediction.json is deleted after the rest of the folder, so
 * a retry still learns of the referenced image it keeps.
 *
 * Just before the entry goes, an erasure record (`{prefix}/_erasures/dt={day}/{id}.json`, no
 * content: ErasureRecord) says that it was erased, when, and by which erase token (`erasedBy`, the
 * token's fingerprint). A retry after a failure past it finds the record and leaves it as it is
 * (it holds the count of the attempt that deleted the objects); one on a later day writes that
 * day's too.
 *
 * An id an accept attempt stored and never recorded (its pending folder alone: its process was
 * killed, or it was answered 503 before its job was queued, and its client did not retry) is
 * erased too: what that attempt stored is the client's, and no record will ever name it (see
 * eraseUnrecorded). A known id whose pending folder names another folder than its entry has both
 * erased.
 *
 * Refused with 409 INFERENCE_IN_PROGRESS while a request accepts the id (its claim stands: the
 * accept would store it after this request), nothing deleted; while a worker explains it (the job
 * is active, or locked when removed: the worker would write the folder again), nothing deleted;
 * and while a reviewer's verdict on it is being kept (review.json is being written), by which
 * point only its job is gone.
 */
export async function eraseInference(deps: EraseDeps, id: string, erasedBy: string): Promise<Erasure> {
  const found = await deps.index.lookup(id);
  // An accept in flight (its claim stands) stores the id once this request has gone: a 404 would
  // tell the client there is nothing to erase, and the data would stay. Refused, whether or not an
  // earlier attempt's job exists (its accept may be between its add and its commit, which would
  // record the id again after the erasure forgot it).
  if (found.state === 'claimed') throw accepting(id, found.lapsesInMs);
  if (found.state === 'unknown') throw notFound(id);
  if (found.state === 'unrecorded') return eraseUnrecorded(deps, id, erasedBy);
  const { entry } = found;
  // Whatever an entry says, nothing outside the id's own folder is ever deleted.
  ownFolder(id, entry.folder);
  const other = found.pending?.folder === entry.folder ? undefined : found.pending?.folder;
  if (other !== undefined) ownFolder(id, other);
  const explaining = () =>
    new ApiError(409, 'INFERENCE_IN_PROGRESS', `"${id}" is being explained by a worker right now; nothing was erased, retry once it is done`, undefined, explainingRetryAfterSeconds);
  const job = await deps.jobState(id);
  if (job?.state === 'active') throw explaining();
  if (job !== undefined) {
    // Found by its job alone (never recorded): recorded first, or a failure past the job's removal
    // would leave its folder stored under an id nothing finds any more.
    await deps.index.keep(id, entry);
    if ((await deps.removeJob(id)) === 'locked') throw explaining();
  }
  if ((await deps.removeReviewItem(id)) === 'busy') {
    throw new ApiError(409, 'INFERENCE_IN_PROGRESS', `a reviewer's verdict on "${id}" is being saved right now; retry to finish the erasure`, undefined, 1);
  }

  const earlier = other === undefined ? 0 : (await eraseFolder(deps, other)).objects;
  const { objects, image } = await eraseFolder(deps, entry.folder);
  // After the job's removal, whose 'removed' event names it too; before the entry, so that a retry
  // of an erasure failing here still finds the id and purges again (idempotent).
  const events = await deps.purgeJobEvents(id);
  await keepErasureRecord(deps, { id, folder: entry.folder, objects: objects + earlier, erasedBy });
  await deps.index.forget(id);
  return { id, erased: true, objects: objects + earlier, events, ...(image !== undefined && 'uri' in image && { keptReferencedImage: image.uri }) };
}

/** Whatever the index says, nothing outside the id's own folder is ever deleted. */
function ownFolder(id: string, folder: string): void {
  if (!(folder === `${id}/` || folder.endsWith(`/${id}/`))) throw new Error(`the record of "${id}" names the folder ${JSON.stringify(folder)}, not its own: nothing erased`);
}

/**
 * Deletes every object in a folder, prediction.json last (so a retry still learns of the referenced
 * image it keeps): how many, and the image prediction.json named.
 */
async function eraseFolder(deps: EraseDeps, folder: string): Promise<{ objects: number; image?: PredictionDocument['image'] }> {
  const predictionKey = keyIn(folder, predictionFileName);
  const prediction = predictionDocumentSchema.safeParse(await deps.store.get(predictionKey).then((body) => JSON.parse(body.toString('utf8')) as unknown, () => undefined));
  // The folder ends in '/': a listing of it never reaches another id's folder that starts alike.
  const keys = await listAll(deps.store, folder);
  const rest = keys.filter((key) => key !== predictionKey);
  await forEachConcurrent(rest, deps.store.parallelism, (key) => deps.store.delete(key));
  if (rest.length < keys.length) await deps.store.delete(predictionKey);
  return { objects: keys.length, ...(prediction.success && { image: prediction.data.image }) };
}

/**
 * Erases an id known by its pending folder alone: an accept attempt stored it there and neither
 * queued its job nor recorded it. Under a claim of its own, as an accept takes one: an accept of
 * the id arriving meanwhile would store into that folder and record the id, which the erasure's
 * deletes and its forget would leave half gone, its record lost; it is refused 409 instead, and
 * once the erasure is done it starts afresh. Where the claim finds the id accepted or queued
 * since, the id is erased as such; where it finds a claim, 409 as for any accept in flight.
 */
async function eraseUnrecorded(deps: EraseDeps, id: string, erasedBy: string): Promise<Erasure> {
  const holder = `erasure-${randomUUID()}`;
  let claim: ClaimResult | undefined;
  try {
    [claim] = await deps.index.claim(holder, [id]);
  } catch (error) {
    // The claim may have run (its reply lost, or Redis running it after the command timed out):
    // given back after it, as an accept gives its own back, or it would refuse the id's accepts and
    // this erasure's retry for a minute. Not awaited: the 503 need not wait out a second timeout.
    void deps.index.release(holder, [id]).catch(() => undefined);
    throw error;
  }
  if (claim?.state === 'accepted') return eraseInference(deps, id, erasedBy);
  if (claim?.state !== 'claimed') throw accepting(id, deps.index.claimTtlMs);
  try {
    if (claim.job) {
      await deps.index.release(holder, [id]);
      return await eraseInference(deps, id, erasedBy);
    }
    if (!claim.pending) throw notFound(id);
    const { folder } = claim.pending;
    ownFolder(id, folder);
    const { objects, image } = await eraseFolder(deps, folder);
    // An add that failed partway may have left a job (removed since as stranded) whose events name the id.
    const events = await deps.purgeJobEvents(id);
    await keepErasureRecord(deps, { id, folder, objects, erasedBy });
    await deps.index.forget(id);
    return { id, erased: true, objects, events, ...(image !== undefined && 'uri' in image && { keptReferencedImage: image.uri }) };
  } finally {
    await deps.index.release(holder, [id]).catch(() => undefined);
  }
}

/** Writes the erasure record, unless a failed attempt of this erasure wrote it already today. */
async function keepErasureRecord(deps: EraseDeps, erasure: { id: string; folder: string; objects: number; erasedBy: string }): Promise<void> {
  const erasedAt = deps.now?.() ?? new Date();
  const key = erasureRecordKey(deps.storagePrefix, erasedAt, erasure.id);
  if (await deps.store.exists(key)) return;
  // The folder is `…/{model}/{modelVersion}/dt=…/{id}/` (inferenceFolder): the version is no longer stored anywhere else.
  const [model = '', modelVersion = ''] = erasure.folder.split('/').slice(-5, -3);
  const record: ErasureRecord = { schemaVersion: 1, inferenceId: erasure.id, model, modelVersion, folder: erasure.folder, objects: erasure.objects, erasedAt: erasedAt.toISOString(), erasedBy: erasure.erasedBy };
  await deps.store.put(key, Buffer.from(`${JSON.stringify(record)}\n`), { contentType: 'application/json' });
}
