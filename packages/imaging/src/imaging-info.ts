import { createRequire } from 'node:module';
import sharp from 'sharp';
import { scaledDecodeKernel } from './decode-image.ts';
import { modelInputResizeKernel } from './model-input.ts';

const require = createRequire(import.meta.url);

/**
 * Recorded in every manifest and covered by its fingerprint: the model input, and so the map, is
 * only reproducible with the same imaging code, sharp and libvips (its decoders and resamplers).
 * A one-level difference in a tenth of the input's values moves a MobileNetV2 Grad-CAM map by
 * 2-6% of its peak, another resize kernel (cubic, Lanczos-3) by 4-47% of it, where two compute
 * backends differ by a few millionths of it. Bump this package's version whenever the model input of the same bytes
 * changes.
 */
export const imagingInfo = {
  version: (require('../package.json') as { version: string }).version,
  sharp: sharp.versions.sharp ?? 'unknown',
  libvips: sharp.versions.vips,
  /** sharp's kernel for the fit to the model's width × height. */
  resizeKernel: modelInputResizeKernel,
  /** sharp's kernel after the codec's shrink-on-load when a large photo is decoded scaled down (preprocessing.decodeMaxSide). */
  scaledDecodeKernel,
} as const;
