/**
 * Why a pool call was refused. NOT_FOUND, NOT_LEASED, VERDICT_IN_PROGRESS, NOT_BROKEN and
 * CURSOR_INVALID are answers to the caller; ITEM_INVALID is stored data that fails its schema (an
 * operator's problem).
 */
export type ReviewPoolErrorCode = 'REVIEW_NOT_FOUND' | 'REVIEW_NOT_LEASED' | 'REVIEW_VERDICT_IN_PROGRESS' | 'REVIEW_NOT_BROKEN' | 'REVIEW_CURSOR_INVALID' | 'REVIEW_ITEM_INVALID';

export class ReviewPoolError extends Error {
  constructor(
    readonly code: ReviewPoolErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ReviewPoolError';
  }
}
