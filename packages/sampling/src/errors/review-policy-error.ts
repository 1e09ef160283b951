/**
 * A review-policy text that cannot be parsed. The message is one line naming the bad term, so the
 * config package can prefix the variable name and stop the process with it.
 */
export class ReviewPolicyError extends Error {
  readonly code = 'REVIEW_POLICY_INVALID';

  /** The offending term as written, or the whole text when the problem is not one term's. */
  readonly term: string;

  constructor(
    term: string,
    reason: string,
  ) {
    super(`"${term}": ${reason}`);
    this.term = term;
    this.name = 'ReviewPolicyError';
  }
}
