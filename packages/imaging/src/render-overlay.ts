import sharp from 'sharp';
import { sharedColormapLut } from './colormap.ts';
import type { ColormapName } from './colormap.ts';
import { assertDecodedImage } from './decode-image.ts';
import type { DecodedImage } from './decode-image.ts';
import { computeFitGeometry } from './fit-geometry.ts';
import type { FitSpec } from './fit-geometry.ts';
import { ImagingError } from './imaging-error.ts';
import { computeAxisTaps, createRowSampler } from './upsample-bilinear.ts';
import type { AxisTaps } from './upsample-bilinear.ts';

export interface OverlayOptions {
  /** Default 'turbo'. */
  colormap?: ColormapName;
  /** Heatmap opacity 0…1, default 0.45: enough colour to read, enough image to recognise. */
  alpha?: number;
  /** JPEG quality 1…100, default 85. */
  quality?: number;
}

const DEFAULT_ALPHA = 0.45;
const DEFAULT_QUALITY = 85;

/**
 * Colours `map` (values 0…1, mapWidth × mapHeight, in model-input coordinates) and blends it over
 * the original image at the image's own size, returning a JPEG.
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
  assertDecodedImage(image);
  const alpha = options.alpha ?? DEFAULT_ALPHA;
  const quality = options.quality ?? DEFAULT_QUALITY;
  if (!(alpha >= 0 && alpha <= 1)) throw new RangeError(`alpha must be within 0…1, got ${alpha}`);
  if (!(Number.isInteger(quality) && quality >= 1 && quality <= 100)) {
    throw new RangeError(`quality must be an integer within 1…100, got ${quality}`);
  }
  const blended = blendHeatmap(image, map, mapWidth, mapHeight, spec, sharedColormapLut(options.colormap ?? 'turbo'), alpha);
  try {
    return await sharp(blended, { raw: { width: image.width, height: image.height, channels: 3 } })
      .jpeg({ quality })
      .toBuffer();
  } catch (error) {
    throw new ImagingError('IMAGE_CORRUPT', 'encoding the overlay as JPEG failed', { cause: error });
  }
}

/** One image axis projected into map coordinates, plus which pixels the model actually saw. */
interface AxisProjection {
  taps: AxisTaps;
  visible: Uint8Array;
}

function projectAxis(sourceSize: number, resizedSize: number, offset: number, canvasSize: number, mapSize: number): AxisProjection {
  // Source pixel centre x lands on the canvas at u = (x + 0.5)·k + offset (k = resized/source),
  // which is map coordinate u·mapSize/canvas − 0.5 in pixel-centre units.
  const k = resizedSize / sourceSize;
  const toMap = mapSize / canvasSize;
  const taps = computeAxisTaps(sourceSize, mapSize, k * toMap, (0.5 * k + offset) * toMap - 0.5);
  const visible = new Uint8Array(sourceSize);
  for (let x = 0; x < sourceSize; x++) {
    const u = (x + 0.5) * k + offset;
    visible[x] = u >= 0 && u < canvasSize ? 1 : 0;
  }
  return { taps, visible };
}

function blendHeatmap(
  image: DecodedImage,
  map: Float32Array,
  mapWidth: number,
  mapHeight: number,
  spec: FitSpec,
  lut: Uint8Array,
  alpha: number,
): Buffer {
  const { width, height, data } = image;
  const g = computeFitGeometry(width, height, spec);
  const xs = projectAxis(width, g.resizedWidth, g.offsetX, g.canvasWidth, mapWidth);
  const ys = projectAxis(height, g.resizedHeight, g.offsetY, g.canvasHeight, mapHeight);
  // Clamp first: interpolating a NaN would spread it to every neighbouring pixel.
  const clean = map.map((v) => (v > 0 ? (v < 1 ? v : 1) : 0));
  const sample = createRowSampler(clean, mapWidth, mapHeight, xs.taps, ys.taps);

  // Fixed-point blend: out = (pixel·(256−a) + colour·a + 128) >> 8, colour·a precomputed per entry.
  const a = Math.round(alpha * 256);
  const keep = 256 - a;
  const tinted = new Uint16Array(768);
  for (let i = 0; i < 768; i++) tinted[i] = lut[i]! * a + 128;

  const out = Buffer.allocUnsafe(data.length);
  const row = new Float32Array(width);
  const visibleX = xs.visible;
  const stride = width * 3;
  for (let y = 0; y < height; y++) {
    const start = y * stride;
    if (ys.visible[y] === 0) {
      data.copy(out, start, start, start + stride);
      continue;
    }
    sample(y, row);
    for (let x = 0, p = start; x < width; x++, p += 3) {
      if (visibleX[x] === 0) {
        out[p] = data[p]!;
        out[p + 1] = data[p + 1]!;
        out[p + 2] = data[p + 2]!;
        continue;
      }
      const v = row[x]!;
      const entry = (v > 0 ? (v < 1 ? (v * 255 + 0.5) | 0 : 255) : 0) * 3;
      out[p] = (data[p]! * keep + tinted[entry]!) >> 8;
      out[p + 1] = (data[p + 1]! * keep + tinted[entry + 1]!) >> 8;
      out[p + 2] = (data[p + 2]! * keep + tinted[entry + 2]!) >> 8;
    }
  }
  return out;
}
