export { ReviewPool, ReviewPoolError, assertLeaseHeld, type ReviewBacklog, type ReviewListFilter } from './review-pool.ts';
