import { ImagingError } from './imaging-error.ts';
import type { ImagingErrorCode } from './imaging-error.ts';

// libvips ("vips_image_write_to_memory: out of memory -- size == 286102MB", "vips_malloc: out of
// memory"), the C library (ENOMEM) and Node (a Buffer it cannot allocate) each say it their way.
const outOfMemory = /out of memory|cannot allocate memory|allocation failed/i;

/** Whether `error` says sharp, the C library or Node could not get the memory it asked for. */
export const isOutOfMemory = (error: unknown): boolean => outOfMemory.test(error instanceof Error ? error.message : String(error));

/**
 * Wraps an error from sharp on pixels that already decoded: `code` for what the step's failure
 * means, except that running out of memory says nothing about the image (the same job may
 * succeed on a less loaded worker), so it is IMAGING_OUT_OF_MEMORY, transient, never the
 * permanent code the caller names.
 */
export function sharpFailure(error: unknown, code: ImagingErrorCode, message: string): ImagingError {
  if (isOutOfMemory(error)) return new ImagingError('IMAGING_OUT_OF_MEMORY', `${message}: out of memory`, { cause: error });
  return new ImagingError(code, message, { cause: error });
}
