import { ApiError, dependencyUnavailable, internalError, reportedApiError, type ServerErrorReport } from '@gradcam/http-service';
import { QueueUnavailableError } from '@gradcam/queue';
import { isStorageError } from '@gradcam/storage';

/**
 * What the failed request was: accepting records (POST), reading what was accepted (a status
 * GET, a presigned local-store link), or erasing an inference (DELETE). A 503 tells the client
 * what did not happen, and a read accepts nothing, so "the record was not accepted" would only
 * mislead it there; an erasure may have deleted part of the data, which its retry finishes.
 */
export type RequestKind = 'accept' | 'read' | 'erase';

const unavailableTail: Record<RequestKind, { redis: string; storage: string }> = {
  accept: { redis: 'nothing was accepted, retry later', storage: 'the record was not accepted, retry later' },
  read: { redis: 'retry later', storage: 'retry later' },
  erase: { redis: 'the inference may be partly erased: retry the DELETE to finish it', storage: 'the inference may be partly erased: retry the DELETE to finish it' },
};

export const redisUnavailable = (requestId: string, kind: RequestKind = 'accept') =>
  dependencyUnavailable('DEPENDENCY_UNAVAILABLE', `Redis is unavailable; ${unavailableTail[kind].redis}`, requestId);

export const storageUnavailable = (requestId: string, kind: RequestKind = 'accept') =>
  dependencyUnavailable('STORAGE_UNAVAILABLE', `storage is unavailable; ${unavailableTail[kind].storage}`, requestId);

/** The request kind of an HTTP method: GET and HEAD read, DELETE erases, the rest accept. */
export const requestKindOf = (method: string): RequestKind => (method === 'GET' || method === 'HEAD' ? 'read' : method === 'DELETE' ? 'erase' : 'accept');

/**
 * States an error that is not already an ApiError. Only a dependency that cannot answer now
 * (Redis: QueueUnavailableError; storage: STORAGE_UNAVAILABLE) is a 503 a client should retry;
 * anything else (storage refusing access or missing its bucket, a stored document failing its
 * schema, a bug) is a 500 INTERNAL, which retrying will not cure, naming `requestId`: the log has
 * the error under it. A deployment's own mistake is named as one, but never its configuration
 * (the bucket's name, the credentials): the client cannot fix it, and the log has it.
 */
export function toApiError(error: unknown, requestId: string, kind: RequestKind = 'accept'): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof QueueUnavailableError) return redisUnavailable(requestId, kind);
  if (isStorageError(error, 'STORAGE_UNAVAILABLE')) return storageUnavailable(requestId, kind);
  // Its message names the key and, for the filesystem store, the absolute path: for the log only.
  if (isStorageError(error, 'STORAGE_ACCESS_DENIED')) return internalError(requestId, "storage refused access (a deployment problem: check the store's credentials and policy)");
  if (isStorageError(error, 'STORAGE_BUCKET_NOT_FOUND')) return internalError(requestId, "the storage bucket does not exist (a deployment problem: check the store's bucket setting, and that the bucket was created)");
  return internalError(requestId);
}

/** toApiError, telling `report` of each error it answers 5xx: the client gets a fixed line and the request id, the log the whole error. */
export function toReportedApiError(error: unknown, requestId: string, report: ServerErrorReport | undefined, kind: RequestKind = 'accept'): ApiError {
  return reportedApiError(toApiError(error, requestId, kind), error, requestId, report);
}

/**
 * 409 INFERENCE_IN_PROGRESS (Retry-After: 1): the id cannot be settled by this request now. Another
 * request is accepting it, or this request's claim on it lapsed (its storage stalled past the
 * claim) or met a job it may not touch yet; the retry, under a claim of its own, learns the outcome
 * or completes it.
 */
export const inferenceInProgress = (id: string) =>
  new ApiError(409, 'INFERENCE_IN_PROGRESS', `another request is accepting "${id}" right now; retry to learn its outcome`, undefined, 1);

/**
 * 409 INFERENCE_IN_PROGRESS for an id this request queued but could not record: other attempts kept
 * failing adds of it (see queueAndRecord's rounds). Its claim is given back; a retry checks and records.
 */
export const jobNotConfirmed = (id: string) =>
  new ApiError(409, 'INFERENCE_IN_PROGRESS', `the job of "${id}" could not be confirmed: other attempts at it kept failing meanwhile; nothing was recorded, retry to complete it (a retry makes no second job)`, undefined, 1);

/**
 * 409 INFERENCE_IN_PROGRESS for an id whose earlier job this request could not check (see
 * queueAndRecord): its claim lapsed first (`not-held`), or a worker's lock is on the job
 * (`locked`). Nothing was added or recorded for it; the retry checks it under a fresh claim.
 */
export const jobNotChecked = (id: string, check: 'not-held' | 'locked') =>
  new ApiError(
    409,
    'INFERENCE_IN_PROGRESS',
    check === 'not-held'
      ? `this request's claim on "${id}" lapsed before its earlier job could be checked; nothing was recorded, retry to complete it`
      : `the earlier job of "${id}" is locked and could not be checked; nothing was recorded, retry to complete it`,
    undefined,
    1,
  );

/**
 * 409 ID_REUSED: the id was accepted before with other content (see recordFingerprint). Not a
 * duplicate: answering one would drop this record's content without a word. Final: retrying the
 * same record cannot change it. `differs`: the parts that differ, where the entry says.
 */
export function idReused(id: string, acceptedAt: number, differs: readonly string[]): ApiError {
  const when = new Date(acceptedAt).toISOString();
  const which = differs.length > 0 ? ` (its ${differs.join(', ')} ${differs.length === 1 ? 'differs' : 'differ'})` : '';
  return new ApiError(
    409,
    'ID_REUSED',
    `"${id}" was accepted at ${when} with other content${which}; nothing of this record was stored. An id names one inference: send each new prediction with a new id, or resend the original record unchanged to learn its outcome`,
    { acceptedAt: when, differs },
  );
}
