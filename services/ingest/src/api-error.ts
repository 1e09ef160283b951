import { ApiError } from '@gradcam/http-service';

export const unavailable = (what: string, cause: unknown) =>
  new ApiError(503, 'DEPENDENCY_UNAVAILABLE', `${what} is unavailable; nothing was accepted, retry later (${cause instanceof Error ? cause.message : String(cause)})`, undefined, 5);
