/**
 * Why one job of a batch failed. `permanent` failures (the input itself is bad) fail the job at
 * once and stay on it as its dead-letter record; the others are retried with backoff.
 */
export class JobFailure extends Error {
  readonly code: string;
  readonly permanent: boolean;

  constructor(
    code: string,
    message: string,
    permanent: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.code = code;
    this.permanent = permanent;
    this.name = 'JobFailure';
  }
}

const permanentCodes = new Set([
  // imaging: the bytes are not a usable image
  'IMAGE_EMPTY',
  'IMAGE_TOO_LARGE',
  'IMAGE_TOO_MANY_PIXELS',
  'IMAGE_UNSUPPORTED_FORMAT',
  'IMAGE_CORRUPT',
  // the image was replaced after ingest accepted the record (image-unchanged.ts)
  'IMAGE_CHANGED',
  // engine: the request cannot be met by this model
  'CLASS_OUT_OF_RANGE',
  'INPUT_INVALID',
  'METHOD_UNKNOWN',
  // artifacts: the model or method gave NaN or infinite numbers for this input (deterministic)
  'EXPLANATION_NOT_FINITE',
  // storage: the key is bad, or the input is too big to read
  'STORAGE_TOO_LARGE',
  'STORAGE_INVALID_KEY',
]);

/**
 * Classifies any error from decoding, the engine or storage by its stable `code`. `reading` marks
 * the read of the job's own input: only there does STORAGE_NOT_FOUND blame the job (its image is
 * not where it says). Anywhere else (a missing bucket on a write) it is the deployment's fault,
 * retried like any other outage.
 */
export function toJobFailure(error: unknown, context: string, options: { reading?: 'input' } = {}): JobFailure {
  if (error instanceof JobFailure) return error;
  const code = (error as { code?: unknown } | null)?.code;
  const message = `${context}: ${error instanceof Error ? error.message : String(error)}`;
  if (typeof code === 'string' && /^[A-Z][A-Z0-9_]+$/.test(code)) {
    const transient = (error as { transient?: unknown }).transient === true;
    const permanent = permanentCodes.has(code) || (code === 'STORAGE_NOT_FOUND' && options.reading === 'input');
    return new JobFailure(code, message, permanent && !transient, { cause: error });
  }
  return new JobFailure('INTERNAL', message, false, { cause: error });
}
