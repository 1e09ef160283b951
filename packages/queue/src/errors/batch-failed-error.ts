/**
 * `processBatch` itself threw (or broke its contract), so no job of the batch has an outcome of
 * its own. Every job of the batch is failed as transient; `cause` is what was thrown.
 */
export class BatchFailedError extends Error {
  readonly code = 'BATCH_FAILED';

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'BatchFailedError';
  }
}
