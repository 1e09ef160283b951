/**
 * Stable reasons an image is refused. They are part of the job contract: the worker fails the
 * job at once with this code (bad input never becomes good by retrying), and dashboards count by it.
 */
export type ImagingErrorCode =
  | 'IMAGE_EMPTY'
  | 'IMAGE_TOO_LARGE'
  | 'IMAGE_TOO_MANY_PIXELS'
  | 'IMAGE_UNSUPPORTED_FORMAT'
  | 'IMAGE_CORRUPT';

/**
 * The only error `decodeImage` lets out. Raw sharp/libvips errors are wrapped (kept as `cause`
 * for logs) so callers never match on library message text, which changes between versions.
 */
export class ImagingError extends Error {
  readonly code: ImagingErrorCode;

  constructor(code: ImagingErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ImagingError';
    this.code = code;
  }
}

export function isImagingError(error: unknown): error is ImagingError {
  return error instanceof ImagingError;
}
