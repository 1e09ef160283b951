export { ReviewPool, ReviewPoolError, type ReviewBacklog, type ReviewListFilter } from './review-pool.ts';
