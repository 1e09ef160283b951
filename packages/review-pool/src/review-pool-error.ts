import type { ReviewItem } from '@gradcam/contracts';

/**
 * Why a pool call was refused. NOT_FOUND, NOT_LEASED, ALREADY_JUDGED, VERDICT_IN_PROGRESS,
 * NOT_BROKEN, CURSOR_INVALID and the undo refusals (NOT_REVIEWED, NOT_YOURS, UNDO_EXPIRED) are
 * answers to the caller; ITEM_INVALID is stored data that fails its schema (an operator's problem).
 */
export type ReviewPoolErrorCode =
  | 'REVIEW_NOT_FOUND'
  | 'REVIEW_NOT_LEASED'
  | 'REVIEW_ALREADY_JUDGED'
  | 'REVIEW_VERDICT_IN_PROGRESS'
  | 'REVIEW_NOT_BROKEN'
  | 'REVIEW_NOT_REVIEWED'
  | 'REVIEW_NOT_YOURS'
  | 'REVIEW_UNDO_EXPIRED'
  | 'REVIEW_CURSOR_INVALID'
  | 'REVIEW_ITEM_INVALID';

export class ReviewPoolError extends Error {
  readonly code: ReviewPoolErrorCode;
  /** The item as it stands, where the refusal is about it (REVIEW_ALREADY_JUDGED: the verdict kept). */
  readonly item: ReviewItem | undefined;

  constructor(
    code: ReviewPoolErrorCode,
    message: string,
    item?: ReviewItem,
  ) {
    super(message);
    this.code = code;
    this.item = item;
    this.name = 'ReviewPoolError';
  }
}
