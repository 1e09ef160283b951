/**
 * Stored data of an item the desk cannot use. REVIEW_ITEM_BROKEN: its prediction or manifest is
 * missing or invalid, or a file they name (the input image, an overlay, a raw map) is missing or
 * the input is not the one explained, so it cannot be shown (answered 500; the item is set aside).
 * REVIEW_DOCUMENT_INVALID: its review.json is not a review document, so no verdict can be
 * appended (answered 500; an operator must repair the file). REVIEW_ITEM_STILL_BROKEN: a restore
 * found the files of a broken item not repaired yet (answered 409; it stays set aside).
 * REVIEW_UNDO_DISABLED: an undo asked of a service whose undo is turned off (undoMs 0; answered 409).
 * REVIEW_SHOWN_UNKNOWN: a verdict whose `shown` names no explanation of the item's manifest
 * (answered 400; nothing is kept).
 */
export class ReviewDeskError extends Error {
  readonly code: 'REVIEW_ITEM_BROKEN' | 'REVIEW_DOCUMENT_INVALID' | 'REVIEW_ITEM_STILL_BROKEN' | 'REVIEW_UNDO_DISABLED' | 'REVIEW_SHOWN_UNKNOWN';
  /** The short reason (which file, what is wrong), without storage paths. */
  readonly reason: string;

  constructor(
    code: 'REVIEW_ITEM_BROKEN' | 'REVIEW_DOCUMENT_INVALID' | 'REVIEW_ITEM_STILL_BROKEN' | 'REVIEW_UNDO_DISABLED' | 'REVIEW_SHOWN_UNKNOWN',
    message: string,
    reason: string,
  ) {
    super(message);
    this.code = code;
    this.reason = reason;
    this.name = 'ReviewDeskError';
  }
}
