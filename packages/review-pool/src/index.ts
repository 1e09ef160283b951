export { ReviewPool, defaultClosingTimeoutMs, defaultSkipMemoryMs, formatReviewCursor, parseReviewCursor, type BegunVerdict, type ReviewBacklog, type ReviewCursor, type ReviewListFilter } from './review-pool.ts';
export { ReviewPoolError, type ReviewPoolErrorCode } from './review-pool-error.ts';
