export { ReviewPool, ReviewPoolError, assertLeaseHeld, formatReviewCursor, parseReviewCursor, type ReviewBacklog, type ReviewCursor, type ReviewListFilter } from './review-pool.ts';
