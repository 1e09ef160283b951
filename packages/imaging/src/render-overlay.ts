import { blendHeatmap } from './blend-heatmap.ts';
import { sharedColormapLut } from './colormap.ts';
import type { ColormapName } from './colormap.ts';
import { assertDecodedImage } from './decode-image.ts';
import type { DecodedImage } from './decode-image.ts';
import type { FitSpec } from './fit-geometry.ts';
import { maxOverlaySide } from './overlay-base.ts';
import { encodeRgbJpeg } from './rgb-jpeg.ts';
import { assertMap } from './upsample-bilinear.ts';

export interface OverlayOptions {
  /** Default 'turbo'. */
  colormap?: ColormapName;
  /** Heatmap opacity 0…1, default 0.45: enough colour to read, enough image to recognise. */
  alpha?: number;
  /** JPEG quality 1…100, default 85. */
  quality?: number;
}

/** What an overlay is drawn with where OverlayOptions leaves a value out (manifests record the values used). */
export const defaultOverlayOptions: Readonly<Required<OverlayOptions>> = { colormap: 'turbo', alpha: 0.45, quality: 85 };

/**
 * Every check renderOverlay makes before any work, each failure a RangeError; returns the
 * options' values. The render threads' pool makes them before posting, so a malformed call fails
 * alone, on the caller's side.
 */
export function checkOverlayRequest(
  image: DecodedImage,
  map: Float32Array,
  mapWidth: number,
  mapHeight: number,
  options: OverlayOptions = {},
): { alpha: number; quality: number } {
  assertDecodedImage(image);
  assertMap(map, mapWidth, mapHeight);
  if (image.width > maxOverlaySide || image.height > maxOverlaySide) {
    // Refused before the blend: the encode would fail after it, and not because the image is bad.
    throw new RangeError(
      `an overlay of ${image.width}×${image.height} is over JPEG's ${maxOverlaySide} px side limit; draw it on overlayBase(image, maxSide)`,
    );
  }
  const alpha = options.alpha ?? defaultOverlayOptions.alpha;
  const quality = options.quality ?? defaultOverlayOptions.quality;
  if (!(alpha >= 0 && alpha <= 1)) throw new RangeError(`alpha must be within 0…1, got ${alpha}`);
  if (!(Number.isInteger(quality) && quality >= 1 && quality <= 100)) {
    throw new RangeError(`quality must be an integer within 1…100, got ${quality}`);
  }
  return { alpha, quality };
}

/**
 * Colours `map` (values 0…1, mapWidth × mapHeight, in model-input coordinates) and blends it over
 * the original image at the image's own size, returning a JPEG. An image with a side over JPEG's
 * 65,500 px is a RangeError: overlayBase scales any image to fit.
 *
 * The map is projected through the same geometry preprocessing used (see computeFitGeometry):
 * with `cover`, the parts of the image the model never saw (cropped away) are left uncoloured;
 * with `contain`, the letterbox part of the map is dropped. Values outside 0…1 are clamped,
 * NaN counts as 0.
 */
export async function renderOverlay(
  image: DecodedImage,
  map: Float32Array,
  mapWidth: number,
  mapHeight: number,
  spec: FitSpec,
  options: OverlayOptions = {},
): Promise<Buffer> {
  const { alpha, quality } = checkOverlayRequest(image, map, mapWidth, mapHeight, options);
  const blended = blendHeatmap(image, map, mapWidth, mapHeight, spec, sharedColormapLut(options.colormap ?? defaultOverlayOptions.colormap), alpha);
  return encodeRgbJpeg(blended, image.width, image.height, quality, 'the overlay');
}
