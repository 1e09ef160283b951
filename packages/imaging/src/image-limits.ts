/**
 * Bounds checked before any pixel is decoded. A production pipeline takes images from clients it
 * does not control; without these a 50 KB PNG declaring 20000×20000 pixels would allocate over a
 * gigabyte per job.
 */
export interface ImageLimits {
  /** Largest accepted encoded size, checked before sharp sees the bytes. */
  maxInputBytes: number;
  /** Largest accepted width × height, read from the header before the full decode. */
  maxPixels: number;
}

/**
 * 32 MiB covers any camera JPEG; 50 megapixels covers phone and most DSLR photos while keeping the
 * decoded RGB buffer under 150 MB.
 */
export const defaultImageLimits: Readonly<ImageLimits> = Object.freeze({
  maxInputBytes: 32 * 1024 * 1024,
  maxPixels: 50_000_000,
});
