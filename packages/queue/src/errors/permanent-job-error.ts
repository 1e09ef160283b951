/**
 * A failure that retrying cannot fix (a corrupt image, an unknown model, a class index out of
 * range): the batching worker fails the job at once instead of spending its remaining attempts.
 * Any error with `permanent === true` is treated the same, so other packages need not import this.
 */
export class PermanentJobError extends Error {
  readonly permanent = true;
  readonly code: string;

  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'PermanentJobError';
    this.code = code;
  }
}
