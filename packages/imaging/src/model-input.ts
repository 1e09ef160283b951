import sharp from 'sharp';
import type { PreprocessingSpec } from '@gradcam/contracts';
import { assertDecodedImage } from './decode-image.ts';
import type { DecodedImage } from './decode-image.ts';
import { computeFitGeometry } from './fit-geometry.ts';
import type { FitGeometry } from './fit-geometry.ts';
import { ImagingError } from './imaging-error.ts';

const BLACK = { r: 0, g: 0, b: 0 } as const;

/**
 * Turns a decoded image into the model's input: resized to spec.width × spec.height per
 * spec.fit, channels in spec.channelOrder, value = (pixel × scale − mean[c]) / std[c], HWC.
 *
 * Pass `out` (length width × height × 3, e.g. a subarray of a batch tensor's buffer) to have the
 * values written in place instead of into a fresh array; it is also the return value.
 */
export async function toModelInput(
  image: DecodedImage,
  spec: PreprocessingSpec,
  out?: Float32Array,
): Promise<Float32Array> {
  assertDecodedImage(image);
  const length = spec.width * spec.height * 3;
  if (out !== undefined && out.length !== length) {
    throw new RangeError(`out has length ${out.length}, expected ${length} (${spec.width}×${spec.height}×3)`);
  }
  const pixels = await resizeOntoCanvas(image, computeFitGeometry(image.width, image.height, spec));
  const target = out ?? new Float32Array(length);
  normalise(pixels, spec, target);
  return target;
}

/** Resize + crop (cover) or letterbox (contain) with sharp; returns canvas RGB uint8 HWC. */
async function resizeOntoCanvas(image: DecodedImage, geometry: FitGeometry): Promise<Buffer> {
  const { canvasWidth, canvasHeight, resizedWidth, resizedHeight, offsetX, offsetY } = geometry;
  try {
    let pipeline = sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } });
    if (resizedWidth !== image.width || resizedHeight !== image.height) {
      // 'linear' is a triangle filter that widens when shrinking (antialiased), like Pillow's
      // BILINEAR and torchvision's Resize: the usual training-time preprocessing for CNNs.
      pipeline = pipeline.resize(resizedWidth, resizedHeight, { fit: 'fill', kernel: 'linear' });
    }
    const cropX = Math.max(0, -offsetX);
    const cropY = Math.max(0, -offsetY);
    if (cropX > 0 || cropY > 0 || resizedWidth > canvasWidth || resizedHeight > canvasHeight) {
      pipeline = pipeline.extract({
        left: cropX,
        top: cropY,
        width: Math.min(resizedWidth, canvasWidth),
        height: Math.min(resizedHeight, canvasHeight),
      });
    }
    const padLeft = Math.max(0, offsetX);
    const padTop = Math.max(0, offsetY);
    const padRight = Math.max(0, canvasWidth - resizedWidth - offsetX);
    const padBottom = Math.max(0, canvasHeight - resizedHeight - offsetY);
    if (padLeft + padTop + padRight + padBottom > 0) {
      pipeline = pipeline.extend({ left: padLeft, top: padTop, right: padRight, bottom: padBottom, background: BLACK });
    }
    const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
    if (info.width !== canvasWidth || info.height !== canvasHeight || info.channels !== 3) {
      throw new Error(`expected ${canvasWidth}×${canvasHeight}×3, sharp produced ${info.width}×${info.height}×${info.channels}`);
    }
    return data;
  } catch (error) {
    // A DecodedImage is already valid pixels, so this is not the caller's bad input; still,
    // nothing raw from sharp leaves the package.
    throw new ImagingError('IMAGE_CORRUPT', 'resizing the image for the model failed', { cause: error });
  }
}

/** One lookup per value: 256 precomputed results per channel instead of a multiply-divide each. */
function normalise(pixels: Uint8Array, spec: PreprocessingSpec, out: Float32Array): void {
  const lut = new Float32Array(768);
  for (let c = 0; c < 3; c++) {
    const mean = spec.mean[c] ?? 0;
    const std = spec.std[c] ?? 1;
    for (let p = 0; p < 256; p++) lut[c * 256 + p] = (p * spec.scale - mean) / std;
  }
  // Output channel c reads source channel c (rgb) or 2 − c (bgr); mean/std follow the output order.
  const first = spec.channelOrder === 'bgr' ? 2 : 0;
  const last = 2 - first;
  const n = out.length;
  for (let i = 0; i < n; i += 3) {
    out[i] = lut[pixels[i + first]!]!;
    out[i + 1] = lut[256 + pixels[i + 1]!]!;
    out[i + 2] = lut[512 + pixels[i + last]!]!;
  }
}
