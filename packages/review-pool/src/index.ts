export { ReviewPool, defaultClosingTimeoutMs, defaultReindexIntervalMs, defaultSkipMemoryMs, formatReviewCursor, parseReviewCursor, type BegunUndo, type BegunVerdict, type ReviewBacklog, type ReviewCursor, type ReviewListFilter, type UndoMarker } from './review-pool.ts';
export { ReviewPoolError, type ReviewPoolErrorCode } from './review-pool-error.ts';
