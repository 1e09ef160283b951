/**
 * Stable reasons an image is refused. They are part of the job contract: the worker fails the
 * job at once with an IMAGE_ code (bad input never becomes good by retrying), and dashboards
 * count by it. IMAGING_OUT_OF_MEMORY is the one that does not blame the image: sharp ran out of
 * memory on pixels that had decoded, so it is `transient` and retried.
 */
export type ImagingErrorCode =
  | 'IMAGE_EMPTY'
  | 'IMAGE_TOO_LARGE'
  | 'IMAGE_TOO_MANY_PIXELS'
  | 'IMAGE_UNSUPPORTED_FORMAT'
  | 'IMAGE_CORRUPT'
  | 'IMAGING_OUT_OF_MEMORY';

const transientCodes: ReadonlySet<ImagingErrorCode> = new Set(['IMAGING_OUT_OF_MEMORY']);

/**
 * The only error `decodeImage` lets out. Raw sharp/libvips errors are wrapped (kept as `cause`
 * for logs) so callers never match on library message text, which changes between versions.
 */
export class ImagingError extends Error {
  readonly code: ImagingErrorCode;
  /** Retrying may succeed: derived from the code, so it survives a render thread's reply. */
  readonly transient: boolean;

  constructor(code: ImagingErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ImagingError';
    this.code = code;
    this.transient = transientCodes.has(code);
  }
}

export function isImagingError(error: unknown): error is ImagingError {
  return error instanceof ImagingError;
}
