import { ApiError, dependencyUnavailable, internalError, reportedApiError, type ServerErrorReport } from '@gradcam/http-service';
import { QueueUnavailableError } from '@gradcam/queue';
import { isStorageError } from '@gradcam/storage';

export const redisUnavailable = (requestId: string) =>
  dependencyUnavailable('DEPENDENCY_UNAVAILABLE', 'Redis is unavailable; nothing was accepted, retry later', requestId);

export const storageUnavailable = (requestId: string) =>
  dependencyUnavailable('STORAGE_UNAVAILABLE', 'storage is unavailable; the record was not accepted, retry later', requestId);

/**
 * States an error that is not already an ApiError. Only a dependency that cannot answer now
 * (Redis: QueueUnavailableError; storage: STORAGE_UNAVAILABLE) is a 503 a client should retry;
 * anything else (storage refusing access, a stored document failing its schema, a bug) is a 500
 * INTERNAL, which retrying will not cure, naming `requestId`: the log has the error under it.
 */
export function toApiError(error: unknown, requestId: string): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof QueueUnavailableError) return redisUnavailable(requestId);
  if (isStorageError(error, 'STORAGE_UNAVAILABLE')) return storageUnavailable(requestId);
  // Its message names the key and, for the filesystem store, the absolute path: for the log only.
  if (isStorageError(error, 'STORAGE_ACCESS_DENIED')) return internalError(requestId, "storage refused access (a deployment problem: check the store's credentials and policy)");
  return internalError(requestId);
}

/** toApiError, telling `report` of each error it answers 5xx: the client gets a fixed line and the request id, the log the whole error. */
export function toReportedApiError(error: unknown, requestId: string, report: ServerErrorReport | undefined): ApiError {
  return reportedApiError(toApiError(error, requestId), error, requestId, report);
}
